"""`plantcarbon compliance cbam` on the simulated kiln month: a locked month's figures, not the recompute's."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from metering.compliance.review import month_days
from metering.compliance.store import ComplianceStore
from metering.compliance.workflow import do_approve, do_review, evaluate
from metering.direct.accounting import account
from metering.direct.lab import correct, save_lab
from metering.state.store import Store
from plantcarbon.cli import app
from tests.metering.compliance.conftest import MONTH
from tests.metering.direct.case import Case
from tests.metering.direct.conftest import dataset

runner = CliRunner()


def test_cli_communication_uses_the_locked_month(month_case: Case, tmp_path: Path) -> None:
    state = tmp_path / "state.sqlite"
    ds = dataset(month_case)
    ev = evaluate(ds, "kiln-1", MONTH)
    cs = ComplianceStore(Store(f"sqlite:///{state}"))
    do_review(cs, "cem-t", ev, "qc-lead")
    do_approve(cs, "cem-t", ev, "em-1")
    # a late lab value after the lock: the recompute moves, the communication keeps the locked revision
    fixed = correct(ds.lab, "CL-20260115", "cao", 0.640, "re-analysis", "qc-02", ds.cfg, ds.method)
    lab = tmp_path / "lab.csv"
    save_lab(fixed, lab)
    days = month_days(MONTH)
    moved = account(dataclasses.replace(ds, lab=fixed), days[0].date(), days[-1].date()).units[0]
    locked = ev.snapshot["figures"]
    assert moved.direct_co2_t != pytest.approx(locked["direct_co2_t"], rel=1e-9)
    out = tmp_path / "cbam.json"
    base = [
        "compliance",
        "cbam",
        "--plant",
        str(month_case.plant),
        "--period",
        MONTH,
        "--readings",
        str(month_case.readings),
        "--lab",
        str(lab),
        "--stocks",
        str(month_case.stocks),
        "--state",
        str(state),
    ]
    res = runner.invoke(app, [*base, "--out", str(out)])
    assert res.exit_code == 0, res.stderr
    assert "(locked months)" in res.stdout
    c = json.loads(out.read_text("utf-8"))
    assert c["basis"]["per_month"][0]["source"] == "locked revision 1"
    digest = ev.snapshot["inputs"]["readings"]["sha256"][:12]
    assert c["basis"]["per_month"][0]["inputs"].startswith(f"readings sha256 {digest} (")
    clinker, cement = c["products"]
    assert (clinker["production_t"], clinker["direct_tco2"]) == pytest.approx(
        (locked["clinker_t"], locked["direct_co2_t"]), rel=1e-12
    )
    assert clinker["see_direct"] == pytest.approx(locked["direct_co2_t"] / locked["clinker_t"])
    assert clinker["value_basis"]["see_direct"].endswith("method defaults for: coal oxidation_factor")  # of the lock
    assert clinker["electricity_factor"]["ids"] and all("@" in f for f in clinker["electricity_factor"]["ids"])
    # cement carries its clinker at the clinker's (locked) direct SEE
    assert cement["direct_tco2"] == pytest.approx(c["precursors"][0]["consumed_t"] * clinker["see_direct"])
    # the shipped defaults file has no China clinker value yet: said, not guessed; the 2026 mark-up is 10 %
    assert clinker["eu_default"]["available"] is False and clinker["eu_default"]["markup"] == 0.10
    # refused before anything is computed or written
    for extra, msg in (
        (["--period", "2026Q5"], "--period: '2026Q5' is not YYYYQn"),
        (["--format", "pdf", "--out", str(tmp_path / "no" / "x.pdf")], "--format: 'pdf' is not json or xlsx"),
        (["--format", "xlsx"], "--out: an XLSX needs a file"),
    ):
        res = runner.invoke(app, [*base, *extra])
        assert res.exit_code == 2 and msg in res.stderr
    assert not (tmp_path / "no").exists()
