"""Lab analyses and records: per material and sample, versioned (a correction is a new version with a reason).

File columns (CSV or XLSX, one row per sample and parameter; see docs/direct-emissions.md):
sample_id, version, material, parameter, value, unit, period_start, period_end, standard, lab,
entered_by, reason. Periods are local calendar days, both ends included.

Bad input this module expects: unknown material or parameter, a value that is not a number,
out of the method's range or in another unit than the method's, a period that ends before it
starts or overlaps another sample's period for the same material and parameter, version
gaps or duplicates, a correction without a reason. `parse_lab` reports every mistake at
once (`lab.csv: row 7 (sample C-0107@2): value: 0.81 outside the valid range [0.55, 0.72] of
clinker cao`) and returns nothing: a file is used whole or not at all.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from metering.direct.config import CarbonConfig
from metering.direct.method import Method
from metering.direct.tables import InputFileError, number, read_table, write_csv_atomic

LAB_COLUMNS = [
    "sample_id",
    "version",
    "material",
    "parameter",
    "value",
    "unit",
    "period_start",
    "period_end",
    "standard",
    "lab",
    "entered_by",
    "reason",
]


@dataclass(frozen=True)
class LabBook:
    """Every version of every lab value; `current` holds the newest version of each (sample, parameter)."""

    history: pd.DataFrame  # LAB_COLUMNS + row; value float, version int, periods as dates
    source: str = "lab"

    @property
    def current(self) -> pd.DataFrame:
        h = self.history.sort_values(["sample_id", "parameter", "version"])
        return h.groupby(["sample_id", "parameter"], sort=False).tail(1).reset_index(drop=True)


def empty_book(source: str = "lab") -> LabBook:
    return LabBook(pd.DataFrame({c: pd.Series(dtype=object) for c in [*LAB_COLUMNS, "row"]}), source)


def parse_lab(path: str | Path, cfg: CarbonConfig, method: Method) -> LabBook:
    df = read_table(path, LAB_COLUMNS)
    return validate_lab(df, cfg, method, str(path))


def validate_lab(df: pd.DataFrame, cfg: CarbonConfig, method: Method, source: str) -> LabBook:
    """Text cells (+ row) → a LabBook, or InputFileError with every mistake."""
    hist, errors = _valid_rows(df, cfg, method, source)
    if not errors:
        errors += _version_errors(hist, source)
    if not errors:
        errors += overlap_errors(LabBook(hist, source).current, source)
    if errors:
        raise InputFileError(errors)
    return LabBook(hist, source)


def _valid_rows(df: pd.DataFrame, cfg: CarbonConfig, method: Method, source: str) -> tuple[pd.DataFrame, list[str]]:
    """Each row on its own: the typed rows that pass, and every mistake of the others."""
    errors: list[str] = []
    rows: list[dict[str, object]] = []
    for rec in df.to_dict("records"):
        where = f"{source}: row {rec['row']} (sample {rec['sample_id'] or '?'}@{rec['version'] or '?'})"
        bad = _check_row({str(k): str(v) for k, v in rec.items()}, cfg, method)
        if bad:
            errors.extend(f"{where}: {b}" for b in bad)
            continue
        rows.append(
            {
                **{c: rec[c] for c in LAB_COLUMNS},
                "version": int(float(rec["version"])),  # "2.0" from a spreadsheet is version 2
                "value": float(rec["value"]),
                "period_start": dt.date.fromisoformat(rec["period_start"]),
                "period_end": dt.date.fromisoformat(rec["period_end"]),
                "row": rec["row"],
            }
        )
    return pd.DataFrame(rows, columns=[*LAB_COLUMNS, "row"]), errors


def _check_row(rec: dict[str, str], cfg: CarbonConfig, method: Method) -> list[str]:
    bad: list[str] = []
    if not rec["sample_id"]:
        bad.append("sample_id: empty")
    ver = number(rec["version"])
    if ver is None or ver < 1 or ver != int(ver):
        bad.append(f"version: {rec['version']!r} is not a whole number ≥ 1")
    elif int(ver) > 1 and not rec["reason"]:
        bad.append("reason: a correction (version > 1) needs a reason")
    for f in ("lab", "entered_by"):
        if not rec[f]:
            bad.append(f"{f}: empty (who analysed and who entered a value are part of its evidence)")
    mat = cfg.materials.get(rec["material"])
    if mat is None:
        bad.append(f"material: unknown material {rec['material']!r} (plant file materials: {', '.join(cfg.materials)})")
        return bad
    params = method.materials[mat.kind].parameters
    par = params.get(rec["parameter"])
    if par is None:
        bad.append(f"parameter: {rec['parameter']!r} is not a parameter of {mat.kind} (known: {', '.join(params)})")
        return bad
    value = number(rec["value"])
    if value is None:
        bad.append(f"value: {rec['value']!r} is not a number")
    if rec["unit"] != par.unit:  # a value in another unit cannot be range-checked either
        bad.append(f"unit: {rec['unit']!r}, the method wants {rec['parameter']} in {par.unit!r} (no conversions)")
    elif value is not None and not par.in_range(value):
        lo, hi = par.range
        bad.append(f"value: {value:g} outside the valid range [{lo:g}, {hi:g}] of {rec['material']} {rec['parameter']}")
    try:
        start = dt.date.fromisoformat(rec["period_start"])
        end = dt.date.fromisoformat(rec["period_end"])
        if end < start:
            bad.append(f"period_end: {end} before period_start {start}")
    except ValueError:
        bad.append(f"period_start/period_end: {rec['period_start']!r}/{rec['period_end']!r} are not dates YYYY-MM-DD")
    return bad


def _version_errors(hist: pd.DataFrame, source: str) -> list[str]:
    errors = []
    for (sample, par), g in hist.groupby(["sample_id", "parameter"], sort=True):
        versions = sorted(g["version"])
        if versions != list(range(1, len(versions) + 1)):
            rows = ", ".join(str(r) for r in g["row"])
            errors.append(
                f"{source}: rows {rows} (sample {sample}, {par}): version: versions {versions}, need 1..{len(versions)}"
                " with none repeated or missing"
            )
    return errors


def overlap_errors(current: pd.DataFrame, source: str) -> list[str]:
    """Two samples of the same material and parameter whose periods share a day."""
    errors = []
    for (mat, par), g in current.groupby(["material", "parameter"], sort=True):
        g = g.sort_values("period_start")
        prev = None
        for rec in g.to_dict("records"):
            if prev is not None and rec["period_start"] <= prev["period_end"]:
                errors.append(
                    f"{source}: row {rec['row']} (sample {rec['sample_id']}@{rec['version']}): period_start: "
                    f"{mat} {par} period {rec['period_start']}..{rec['period_end']} overlaps sample "
                    f"{prev['sample_id']}@{prev['version']} (row {prev['row']}, "
                    f"{prev['period_start']}..{prev['period_end']})"
                )
            if prev is None or rec["period_end"] > prev["period_end"]:
                prev = rec
    return errors


def correct(
    book: LabBook,
    sample_id: str,
    parameter: str,
    value: float,
    reason: str,
    entered_by: str,
    cfg: CarbonConfig,
    method: Method,
) -> LabBook:
    """A new version of one lab value (never an overwrite); validated like a file row."""
    cur = book.current
    hit = cur[(cur["sample_id"] == sample_id) & (cur["parameter"] == parameter)]
    if hit.empty:
        raise InputFileError([f"{book.source}: no sample {sample_id} with parameter {parameter} to correct"])
    rec = {k: str(v) for k, v in hit.iloc[0].to_dict().items()}
    rec.update(
        version=str(int(hit.iloc[0]["version"]) + 1),
        value=repr(float(value)),
        reason=reason.strip(),
        entered_by=entered_by.strip(),
        row=str(len(book.history) + 2),
    )
    text = pd.concat([_as_text(book.history), pd.DataFrame([rec])], ignore_index=True)
    text["row"] = range(2, len(text) + 2)
    return validate_lab(text, cfg, method, book.source)


def _as_text(hist: pd.DataFrame) -> pd.DataFrame:
    out = hist[LAB_COLUMNS].copy()
    out["value"] = [repr(float(v)) for v in hist["value"]]
    for c in ("version", "period_start", "period_end"):
        out[c] = hist[c].astype(str)
    return out.astype(str)


def save_lab(book: LabBook, path: str | Path, check: tuple[CarbonConfig, Method] | None = None) -> None:
    """Write every version atomically (a temp file renamed over the target): never half a file.

    With `check` (the plant's carbon block and method), the written file is parsed back before it
    replaces the old one, and must hold the same rows.
    """
    write_csv_atomic(_as_text(book.history), path, None if check is None else _reader(book, check))


def _reader(book: LabBook, check: tuple[CarbonConfig, Method]) -> Callable[[Path], None]:
    """A read-back check: the written file parses and holds every version of `book`, value for value."""

    def read_back(tmp: Path) -> None:
        back = validate_lab(read_table(tmp, LAB_COLUMNS), *check, str(tmp))
        if not _as_text(back.history).equals(_as_text(book.history)):
            raise InputFileError([f"{tmp}: the written lab book does not read back as it was written"])

    return read_back


# What makes two rows of the same (sample, parameter, version) the same value (not who typed it in).
_SAME = ["material", "value", "unit", "period_start", "period_end", "standard", "lab"]


def merge(
    book: LabBook, upload: pd.DataFrame, cfg: CarbonConfig, method: Method, source: str
) -> tuple[LabBook, pd.DataFrame]:
    """The stored book plus new rows (text cells + row), validated whole → (new book, the rows added).

    The rows are checked on their own first, so their mistakes name `source` and its rows. A row
    already stored as it is (same sample, parameter, version and value) counts once, so a file may
    be uploaded again; a different value under a stored version is refused: a change is a
    correction (the next version, with a reason). Then the whole book is checked (versions,
    overlapping periods); stored rows are named `N of the stored lab book`.
    """
    new, errors = _valid_rows(upload, cfg, method, source)
    if errors:
        raise InputFileError(errors)
    stored = {(r["sample_id"], r["parameter"], r["version"]): r for r in book.history.to_dict("records")}
    keep = []
    for i, rec in enumerate(new.to_dict("records")):
        key = (rec["sample_id"], rec["parameter"], rec["version"])
        old = stored.get(key)
        if old is None:
            keep.append(i)
            continue
        if any(old[c] != rec[c] for c in _SAME):
            errors.append(
                f"{source}: row {rec['row']} (sample {key[0]}@{key[2]}): value: {key[0]} {key[1]} version {key[2]} "
                f"is already stored as {old['value']:g} {old['unit']} ({old['period_start']}..{old['period_end']}, "
                f"entered by {old['entered_by']}); a change is a correction: the next version with a reason"
            )
    if errors:
        raise InputFileError(errors)
    added = new.iloc[keep]
    stored_text = _as_text(book.history)
    stored_text["row"] = [f"{r} of the stored lab book" for r in book.history["row"]]
    added_text = _as_text(added)
    added_text["row"] = list(added["row"])
    merged = validate_lab(pd.concat([stored_text, added_text], ignore_index=True), cfg, method, source)
    return merged, added.drop(columns="row").reset_index(drop=True)


def records(df: pd.DataFrame) -> list[dict[str, object]]:
    """Lab rows as JSON-ready dicts (dates as ISO strings), in LAB_COLUMNS order."""
    out = df[LAB_COLUMNS].copy()
    for c in ("period_start", "period_end"):
        out[c] = [d.isoformat() for d in out[c]]
    return [{str(k): (int(v) if k == "version" else v) for k, v in r.items()} for r in out.to_dict("records")]
