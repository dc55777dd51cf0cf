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

from fastapi import APIRouter, HTTPException, Query, Response, status

from metering.alerts.rules import ID_PATTERN
from metering.api.deps import Services, Svc, Viewer
from metering.api.routers.compliance import XLSX, _config, carbon_dir
from metering.compliance.cbam import build_communication
from metering.compliance.store import ComplianceStore
from metering.compliance.workbook import to_bytes
from metering.direct import cbam_xlsx
from metering.direct.config import PERIOD_PATTERN, CarbonConfig
from metering.direct.figures import Dataset
from metering.direct.lab import empty_book, parse_lab
from metering.direct.service import month_span
from metering.direct.stocks import parse_stocks
from metering.direct.tables import InputFileError
from metering.io import read_raw
from metering.service import Context

router = APIRouter(prefix="/api/v1/cbam", tags=["CBAM"])


def _devices(cfg: CarbonConfig) -> list[str]:
    return sorted(
        {d for m in cfg.materials.values() for d in m.devices}
        | {d for u in cfg.units for d in (*u.electricity_devices, *u.cement_electricity_devices)}
    )


def _dataset(svc: Services, unit: str) -> Dataset:
    """The unit's lab and stock files (the data directory's), no readings yet; 409 naming what is wrong."""
    plant, cfg, method = _config(svc, unit)
    ctx = Context.load(plant, svc.plant_dir, svc.data_dir)
    ds = Dataset(plant, cfg, method, registry=ctx.registry, green=ctx.green)
    errors: list[str] = []
    lab, stocks = carbon_dir(svc) / "lab.csv", carbon_dir(svc) / "stocks.csv"
    try:
        ds.lab = parse_lab(lab, cfg, method) if lab.is_file() else empty_book()
    except InputFileError as exc:
        errors += exc.errors
    try:
        ds.stocks = parse_stocks(stocks, cfg) if stocks.is_file() else None
    except InputFileError as exc:
        errors += exc.errors
    if errors:
        raise HTTPException(status.HTTP_409_CONFLICT, ["the period's input files do not validate:", *errors])
    return ds


def _month_reader(svc: Services, ds: Dataset) -> Callable[[str], Dataset]:
    """Each month's dataset with that month's readings only."""

    def read(month: str) -> Dataset:
        first = dt.date.fromisoformat(month + "-01")
        t0, t1 = month_span(first, first, ds.plant.site.timezone)
        return dataclasses.replace(ds, readings=read_raw(svc.influx, ds.plant, t0, t1, devices=_devices(ds.cfg)))

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
    ds = _dataset(svc, unit)
    comm = build_communication(ds, unit, period, ComplianceStore(svc.store), markup_year, _month_reader(svc, ds))
    if format == "json":
        return comm
    name = f"{ds.plant.site.id}-{unit}-cbam-{period}.xlsx"
    return Response(
        to_bytes(cbam_xlsx.build(comm)),
        media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
