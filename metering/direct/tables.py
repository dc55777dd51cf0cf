"""Reading an input table (CSV or XLSX) as text cells, with the file row number of every record."""

from __future__ import annotations

import io
import os
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd
from openpyxl.utils.exceptions import InvalidFileException


class InputFileError(ValueError):
    """Every mistake of one input file, one line each: `file: row N (key): field: what is wrong`."""

    def __init__(self, errors: list[str]):
        super().__init__("\n".join(errors))
        self.errors = errors


def read_table(path: str | Path, required: list[str], data: bytes | None = None) -> pd.DataFrame:
    """All cells as stripped strings ('' when empty) plus `row`, the row number a spreadsheet shows (header = 1).

    With `data`, the table is those bytes (an upload) and `path` only its name: the type and the error messages.
    """
    path = Path(path)
    src: Path | io.BytesIO = path if data is None else io.BytesIO(data)
    try:
        if path.suffix.lower() in (".xlsx", ".xlsm"):
            df = pd.read_excel(src, dtype=str, engine="openpyxl")
        else:
            df = pd.read_csv(src, dtype=str, keep_default_na=False, skipinitialspace=True, encoding="utf-8-sig")
    except (
        OSError,
        ValueError,
        KeyError,  # a zip without the parts of a workbook
        zipfile.BadZipFile,
        InvalidFileException,
        pd.errors.ParserError,
        UnicodeDecodeError,
    ) as exc:
        raise InputFileError([f"{path}: cannot read: {exc}"]) from None
    df.columns = [str(c).strip() for c in df.columns]
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise InputFileError([f"{path}: row 1: missing columns {missing} (need {required})"])
    df = df.fillna("").astype(str).apply(lambda col: col.str.strip())
    # A spreadsheet's date cell arrives as "2026-01-05 00:00:00": the day is what it means.
    df = df.apply(lambda col: col.str.replace(r"^(\d{4}-\d{2}-\d{2}) 00:00:00$", r"\1", regex=True))
    df["row"] = range(2, len(df) + 2)
    return df


def number(cell: str) -> float | None:
    try:
        v = float(cell)
    except ValueError:
        return None
    return v if pd.notna(v) and abs(v) != float("inf") else None


def write_csv_atomic(df: pd.DataFrame, path: str | Path, check: Callable[[Path], object] | None = None) -> None:
    """Write `df` as CSV through a temp file renamed over the target (os.replace): never half a file.

    `check` reads the temp file back as its reader will (raising if it cannot) before it replaces the target.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            df.to_csv(fh, index=False)
        if check is not None:
            check(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
