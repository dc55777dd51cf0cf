"""The EU CBAM communication of an emission unit over a period, as JSON or XLSX (viewers and auditors read it).

Figures come from each month's latest locked revision where the month is locked, else the
recompute from InfluxDB `raw` and the data directory's lab and stock files (as the month
workflow reads them), one month's readings at a time; electricity and cement always from the
recompute. The body names which.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response

from metering.alerts.rules import ID_PATTERN
from metering.api.deps import Services, Svc, Viewer
from metering.api.routers.compliance import XLSX, inputs, unit_devices
from metering.compliance.cbam import build_communication
from metering.compliance.store import ComplianceStore
from metering.compliance.workbook import to_bytes
from metering.direct import cbam_xlsx
from metering.direct.config import PERIOD_PATTERN
from metering.direct.figures import Dataset
from metering.direct.service import month_span
from metering.io import read_raw

router = APIRouter(prefix="/api/v1/cbam", tags=["CBAM"])


def _month_reader(svc: Services, ds: Dataset) -> Callable[[str], Dataset]:
    """Each month's dataset with that month's readings only."""

    def read(month: str) -> Dataset:
        first = dt.date.fromisoformat(month + "-01")
        t0, t1 = month_span(first, first, ds.plant.site.timezone)
        return dataclasses.replace(ds, readings=read_raw(svc.influx, ds.plant, t0, t1, devices=unit_devices(ds.cfg)))

    return read


@router.get(
    "/communication",
    summary="The EU CBAM communication of an emission unit: SEE per good, precursor, carbon price paid, EU default",
    response_model=None,
    responses={200: {"content": {"application/json": {}, XLSX: {}}, "description": "JSON or the XLSX workbook"}},
)
def get_communication(
    _key: Viewer,
    svc: Svc,
    unit: Annotated[str, Query(pattern=ID_PATTERN, description="Emission unit id.")],
    period: Annotated[str, Query(pattern=PERIOD_PATTERN, description="YYYYQn, YYYY or YYYY-MM (local calendar).")],
    format: Literal["json", "xlsx"] = "json",
    markup_year: Annotated[
        int | None, Query(ge=2026, le=2099, description="Year whose EU default mark-up applies; default: the period's.")
    ] = None,
) -> dict[str, Any] | Response:
    ds = inputs(svc, unit, "the period's")
    comm = build_communication(ds, unit, period, ComplianceStore(svc.store), markup_year, _month_reader(svc, ds))
    if format == "json":
        return comm
    name = f"{ds.plant.site.id}-{unit}-cbam-{period}.xlsx"
    return Response(
        to_bytes(cbam_xlsx.build(comm)),
        media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
