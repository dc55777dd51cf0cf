"""Direct emissions through a real InfluxDB 2.7: weigher readings in `raw`, the month's figures in `direct`."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from metering.direct.accounting import Dataset
from metering.direct.influx import read_direct
from metering.direct.lab import correct
from metering.direct.service import carbon_devices, due_period, recompute_direct, run_live, today_so_far
from metering.direct.tables import InputFileError
from metering.io import read_readings_csv
from plantcarbon_core import schema as sc
from plantcarbon_core.influx import InfluxTarget, write_lines
from plantcarbon_core.plant import load_plant
from tests.metering.direct.case import Case

pytestmark = pytest.mark.integration


def raw_lines(case: Case) -> list[str]:
    plant = load_plant(case.plant)
    tags = {
        d.id: f"{d.carrier},area={d.area},kind={d.kind},device={d.id},edge=e1,site={plant.site.id}"
        for d in plant.devices
    }
    r = read_readings_csv(case.readings)
    ms = [int(t.timestamp() * 1000) for t in r["time"]]
    return [f"{tags[d]} {q}={v!r} {t}" for d, q, v, t in zip(r["device"], r["quantity"], r["value"], ms, strict=True)]


def test_a_month_from_influxdb_matches_truth_and_rewrites_idempotently(
    influx_target: InfluxTarget, case: Case, ds: Dataset
) -> None:
    lines = raw_lines(case)
    for i in range(0, len(lines), 20_000):
        write_lines(influx_target, influx_target.raw_bucket, lines[i : i + 20_000])
    offline = dataclasses.replace(ds, readings=None)
    acc, n = recompute_direct(offline, influx_target, case.days[0], case.days[-1])
    truth = case.truth()
    u = acc.units[0]
    assert abs(u.direct_co2_t / truth["direct_co2_t"] - 1) < 1e-3  # the bar: within 0.1 %
    assert u.direct_co2_t == pytest.approx(truth["direct_co2_t"], rel=1e-9)  # and in fact exact
    tz = ds.plant.site.timezone
    t0 = pd.Timestamp(case.days[0]).tz_localize(tz)
    t1 = pd.Timestamp(case.days[-1] + pd.Timedelta(days=1)).tz_localize(tz)
    stored = read_direct(influx_target, "cem-t", t0, t1)
    cbam = read_direct(influx_target, "cem-t", t0, t1, sc.CBAM)
    assert len(stored) + len(cbam) == n
    # CBAM: the stored days add up to the month's figures (a ratio of sums; cement adds its clinker at the
    # month's clinker figures, metering/direct/cbam.py).
    days = cbam.groupby("product")[["production_t", "direct_tco2", "indirect_tco2", "precursor_t"]].sum()
    month = {c["product"]: c for c in acc.cbam}
    assert len(cbam) == 2 * len(case.days)
    ck = days.loc["clinker"]
    assert ck["direct_tco2"] / ck["production_t"] == pytest.approx(month["clinker"]["see_direct_tco2_per_t"], rel=1e-9)
    assert ck["indirect_tco2"] / ck["production_t"] == pytest.approx(
        month["clinker"]["see_indirect_tco2_per_t"], rel=1e-9
    )
    cem = days.loc["cement"]
    share = cem["precursor_t"] / cem["production_t"]
    for part in ("direct", "indirect"):
        see = cem[f"{part}_tco2"] / cem["production_t"] + share * ck[f"{part}_tco2"] / ck["production_t"]
        assert see == pytest.approx(month["cement"][f"see_{part}_tco2_per_t"], rel=1e-9)
    product = stored[stored["source"] == "product"]
    assert len(product) == len(case.days)
    assert product["co2_t"].sum() == pytest.approx(truth["direct_co2_t"], rel=1e-9)
    assert product["activity_t"].sum() == pytest.approx(truth["clinker_t"], rel=1e-9)
    assert set(stored["method"]) == {"cn-cement-clinker-2025@2025.1"}
    assert stored["complete"].all()
    bio = stored[stored["source"] == "biogenic"]
    counted = stored[stored["source"].isin(["fuel", "process_clinker", "process_dust", "process_toc"])]
    assert counted["co2_t"].sum() == pytest.approx(truth["direct_co2_t"], rel=1e-9)
    assert bio["co2_t"].sum() == pytest.approx(truth["biogenic_t"], rel=1e-9)
    # a second run writes the same points: nothing doubles
    _, n2 = recompute_direct(offline, influx_target, case.days[0], case.days[-1])
    again = read_direct(influx_target, "cem-t", t0, t1)
    assert n2 == n and len(again) + len(read_direct(influx_target, "cem-t", t0, t1, sc.CBAM)) == n
    assert again["co2_t"].sum() == pytest.approx(stored["co2_t"].sum(), rel=1e-12)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        ("2026-01-15T12:00+08:00", ("2026-01-01", "2026-01-14")),
        ("2026-02-01T00:10+08:00", ("2026-01-01", "2026-01-30")),  # 31 January not closed yet (lateness 30 min)
        ("2026-02-01T00:40+08:00", ("2026-01-01", "2026-01-31")),  # now it is: January whole
        ("2026-02-02T09:00+08:00", ("2026-02-01", "2026-02-01")),
        ("2026-02-01T16:40Z", ("2026-02-01", "2026-02-01")),  # 00:40 on 2 February in Shanghai
    ],
)
def test_due_period(now: str, expected: tuple[str, str]) -> None:
    got = due_period(pd.Timestamp(now), "Asia/Shanghai", pd.Timedelta(minutes=30))
    assert (got[0].isoformat(), got[1].isoformat()) == expected


def test_live_run_writes_the_closed_month_and_survives_bad_input(
    influx_target: InfluxTarget, case: Case, ds: Dataset, tmp_path: Path
) -> None:
    lines = raw_lines(case)
    for i in range(0, len(lines), 20_000):
        write_lines(influx_target, influx_target.raw_bucket, lines[i : i + 20_000])
    said: list[str] = []
    offline = dataclasses.replace(ds, readings=None)
    feb1 = pd.Timestamp("2026-02-01T01:00+08:00")
    run_live(lambda: offline, influx_target, once=True, now=lambda: feb1, report=said.append)
    assert len(said) == 1 and said[0].startswith("kiln-1 2026-01-01..2026-01-31: direct CO2 ")
    tz = ds.plant.site.timezone
    stored = read_direct(influx_target, "cem-t", pd.Timestamp("2026-01-01").tz_localize(tz), feb1)
    product = stored[stored["source"] == "product"]
    assert product["co2_t"].sum() == pytest.approx(case.truth()["direct_co2_t"], rel=1e-9)

    def broken() -> Dataset:
        raise InputFileError(["lab.csv: row 3 (sample X@1): value: 'abc' is not a number"])

    class Enough(BaseException):
        """Ends the loop from the test (the loop itself only stops on a BaseException like Ctrl-C)."""

    def stop() -> Dataset:
        raise Enough

    sleeps: list[float] = []
    calls = iter([broken, lambda: offline, stop])

    def load() -> Dataset:
        return next(calls)()

    with pytest.raises(Enough):  # the third run stops it: the loop went on after the failure
        run_live(load, influx_target, now=lambda: feb1, report=said.append, sleep=sleeps.append)
    assert said[1] == "direct emissions run failed: lab.csv: row 3 (sample X@1): value: 'abc' is not a number"
    assert said[2].startswith("kiln-1 2026-01-01..2026-01-31")
    assert sleeps == [3600.0, 3600.0]


def test_today_so_far_reads_the_day_up_to_now_and_writes_nothing(
    influx_target: InfluxTarget, case: Case, ds: Dataset
) -> None:
    """The live view's figure (the demo): 15 January at 12:00 in Shanghai is half of that day. The simulated
    counters grow linearly within a day, so the tonnes so far are half the day's, and every figure with
    them — except the dust, a record spread per day whatever the hour (hand check below)."""
    lines = raw_lines(case)
    for i in range(0, len(lines), 20_000):
        write_lines(influx_target, influx_target.raw_bucket, lines[i : i + 20_000])
    day = dt.date(2026, 1, 15)
    noon = pd.Timestamp("2026-01-15T12:00+08:00")
    acc = today_so_far(dataclasses.replace(ds, readings=None), influx_target, noon)
    u, truth = acc.units[0], case.truth([day])
    assert (acc.start, acc.end) == (day, day)
    assert u.clinker_t == pytest.approx(truth["clinker_t"] / 2, rel=1e-9)
    dust = truth["process_dust_co2_t"]
    assert u.direct_co2_t == pytest.approx((truth["direct_co2_t"] - dust) / 2 + dust, rel=1e-9)
    assert u.missing == []
    assert read_direct(influx_target, "cem-t", noon - pd.Timedelta(days=1), noon + pd.Timedelta(days=1)).empty
    assert carbon_devices(ds) == ["af-feeder", "cem-weigher", "cl-weigher", "coal-calc", "coal-kiln", "rm-weigher",
                                  "tr-kiln", "tr-mill"]  # fmt: skip


def test_a_recompute_after_a_lab_correction_rewrites_exactly_the_points_that_used_it(
    influx_target: InfluxTarget, case: Case, ds: Dataset
) -> None:
    """Correct one day's clinker CaO (a new version, the old one kept), recompute the month from the store: of
    the month's stored points only that day's clinker-process, dust-process and product points change, and
    by exactly the hand-checked amount (clinker + dust t) × ΔCaO × 44/56."""
    lines = raw_lines(case)
    for i in range(0, len(lines), 20_000):
        write_lines(influx_target, influx_target.raw_bucket, lines[i : i + 20_000])
    offline = dataclasses.replace(ds, readings=None)
    first, last = case.days[0], case.days[-1]
    tz = ds.plant.site.timezone
    t0, t1 = pd.Timestamp(first).tz_localize(tz), pd.Timestamp(last + dt.timedelta(days=1)).tz_localize(tz)
    recompute_direct(offline, influx_target, first, last)
    key = ["time", "source", "material"]
    before = read_direct(influx_target, "cem-t", t0, t1).set_index(key).sort_index()
    cbam_key = ["time", "product"]
    cbam_before = read_direct(influx_target, "cem-t", t0, t1, sc.CBAM).set_index(cbam_key).sort_index()
    fixed = correct(ds.lab, "CL-20260115", "cao", 0.640, "re-analysis of the retained sample", "qc-02", ds.cfg, ds.method)
    h = fixed.history
    assert sorted(h[(h["sample_id"] == "CL-20260115") & (h["parameter"] == "cao")]["version"]) == [1, 2]  # v1 kept
    recompute_direct(dataclasses.replace(offline, lab=fixed), influx_target, first, last)
    after = read_direct(influx_target, "cem-t", t0, t1).set_index(key).sort_index()
    assert after.index.equals(before.index)  # rewritten in place: nothing added
    diff = (after["co2_t"] - before["co2_t"]).abs() > 0
    day = pd.Timestamp("2026-01-15").tz_localize(tz).tz_convert("UTC")
    assert sorted(after.index[diff]) == [
        (day, "process_clinker", "clinker"),
        (day, "process_dust", "clinker"),
        (day, "product", "clinker"),
    ]
    d15 = dt.date(2026, 1, 15)
    old = case.line.lab_value("clinker", "cao", d15)
    delta = (case.line.tonnes["cl-weigher"][d15] + case.line.dust_t(d15)) * (0.640 - old) * 44 / 56
    change = after.loc[(day, "product", "clinker"), "co2_t"] - before.loc[(day, "product", "clinker"), "co2_t"]
    assert change == pytest.approx(delta, rel=1e-9)
    # CBAM: only that day's clinker direct CO2 moves, by the same amount (cement keeps its own parts).
    cbam_after = read_direct(influx_target, "cem-t", t0, t1, sc.CBAM).set_index(cbam_key).sort_index()
    assert cbam_after.index.equals(cbam_before.index)
    moved = cbam_after[["direct_tco2", "indirect_tco2", "production_t", "precursor_t"]].ne(
        cbam_before[["direct_tco2", "indirect_tco2", "production_t", "precursor_t"]]
    )
    assert [(t, c) for (t, _), row in moved.iterrows() for c, m in row.items() if m] == [(day, "direct_tco2")]
    assert moved.loc[(day, "clinker"), "direct_tco2"]
    cbam_change = cbam_after.loc[(day, "clinker"), "direct_tco2"] - cbam_before.loc[(day, "clinker"), "direct_tco2"]
    assert cbam_change == pytest.approx(delta, rel=1e-9)
