"""Lab analyses and stock balances: versions, corrections and every bad input named by file, row and field."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from metering.direct.config import CarbonConfigError, carbon_config
from metering.direct.lab import correct, parse_lab, save_lab
from metering.direct.stocks import chain_warnings, parse_stocks
from metering.direct.tables import InputFileError
from plantcarbon_core.plant import load_plant
from tests.metering.direct.case import LAB_HEADER, PLANT, Case


@pytest.fixture(scope="module")
def cfg_method(case: Case):  # type: ignore[no-untyped-def]
    return carbon_config(load_plant(case.plant))


GOOD = [
    "CL-1,1,clinker,cao,0.65,1,2026-01-01,2026-01-01,GB/T 176,plant lab,qc-01,",
    "CL-2,1,clinker,cao,0.66,1,2026-01-02,2026-01-02,GB/T 176,plant lab,qc-01,",
]


def lab_file(tmp_path: Path, lines: list[str]) -> Path:
    p = tmp_path / "lab.csv"
    p.write_text("\n".join([LAB_HEADER, *lines]) + "\n", "utf-8")
    return p


def errors_of(path: Path, cfg_method) -> list[str]:  # type: ignore[no-untyped-def]
    with pytest.raises(InputFileError) as exc:
        parse_lab(path, *cfg_method)
    return exc.value.errors


def test_a_good_lab_file(tmp_path: Path, cfg_method) -> None:  # type: ignore[no-untyped-def]
    book = parse_lab(lab_file(tmp_path, GOOD), *cfg_method)
    assert book.current["value"].tolist() == [0.65, 0.66]


def test_xlsx_lab_file(tmp_path: Path, cfg_method) -> None:  # type: ignore[no-untyped-def]
    csv = lab_file(tmp_path, GOOD)
    xlsx = tmp_path / "lab.xlsx"
    pd.read_csv(csv, dtype=str, keep_default_na=False).to_excel(xlsx, index=False)
    assert parse_lab(xlsx, *cfg_method).current["value"].tolist() == [0.65, 0.66]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "CL-3,1,clinker,cao,0.81,1,2026-01-03,2026-01-03,GB/T 176,plant lab,qc-01,",
            "row 4 (sample CL-3@1): value: 0.81 outside the valid range [0.55, 0.72] of clinker cao",
        ),
        (
            "CL-3,1,clinker,cao,65,%,2026-01-03,2026-01-03,GB/T 176,plant lab,qc-01,",
            "row 4 (sample CL-3@1): unit: '%', the method wants cao in '1' (no conversions)",
        ),
        (
            "X-1,1,petcoke,ncv,30,GJ/t,2026-01-03,2026-01-03,GB/T 213,plant lab,qc-01,",
            "row 4 (sample X-1@1): material: unknown material 'petcoke'",
        ),
        (
            "CL-3,1,clinker,sio2,0.21,1,2026-01-03,2026-01-03,GB/T 176,plant lab,qc-01,",
            "row 4 (sample CL-3@1): parameter: 'sio2' is not a parameter of clinker (known: cao, mgo)",
        ),
        (
            "CL-3,1,clinker,cao,abc,1,2026-01-03,2026-01-03,GB/T 176,plant lab,qc-01,",
            "row 4 (sample CL-3@1): value: 'abc' is not a number",
        ),
        (
            "CL-3,1,clinker,cao,0.65,1,2026-01-03,2026-01-02,GB/T 176,plant lab,qc-01,",
            "row 4 (sample CL-3@1): period_end: 2026-01-02 before period_start 2026-01-03",
        ),
        (
            "CL-1,2,clinker,cao,0.64,1,2026-01-01,2026-01-01,GB/T 176,plant lab,qc-01,",
            "row 4 (sample CL-1@2): reason: a correction (version > 1) needs a reason",
        ),
        (
            "CL-3,1,clinker,cao,0.65,1,2026-01-03,2026-01-03,GB/T 176,plant lab,,",
            "row 4 (sample CL-3@1): entered_by: empty",
        ),
    ],
    ids=["out-of-range", "wrong-unit", "unknown-material", "unknown-parameter", "not-a-number", "period-reversed",
         "correction-without-reason", "no-author"],
)
def test_bad_lab_rows(tmp_path: Path, cfg_method, line: str, expected: str) -> None:  # type: ignore[no-untyped-def]
    errors = errors_of(lab_file(tmp_path, [*GOOD, line]), cfg_method)
    assert len(errors) == 1
    assert errors[0].startswith(f"{tmp_path / 'lab.csv'}: {expected}")


def test_overlapping_sample_periods(tmp_path: Path, cfg_method) -> None:  # type: ignore[no-untyped-def]
    line = "CL-W,1,clinker,cao,0.65,1,2026-01-02,2026-01-08,GB/T 176,plant lab,qc-01,"
    errors = errors_of(lab_file(tmp_path, [*GOOD, line]), cfg_method)
    assert errors == [
        f"{tmp_path / 'lab.csv'}: row 4 (sample CL-W@1): period_start: clinker cao period 2026-01-02..2026-01-08 "
        "overlaps sample CL-2@1 (row 3, 2026-01-02..2026-01-02)"
    ]


def test_version_gap(tmp_path: Path, cfg_method) -> None:  # type: ignore[no-untyped-def]
    line = "CL-1,3,clinker,cao,0.64,1,2026-01-01,2026-01-01,GB/T 176,plant lab,qc-01,typo"
    errors = errors_of(lab_file(tmp_path, [*GOOD, line]), cfg_method)
    assert errors == [
        f"{tmp_path / 'lab.csv'}: rows 2, 4 (sample CL-1, cao): version: versions [1, 3], need 1..2 with none "
        "repeated or missing"
    ]


def test_every_mistake_at_once(tmp_path: Path, cfg_method) -> None:  # type: ignore[no-untyped-def]
    bad = [
        "CL-3,1,clinker,cao,0.81,1,2026-01-03,2026-01-03,GB/T 176,plant lab,qc-01,",
        "X-1,1,petcoke,ncv,30,GJ/t,2026-01-03,2026-01-03,GB/T 213,plant lab,qc-01,",
    ]
    assert len(errors_of(lab_file(tmp_path, [*GOOD, *bad]), cfg_method)) == 2


def test_a_correction_is_a_new_version_never_an_overwrite(tmp_path: Path, cfg_method) -> None:  # type: ignore[no-untyped-def]
    path = lab_file(tmp_path, GOOD)
    book = parse_lab(path, *cfg_method)
    fixed = correct(book, "CL-1", "cao", 0.645, "transcription error, lab report p.2", "qc-02", *cfg_method)
    assert len(fixed.history) == len(book.history) + 1
    cur = fixed.current.set_index("sample_id")
    assert cur.loc["CL-1", "value"] == 0.645
    assert cur.loc["CL-1", "version"] == 2
    assert cur.loc["CL-1", "reason"] == "transcription error, lab report p.2"
    old = fixed.history[(fixed.history["sample_id"] == "CL-1") & (fixed.history["version"] == 1)]
    assert old["value"].tolist() == [0.65]
    save_lab(fixed, path)
    again = parse_lab(path, *cfg_method)
    assert again.history[["sample_id", "version", "value"]].values.tolist() == (
        fixed.history[["sample_id", "version", "value"]].values.tolist()
    )


def test_a_bad_correction_is_refused_and_the_file_untouched(tmp_path: Path, cfg_method) -> None:  # type: ignore[no-untyped-def]
    path = lab_file(tmp_path, GOOD)
    before = path.read_bytes()
    book = parse_lab(path, *cfg_method)
    with pytest.raises(InputFileError, match=r"value: 0\.9 outside the valid range"):
        correct(book, "CL-1", "cao", 0.9, "re-run", "qc-02", *cfg_method)
    assert path.read_bytes() == before
    assert list(tmp_path.iterdir()) == [path]


# --- stocks -----------------------------------------------------------------------------------

STOCK_HEADER = "material,month,opening_t,receipts_t,closing_t,reference,entered_by"


def stock_errors(tmp_path: Path, lines: list[str], cfg) -> list[str]:  # type: ignore[no-untyped-def]
    p = tmp_path / "stocks.csv"
    p.write_text("\n".join([STOCK_HEADER, *lines]) + "\n", "utf-8")
    with pytest.raises(InputFileError) as exc:
        parse_stocks(p, cfg)
    return exc.value.errors


def test_stock_balance(tmp_path: Path, cfg_method) -> None:  # type: ignore[no-untyped-def]
    p = tmp_path / "stocks.csv"
    p.write_text(f"{STOCK_HEADER}\ncoal,2026-01,8000,21000,9000,ST-1,store\ncoal,2026-02,8800,100,8000,ST-2,store\n")
    s = parse_stocks(p, cfg_method[0])
    assert s["consumed_t"].tolist() == [20000.0, 900.0]
    assert chain_warnings(s, "stocks.csv") == [
        "stocks.csv: row 3 (coal 2026-02): opening_t 8800 t differs from 2026-01 closing 9000 t (row 2)"
    ]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("coal,2026-01,100,20,150,ST-1,store",
         "row 2 (coal 2026-01): closing_t: the balance goes negative: opening 100 + receipts 20 − closing 150 = -30 t"),
        ("petcoke,2026-01,100,20,50,ST-1,store", "row 2 (petcoke 2026-01): material: unknown material 'petcoke'"),
        ("coal,2026-1,100,20,50,ST-1,store", "row 2 (coal 2026-1): month: '2026-1' is not YYYY-MM"),
        ("coal,2026-01,-5,20,10,ST-1,store", "row 2 (coal 2026-01): opening_t: -5 t is negative"),
        ("coal,2026-01,100,x,50,ST-1,store", "row 2 (coal 2026-01): receipts_t: 'x' is not a number (tonnes)"),
    ],
    ids=["negative-balance", "unknown-material", "bad-month", "negative-stock", "not-a-number"],
)
def test_bad_stock_rows(tmp_path: Path, cfg_method, line: str, expected: str) -> None:  # type: ignore[no-untyped-def]
    errors = stock_errors(tmp_path, [line], cfg_method[0])
    assert len(errors) == 1
    assert errors[0].startswith(f"{tmp_path / 'stocks.csv'}: {expected}")


def test_duplicate_stock_month(tmp_path: Path, cfg_method) -> None:  # type: ignore[no-untyped-def]
    errors = stock_errors(tmp_path, ["coal,2026-01,1,2,1,A,s", "coal,2026-01,1,2,1,B,s"], cfg_method[0])
    assert errors == [f"{tmp_path / 'stocks.csv'}: row 3 (coal 2026-01): month: coal 2026-01 already given in row 2"]


# --- the plant file's carbon block --------------------------------------------------------------


def test_carbon_block_errors_name_the_field(tmp_path: Path) -> None:
    text = PLANT.replace("fuels: [coal, tyre-chips]", "fuels: [coal, petcoke, clinker]").replace(
        "devices: [coal-kiln, coal-calc]", "devices: [coal-kiln, coal-nowhere]"
    )
    p = tmp_path / "plant.yaml"
    p.write_text(text, "utf-8")
    with pytest.raises(CarbonConfigError) as exc:
        carbon_config(load_plant(p), "plant.yaml")
    assert exc.value.errors == [
        "plant.yaml: carbon: units[0] (id=kiln-1): fuels[1]: unknown material 'petcoke' (materials: coal, tyre-chips, "
        "clinker, raw-meal, kiln-head-dust, bypass-dust, cement)",
        "plant.yaml: carbon: units[0] (id=kiln-1): fuels[2]: material 'clinker' is clinker, need fossil_fuel or "
        "alternative_fuel or biomass_fuel",
    ]
    p.write_text(PLANT.replace("devices: [coal-kiln, coal-calc]", "devices: [coal-kiln, coal-nowhere]"), "utf-8")
    with pytest.raises(CarbonConfigError) as exc:
        carbon_config(load_plant(p), "plant.yaml")
    assert exc.value.errors == ["plant.yaml: carbon.materials.coal.devices[1]: unknown device 'coal-nowhere'"]
