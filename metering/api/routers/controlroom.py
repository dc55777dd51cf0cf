"""The control-room page's data in three calls: live (every few seconds), breakdown (every minute), one device.

Pre-aggregation: "this month" up to local midnight is read once a day (`DayCache`); every
refresh reads only today's 15-minute rows, the last hours of the main meters' power and the
newest raw row per device. Carbon is per boundary and never summed (docs/api.md).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import pandas as pd
from fastapi import APIRouter, HTTPException, Path, Query, status

from metering.api import controlroom_cache as cc
from metering.api import controlroom_queries as cq
from metering.api.deps import Svc, Viewer
from metering.api.params import unprocessable
from metering.carbon.energy import ENERGY_QUANTITIES
from metering.carbon.intensity import shipped_benchmarks
from metering.direct.config import carbon_config
from metering.direct.influx import read_direct
from plantcarbon_core import schema as sc
from plantcarbon_core.datafile import DataFileError
from plantcarbon_core.plant import Device, Plant

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1/controlroom", tags=["control room"])
MONTH = cc.DayCache()
TODAY = cc.TodayCache()
POOL = ThreadPoolExecutor(max_workers=6, thread_name_prefix="controlroom")  # independent reads run side by side
HEALTH = cq.HealthRules()
DeviceId = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")]
# Per carrier, the gauges worth a trend, main one first (power or flow).
GAUGES = {
    "electricity": ["p_kw", "q_kvar", "pf", "u_l1_v", "i_l1_a"],
    "natural_gas": ["flow_nm3h"],
    "steam": ["flow_th", "p_mpa", "t_c"],
    "heat": ["heat_rate_gjh", "flow_m3h"],
    "water": ["flow_m3h"],
    "coal": ["flow_th"],
    "diesel": ["flow_th"],
    "production": ["rate_th"],
}
Hours = Annotated[float, Query(gt=0, le=48, description="Hours of trend to return.")]


def _plant(svc: Svc) -> Plant:
    if svc.plant is None:
        raise unprocessable("the control room needs the service's plant file", ["query", "site"])
    return svc.plant


_CARBON: dict[int, tuple[Plant, tuple[frozenset[str], dict[str, Any] | None] | None]] = {}


def _carbon(plant: Plant) -> tuple[frozenset[str], dict[str, Any] | None] | None:
    """Per plant object (a plant model is not hashable), read once: see `_carbon_of`."""
    hit = _CARBON.get(id(plant))
    if hit is None or hit[0] is not plant:
        hit = _CARBON[id(plant)] = (plant, _carbon_of(plant))
    return hit[1]


def _carbon_of(plant: Plant) -> tuple[frozenset[str], dict[str, Any] | None] | None:
    """The plant's emission units, if any: the fuel meters they count and the method's intensity benchmark.

    None when the plant has no (valid) `carbon:` block — then the national carbon market tile says
    "no emission unit" rather than showing the boiler's gas as if it were the plant's direct emissions.
    """
    if plant.carbon is None:
        return None
    try:
        cfg, method = carbon_config(plant)
    except DataFileError:
        return None  # the direct-emissions service reports the block's mistakes; the page stays up
    counted = frozenset(d for m in cfg.materials.values() for d in m.devices)
    bm = method.benchmark
    benchmark = None if bm is None else {"value": bm.value, "source": bm.source, "confirmed": bm.confirmed}
    return counted, benchmark


def _direct(svc: Svc, plant: Plant, start: datetime, end: datetime, cbam: bool = False) -> cq.Direct | None:
    """The emission units' stored direct emissions over [start, end), or None when the plant has none;
    `cbam`: with CBAM per tonne of clinker from measurement `cbam` (one more query, so not on `live`)."""
    carbon = _carbon(plant)
    if carbon is None:
        return None
    t0, t1 = pd.Timestamp(start), pd.Timestamp(end)
    figures = cq.direct_figures(read_direct(svc.influx, plant.site.id, t0, t1), *carbon)
    if not cbam:
        return figures
    return dataclasses.replace(figures, cbam=cq.cbam_clinker(read_direct(svc.influx, plant.site.id, t0, t1, sc.CBAM)))


def _day(plant: Plant, now: datetime) -> tuple[datetime, datetime]:
    tz = ZoneInfo(plant.site.timezone)
    local = now.astimezone(tz)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight.astimezone(UTC), midnight.replace(day=1).astimezone(UTC)


def _step(hours: float) -> int:
    """Trend step: about 360 points whatever the span (one a minute for 6 h)."""
    return max(10, int(hours * 3600 / 360) // 10 * 10)


def _last_seen(svc: Svc, plant: Plant, now: datetime) -> dict[str, datetime]:
    """Newest reading time per device over the last day, from InfluxDB (each carrier's energy counter and
    main gauge, one selector per query, which is several times cheaper than the newest whole row)."""
    since = now - timedelta(days=1)
    site = plant.site.id
    carriers = sorted({d.carrier for d in plant.devices if d.source is not None})
    # Each carrier's main gauge and energy counter: a meter reading either is seen.
    fields = {c: [*GAUGES.get(c, [])[:1], *ENERGY_QUANTITIES.get(c, ())[:1]] for c in carriers}
    jobs = [(c, q, POOL.submit(cq.read_last_seen, svc.influx, site, c, q, since)) for c in carriers for q in fields[c]]
    seen: dict[str, datetime] = {}
    for _c, _q, job in jobs:
        df = job.result()
        if not df.empty and "device" in df.columns:
            for dev, t in zip(df["device"], df["time"], strict=True):
                t = t.to_pydatetime()
                seen[str(dev)] = max(seen.get(str(dev), t), t)
    # A meter that reports no energy counter (a gauge-only MQTT device): its newest row, for it alone.
    for d in plant.devices:
        if d.source is not None and d.id not in seen and not fields.get(d.carrier):
            row = cq.read_device_last(svc.influx, site, d, since)
            if not row.empty:
                seen[d.id] = row["time"].iloc[0].to_pydatetime()
    return seen


def _seen(svc: Svc, plant: Plant) -> dict[str, datetime]:
    """The tracker's max(InfluxDB seed, MQTT) when the alert engine feeds it, else InfluxDB now."""
    if svc.last_seen is None:
        return _last_seen(svc, plant, svc.clock())
    return svc.last_seen.get(plant.site.id, lambda: _last_seen(svc, plant, svc.clock()))


def warm(svc: Svc) -> None:
    """In the background: read the last-seen seed once, so the first page does not wait for it.

    (Today's rows are not warmed: rows written between start and the first call would be shown one call late.)
    """
    plant = svc.plant
    if plant is None:
        return

    def run() -> None:
        try:
            if svc.last_seen is not None:
                _seen(svc, plant)
        except Exception:  # InfluxDB not up yet: the first call reads instead
            log.warning("control room: warming the caches failed", exc_info=True)

    threading.Thread(target=run, name="controlroom-warm", daemon=True).start()


@router.get("/live", summary="Site power trend, demand, today's totals by boundary, device health, alerts")
def live(_key: Viewer, svc: Svc, hours: Hours = 6.0) -> dict[str, Any]:
    plant = _plant(svc)
    site = plant.site.id
    now = svc.clock()
    midnight, _ = _day(plant, now)
    mains = [d.id for d in plant.devices if d.role == "main" and d.carrier == "electricity" and d.source]
    start = now - timedelta(hours=hours)
    j_power = POOL.submit(cq.read_power, svc.influx, site, mains, start, _step(hours))
    j_live = POOL.submit(cq.read_live_power, svc.influx, site, mains)
    j_demand = POOL.submit(cq.read_demand, svc.influx, site, start)
    j_today = POOL.submit(TODAY.get, svc.influx, site, midnight, now)
    j_direct = POOL.submit(_direct, svc, plant, midnight, now + timedelta(seconds=1))
    j_status = POOL.submit(cq.read_last_rows, svc.influx, site, sc.DEVICE_STATUS, now - timedelta(days=1))
    seen = _seen(svc, plant)
    st = j_status.result()
    power = cq.power_trend(j_power.result(), len(mains))
    demand = cq.demand_series(j_demand.result(), plant.contract.demand_limit_kw, plant.contract.prealarm_margin_pct)
    energy, emissions = j_today.result()
    closed = now - timedelta(seconds=plant.metering.lateness_s)
    closed = closed.replace(minute=closed.minute // 15 * 15, second=0, microsecond=0)
    active_dr = [
        e.model_dump(mode="json")
        for e in svc.dr_events.list(site)
        if e.status != "cancelled" and e.start <= now < e.end
    ]
    return {
        "site": {"id": site, "name": plant.site.name, "timezone": plant.site.timezone},
        "ts": now.isoformat(),
        "power": {"kw": cq.live_kw(j_live.result()), "trend": power, "meters": mains},
        "demand": demand,
        "today": {"since": midnight.isoformat(), **cq.totals(energy, emissions, j_direct.result())},
        # Whether the plant has emission units (a kiln line): without them there is no carbon market figure.
        "carbon_units": _carbon(plant) is not None,
        "health": cq.health(plant, seen, st, now, HEALTH),
        "completeness": cq.completeness(plant, energy, midnight, max(midnight, closed)),
        "dr": {"active": active_dr[0] if active_dr else None},
        "alerts": [a for a in svc.store.list_alerts("open") if a["site"] == site],
    }


@router.get("/breakdown", summary="Energy and CO2 by area and device kind (today, month), top consumers, flows")
def breakdown(_key: Viewer, svc: Svc) -> dict[str, Any]:
    plant = _plant(svc)
    site = plant.site.id
    now = svc.clock()
    midnight, month_start = _day(plant, now)
    j_month = POOL.submit(MONTH.get, svc.influx, site, month_start, midnight)
    j_d_today = POOL.submit(_direct, svc, plant, midnight, now + timedelta(seconds=1), True)
    j_d_month = POOL.submit(_direct, svc, plant, month_start, now + timedelta(seconds=1))
    e_today, c_today = TODAY.get(svc.influx, site, midnight, now)
    e_month0, c_month0 = j_month.result()
    e_month = cc.concat_sum(
        e_month0, e_today, ["device", "carrier", "role"], ["amount", "tce_kg", "cost", "completeness", "rows"]
    )
    c_month = cc.concat_sum(c_month0, c_today, ["device", "role", "scope", "method"], ["co2_kg", "co2e_kg"])
    today_dev = cq.per_device(plant, e_today, c_today)
    month_dev = cq.per_device(plant, e_month, c_month)
    d_today, d_month = j_d_today.result(), j_d_month.result()
    totals_today = cq.totals(e_today, c_today, d_today)
    totals_month = cq.totals(e_month, c_month, d_month)
    # Each benchmark is rated on the tonnes of the product it names (metering/carbon/intensity_benchmarks).
    products = {d.id for d in plant.devices if d.carrier == "production"} | {
        d.area for d in plant.devices if d.carrier == "production" and d.area
    }
    benchmarks = [
        {"id": b.id, "product": b.product, "levels": dict(b.levels), "document": b.source.document}
        for b in shipped_benchmarks().benchmarks
        if b.metric == "tce_kg_per_t" and (b.product == "*" or b.product in products)
    ]
    return {
        "site": site,
        "ts": now.isoformat(),
        "co2_method": cq.BOUNDARY_METHOD,
        "today": {
            "area": cq.breakdown(plant, today_dev, "area"),
            "kind": cq.breakdown(plant, today_dev, "kind"),
            "top": cq.top_consumers(plant, today_dev),
            "totals": totals_today,
        },
        "month": {
            "since": month_start.isoformat(),
            "area": cq.breakdown(plant, month_dev, "area"),
            "kind": cq.breakdown(plant, month_dev, "kind"),
            "top": cq.top_consumers(plant, month_dev),
            "totals": totals_month,
        },
        "sankey": cq.sankey(plant, today_dev),
        "intensity": {
            "today": cq.intensity(plant, e_today, totals_today, benchmarks, d_today),
            "month": cq.intensity(plant, e_month, totals_month, benchmarks, d_month),
        },
    }


def _quantities(d: Device) -> list[str]:
    """The gauges worth a trend on a device page: power or flow first, then voltage and pf when read."""
    return GAUGES.get(d.carrier, [])


@router.get("/devices/{device_id}", summary="One device: live values, last 24 h of its main quantities, today")
def device(_key: Viewer, svc: Svc, device_id: DeviceId) -> dict[str, Any]:
    plant = _plant(svc)
    d = next((x for x in plant.devices if x.id == device_id), None)
    if d is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no device {device_id!r} in plant {plant.site.id!r}")
    site = plant.site.id
    now = svc.clock()
    midnight, _ = _day(plant, now)
    row = cq.read_device_last(svc.influx, site, d, now - timedelta(days=1))
    values: dict[str, float] = {}
    seen = None
    if not row.empty:
        r = row.iloc[0]
        seen = r["time"].isoformat()
        skip = {"time", "device", "site", "area", "kind", "edge", "_measurement"}
        values = {str(k): float(v) for k, v in r.items() if k not in skip and cq.num(v) is not None}
    present = [q for q in _quantities(d) if q in values] or [
        q for q in values if q not in ENERGY_QUANTITIES.get(d.carrier, ())
    ][:3]
    series: dict[str, list[list[Any]]] = {}
    if present:
        df = cq.read_device_series(svc.influx, site, d, present, now - timedelta(hours=24), 300)
        for q in present:
            if not df.empty and q in df.columns:
                s = df[["time", q]].dropna()
                series[q] = [[t.isoformat(), round(float(v), 4)] for t, v in zip(s["time"], s[q], strict=True)]
    e, c = TODAY.get(svc.influx, site, midnight, now)
    e = e[e["device"] == d.id] if not e.empty else e
    c = c[c["device"] == d.id] if not c.empty else c
    today = cq.per_device(plant, e, c)
    t = today.iloc[0] if not today.empty else None
    source = d.source.model_dump(mode="json") if d.source is not None else None
    meter = None
    if source is not None:
        meter = {k: source.get(k) for k in ("protocol", "profile", "host", "port", "unit", "topic", "interval_s")}
    children = [x.id for x in plant.devices if x.parent == d.id]
    return {
        "device": {
            "id": d.id, "name": d.name, "kind": d.kind, "carrier": d.carrier, "role": d.role, "area": d.area,
            "parent": d.parent, "children": children, "rated_kw": d.rated_kw,
        },
        "meter": meter,
        "last_seen": seen,
        "values": values,
        "series": series,
        "today": {
            "amount": float(e["amount"].sum()) if not e.empty else None,
            "unit": cq.ENERGY_UNITS.get(d.carrier, ""),
            "tce_kg": cq.num(t["tce_kg"]) if t is not None else None,
            "cost": cq.num(t["cost"]) if t is not None else None,
            "co2_kg": {b: (cq.num(t[b]) if t is not None else None) for b in cq.BOUNDARIES},
        },
        "co2_method": cq.BOUNDARY_METHOD,
    }  # fmt: skip
