"""`plantcarbon compliance …` on the simulated kiln month, and the filing workbook's cells read back with openpyxl."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from typer.testing import CliRunner

from metering.compliance.workbook import SHEETS, file_ref
from metering.evidence.store import EvidenceStore
from metering.state.store import Store
from plantcarbon.cli import app
from tests.metering.compliance.conftest import MONTH, gap_lab
from tests.metering.direct.case import Case
from tests.metering.evidence import samples

runner = CliRunner()


def cli(case: Case, cmd: str, state: Path, lab: Path, *extra: str) -> tuple[int, str, str]:
    args = [
        "compliance",
        cmd,
        "--plant",
        str(case.plant),
        "--month",
        MONTH,
        "--unit",
        "kiln-1",
        "--readings",
        str(case.readings),
        "--lab",
        str(lab),
        "--stocks",
        str(case.stocks),
        "--state",
        str(state),
        *extra,
    ]
    res = runner.invoke(app, args)
    return res.exit_code, res.stdout, res.stderr


def test_cli_month_and_its_workbook(month_case: Case, tmp_path: Path) -> None:
    state, lab = tmp_path / "state.sqlite", gap_lab(month_case, tmp_path / "lab.csv")
    code, out, err = cli(month_case, "approve", state, lab, "--by", "em-1")
    assert code == 1 and "only a month in review can be approved" in err
    code, out, _ = cli(month_case, "review", state, lab, "--by", "qc-lead")
    assert code == 0
    assert "filled   clinker cao: 2 day(s) without a sample filled with" in out and "by rule max-of-month" in out
    assert "default  coal oxidation_factor: method default 1 1 on 31 day(s)" in out
    code, out, _ = cli(month_case, "approve", state, lab, "--by", "em-1")
    assert code == 0 and "approved, locked as revision 1" in out
    code, out, err = cli(month_case, "revise", state, lab, "--by", "em-1", "--reason", "just because")
    assert code == 1 and "nothing to revise" in err
    lab2 = tmp_path / "lab2.csv"
    lab2.write_bytes(lab.read_bytes())
    res = runner.invoke(
        app,
        [
            "carbon",
            "lab-correct",
            "--plant",
            str(month_case.plant),
            "--lab",
            str(lab2),
            "--sample",
            "COAL-D2",
            "--parameter",
            "ncv",
            "--value",
            "23.9",
            "--reason",
            "late delivery certificate",
            "--by",
            "qc-lead",
        ],
    )
    assert res.exit_code == 0, res.stderr
    code, out, _ = cli(month_case, "status", state, lab2)
    st = json.loads(out)
    assert st["revision"] == 1 and st["recompute"]["differs"] is True
    assert {d["item"] for d in st["recompute"]["diff"]} >= {"fuel_co2_t", "direct_co2_t", "coal ncv", "lab"}
    assert "process_co2_t" not in {d["item"] for d in st["recompute"]["diff"]}  # NCV touches the fuel only
    code, out, _ = cli(month_case, "revise", state, lab2, "--by", "em-1", "--reason", "COAL-D2 NCV certificate")
    assert code == 0 and "revision 2 locked" in out
    # evidence files uploaded to the same state database: two concern the month, one another month
    files = _upload_evidence(state, tmp_path / "evidence")
    xlsx = tmp_path / "filing.xlsx"
    code, out, _ = cli(month_case, "workbook", state, lab2, "--out", str(xlsx))
    assert code == 0 and "(approved, revision 2)" in out
    wb = openpyxl.load_workbook(xlsx)
    assert tuple(wb.sheetnames) == SHEETS
    cover = {r[0]: r[1] for r in wb["封面 Cover"].iter_rows(min_row=2, values_only=True)}
    assert cover["月份 Month"] == MONTH and cover["锁定版本 Locked revision"] == 2
    assert cover["状态 State"] == "已批准锁定 approved (locked)" and cover["截止日期 Due date"] == "2026-03-12"
    assert cover["批准人 Approved/revised by"] == "em-1"
    params = list(wb["参数 Parameters"].iter_rows(values_only=True))
    assert params[0][:7] == (
        "序号 No.",
        "物料 Material",
        "参数 Parameter",
        "参数名称 Name",
        "数值 Value",
        "单位 Unit",
        "数据类型 Data type",
    )
    row = {(r[1], r[2]): r for r in params[1:]}
    cao = row[("clinker", "cao")]
    assert cao[6] == "按规则填补 gap-filled" and "FILL-kiln-1-clinker-cao-20260105@1" in cao[8]
    assert "CL-20260101@1" in cao[8]
    assert row[("coal", "oxidation_factor")][6] == "缺省值 default" and row[("coal", "oxidation_factor")][4] == 1.0
    assert "cn-cement-clinker-2025@2025.1 fossil_fuel.oxidation_factor" in row[("coal", "oxidation_factor")][8]
    assert row[("clinker", "process_factor")][6] == "计算 calculated"
    assert row[("clinker", "produced_t")][4] == pytest.approx(month_case.truth()["clinker_t"], rel=1e-9)
    assert row[("clinker", "produced_t")][8].startswith("readings cl-weigher sha256:")
    ncv = row[("coal", "ncv")]
    assert "COAL-D2@2" in ncv[8] and "COAL-D2@1" not in ncv[8]
    # every evidence reference of the parameters is in the evidence index
    index = {r[0] for r in wb["证据索引 Evidence"].iter_rows(min_row=2, values_only=True)}
    refs = {x for r in params[1:] if r[8] for x in str(r[8]).split("; ")}
    assert refs and refs <= index
    assert "COAL-D2@2" in index and "FILL-kiln-1-clinker-cao-20260105@1" in index
    _check_evidence_files(wb, files, row)
    # the calculation adds up to the cover's total
    calc = list(wb["排放计算 Calculation"].iter_rows(values_only=True))
    counted = sum(r[4] for r in calc[1:] if r and r[5] == "是 yes")
    assert counted == pytest.approx(cover["直接排放合计 Total direct CO2 (t)"], rel=1e-9)
    revs = {r[0]: r[1:] for r in wb["修订 Revisions"].iter_rows(values_only=True) if r and r[0]}
    assert revs["原因 Reason"][:2] == ("approved", "COAL-D2 NCV certificate")
    d1, d2 = revs["直接排放合计 total direct CO2 (t)"][:2]
    assert d2 - d1 == pytest.approx(
        st["recompute"]["diff"][[x["item"] for x in st["recompute"]["diff"]].index("direct_co2_t")]["after"] - d1,
        rel=1e-9,
    )
    completeness = {(r[0], r[1]): r for r in wb["完整性 Completeness"].iter_rows(min_row=2, values_only=True)}
    assert completeness[("clinker", "cao")][6] == "2026-01-05, 2026-01-06"
    code, out, _ = cli(month_case, "file", state, lab2, "--by", "em-1", "--reference", "CETS-0042")
    assert code == 2  # `file` takes no readings/lab: the options are refused
    res = runner.invoke(
        app,
        [
            "compliance",
            "file",
            "--plant",
            str(month_case.plant),
            "--month",
            MONTH,
            "--unit",
            "kiln-1",
            "--state",
            str(state),
            "--by",
            "em-1",
            "--reference",
            "CETS-0042",
        ],
    )
    assert res.exit_code == 0 and "filed (CETS-0042)" in res.stdout
    res = runner.invoke(
        app,
        [
            "compliance",
            "deadlines",
            "--plant",
            str(month_case.plant),
            "--unit",
            "kiln-1",
            "--year",
            "2026",
            "--state",
            str(state),
            "--as-of",
            "2026-02-15",
        ],
    )
    v = json.loads(res.stdout)
    assert v["months"][0]["state"] == "filed" and v["months"][1]["due"] == "2026-04-09"
    res = runner.invoke(
        app,
        [
            "compliance",
            "year",
            "--plant",
            str(month_case.plant),
            "--unit",
            "kiln-1",
            "--year",
            "2026",
            "--state",
            str(state),
        ],
    )
    y = json.loads(res.stdout)
    assert y["months"][0]["revision"] == 2 and y["totals"]["direct_co2_t"] == pytest.approx(d2, rel=1e-12)
    assert y["months_not_locked"] == [f"2026-{m:02d}" for m in range(2, 13)]


def _upload_evidence(state: Path, root: Path) -> dict[str, dict[str, Any]]:
    es = EvidenceStore(Store(f"sqlite:///{state}"), root)
    report, _ = es.put(
        samples.pdf(),
        "化验报告 COAL-D2.pdf",
        "lab_report",
        ["lab_sample:COAL-D2", "unit_month:kiln-1:2026-02"],  # the second link concerns another month
        "qc-lead",
    )
    cert, _ = es.put(samples.png(), "cl-weigher-cert.png", "calibration_certificate", ["instrument:cl-weigher"], "qc")
    other, _ = es.put(samples.pdf("Dec"), "CL-20251210.pdf", "lab_report", ["lab_sample:CL-20251210"], "qc-lead")
    es.store.close()
    return {"report": report, "cert": cert, "other": other}


def _check_evidence_files(wb: Any, files: dict[str, dict[str, Any]], params: dict[Any, Any]) -> None:
    """The evidence index lists the files linked to the unit's month; the parameters cite them."""
    rows = list(wb["证据索引 Evidence"].iter_rows(values_only=True))
    start = rows.index(("上传文件 Evidence files", *([None] * (len(rows[0]) - 1)))) + 1
    assert rows[start][:5] == (
        "证据编号 Evidence reference",
        "文件名 File name",
        "SHA-256",
        "类别 Kind",
        "支持 Supports",
    )
    listed = {r[0]: r for r in rows[start + 1 :]}
    report, cert = files["report"], files["cert"]
    assert set(listed) == {file_ref(report["sha256"]), file_ref(cert["sha256"])}
    r = listed[file_ref(report["sha256"])]
    assert r[1:5] == ("化验报告 COAL-D2.pdf", report["sha256"], "化验报告 lab report", "lab_sample:COAL-D2")
    assert r[5:8] == ("application/pdf", report["size"], "qc-lead")
    assert listed[file_ref(cert["sha256"])][4] == "instrument:cl-weigher"
    assert files["other"]["sha256"] not in {c for row in rows for c in row}
    # a cell leads to its document: the coal NCV to the lab report, the clinker tonnes to the weigher's certificate
    assert file_ref(report["sha256"]) in params[("coal", "ncv")][8].split("; ")
    assert file_ref(cert["sha256"]) in params[("clinker", "produced_t")][8].split("; ")


def test_cli_refuses_bad_input_precisely(month_case: Case, tmp_path: Path) -> None:
    state, lab = tmp_path / "s.sqlite", month_case.lab
    res = runner.invoke(
        app,
        [
            "compliance",
            "review",
            "--plant",
            str(month_case.plant),
            "--month",
            "2026-13",
            "--unit",
            "kiln-1",
            "--state",
            str(state),
            "--by",
            "x",
        ],
    )
    assert res.exit_code == 2 and "--month: '2026-13' is not YYYY-MM" in res.stderr
    res = runner.invoke(
        app,
        [
            "compliance",
            "review",
            "--plant",
            str(month_case.plant),
            "--month",
            MONTH,
            "--unit",
            "kiln-9",
            "--lab",
            str(lab),
            "--state",
            str(state),
            "--by",
            "x",
        ],
    )
    assert res.exit_code == 2 and "--unit: no emission unit 'kiln-9' (units: kiln-1)" in res.stderr
    code, _, err = cli(month_case, "revise", state, lab, "--by", "em-1", "--reason", "r")
    assert code == 1 and "is open: only an approved or filed month is revised" in err
    code, _, err = cli(month_case, "review", state, lab, "--by", " ")
    assert code == 2 and "--by: a name of 1 to 64 characters" in err
