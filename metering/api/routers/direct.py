"""Direct emissions per emission unit (national carbon market boundary) over a period, from measurement `direct`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from metering.api.deps import Svc, Viewer
from metering.api.params import Range, Site
from metering.direct.influx import MEASUREMENT, summarise
from plantcarbon_core.influx import influxql, quote_literal
from plantcarbon_core.wire import ID_PATTERN

router = APIRouter(prefix="/api/v1", tags=["direct emissions"])


@router.get("/direct", summary="Direct CO2 per emission unit: fuel and process, clinker, intensity")
def get_direct(
    _key: Viewer,
    svc: Svc,
    site: Site,
    period: Range,
    unit: Annotated[str | None, Query(pattern=ID_PATTERN, description="Emission unit id; default: all.")] = None,
) -> dict[str, Any]:
    where = (
        f'"site" = {quote_literal(site)} AND time >= {quote_literal(period.start.isoformat())} '
        f"AND time < {quote_literal(period.end.isoformat())}"
    )
    if unit:
        where += f' AND "unit" = {quote_literal(unit)}'
    points = influxql(svc.influx, f'SELECT * FROM "{MEASUREMENT}" WHERE {where}', svc.influx.metering_bucket)
    return {
        "site": site,
        "boundary": "national carbon market: direct emissions (fuel + process); biogenic CO2 memo only",
        "start": period.start.isoformat(),
        "end": period.end.isoformat(),
        "units": summarise(points),
    }
