"""Lab values and stock balances through the API: read, upload (CSV/XLSX), enter, correct; validated, atomic, audited.

The API writes the files the month review reads (`<data_dir>/carbon/lab.csv` and
`stocks.csv`, see routers/compliance.py), through the same validation as the CLI
(metering/direct/lab.py, stocks.py): an input is used whole or refused whole (422, every
mistake naming file, row and field) and a refused input leaves the stored file as it was.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, File, HTTPException, Query, UploadFile, status
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field

from metering.api.deps import Operator, Services, Svc, Viewer
from metering.api.routers.compliance import carbon_dir
from metering.api.upload import read_upload
from metering.direct.config import CarbonConfig, CarbonConfigError, carbon_config
from metering.direct.lab import LAB_COLUMNS, LabBook, correct, empty_book, merge, parse_lab, records, save_lab
from metering.direct.method import Method
from metering.direct.stocks import (
    STOCK_COLUMNS,
    chain_warnings,
    merge_stocks,
    read_stock_text,
    save_stocks,
    validate_stocks,
)
from metering.direct.tables import InputFileError, read_table

router = APIRouter(prefix="/api/v1/direct", tags=["direct emissions"])

SAMPLE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
TEXT = r"^[^\x00-\x1f\x7f]*$"  # one line of text: a control character has no place in a lab book cell
Upload = Annotated[UploadFile, File(description="CSV or XLSX, UTF-8, at most 2 MiB")]
SampleId = Annotated[str, PathParam(pattern=SAMPLE_PATTERN, description="The lab's sample id.")]
# One writer at a time per file: a read-merge-write must not interleave with another.
_LOCK = threading.Lock()


class LabEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sample_id: str = Field(pattern=SAMPLE_PATTERN)
    material: str = Field(
        pattern=TEXT, min_length=1, max_length=64, description="A material of the plant file's carbon block."
    )
    parameter: str = Field(
        pattern=TEXT, min_length=1, max_length=64, description="A parameter of that material in the method."
    )
    value: float = Field(allow_inf_nan=False)
    unit: str = Field(pattern=TEXT, max_length=32, description="The method's unit for the parameter (no conversions).")
    period_start: dt.date = Field(description="First day the sample stands for (local calendar).")
    period_end: dt.date = Field(description="Last day, included.")
    standard: str = Field(pattern=TEXT, default="", max_length=128, description="Analysis standard, e.g. GB/T 176.")
    lab: str = Field(pattern=TEXT, min_length=1, max_length=128)


class LabEntries(BaseModel):
    model_config = ConfigDict(extra="forbid")
    entries: list[LabEntry] = Field(min_length=1, max_length=100)


class CorrectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    parameter: str = Field(pattern=TEXT, min_length=1, max_length=64)
    value: float = Field(allow_inf_nan=False)
    reason: str = Field(
        pattern=TEXT, min_length=3, max_length=2000, description="Why the value changes (re-analysis, typo…)."
    )


def _carbon(svc: Services) -> tuple[CarbonConfig, Method]:
    """The plant's carbon block, else 409 saying why (no plant file, no carbon: block, a bad block)."""
    if svc.plant is None:
        raise HTTPException(status.HTTP_409_CONFLICT, "the service has no plant file (PLANTCARBON_PLANT_FILE)")
    try:
        return carbon_config(svc.plant)
    except CarbonConfigError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, exc.errors) from None


def _lab_path(svc: Services) -> Path:
    return Path(carbon_dir(svc)) / "lab.csv"


def _stocks_path(svc: Services) -> Path:
    return Path(carbon_dir(svc)) / "stocks.csv"


def _stored_book(path: Path, cfg: CarbonConfig, method: Method) -> LabBook:
    """The stored lab book; 409 when it no longer validates (edited by hand): nothing is added to a broken book."""
    try:
        return parse_lab(path, cfg, method) if path.is_file() else empty_book(path.name)
    except InputFileError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, ["the stored lab book does not validate:", *exc.errors]) from None


def _refused(exc: InputFileError) -> HTTPException:
    return HTTPException(422, [{"loc": ["body"], "msg": e, "type": "value_error"} for e in exc.errors])


@contextmanager
def _storable() -> Iterator[None]:
    """A write whose file does not read back as written (or cannot be encoded) is refused, not a server error."""
    try:
        yield
    except InputFileError as exc:
        raise _refused(exc) from None
    except UnicodeError as exc:
        raise HTTPException(
            422, [{"loc": ["body"], "msg": f"cannot be stored as UTF-8: {exc}", "type": "value_error"}]
        ) from None


def _brief(rows: pd.DataFrame) -> list[str]:
    """Lab rows as short lines for the audit log: `CL-20260110@2 clinker cao = 0.6701 1`."""
    return [
        f"{r['sample_id']}@{r['version']} {r['material']} {r['parameter']} = {r['value']:g} {r['unit']}"
        for r in rows.to_dict("records")
    ]


def _add(svc: Services, who: str, text: pd.DataFrame, source: str, action: str) -> dict[str, Any]:
    """Merge validated rows into the stored book, write it atomically and audit it (in one lock)."""
    cfg, method = _carbon(svc)
    path = _lab_path(svc)
    text["entered_by"] = [e or who for e in text["entered_by"]]  # an empty author is the key that sent it
    with _LOCK:
        book = _stored_book(path, cfg, method)
        try:
            new, added = merge(book, text, cfg, method, source)
        except InputFileError as exc:
            raise _refused(exc) from None
        if not added.empty:
            before = {"rows": len(book.history)}
            after = {"rows": len(new.history), "source": source, "added": _brief(added)}
            with _storable(), svc.store.audited(who, action, "lab", source, before, after):
                path.parent.mkdir(parents=True, exist_ok=True)
                save_lab(new, path, check=(cfg, method))
    return {"source": source, "added": records(added), "unchanged": len(text) - len(added), "rows": len(new.history)}


@router.get("/lab", summary="The lab book: current values (with their version count), or every version")
def get_lab(
    _key: Viewer,
    svc: Svc,
    history: Annotated[bool, Query(description="Every version with its reason, who and when")] = False,
) -> dict[str, Any]:
    cfg, method = _carbon(svc)
    book = _stored_book(_lab_path(svc), cfg, method)
    if history:
        return {"history": True, "rows": records(book.history.sort_values(["sample_id", "parameter", "version"]))}
    cur = book.current
    rows = records(cur)
    for r, n in zip(rows, cur["version"], strict=True):
        r["versions"] = int(n)
    return {"history": False, "rows": rows}


@router.post("/lab", summary="Upload a lab file (CSV or XLSX, the CLI's columns), merged with the stored book")
def post_lab_file(key: Operator, svc: Svc, file: Upload) -> dict[str, Any]:
    name, data = read_upload(file)
    try:
        text = read_table(name, LAB_COLUMNS, data)
    except InputFileError as exc:
        raise _refused(exc) from None
    return _add(svc, key.name, text, name, "upload")


@router.post("/lab/entries", summary="Enter one or a few lab values (version 1 each), as the lab page's form does")
def post_lab_entries(body: LabEntries, key: Operator, svc: Svc) -> dict[str, Any]:
    rows = [
        {
            **e.model_dump(mode="json"),
            "version": "1",
            "value": repr(e.value),
            "entered_by": key.name,
            "reason": "",
            "row": str(i),
        }
        for i, e in enumerate(body.entries, start=1)
    ]
    # stripped like a file's cells (tables.read_table), so the stored book reads back as it was written
    text = pd.DataFrame(rows, columns=[*LAB_COLUMNS, "row"]).astype(str).apply(lambda col: col.str.strip())
    return _add(svc, key.name, text, "entries", "create")


@router.post(
    "/lab/{sample_id}/corrections",
    summary="Correct a lab value: a new version with its reason and who (never an overwrite)",
)
def post_correction(body: CorrectionIn, key: Operator, svc: Svc, sample_id: SampleId) -> dict[str, Any]:
    cfg, method = _carbon(svc)
    path = _lab_path(svc)
    with _LOCK:
        book = _stored_book(path, cfg, method)
        cur = book.current
        hit = cur[(cur["sample_id"] == sample_id) & (cur["parameter"] == body.parameter)]
        if hit.empty:
            known = sorted(cur.loc[cur["sample_id"] == sample_id, "parameter"])
            raise HTTPException(
                status.HTTP_404_NOT_FOUND,
                f"no lab value {sample_id} {body.parameter} to correct"
                + (f" (the sample has: {', '.join(known)})" if known else " (no such sample)"),
            )
        try:
            new = correct(book, sample_id, body.parameter, body.value, body.reason, key.name, cfg, method)
        except InputFileError as exc:
            raise _refused(exc) from None
        n = new.current
        row = n[(n["sample_id"] == sample_id) & (n["parameter"] == body.parameter)]
        before = records(hit)[0]
        after = records(row)[0]
        with _storable(), svc.store.audited(key.name, "correct", "lab", f"{sample_id}/{body.parameter}", before, after):
            save_lab(new, path, check=(cfg, method))
    return after


def _stock_rows(text: pd.DataFrame) -> list[dict[str, Any]]:
    return [{c: r[c] for c in STOCK_COLUMNS} for r in text.to_dict("records")]


@router.get("/stocks", summary="Stock balances per material and month, with consumption = opening + receipts − closing")
def get_stocks(_key: Viewer, svc: Svc) -> dict[str, Any]:
    cfg, _ = _carbon(svc)
    path = _stocks_path(svc)
    text = read_stock_text(path)
    try:
        parsed = validate_stocks(text, cfg, path.name)
    except InputFileError as exc:
        msg = ["the stored stock file does not validate:", *exc.errors]
        raise HTTPException(status.HTTP_409_CONFLICT, msg) from None
    rows = _stock_rows(text)
    for r, c in zip(rows, parsed["consumed_t"], strict=True):
        r["consumed_t"] = float(c)
    return {"rows": rows, "warnings": chain_warnings(parsed, path.name)}


@router.post("/stocks", summary="Upload stock balances (CSV or XLSX); a material and month given again replaces it")
def post_stocks(key: Operator, svc: Svc, file: Upload) -> dict[str, Any]:
    name, data = read_upload(file)
    try:
        upload = read_table(name, STOCK_COLUMNS, data)
    except InputFileError as exc:
        raise _refused(exc) from None
    upload["entered_by"] = [e or key.name for e in upload["entered_by"]]
    cfg, _ = _carbon(svc)
    path = _stocks_path(svc)
    with _LOCK:
        stored = read_stock_text(path)
        try:
            text = merge_stocks(stored, upload, cfg, name)
            parsed = validate_stocks(text.assign(row=range(2, len(text) + 2)), cfg, path.name)
        except InputFileError as exc:
            raise _refused(exc) from None
        before = {"rows": _stock_rows(stored)} if len(stored) else None
        with _storable(), svc.store.audited(key.name, "upload", "stock", name, before, {"rows": _stock_rows(text)}):
            save_stocks(text, path, cfg)
    return {"source": name, "rows": len(text), "warnings": chain_warnings(parsed, path.name)}
