"""Merging an upload into the stored lab book and stock balances (what the API's lab and stock routes do)."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from metering.direct.config import carbon_config
from metering.direct.lab import LAB_COLUMNS, LabBook, empty_book, merge, parse_lab, save_lab, validate_lab
from metering.direct.stocks import STOCK_COLUMNS, merge_stocks, validate_stocks
from metering.direct.tables import InputFileError, read_table, write_csv_atomic
from plantcarbon_core.plant import load_plant
from tests.metering.direct.case import LAB_HEADER, Case


@pytest.fixture(scope="module")
def cfg_method(case: Case):  # type: ignore[no-untyped-def]
    return carbon_config(load_plant(case.plant))


def table(lines: list[str], name: str = "up.csv", columns: list[str] = LAB_COLUMNS) -> pd.DataFrame:
    header = LAB_HEADER if columns is LAB_COLUMNS else ",".join(columns)
    return read_table(name, columns, "\n".join([header, *lines]).encode())


def book(cfg_method, lines: list[str]) -> LabBook:  # type: ignore[no-untyped-def]
    return validate_lab(table(lines, "lab.csv"), *cfg_method, "lab.csv")


STORED = [
    "CL-1,1,clinker,cao,0.65,1,2026-01-01,2026-01-01,GB/T 176,plant lab,qc-01,",
    "CL-2,1,clinker,cao,0.66,1,2026-01-02,2026-01-02,GB/T 176,plant lab,qc-01,",
]


def test_an_upload_adds_its_new_rows_and_counts_a_stored_row_once(cfg_method) -> None:  # type: ignore[no-untyped-def]
    stored = book(cfg_method, STORED)
    up = table([STORED[1], "CL-3,1,clinker,cao,0.64,1,2026-01-03,2026-01-03,GB/T 176,plant lab,qc-02,"])
    new, added = merge(stored, up, *cfg_method, "up.csv")
    assert list(added["sample_id"]) == ["CL-3"] and len(new.history) == 3
    # the same upload again adds nothing
    again, none = merge(new, up, *cfg_method, "up.csv")
    assert none.empty and len(again.history) == 3
    # into an empty book (no file yet)
    first, added = merge(empty_book("lab.csv"), table(STORED), *cfg_method, "up.csv")
    assert len(first.history) == 2 and len(added) == 2


def test_a_correction_in_a_file_is_the_next_version_with_its_reason(cfg_method) -> None:  # type: ignore[no-untyped-def]
    stored = book(cfg_method, STORED)
    fix = "CL-1,2,clinker,cao,0.67,1,2026-01-01,2026-01-01,GB/T 176,plant lab,qc-02,re-analysed"
    new, _ = merge(stored, table([fix]), *cfg_method, "up.csv")
    cur = new.current.set_index("sample_id")
    assert cur.loc["CL-1", "value"] == 0.67 and cur.loc["CL-1", "version"] == 2 and len(new.history) == 3


def test_refusals_name_the_upload_and_its_rows(cfg_method) -> None:  # type: ignore[no-untyped-def]
    stored = book(cfg_method, STORED)
    cases = {
        # a stored version with another value: a change is a correction
        "CL-1,1,clinker,cao,0.70,1,2026-01-01,2026-01-01,GB/T 176,plant lab,qc-01,": (
            "up.csv: row 2 (sample CL-1@1): value: CL-1 cao version 1 is already stored as 0.65 1"
        ),
        # a period overlapping a stored sample: both rows named, the stored one as such
        "CL-9,1,clinker,cao,0.64,1,2026-01-02,2026-01-03,GB/T 176,plant lab,qc-01,": "row 3 of the stored lab book",
        # version 3 without version 2
        "CL-2,3,clinker,cao,0.64,1,2026-01-02,2026-01-02,GB/T 176,plant lab,qc-01,typo": "version: versions [1, 3]",
        "CL-4,1,clinker,cao,0.64,%,2026-01-04,2026-01-04,GB/T 176,plant lab,qc-01,": "up.csv: row 2 (sample CL-4@1): unit:",
    }
    for line, want in cases.items():
        with pytest.raises(InputFileError) as exc:
            merge(stored, table([line]), *cfg_method, "up.csv")
        assert any(want in e for e in exc.value.errors), (line, exc.value.errors)


def test_stock_upload_replaces_its_months_and_keeps_the_others(cfg_method) -> None:  # type: ignore[no-untyped-def]
    cfg = cfg_method[0]
    stored = table(
        ["coal,2026-01,8000,21000,9000,ST-1,s", "coal,2026-02,9000,20000,8500,ST-2,s"], "stocks.csv", STOCK_COLUMNS
    )
    up = table(["coal,2026-02,9000,20500,8500,ST-2b,s", "coal,2026-03,8500,100,8000,ST-3,s"], "up.csv", STOCK_COLUMNS)
    text = merge_stocks(stored, up, cfg, "up.csv")
    assert list(zip(text["month"], text["reference"], strict=True)) == [
        ("2026-01", "ST-1"),
        ("2026-02", "ST-2b"),
        ("2026-03", "ST-3"),
    ]
    parsed = validate_stocks(text.assign(row=range(2, 5)), cfg, "stocks.csv")
    assert parsed["consumed_t"].tolist() == [20000.0, 21000.0, 600.0]
    with pytest.raises(InputFileError) as exc:
        merge_stocks(stored, table(["coal,2026-03,8500,100,9000,ST-3,s"], "up.csv", STOCK_COLUMNS), cfg, "up.csv")
    assert exc.value.errors[0].startswith("up.csv: row 2 (coal 2026-03): closing_t: the balance goes negative")


def test_an_upload_that_is_not_a_table_is_named() -> None:
    for name, data in (("x.xlsx", b"PK\x03\x04not a zip"), ("x.csv", b"\xff\xfe\x00"), ("x.csv", b"")):
        with pytest.raises(InputFileError) as exc:
            read_table(name, LAB_COLUMNS, data)
        assert exc.value.errors[0].startswith(f"{name}: "), exc.value.errors


def test_a_file_that_does_not_read_back_leaves_the_old_one(cfg_method, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "lab.csv"
    stored = book(cfg_method, STORED)
    save_lab(stored, path, check=cfg_method)
    assert parse_lab(path, *cfg_method).history[LAB_COLUMNS].equals(stored.history[LAB_COLUMNS])
    before = path.read_bytes()

    def refuse(tmp: Path) -> None:
        raise InputFileError([f"{tmp}: no"])

    with pytest.raises(InputFileError):
        write_csv_atomic(pd.DataFrame({"a": ["1"]}), path, refuse)
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["lab.csv"]


def test_a_date_cell_of_a_workbook_is_its_day() -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(LAB_COLUMNS)
    ws.append(["CL-1", 1, "clinker", "cao", 0.65, "1", dt.date(2026, 1, 5), dt.datetime(2026, 1, 5), "", "lab", "", ""])
    buf = io.BytesIO()
    wb.save(buf)
    (row,) = read_table("lab.xlsx", LAB_COLUMNS, buf.getvalue()).to_dict("records")
    assert (row["period_start"], row["period_end"], row["version"], row["value"]) == (
        "2026-01-05",
        "2026-01-05",
        "1",
        "0.65",
    )
