"""Demand against the contracted limit, with the forecast, from the `demand` measurement."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from metering.api import queries
from metering.api.deps import Svc, Viewer
from metering.api.params import Range, Site

router = APIRouter(prefix="/api/v1/demand", tags=["demand"])


@router.get("", summary="Demand, forecast and limit over a period")
def get_demand(_key: Viewer, svc: Svc, site: Site, period: Range) -> dict[str, Any]:
    df = queries.demand(svc.influx, site, period.start, period.end)
    rows = queries.records(df, ["time", "demand_kw", "forecast_kw", "limit_kw"])
    peak = max((float(r["demand_kw"]) for r in rows if r.get("demand_kw") is not None), default=None)  # type: ignore[arg-type]
    return {"site": site, "limit_kw": _limit(svc), "peak_kw": peak, "rows": rows}


def _limit(svc: Svc) -> float | None:
    return svc.plant.contract.demand_limit_kw if svc.plant else None
