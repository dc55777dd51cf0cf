"""A month of one clinker line: the figures against the case's truth, the boundaries and their properties."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from metering.direct.accounting import Accounts, Dataset, account
from metering.direct.lab import LabBook, correct
from metering.direct.stocks import validate_stocks
from tests.metering.direct.case import Case, make_case
from tests.metering.direct.conftest import dataset


@pytest.fixture(scope="module")
def month(ds: Dataset, case: Case) -> Accounts:
    return account(ds, case.days[0], case.days[-1])


def param(acc: Accounts, material: str, name: str):  # type: ignore[no-untyped-def]
    return next(p for p in acc.units[0].params if p.material == material and p.name == name)


def test_month_matches_the_case_truth(month: Accounts, case: Case) -> None:
    u, truth = month.units[0], case.truth()
    assert u.clinker_t == pytest.approx(truth["clinker_t"], rel=1e-9)
    assert u.fuel_co2_t == pytest.approx(truth["fuel_co2_t"], rel=1e-9)
    assert u.total("process_clinker_co2_t") == pytest.approx(truth["process_clinker_co2_t"], rel=1e-9)
    assert u.total("process_dust_co2_t") == pytest.approx(truth["process_dust_co2_t"], rel=1e-9)
    assert u.total("process_toc_co2_t") == pytest.approx(truth["process_toc_co2_t"], rel=1e-9)
    assert u.direct_co2_t == pytest.approx(truth["direct_co2_t"], rel=1e-9)
    assert u.biogenic_co2_t == pytest.approx(truth["biogenic_t"], rel=1e-9)
    assert u.intensity == pytest.approx(truth["direct_co2_t"] / truth["clinker_t"], rel=1e-9)
    assert u.missing == []


def test_biogenic_co2_is_reported_but_not_counted(month: Accounts) -> None:
    u = month.units[0]
    tyre = next(f for f in u.fuels if f["material"] == "tyre-chips")
    assert tyre["biogenic_t"] > 0
    assert u.direct_co2_t == pytest.approx(sum(f["co2_t"] for f in u.fuels) + u.process_co2_t)
    fuel_row = month.gbt32150()["scope1"]["rows"][0]
    assert fuel_row["item"] == "kiln-1 fuel combustion (fossil)"
    assert fuel_row["tco2"] == pytest.approx(u.fuel_co2_t)  # the memo item stays out of scope 1
    assert month.gbt32150()["memo_biogenic_tco2"] == pytest.approx(u.biogenic_co2_t)


def test_provenance_per_basis(month: Accounts) -> None:
    cao = param(month, "clinker", "cao")
    assert cao.basis == "measured"
    assert cao.provenance[0].startswith("lab CL-20260101@1 (plant lab, GB/T 176, 2026-01-01..2026-01-01")
    of = param(month, "coal", "oxidation_factor")
    assert (of.basis, of.value) == ("default", 1.0)
    assert of.provenance[0].startswith("default 1 1 for 31 day(s)") and of.provenance[0].endswith("[unconfirmed]")
    ratio = param(month, "raw-meal", "raw_meal_per_clinker")
    assert ratio.basis == "calculated"
    assert ratio.value == pytest.approx(param(month, "raw-meal", "fed_t").value / month.units[0].clinker_t)
    coal = param(month, "coal", "consumed_t")
    assert coal.basis == "measured"
    assert coal.provenance[0].startswith("meter coal-kiln mass_t: 2976 intervals")
    assert "completeness 1.0000" in coal.provenance[0]


def test_a_month_is_the_sum_of_its_days(ds: Dataset, case: Case, month: Accounts) -> None:
    days = [account(ds, d, d).units[0] for d in case.days]
    u = month.units[0]
    assert sum(d.direct_co2_t for d in days) == pytest.approx(u.direct_co2_t, rel=1e-12)
    assert sum(d.clinker_t for d in days) == pytest.approx(u.clinker_t, rel=1e-12)
    assert sum(d.process_co2_t for d in days) == pytest.approx(u.process_co2_t, rel=1e-12)
    # and a part of the month equals the truth of the same days
    part = case.days[3:12]
    assert account(ds, part[0], part[-1]).units[0].direct_co2_t == pytest.approx(
        case.truth(part)["direct_co2_t"], rel=1e-9
    )


def test_ets_direct_never_exceeds_scope_1(month: Accounts) -> None:
    g = month.gbt32150()
    ets = sum(u.direct_co2_t for u in month.units)
    assert ets <= g["scope1"]["tco2"]
    # the other scope-1 row is the gas boiler only: the coal feeders are counted once, by the unit
    assert [r["item"] for r in g["scope1"]["rows"]][2:] == ["boiler-gas fuel combustion (metering engine)"]


def test_location_and_market_totals_are_never_mixed(month: Accounts) -> None:
    g = month.gbt32150()
    s2 = {s["method"]: s for s in g["scope2"]}
    assert set(s2) == {"location", "market"}
    assert s2["location"]["tco2"] != pytest.approx(s2["market"]["tco2"])
    for t in g["totals"]:
        assert t["label"] == f"scope 1 + scope 2 ({t['method']}-based)"
        assert t["tco2"] == pytest.approx(g["scope1"]["tco2"] + s2[t["method"]]["tco2"])
    assert all("market" not in f for f in s2["location"]["factors"])


def test_cbam_per_tonne_of_clinker(month: Accounts) -> None:
    c, u = month.cbam[0], month.units[0]
    assert c["see_direct_tco2_per_t"] == pytest.approx(u.direct_co2_t / u.clinker_t)
    # the kiln line transformer: 12 MW for the whole month, at the location factor the engine used
    hours = len(u.days) * 24
    assert c["electricity_mwh"] == pytest.approx(12.0 * hours, rel=1e-9)
    assert c["see_indirect_tco2_per_t"] == pytest.approx(c["indirect_tco2"] / u.clinker_t)
    assert c["see_total_tco2_per_t"] == pytest.approx(c["see_direct_tco2_per_t"] + c["see_indirect_tco2_per_t"])
    assert c["electricity_factor"].startswith("cn-grid-")


def test_a_lab_correction_changes_exactly_the_figures_that_used_it(ds: Dataset, month: Accounts) -> None:
    fixed: LabBook = correct(ds.lab, "CL-20260115", "cao", 0.640, "re-analysis", "qc-02", ds.cfg, ds.method)
    after = account(dataclasses.replace(ds, lab=fixed), month.start, month.end)
    b, a = month.units[0], after.units[0]
    changed = [c for c in b.days.columns if not a.days[c].equals(b.days[c])]
    assert changed == ["process_factor_t_per_t", "process_clinker_co2_t", "process_dust_co2_t"]
    day = pd.Timestamp("2026-01-15")
    assert (a.days.drop(index=day) == b.days.drop(index=day)).all().all()
    assert a.fuel_co2_t == b.fuel_co2_t
    assert a.direct_co2_t < b.direct_co2_t
    assert param(after, "clinker", "cao").provenance[14].startswith("lab CL-20260115@2")


def test_missing_must_measure_values_are_named(ds: Dataset, month: Accounts) -> None:
    cur = ds.lab.history
    gone = cur[~((cur["material"] == "clinker") & cur["sample_id"].isin(["CL-20260104", "CL-20260105"]))]
    after = account(dataclasses.replace(ds, lab=LabBook(gone.reset_index(drop=True))), month.start, month.end)
    u = after.units[0]
    assert u.missing == [
        "kiln-1: clinker cao: must be measured, no sample for 2 day(s): 2026-01-04, 2026-01-05",
        "kiln-1: clinker mgo: must be measured, no sample for 2 day(s): 2026-01-04, 2026-01-05",
    ]
    assert param(after, "clinker", "cao").basis == "mixed"
    assert u.days.loc["2026-01-04", "process_clinker_co2_t"] != u.days.loc["2026-01-04", "process_clinker_co2_t"]


def test_stock_balance_as_the_activity(case: Case, tmp_path: Path) -> None:
    ds = dataset(case)
    cfg = ds.cfg.model_copy(
        update={"materials": {**ds.cfg.materials, "coal": ds.cfg.materials["coal"].model_copy(update={"activity": "stock"})}}
    )
    acc = account(dataclasses.replace(ds, cfg=cfg), case.days[0], case.days[-1])
    coal = param(acc, "coal", "consumed_t")
    assert coal.basis == "stock"
    assert coal.value == pytest.approx(case.coal_stock_t)
    assert coal.provenance[0].startswith("stock coal 2026-01 row 2 (ST-2026-01-COAL)")
    assert acc.units[0].reconciliation[0]["flagged"] is False


def test_reconciliation_flags_a_difference_past_the_threshold(case: Case, tmp_path: Path) -> None:
    off = make_case(tmp_path / "off", stock_bias=0.05)
    acc = account(dataset(off), off.days[0], off.days[-1])
    r = acc.units[0].reconciliation[0]
    assert r["flagged"] is True
    assert r["difference_pct"] == pytest.approx(100 * (1 / 1.05 - 1), rel=1e-6)
    assert acc.warnings[0].startswith("reconciliation: coal: metered")


def test_no_stock_no_readings_reports_missing_activity(ds: Dataset, case: Case) -> None:
    cfg = ds.cfg.model_copy(
        update={"materials": {**ds.cfg.materials, "coal": ds.cfg.materials["coal"].model_copy(update={"activity": "stock"})}}
    )
    empty = validate_stocks(pd.DataFrame(columns=["material", "row"]), cfg, "stocks.csv")
    acc = account(dataclasses.replace(ds, cfg=cfg, stocks=empty), case.days[0], case.days[0] + dt.timedelta(days=1))
    assert "kiln-1: coal: no activity data (no stock balance for coal)" in acc.units[0].missing


def test_biomass_and_unanalysed_alternative_fuel(case: Case) -> None:
    """Biomass: all CO2 biogenic (memo). An alternative fuel without a fossil-share analysis takes the
    conservative default 1.0 (all carbon counted), marked default and unconfirmed."""
    ds = dataset(case)
    mats = dict(ds.cfg.materials)
    mats["tyre-chips"] = mats["tyre-chips"].model_copy(update={"kind": "biomass_fuel"})
    bio = account(dataclasses.replace(ds, cfg=ds.cfg.model_copy(update={"materials": mats})), case.days[0], case.days[-1])
    f = next(x for x in bio.units[0].fuels if x["material"] == "tyre-chips")
    carbon = f["consumed_t"] * 28.0 * 0.022 * 44 / 12
    assert f["co2_t"] == 0.0 and f["biogenic_t"] == pytest.approx(carbon, rel=1e-9)
    assert bio.units[0].direct_co2_t == pytest.approx(case.truth()["direct_co2_t"] - f["consumed_t"] * 28.0 * 0.022 * 0.6 * 44 / 12, rel=1e-9)
    h = ds.lab.history
    no_ff = h[~((h["material"] == "tyre-chips") & (h["parameter"] == "fossil_fraction"))].reset_index(drop=True)
    acc = account(dataclasses.replace(ds, lab=LabBook(no_ff)), case.days[0], case.days[-1])
    ff = param(acc, "tyre-chips", "fossil_fraction")
    assert (ff.basis, ff.value) == ("default", 1.0)
    assert ff.provenance[0].endswith("[unconfirmed]")
    t = next(x for x in acc.units[0].fuels if x["material"] == "tyre-chips")
    assert t["biogenic_t"] == 0.0 and t["co2_t"] == pytest.approx(carbon, rel=1e-9)


def test_cbam_cement_with_clinker_as_precursor(month: Accounts, case: Case) -> None:
    """Cement's embedded emissions = its clinker (Σ day cement × that day's clinker share) at the clinker's
    specific embedded emissions, plus the mill's electricity; the grinding has no direct emissions here."""
    clinker, cement = month.cbam
    assert (clinker["product"], cement["product"]) == ("clinker", "cement")
    line = case.line
    used = sum(line.tonnes["cem-weigher"][d] * line.lab_value("cement", "clinker_share", d) for d in case.days)
    cement_t = sum(line.tonnes["cem-weigher"].values())
    assert cement["precursor"]["t"] == pytest.approx(used, rel=1e-9)
    assert cement["production_t"] == pytest.approx(cement_t, rel=1e-9)
    assert cement["see_direct_tco2_per_t"] == pytest.approx(used * clinker["see_direct_tco2_per_t"] / cement_t)
    mill_mwh = 6.0 * 24 * len(case.days)
    assert cement["electricity_mwh"] == pytest.approx(mill_mwh, rel=1e-9)
    grid = clinker["indirect_tco2"] / clinker["electricity_mwh"]  # the same location factor for both meters
    expected = (used * clinker["see_indirect_tco2_per_t"] + mill_mwh * grid) / cement_t
    assert cement["see_indirect_tco2_per_t"] == pytest.approx(expected, rel=1e-9)
    assert 0.75 < cement["clinker_share"] < 0.85
    assert cement["see_total_tco2_per_t"] < clinker["see_total_tco2_per_t"]


def test_cbam_days_add_up_to_the_month(month: Accounts, case: Case) -> None:
    """Measurement `cbam` stores each product's own parts per day: Σ days over Σ tonnes gives the month's
    per-tonne figures, and cement adds its clinker (Σ precursor_t) at the month's clinker figures."""
    d = month.cbam_days
    assert len(d) == 2 * len(case.days) and set(d["product"]) == {"clinker", "cement"}
    s = d.groupby("product")[["production_t", "direct_tco2", "indirect_tco2", "electricity_mwh", "precursor_t"]].sum()
    clinker, cement = month.cbam
    ck, cem = s.loc["clinker"], s.loc["cement"]
    for col in ("production_t", "direct_tco2", "indirect_tco2", "electricity_mwh"):
        assert ck[col] == pytest.approx(clinker[col], rel=1e-9)
    assert ck["precursor_t"] == 0.0 and cem["direct_tco2"] == 0.0  # grinding burns nothing in this model
    assert cem["precursor_t"] == pytest.approx(cement["precursor"]["t"], rel=1e-9)
    assert cem["electricity_mwh"] == pytest.approx(cement["electricity_mwh"], rel=1e-9)
    own_plus_precursor = cem["indirect_tco2"] + cem["precursor_t"] * ck["indirect_tco2"] / ck["production_t"]
    assert own_plus_precursor == pytest.approx(cement["indirect_tco2"], rel=1e-9)


def test_a_weigher_gap_is_estimated_and_a_silent_end_is_named(ds: Dataset, case: Case) -> None:
    """Inside the month a gap is bridged by the counter (the tonnes are known, their days estimated); at the
    month's end a weigher that stopped answering leaves days with no reading at all, named as missing."""
    r = ds.readings
    assert r is not None
    coal_calc = r["device"] == "coal-calc"
    t0 = pd.Timestamp("2026-01-10T00:00+08:00").tz_convert("UTC")
    t1 = pd.Timestamp("2026-01-12T00:00+08:00").tz_convert("UTC")
    gap = r[~(coal_calc & (r["time"] >= t0) & (r["time"] < t1))].reset_index(drop=True)
    acc = account(dataclasses.replace(ds, readings=gap), case.days[0], case.days[-1])
    coal = param(acc, "coal", "consumed_t")
    month = sum(case.line.tonnes["coal-kiln"].values()) + sum(case.line.tonnes["coal-calc"].values())
    assert coal.value == pytest.approx(month, rel=1e-9)  # the counter carries the gap's tonnes
    assert coal.basis == "measured"
    assert any("estimated" in p for p in coal.provenance if p.startswith("meter coal-calc"))
    end = pd.Timestamp("2026-01-29T00:00+08:00").tz_convert("UTC")
    silent = r[~(coal_calc & (r["time"] >= end))].reset_index(drop=True)
    acc = account(dataclasses.replace(ds, readings=silent), case.days[0], case.days[-1])
    coal = param(acc, "coal", "consumed_t")
    assert coal.basis == "mixed"
    assert coal.provenance[-1] == "no readings at all for 3 day(s): 2026-01-29, 2026-01-30, 2026-01-31"
    assert "kiln-1: coal: meters no readings at all for 3 day(s): 2026-01-29, 2026-01-30, 2026-01-31" in (
        acc.units[0].missing
    )


def test_days_without_a_sample_take_the_default_and_say_so(ds: Dataset, case: Case, month: Accounts) -> None:
    """A parameter that need not be measured (raw meal's non-carbonate CaO) with no sample for two days:
    those days take the method's default (0.0, no deduction), the parameter is `mixed` and names the
    default with its source, the unit stays complete, and only those two days' process figures change —
    by exactly the deduction the lab values made (hand check: raw meal t × CaO_nc × 44/56)."""
    h = ds.lab.history
    gone_days = ["RM-20260104", "RM-20260105"]
    kept = h[~((h["parameter"] == "noncarb_cao") & h["sample_id"].isin(gone_days))].reset_index(drop=True)
    after = account(dataclasses.replace(ds, lab=LabBook(kept)), month.start, month.end)
    u, b = after.units[0], month.units[0]
    assert u.missing == []
    p = param(after, "raw-meal", "noncarb_cao")
    assert p.basis == "mixed"
    default_line = [x for x in p.provenance if x.startswith("default 0 1 for 2 day(s): ")]
    assert len(default_line) == 1 and default_line[0].endswith("[unconfirmed]")
    line = case.line
    for day in (dt.date(2026, 1, 4), dt.date(2026, 1, 5)):
        rm = line.tonnes["rm-weigher"][day]
        added = rm * line.lab_value("raw-meal", "noncarb_cao", day) * 44 / 56
        ts = pd.Timestamp(day)
        assert u.days.loc[ts, "process_clinker_co2_t"] - b.days.loc[ts, "process_clinker_co2_t"] == pytest.approx(
            added, rel=1e-9
        )
    others = [d for d in u.days.index if d.date() not in (dt.date(2026, 1, 4), dt.date(2026, 1, 5))]
    assert (u.days.loc[others, "process_clinker_co2_t"] == b.days.loc[others, "process_clinker_co2_t"]).all()
