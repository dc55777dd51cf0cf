"""The device register and the data-quality control plan: viewers and auditors read, energy managers edit.

The register is seeded from the plant file when the app starts (metering/register/store.py) and
kept in the state database; every edit is in the audit log with who, and the fields before and after.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Response, status
from pydantic import ValidationError

from metering.api.deps import EnergyManager, Services, Svc, Viewer
from metering.register.checks import DEFAULT_DUE_WITHIN_DAYS
from metering.register.model import Entry, InstrumentEdit
from metering.register.plan import build_plan, plan_csv, plan_xlsx
from metering.register.service import run_check
from metering.register.store import RegisterStore
from metering.state.store import NotFound
from plantcarbon_core.plant import Plant
from plantcarbon_core.wire import ID_PATTERN

router = APIRouter(prefix="/api/v1/register", tags=["register"])

InstrumentId = Annotated[
    str, Path(pattern=ID_PATTERN, description="Register id: the device id, or lab-<material>-<parameter>.")
]
AsOf = Annotated[
    dt.date | None, Query(description="The day the calibration state is judged on (default: the site's today).")
]
DueWithin = Annotated[
    int, Query(ge=0, le=365, description="Days before the due date from which a calibration counts as due.")
]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _plant(svc: Services) -> Plant:
    if svc.plant is None:
        raise HTTPException(status.HTTP_409_CONFLICT, "the service has no plant file (PLANTCARBON_PLANT_FILE)")
    return svc.plant


def _today(svc: Services, plant: Plant, as_of: dt.date | None) -> dt.date:
    return as_of or svc.clock().astimezone(plant.site.tz).date()


def view(e: Entry, today: dt.date, due_within_days: int, meta: dict[str, Any] | None = None) -> dict[str, Any]:
    """An entry with what follows from it: due date, calibration state, missing fields, the GB 17167 verdict."""
    due = e.due()
    doc = e.model_dump(mode="json")
    doc["due_date"] = due.isoformat() if due else None
    doc["calibration_state"] = e.calibration_state(today, due_within_days)
    doc["missing"] = e.missing()
    c = e.gb17167()
    doc["gb17167"] = (
        None if c is None else {"verdict": c.verdict, "required": c.required, "row": c.row, "reason": c.reason}
    )
    if meta is not None:
        doc.update(meta)
    return doc


@router.get("", summary="The register: every instrument and lab method that feeds a reported figure")
def list_register(
    svc: Svc, _key: Viewer, as_of: AsOf = None, due_within_days: DueWithin = DEFAULT_DUE_WITHIN_DAYS
) -> dict[str, Any]:
    plant = _plant(svc)
    today = _today(svc, plant, as_of)
    entries = RegisterStore(svc.store).list(plant.site.id)
    return {
        "site": plant.site.id,
        "as_of": today.isoformat(),
        "due_within_days": due_within_days,
        "instruments": [view(e, today, due_within_days) for e in entries],
    }


@router.get(
    "/plan",
    summary="The data-quality control plan (数据质量控制计划): parameter → source, frequency, missing-data rule, owner",
    responses={200: {"content": {"text/csv": {}, XLSX: {}}, "description": "JSON, CSV or XLSX by `format`"}},
)
def plan(svc: Svc, _key: Viewer, format: Literal["json", "csv", "xlsx"] = "json") -> Any:
    plant = _plant(svc)
    rows = build_plan(plant, RegisterStore(svc.store).list(plant.site.id))
    name = f"{plant.site.id}-data-quality-plan"
    if format == "csv":
        disp = f'attachment; filename="{name}.csv"'
        return Response(plan_csv(rows), media_type="text/csv; charset=utf-8", headers={"Content-Disposition": disp})
    if format == "xlsx":
        body = plan_xlsx(rows, f"数据质量控制计划 Data-quality control plan — {plant.site.name} ({plant.site.id})")
        return Response(body, media_type=XLSX, headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'})
    return {"site": plant.site.id, "rows": [r.flat() | {"sources": r.sources, "gaps": r.gaps} for r in rows]}


@router.post("/check", summary="Check calibrations and classes now: alerts fire or resolve through the alert engine")
def check_now(
    svc: Svc, _key: EnergyManager, as_of: AsOf = None, due_within_days: DueWithin = DEFAULT_DUE_WITHIN_DAYS
) -> dict[str, Any]:
    plant = _plant(svc)
    emit = svc.alerts.notify if svc.alerts is not None else (lambda _row: None)
    out = run_check(svc.store, plant, emit, _today(svc, plant, as_of), due_within_days, svc.clock())
    out["notified"] = svc.alerts is not None
    return out


@router.get("/{instrument_id}", summary="One register entry")
def get_entry(
    svc: Svc,
    _key: Viewer,
    instrument_id: InstrumentId,
    as_of: AsOf = None,
    due_within_days: DueWithin = DEFAULT_DUE_WITHIN_DAYS,
) -> dict[str, Any]:
    plant = _plant(svc)
    try:
        e, meta = RegisterStore(svc.store).get(plant.site.id, instrument_id)
    except NotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    return view(e, _today(svc, plant, as_of), due_within_days, meta)


@router.put("/{instrument_id}", summary="Edit an entry: the fields sent replace the stored ones (audited)")
def put_entry(svc: Svc, key: EnergyManager, instrument_id: InstrumentId, body: InstrumentEdit) -> dict[str, Any]:
    plant = _plant(svc)
    try:
        e, meta = RegisterStore(svc.store).update(plant.site.id, instrument_id, body, key.name)
    except NotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    except ValidationError as exc:
        # The edit is valid alone but not with the stored fields (e.g. a due date before the last calibration).
        detail = [
            {"loc": ["body", *map(str, err["loc"])], "msg": err["msg"], "type": err["type"]} for err in exc.errors()
        ]
        raise HTTPException(422, detail) from None
    return view(e, _today(svc, plant, None), DEFAULT_DUE_WITHIN_DAYS, meta)
