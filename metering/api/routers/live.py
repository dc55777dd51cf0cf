"""The control room's live figures: site power, today's energy, CO2 and cost, demand, DR status, alerts."""

from __future__ import annotations

from datetime import UTC
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter

from metering.api import queries
from metering.api.deps import Svc, Viewer
from metering.api.params import Site, site_tz

router = APIRouter(prefix="/api/v1", tags=["live"])


def _sum(df: Any, col: str) -> float | None:
    if df.empty or col not in df.columns:
        return None
    return float(df[col].fillna(0).sum())


@router.get("/live", summary="Live site power, today's totals, demand, DR status and open alerts")
def live(_key: Viewer, svc: Svc, site: Site) -> dict[str, Any]:
    tz = ZoneInfo(site_tz(svc))
    now = svc.clock()
    midnight = now.astimezone(tz).replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)
    power = queries.live_power(svc.influx, site)
    devices: dict[str, float] = {}
    if not power.empty:
        devices = {str(d): float(v) for d, v in zip(power["device"], power["p_kw"], strict=True) if v is not None}
    plant = svc.plant
    if plant is not None:
        mains = {d.id for d in plant.devices if d.role == "main" and d.carrier == "electricity"}
        site_kw = sum(v for d, v in devices.items() if d in mains) if devices else None
    else:
        site_kw = sum(devices.values()) if devices else None
    energy = queries.energy(svc.influx, site, midnight, now, None, "site", str(tz), "electricity")
    main_ids = [d.id for d in plant.main_meters()] if plant else None
    co2 = queries.by_boundary(
        queries.emissions(svc.influx, site, midnight, now, None, "site", str(tz), None, main_ids), []
    )
    dem = queries.records(queries.latest_demand(svc.influx, site), ["demand_kw", "forecast_kw", "limit_kw"])
    demand: dict[str, object] = dem[0] if dem else {"demand_kw": None, "forecast_kw": None, "limit_kw": None}
    if demand.get("limit_kw") is None and plant is not None:
        demand["limit_kw"] = plant.contract.demand_limit_kw
    active_dr = [
        e.model_dump(mode="json")
        for e in svc.dr_events.list(site)
        if e.status != "cancelled" and e.start <= now < e.end
    ]
    return {
        "site": site,
        "ts": now.isoformat(),
        "power_kw": site_kw,
        "devices_kw": devices,
        "today": {
            "energy_kwh": _sum(energy, "amount"),
            "cost": _sum(energy, "cost"),
            # Per boundary and method (scope1, scope2_location, scope2_market, total_location,
            # total_market): location- and market-based scope 2 are never added.
            "co2_kg": co2["co2_kg"].iloc[0] if not co2.empty else None,
        },
        "demand": demand,
        "dr": {"active": active_dr[0] if active_dr else None},
        "alerts": [a for a in svc.store.list_alerts("open") if a["site"] == site],
    }
