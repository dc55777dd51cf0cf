"""The month's filing workflow per emission unit: review, approve (lock), revise, file; workbook and deadlines.

The month is computed from the live store: the unit's weigher and meter readings from
InfluxDB `raw`, the lab book and stock balances from the data directory
(`<data_dir>/carbon/lab.csv`, `<data_dir>/carbon/stocks.csv`, the files of
`plantcarbon carbon run`). Viewers (and auditors) read; operators put a month in review;
energy managers approve, revise and file. Every change is in the audit log.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field

from metering.alerts.rules import ID_PATTERN
from metering.api.deps import EnergyManager, Operator, Services, Svc, Viewer
from metering.compliance.annual import annual_report
from metering.compliance.deadlines import deadline_view
from metering.compliance.rules import load_rules
from metering.compliance.store import ComplianceStore
from metering.compliance.workbook import build, scope_of, to_bytes
from metering.compliance.workflow import Evaluation, do_approve, do_review, do_revise, evaluate
from metering.compliance.workflow import status as month_status
from metering.direct.config import CarbonConfig, CarbonConfigError, carbon_config
from metering.direct.figures import Dataset
from metering.direct.lab import empty_book, parse_lab
from metering.direct.method import Method
from metering.direct.service import month_span
from metering.direct.stocks import parse_stocks
from metering.direct.tables import InputFileError
from metering.evidence.store import EvidenceStore
from metering.io import read_raw
from metering.service import Context
from metering.state.store import Conflict, NotFound
from plantcarbon_core.plant import Plant

router = APIRouter(prefix="/api/v1/compliance", tags=["compliance"])

MONTH_PATTERN = r"^20[0-9]{2}-(0[1-9]|1[0-2])$"
Unit = Annotated[str, Path(pattern=ID_PATTERN, description="Emission unit id.")]
Month = Annotated[str, Path(pattern=MONTH_PATTERN, description="YYYY-MM, the site's local calendar.")]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class ReviseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=3, max_length=2000, description="What changed and why.")


class FileIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reference: str = Field(min_length=1, max_length=128, description="The platform's receipt or reference.")


def carbon_dir(svc: Services) -> Any:
    return svc.data_dir / "carbon"


def _config(svc: Services, unit: str) -> tuple[Plant, CarbonConfig, Method]:
    """The plant's carbon block with `unit` in it, else 409 (no plant, no carbon block) or 404 (no such unit)."""
    if svc.plant is None:
        raise HTTPException(status.HTTP_409_CONFLICT, "the service has no plant file (PLANTCARBON_PLANT_FILE)")
    try:
        cfg, method = carbon_config(svc.plant)
    except CarbonConfigError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, exc.errors) from None
    if unit not in {u.id for u in cfg.units}:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            f"no emission unit {unit!r} (units: {', '.join(u.id for u in cfg.units)})",
        )
    return svc.plant, cfg, method


def inputs(svc: Services, unit: str, what: str = "the month's") -> Dataset:
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
        raise HTTPException(status.HTTP_409_CONFLICT, [f"{what} input files do not validate:", *errors])
    return ds


def unit_devices(cfg: CarbonConfig) -> list[str]:
    """The devices the emission units read: the materials' weighers and meters, the lines' electricity."""
    return sorted(
        {d for m in cfg.materials.values() for d in m.devices}
        | {d for u in cfg.units for d in (*u.electricity_devices, *u.cement_electricity_devices)}
    )


def _dataset(svc: Services, unit: str, month: str) -> Dataset:
    """The unit's month from the live store and the data directory's lab and stock files."""
    ds = inputs(svc, unit)
    p = dt.date.fromisoformat(month + "-01")
    t0, t1 = month_span(p, p, ds.plant.site.timezone)
    return dataclasses.replace(ds, readings=read_raw(svc.influx, ds.plant, t0, t1, devices=unit_devices(ds.cfg)))


def _eval(svc: Services, unit: str, month: str) -> tuple[str, Evaluation]:
    ds = _dataset(svc, unit, month)
    return ds.plant.site.id, evaluate(ds, unit, month)


def _site(svc: Services) -> str:
    if svc.plant is None:
        raise HTTPException(status.HTTP_409_CONFLICT, "the service has no plant file (PLANTCARBON_PLANT_FILE)")
    return svc.plant.site.id


@router.get("/deadlines", summary="Each month's due date, state and what is missing (one unit, one year)")
def get_deadlines(
    _key: Viewer,
    svc: Svc,
    unit: Annotated[str, Query(pattern=ID_PATTERN)],
    year: Annotated[int, Query(ge=2000, le=2099)],
    rule: Annotated[
        str | None, Query(pattern=ID_PATTERN, description="Deadline rule id; default: rules.yaml's")
    ] = None,
    as_of: Annotated[dt.date | None, Query(description="The day overdue is judged on; default: today (UTC)")] = None,
) -> dict[str, Any]:
    site = _site(svc)
    cs = ComplianceStore(svc.store)
    states = {m["month"]: m for m in cs.list_months(site, unit)}
    try:
        return deadline_view(year, unit, states, as_of or svc.clock().date(), rule)
    except KeyError as exc:
        raise HTTPException(422, [{"loc": ["query", "rule"], "msg": str(exc.args[0]), "type": "value_error"}]) from None


@router.get("/{unit}/annual/{year}", summary="The unit's annual report from its locked months (latest revisions)")
def get_annual(_key: Viewer, svc: Svc, unit: Unit, year: Annotated[int, Path(ge=2000, le=2099)]) -> dict[str, Any]:
    site = _config(svc, unit)[0].site.id
    return annual_report(ComplianceStore(svc.store), site, unit, year)


@router.get(
    "/{unit}/{month}", summary="The month: state, review, revisions side by side, and whether a recompute differs"
)
def get_month(_key: Viewer, svc: Svc, unit: Unit, month: Month) -> dict[str, Any]:
    site, ev = _eval(svc, unit, month)
    return month_status(ComplianceStore(svc.store), site, unit, month, ev)


@router.post("/{unit}/{month}/review", summary="Completeness review; the month goes in review (operator)")
def post_review(key: Operator, svc: Svc, unit: Unit, month: Month) -> dict[str, Any]:
    site, ev = _eval(svc, unit, month)
    try:
        do_review(ComplianceStore(svc.store), site, ev, key.name)
    except Conflict as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    return month_status(ComplianceStore(svc.store), site, unit, month, ev)


@router.post("/{unit}/{month}/approve", summary="Approve and lock the month as revision 1 (energy manager)")
def post_approve(key: EnergyManager, svc: Svc, unit: Unit, month: Month) -> dict[str, Any]:
    site, ev = _eval(svc, unit, month)
    try:
        do_approve(ComplianceStore(svc.store), site, ev, key.name)
    except Conflict as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    return month_status(ComplianceStore(svc.store), site, unit, month, ev)


@router.post("/{unit}/{month}/revise", summary="A new locked revision with a reason, when the recompute differs")
def post_revise(body: ReviseIn, key: EnergyManager, svc: Svc, unit: Unit, month: Month) -> dict[str, Any]:
    site, ev = _eval(svc, unit, month)
    try:
        do_revise(ComplianceStore(svc.store), site, ev, body.reason, key.name)
    except Conflict as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    except ValueError as exc:
        raise HTTPException(422, [{"loc": ["body", "reason"], "msg": str(exc), "type": "value_error"}]) from None
    return month_status(ComplianceStore(svc.store), site, unit, month, ev)


@router.post("/{unit}/{month}/file", summary="Mark an approved month filed, with the platform's reference")
def post_file(body: FileIn, key: EnergyManager, svc: Svc, unit: Unit, month: Month) -> dict[str, Any]:
    site = _config(svc, unit)[0].site.id
    try:
        return ComplianceStore(svc.store).file(site, unit, month, body.reference.strip(), key.name)
    except NotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    except Conflict as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None


@router.get(
    "/{unit}/{month}/workbook",
    summary="The monthly filing workbook (XLSX, 简体中文 / English)",
    response_class=Response,
    responses={200: {"content": {XLSX: {}}, "description": "the workbook"}},
)
def get_workbook(
    _key: Viewer,
    svc: Svc,
    unit: Unit,
    month: Month,
    rule: Annotated[str | None, Query(pattern=ID_PATTERN, description="Deadline rule id")] = None,
) -> Response:
    site, ev = _eval(svc, unit, month)
    try:
        _, r = load_rules().deadlines.rule(rule)
    except KeyError as exc:
        raise HTTPException(422, [{"loc": ["query", "rule"], "msg": str(exc.args[0]), "type": "value_error"}]) from None
    st = month_status(ComplianceStore(svc.store), site, unit, month, ev)
    files = EvidenceStore(svc.store, svc.data_dir / "evidence").for_links(scope_of(ev).candidates())
    data = to_bytes(build(ev, site, st, r.due(month).isoformat(), evidence=files))
    name = f"{site}-{unit}-{month}-r{st['revision']}.xlsx"
    return Response(data, media_type=XLSX, headers={"Content-Disposition": f'attachment; filename="{name}"'})
