"""Reading an input table (CSV or XLSX) as text cells, with the file row number of every record."""

from __future__ import annotations

from pathlib import Path

import pandas as pd


class InputFileError(ValueError):
    """Every mistake of one input file, one line each: `file: row N (key): field: what is wrong`."""

    def __init__(self, errors: list[str]):
        super().__init__("\n".join(errors))
        self.errors = errors


def read_table(path: str | Path, required: list[str]) -> pd.DataFrame:
    """All cells as stripped strings ('' when empty) plus `row`, the row number a spreadsheet shows (header = 1)."""
    path = Path(path)
    try:
        if path.suffix.lower() in (".xlsx", ".xlsm"):
            df = pd.read_excel(path, dtype=str, engine="openpyxl")
        else:
            df = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (OSError, ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputFileError([f"{path}: cannot read: {exc}"]) from None
    df.columns = [str(c).strip() for c in df.columns]
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise InputFileError([f"{path}: row 1: missing columns {missing} (need {required})"])
    df = df.fillna("").astype(str).apply(lambda col: col.str.strip())
    df["row"] = range(2, len(df) + 2)
    return df


def number(cell: str) -> float | None:
    try:
        v = float(cell)
    except ValueError:
        return None
    return v if pd.notna(v) and abs(v) != float("inf") else None
