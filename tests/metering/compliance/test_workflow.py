"""The month of the simulated kiln line as a workflow, offline: review, gap fill, approve/lock, correction, revision."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest

from metering.compliance.deadlines import deadline_view
from metering.compliance.review import review_month
from metering.compliance.rules import load_rules
from metering.compliance.snapshot import diff
from metering.compliance.store import ComplianceStore
from metering.compliance.workflow import do_approve, do_review, do_revise, evaluate, status
from metering.direct.lab import correct, parse_lab
from metering.state.store import Conflict, Store
from tests.metering.compliance.conftest import GAP_DAYS, MONTH, gap_lab, lab_without
from tests.metering.direct.case import Case
from tests.metering.direct.conftest import dataset

UNIT = "kiln-1"


def _with_lab(case: Case, lab: Path):  # type: ignore[no-untyped-def]
    ds = dataset(case)
    return dataclasses.replace(ds, lab=parse_lab(lab, ds.cfg, ds.method))


def _store(tmp_path: Path) -> ComplianceStore:
    return ComplianceStore(Store(f"sqlite:///{tmp_path / 'state.sqlite'}"))


def test_review_names_missing_days_defaults_and_the_rule_that_filled_them(month_case: Case, tmp_path: Path) -> None:
    ds = _with_lab(month_case, gap_lab(month_case, tmp_path / "lab.csv"))
    ev = evaluate(ds, UNIT, MONTH)
    items = {(i.material, i.parameter): i for i in ev.review.items}
    cao = items[("clinker", "cao")]
    gaps = [dt.datetime.strptime(d, "%Y%m%d").date() for d in GAP_DAYS]
    assert cao.status == "filled" and cao.missing_days == [d.isoformat() for d in gaps]
    assert cao.measured_days == 29 and cao.days == 31
    # rule: the month's highest measured CaO (CaO raises process CO2), taken here from the simulator's own rows
    measured = [
        float(str(r["value"]))
        for r in month_case.line.lab_rows
        if r["material"] == "clinker" and r["parameter"] == "cao" and r["period_start"] not in gaps
    ]
    assert cao.fill is not None and cao.fill["rule"] == "max-of-month" and cao.fill["value"] == max(measured)
    # the oxidation factor is never analysed: the method default, all 31 days, says so
    of = items[("coal", "oxidation_factor")]
    assert of.status == "default" and of.default is not None and of.default["days"] == 31
    assert of.default["ref"] == "cn-cement-clinker-2025@2025.1 fossil_fuel.oxidation_factor"
    assert ev.review.blocking == []
    # the figure: the simulator's truth with the two days' CaO raised to the month's maximum (44/56 per t CaO)
    line, truth = month_case.line, month_case.truth()
    extra = sum(
        (line.tonnes["cl-weigher"][d] + line.dust_t(d))
        * (max(measured) - line.lab_value("clinker", "cao", d))
        * 44
        / 56
        for d in gaps
    )
    assert ev.snapshot["figures"]["direct_co2_t"] == pytest.approx(truth["direct_co2_t"] + extra, rel=1e-9)
    assert ev.snapshot["inputs"]["fills"] == [f"FILL-kiln-1-clinker-cao-{GAP_DAYS[0]}@1 clinker cao"]
    cao_param = next(p for p in ev.unit.params if p.material == "clinker" and p.name == "cao")
    assert any("FILL-kiln-1-clinker-cao" in line and "rule max-of-month" in line for line in cao_param.provenance)


def test_a_deduction_is_filled_with_the_months_lowest_value(month_case: Case, tmp_path: Path) -> None:
    lines = month_case.lab.read_text("utf-8").splitlines()
    lab = tmp_path / "lab.csv"
    lab.write_text("\n".join(x for x in lines if not x.startswith("RM-20260110,1,raw-meal,noncarb_cao,")) + "\n")
    review = review_month(_with_lab(month_case, lab), UNIT, MONTH)
    item = next(i for i in review.items if i.parameter == "noncarb_cao")
    # noncarb_cao has a method default (0: no deduction), so the default fills it, not a rule
    assert item.status == "default" and item.missing_days == ["2026-01-10"] and item.default is not None
    assert load_rules().fill_rule("raw_meal", "noncarb_cao") == "min-of-month"
    assert load_rules().fill_rule("clinker", "cao") == "max-of-month"


def test_what_no_rule_can_fill_blocks_approval(month_case: Case, tmp_path: Path) -> None:
    lines = month_case.lab.read_text("utf-8").splitlines()
    lab = tmp_path / "lab.csv"
    lab.write_text("\n".join(x for x in lines if ",clinker,mgo," not in x) + "\n")
    ds = _with_lab(month_case, lab)
    ds = dataclasses.replace(
        ds,
        readings=ds.readings[
            ~(
                (ds.readings["device"] == "af-feeder")
                & (ds.readings["time"] >= "2026-01-19T16:00:00Z")
                & (ds.readings["time"] < "2026-01-20T16:00:00Z")
            )
        ],
    )
    ev = evaluate(ds, UNIT, MONTH)
    items = {(i.material, i.parameter): i for i in ev.review.items}
    assert items[("clinker", "mgo")].status == "blocking" and items[("clinker", "mgo")].measured_days == 0
    af = items[("tyre-chips", "metered tonnes")]
    assert af.status == "blocking" and af.missing_days == ["2026-01-20"]
    cs = _store(tmp_path)
    do_review(cs, "cem-t", ev, "qc-lead")
    with pytest.raises(Conflict, match=r"2 item\(s\) no rule can fill: clinker mgo.*tyre-chips metered tonnes"):
        do_approve(cs, "cem-t", ev, "em-1")
    assert cs.get("cem-t", UNIT, MONTH)["state"] == "in_review"
    assert cs.revisions("cem-t", UNIT, MONTH) == []


def test_approve_locks_a_correction_shows_and_revision_2_carries_the_diff(month_case: Case, tmp_path: Path) -> None:
    lab = tmp_path / "lab.csv"
    lab.write_bytes(month_case.lab.read_bytes())
    ds = _with_lab(month_case, lab)
    cs = _store(tmp_path)
    ev1 = evaluate(ds, UNIT, MONTH)
    with pytest.raises(Conflict, match="only a month in review can be approved"):
        do_approve(cs, "cem-t", ev1, "em-1")
    do_review(cs, "cem-t", ev1, "qc-lead")
    do_approve(cs, "cem-t", ev1, "em-1")
    assert cs.get("cem-t", UNIT, MONTH)["state"] == "approved"
    with pytest.raises(Conflict, match="locked"):
        do_review(cs, "cem-t", ev1, "qc-lead")
    # unchanged inputs: nothing to revise
    with pytest.raises(Conflict, match="nothing to revise"):
        do_revise(cs, "cem-t", evaluate(ds, UNIT, MONTH), "no reason really", "em-1")
    # a late lab correction: a new version of one sample
    book = correct(ds.lab, "CL-20260110", "cao", 0.6701, "re-analysed, titration error", "qc-lead", ds.cfg, ds.method)
    ev2 = evaluate(dataclasses.replace(ds, lab=book), UNIT, MONTH)
    st = status(cs, "cem-t", UNIT, MONTH, ev2)
    assert st["revision"] == 1 and st["recompute"]["differs"] is True  # shown, never applied silently
    assert cs.revisions("cem-t", UNIT, MONTH)[0]["snapshot"] == ev1.snapshot
    with pytest.raises(ValueError, match="reason"):
        do_revise(cs, "cem-t", ev2, "  ", "em-1")
    do_revise(cs, "cem-t", ev2, "late lab correction CL-20260110 CaO", "em-1")
    st = status(cs, "cem-t", UNIT, MONTH, ev2)
    assert st["state"] == "approved" and st["revision"] == 2 and st["recompute"]["differs"] is False
    r1, r2 = st["revisions"]
    assert (r1["revision"], r2["revision"], r2["reason"], r2["created_by"]) == (
        1,
        2,
        "late lab correction CL-20260110 CaO",
        "em-1",
    )
    d = {(x["kind"], x["item"]): x for x in r2["diff_from_previous"]}
    assert d[("input", "lab")]["before"] == ["CL-20260110@1 clinker cao"]
    assert d[("input", "lab")]["after"] == ["CL-20260110@2 clinker cao"]
    # exactly the figures that use clinker CaO moved, by the hand-computed amount
    line = month_case.line
    day = dt.date(2026, 1, 10)
    delta = (
        (line.tonnes["cl-weigher"][day] + line.dust_t(day)) * (0.6701 - line.lab_value("clinker", "cao", day)) * 44 / 56
    )
    assert d[("figure", "direct_co2_t")]["after"] - d[("figure", "direct_co2_t")]["before"] == pytest.approx(
        delta, rel=1e-6
    )
    assert ("figure", "fuel_co2_t") not in d and ("figure", "clinker_t") not in d
    assert ("parameter", "clinker cao") in d and ("parameter", "coal ncv") not in d
    audit = cs.store.list_audit("compliance_month")
    assert [a["action"] for a in reversed(audit)] == ["review", "approve", "revise"]
    assert audit[0]["after"]["reason"] == "late lab correction CL-20260110 CaO" and audit[0]["actor"] == "em-1"
    filed = cs.file("cem-t", UNIT, MONTH, "CETS-2026-01-0042", "em-1")
    assert filed["state"] == "filed" and filed["filed_reference"] == "CETS-2026-01-0042"


def test_snapshot_diff_is_empty_for_the_same_inputs(month_case: Case) -> None:
    ds = dataset(month_case)
    a, b = evaluate(ds, UNIT, MONTH).snapshot, evaluate(ds, UNIT, MONTH).snapshot
    assert diff(a, b) == []
    assert a["inputs"]["readings"]["count"] > 0 and len(a["inputs"]["readings"]["sha256"]) == 64
    assert "ST-2026-01-COAL coal 2026-01" in a["inputs"]["stocks"]


def test_deadline_view_by_rule_and_state() -> None:
    states = {
        "2026-01": {"state": "filed", "revision": 1, "review": {"blocking": []}},
        "2026-02": {"state": "in_review", "revision": 0, "review": {"blocking": ["clinker mgo: ..."]}},
    }
    v = deadline_view(2026, UNIT, states, dt.date(2026, 4, 20))
    jan, feb, mar = v["months"][:3]
    assert v["rule"]["id"] == "cn-ets-monthly-40d" and v["rule"]["confirmed"] is False
    assert jan["due"] == "2026-03-12" and jan["overdue"] is False and jan["state"] == "filed"  # 31 Jan + 40 days
    assert feb["due"] == "2026-04-09" and feb["overdue"] is True and feb["missing"] == ["clinker mgo: ..."]
    assert mar["state"] == "open" and mar["missing"] is None and mar["due"] == "2026-05-10" and mar["days_left"] == 20
    v2 = deadline_view(2026, UNIT, {}, dt.date(2026, 1, 1), "next-month-end")
    assert [m["due"] for m in v2["months"][:2]] == ["2026-02-28", "2026-03-31"]
    assert v2["months"][11]["due"] == "2027-01-31"
    with pytest.raises(KeyError, match="no deadline rule 'nope'"):
        deadline_view(2026, UNIT, {}, dt.date(2026, 1, 1), "nope")


def test_lab_without_helper_drops_rows(month_case: Case, tmp_path: Path) -> None:
    out = lab_without(month_case, tmp_path / "l.csv", "AF-")
    assert "AF-2026-01" not in out.read_text() and "CL-20260101" in out.read_text()
