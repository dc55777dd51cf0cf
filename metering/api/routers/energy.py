"""Interval energy, cost and emissions by site, area or device, over a period at a granularity."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from metering.api import queries
from metering.api.deps import Svc, Viewer
from metering.api.params import Range, Site, site_tz

router = APIRouter(prefix="/api/v1", tags=["energy"])

Tz = Annotated[str, Depends(site_tz)]


@router.get("/energy", summary="Energy (amount, tce, cost) per interval")
def get_energy(
    _key: Viewer,
    svc: Svc,
    site: Site,
    period: Range,
    tz: Tz,
    granularity: queries.Granularity | None = "1h",
    group_by: queries.GroupBy = "site",
    carrier: Annotated[str | None, Query(pattern=r"^[a-z_]{1,32}$")] = None,
) -> dict[str, Any]:
    df = queries.energy(svc.influx, site, period.start, period.end, granularity, group_by, tz, carrier)
    cols = ["time", "area", "device", "amount", "tce_kg", "cost"]
    return {"site": site, "granularity": granularity, "group_by": group_by, "rows": queries.records(df, cols)}


@router.get("/emissions", summary="CO2 and CO2e per interval, per boundary (scope 1, scope 2 location/market)")
def get_emissions(
    _key: Viewer,
    svc: Svc,
    site: Site,
    period: Range,
    tz: Tz,
    granularity: queries.Granularity | None = "1h",
    group_by: queries.GroupBy = "site",
    scope: Annotated[str | None, Query(pattern=r"^[a-z0-9_]{1,16}$")] = None,
) -> dict[str, Any]:
    mains = [d.id for d in svc.plant.main_meters()] if svc.plant else None
    df = queries.emissions(svc.influx, site, period.start, period.end, granularity, group_by, tz, scope, mains)
    keys = [k for k in ("time", "area", "device") if k in df.columns]
    rows = queries.records(queries.by_boundary(df, keys), [*keys, "co2_kg", "co2e_kg"])
    return {"site": site, "granularity": granularity, "group_by": group_by, "rows": rows}
