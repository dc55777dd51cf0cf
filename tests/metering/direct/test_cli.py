"""`plantcarbon carbon month`: the offline month in json, csv and xlsx; bad input stops it with every mistake."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from typer.testing import CliRunner

from plantcarbon.cli import app
from tests.metering.direct.case import Case

runner = CliRunner()


def run(case: Case, *extra: str, lab: Path | None = None) -> tuple[int, str, str]:
    args = ["carbon", "month", "--plant", str(case.plant), "--month", "2026-01", "--readings", str(case.readings),
            "--lab", str(lab or case.lab), "--stocks", str(case.stocks), *extra]
    res = runner.invoke(app, args)
    return res.exit_code, res.stdout, res.stderr


def test_json_on_stdout(case: Case) -> None:
    code, out, _ = run(case, "--format", "json")
    assert code == 0
    doc = json.loads(out)
    unit = doc["ets"]["units"][0]
    truth = case.truth()
    assert unit["direct_co2_t"] == pytest.approx(truth["direct_co2_t"], rel=1e-9)
    assert unit["clinker_t"] == pytest.approx(truth["clinker_t"], rel=1e-9)
    assert [f["material"] for f in unit["fuel"]] == ["coal", "tyre-chips"]
    assert doc["method"] == "cn-cement-clinker-2025@2025.1"
    assert {s["method"] for s in doc["gbt32150"]["scope2"]} == {"location", "market"}
    assert doc["cbam"]["products"][0]["product"] == "clinker"
    cao = next(p for p in unit["parameters"] if p["parameter"] == "cao")
    assert cao["basis"] == "measured" and cao["provenance"][0].startswith("lab CL-20260101@1")


def test_csv_and_xlsx_files(case: Case, tmp_path: Path) -> None:
    code, out, _ = run(case, "--format", "csv", "--out", str(tmp_path / "m.csv"))
    assert code == 0 and "kiln-1 2026-01: clinker" in out
    rows = pd.read_csv(tmp_path / "m.csv")
    total = rows[(rows["boundary"] == "ets") & (rows["item"] == "total direct CO2")]["value"].item()
    assert total == pytest.approx(case.truth()["direct_co2_t"], rel=1e-9)
    assert set(rows["boundary"]) >= {"ets", "memo", "parameter", "gbt32150 scope 1", "gbt32150 scope 2 location",
                                     "gbt32150 scope 2 market", "cbam"}
    code, _, _ = run(case, "--format", "xlsx", "--out", str(tmp_path / "m.xlsx"))
    assert code == 0
    wb = openpyxl.load_workbook(tmp_path / "m.xlsx")
    assert wb.sheetnames == ["ETS direct", "GBT32150", "CBAM", "Parameters", "Days kiln-1"]
    assert wb["Days kiln-1"].max_row == 32  # header + 31 days


def test_bad_lab_file_computes_nothing(case: Case, tmp_path: Path) -> None:
    bad = tmp_path / "lab.csv"
    text = case.lab.read_text("utf-8").splitlines()
    k = next(i for i, t in enumerate(text) if t.startswith("CL-20260102,1,clinker,cao,"))
    text[k] = text[k].replace("clinker,cao,", "clinker,cao_pct,")
    bad.write_text("\n".join(text) + "\n", "utf-8")
    out = tmp_path / "never.json"
    code, _, err = run(case, "--format", "json", "--out", str(out), lab=bad)
    assert code == 1
    assert f"{bad}: row {k + 1} (sample CL-20260102@1): " in err and "parameter: 'cao_pct' is not a parameter of clinker" in err
    assert err.rstrip().endswith("1 error(s): nothing computed")
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lab.csv"]


def test_bad_month(case: Case) -> None:
    code, _, err = run(case, "--month", "2026-13")
    assert code == 2 and "--month: '2026-13' is not YYYY-MM" in err


def test_lab_correct_then_explain(case: Case, tmp_path: Path) -> None:
    lab = tmp_path / "lab.csv"
    lab.write_bytes(case.lab.read_bytes())
    res = runner.invoke(
        app,
        ["carbon", "lab-correct", "--plant", str(case.plant), "--lab", str(lab), "--sample", "CL-20260115",
         "--parameter", "cao", "--value", "0.64", "--reason", "re-analysis of the retained sample", "--by", "qc-02"],
    )
    assert res.exit_code == 0, res.stderr
    assert "CL-20260115 cao is now 0.64 (version 2, by qc-02: re-analysis of the retained sample)" in res.stdout
    rows = pd.read_csv(lab, dtype=str, keep_default_na=False)
    versions = rows[(rows["sample_id"] == "CL-20260115") & (rows["parameter"] == "cao")]
    assert versions[["version", "value", "entered_by"]].values.tolist() == [
        ["1", versions.iloc[0]["value"], "qc-01"], ["2", "0.64", "qc-02"]
    ]
    res = runner.invoke(app, ["carbon", "lab-check", "--plant", str(case.plant), "--lab", str(lab)])
    assert res.exit_code == 0 and "1 corrected" in res.stdout
    res = runner.invoke(
        app,
        ["carbon", "explain", "--plant", str(case.plant), "--month", "2026-01", "--unit", "kiln-1", "--readings",
         str(case.readings), "--lab", str(lab), "--stocks", str(case.stocks)],
    )
    assert res.exit_code == 0, res.stderr
    assert "      lab CL-20260115@2 (plant lab, GB/T 176, 2026-01-15..2026-01-15, entered by qc-02)" in res.stdout
    assert "    coal oxidation_factor = 1 1 [default]" in res.stdout


def test_lab_correct_refuses_an_out_of_range_value_and_leaves_the_file(case: Case, tmp_path: Path) -> None:
    lab = tmp_path / "lab.csv"
    lab.write_bytes(case.lab.read_bytes())
    res = runner.invoke(
        app,
        ["carbon", "lab-correct", "--plant", str(case.plant), "--lab", str(lab), "--sample", "CL-20260115",
         "--parameter", "cao", "--value", "6.4", "--reason", "typo", "--by", "qc-02"],
    )
    assert res.exit_code == 1
    assert "value: 6.4 outside the valid range [0.55, 0.72] of clinker cao" in res.stderr
    assert lab.read_bytes() == case.lab.read_bytes()
    assert [p.name for p in tmp_path.iterdir()] == ["lab.csv"]


def test_simulate_kiln_then_carbon_month(tmp_path: Path) -> None:
    """The auditor's round trip: simulated files with their truth, and the offline month reproduces it."""
    res = runner.invoke(app, ["simulate", "kiln", "--month", "2026-02", "--out", str(tmp_path), "--seed", "3"])
    assert res.exit_code == 0, res.stderr
    truth = json.loads((tmp_path / "truth.json").read_text())
    res = runner.invoke(
        app,
        ["carbon", "month", "--plant", str(tmp_path / "plant.yaml"), "--month", "2026-02", "--readings",
         str(tmp_path / "readings.csv"), "--lab", str(tmp_path / "lab.csv"), "--stocks", str(tmp_path / "stocks.csv")],
    )
    assert res.exit_code == 0, res.stderr
    unit = json.loads(res.stdout)["ets"]["units"][0]
    assert unit["direct_co2_t"] == pytest.approx(truth["direct_co2_t"], rel=1e-9)
    assert unit["clinker_t"] == pytest.approx(truth["clinker_t"], rel=1e-9)


def test_a_year_is_the_sum_of_its_months(tmp_path: Path) -> None:
    """Two simulated months in one set of files: `carbon year` equals the sum of `carbon month` over its twelve
    months (the readings' lead-in hour falls on 31 October and is counted there, with default fuel values)."""
    import datetime as dt

    from simulators.kiln import simulate, write_files

    line = simulate(dt.date(2026, 11, 1), dt.date(2026, 12, 31), seed=5)
    write_files(line, tmp_path, step_s=300)
    files = ["--plant", str(tmp_path / "plant.yaml"), "--readings", str(tmp_path / "readings.csv"), "--lab",
             str(tmp_path / "lab.csv"), "--stocks", str(tmp_path / "stocks.csv")]
    months = {}
    for m in range(1, 13):
        res = runner.invoke(app, ["carbon", "month", "--month", f"2026-{m:02d}", *files])
        assert res.exit_code == 0, res.stderr
        months[m] = json.loads(res.stdout)["ets"]["units"][0]["direct_co2_t"]
    for m, days in ((11, line.days[:30]), (12, line.days[30:])):
        assert months[m] == pytest.approx(line.truth(days)["direct_co2_t"], rel=1e-9)
    assert 0 < months[10] < months[11] / 100  # the lead-in hour
    res = runner.invoke(app, ["carbon", "year", "--year", "2026", *files])
    assert res.exit_code == 0
    year = json.loads(res.stdout)["ets"]["units"][0]
    assert year["direct_co2_t"] == pytest.approx(sum(months.values()), rel=1e-12)
    # January..October have no lab data: the year names what is missing rather than hiding it
    assert year["complete"] is False
    assert any(m.startswith("kiln-1: clinker cao: must be measured, no sample for 304 day(s)") for m in year["missing"])
