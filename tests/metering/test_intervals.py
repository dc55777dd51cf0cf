"""Interval engine: counters → 15-minute amounts, rollover vs reset vs replacement, gaps, gauges, local periods."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.plant import Plant, Ratios
from metering.intervals import (
    EngineOptions,
    SeriesMeta,
    clean_counter,
    compute_intervals,
    rollup,
    wide_to_long,
)
from tests.metering.conftest import counter


def _series(values: list[float], step_s: float = 60.0) -> tuple[np.ndarray, np.ndarray]:
    return np.arange(len(values)) * step_s, np.array(values, dtype=float)


def test_exact_deltas_per_interval(plant: Plant) -> None:
    # 10 kWh per minute for two hours: every quarter hour holds exactly 150 kWh.
    r = counter("main-1", "e_imp_kwh", "2023-05-01T00:00", 120, 10.0)
    iv = compute_intervals(r, plant)
    assert list(iv["amount"]) == pytest.approx([150.0] * 8)
    assert set(iv["status"]) == {"measured"}
    assert list(iv["completeness"]) == pytest.approx([1.0] * 8)
    assert iv["interval_start"].iloc[0] == pd.Timestamp("2023-05-01T00:00Z")
    assert str(iv["interval_start"].dt.tz) == "UTC"
    assert set(iv[["site", "area", "carrier", "role", "unit", "source"]].itertuples(index=False, name=None)) == {
        ("plant-t", "substation", "electricity", "main", "kWh", "counter")
    }


def test_rollover_is_told_from_a_reset() -> None:
    # Worked example: a 6-digit register (counter_max 999 999 kWh) reads 999 990 then 5:
    # the step is 999 999 − 999 990 + 5 = 14 kWh (rollover), not a reset to 5.
    # Source: counter semantics in docs/design.md ("handling rollover and meter resets") and
    # the profile field counter_max ("rollover point of a counter", core/profile.py).
    t, v = _series([999_970, 999_980, 999_990, 5, 15, 25])
    _, delta, est, events = clean_counter(t, v, SeriesMeta(counter_max=999_999), EngineOptions())
    assert delta[3] == pytest.approx(14.0)
    assert delta.sum() == pytest.approx(10 + 10 + 14 + 10 + 10)
    assert [n for _, n in events] == ["rollover"]
    assert not est.any()


def test_reset_counts_the_new_value() -> None:
    # A meter reset mid-range: 50 000 → 3 (cleared, then 3 kWh used): the step is 3 kWh.
    t, v = _series([49_980, 49_990, 50_000, 3, 13, 23])
    _, delta, _, events = clean_counter(t, v, SeriesMeta(counter_max=999_999), EngineOptions())
    assert delta[3] == pytest.approx(3.0)
    assert [n for _, n in events] == ["reset"]


def test_replacement_is_estimated_from_the_typical_rate() -> None:
    # A new meter installed reading 20 000 where the old one read 50 000: not near zero, not a
    # rollover — the swap step is estimated from the 10 kWh/min rate and marked.
    t, v = _series([49_980, 49_990, 50_000, 20_000, 20_010, 20_020])
    _, delta, est, events = clean_counter(t, v, SeriesMeta(counter_max=999_999), EngineOptions())
    assert delta[3] == pytest.approx(10.0)
    assert est[3]
    assert [n for _, n in events] == ["replacement"]
    assert delta.sum() == pytest.approx(50.0)


def test_transient_zero_read_is_dropped() -> None:
    t, v = _series([1000, 1010, 0, 1030, 1040])
    t2, delta, _, events = clean_counter(t, v, SeriesMeta(), EngineOptions())
    assert len(t2) == 4
    assert delta.sum() == pytest.approx(40.0)
    assert [n for _, n in events] == ["transient"]


def test_absurd_spike_is_rejected_with_a_reason() -> None:
    # 10 kWh/min, then a step of 100 000 kWh in one minute that stays (a corrupted register).
    t, v = _series([1000, 1010, 1020, 101_020, 101_030, 101_040])
    _, delta, est, events = clean_counter(t, v, SeriesMeta(), EngineOptions())
    assert delta[3] == pytest.approx(10.0)
    assert est[3]
    assert [n for _, n in events] == ["spike"]


def test_rated_power_bounds_a_step() -> None:
    # main-1 is rated 2000 kW: more than 2 × 2000 kWh/h in one minute (66.7 kWh) is a spike.
    t, v = _series([0, 30, 60, 200, 230])
    _, delta, _, events = clean_counter(t, v, SeriesMeta(max_rate_per_h=4000), EngineOptions())
    assert delta[3] == pytest.approx(30.0)
    assert [n for _, n in events] == ["spike"]


def test_gap_is_spread_and_marked_estimated(plant: Plant) -> None:
    r = counter("main-1", "e_imp_kwh", "2023-05-01T00:00", 120, 10.0)
    # Drop 00:20–00:50 (a 30-minute outage): the energy is still all there, spread linearly.
    gap = (r["time"] > "2023-05-01T00:20Z") & (r["time"] < "2023-05-01T00:50Z")
    iv = compute_intervals(r[~gap], plant)
    assert iv["amount"].sum() == pytest.approx(1200.0)
    assert list(iv["amount"]) == pytest.approx([150.0] * 8)
    by = iv.set_index("interval_start")
    assert by.loc[pd.Timestamp("2023-05-01T00:30Z"), "status"] == "estimated"
    assert by.loc[pd.Timestamp("2023-05-01T00:30Z"), "completeness"] == pytest.approx(0.0)
    assert by.loc[pd.Timestamp("2023-05-01T00:15Z"), "completeness"] == pytest.approx(5 / 15)
    assert by.loc[pd.Timestamp("2023-05-01T01:00Z"), "status"] == "measured"


def test_gauge_integrated_only_without_a_counter(plant: Plant) -> None:
    t = pd.date_range("2023-05-01T00:00Z", periods=61, freq="1min")
    p = pd.DataFrame({"time": t, "device": "fan-1", "quantity": "p_kw", "value": 120.0})
    iv = compute_intervals(p, plant)
    # 120 kW for 15 minutes = 30 kWh.
    assert list(iv["amount"]) == pytest.approx([30.0] * 4)
    assert set(iv["source"]) == {"gauge"}
    assert set(iv["quantity"]) == {"e_imp_kwh"}
    # With the counter present, the gauge is ignored.
    c = counter("fan-1", "e_imp_kwh", "2023-05-01T00:00", 60, 1.0)
    iv2 = compute_intervals(pd.concat([p, c]), plant)
    assert set(iv2["source"]) == {"counter"}
    assert list(iv2["amount"]) == pytest.approx([15.0] * 4)


def test_ct_pt_ratio_worked_example() -> None:
    # Worked example: a meter on CT 200/5 and PT 10000/100 has a multiplier (倍率) of
    # 40 × 100 = 4000; a secondary-side register advance of 1.5 kWh is 6000 kWh primary.
    # Source: DL/T 448-2016 电能计量装置技术管理规程 (multiplier = CT ratio × PT ratio); the
    # plant file applies ratios at the edge so readings are primary values (docs/design.md).
    r = Ratios(ct="200/5", pt="10000/100")
    assert r.ct_factor * r.pt_factor == 4000
    t, v = _series([12.25, 12.75, 13.75])
    _, delta, _, _ = clean_counter(t, v * r.ct_factor * r.pt_factor, SeriesMeta(), EngineOptions())
    assert delta.sum() == pytest.approx(6000.0)


def test_day_boundaries_are_local(plant: Plant) -> None:
    # Shanghai is UTC+8: the local day 2023-05-02 runs 2023-05-01T16:00Z – 2023-05-02T16:00Z.
    r = counter("main-1", "e_imp_kwh", "2023-05-01T15:00", 120, 1.0)
    iv = compute_intervals(r, plant)
    days = rollup(iv, "Asia/Shanghai", "day")
    assert list(days["amount"]) == pytest.approx([60.0, 60.0])
    assert [str(d) for d in days["period_start"]] == ["2023-05-01 00:00:00+08:00", "2023-05-02 00:00:00+08:00"]
    months = rollup(iv, "Asia/Shanghai", "month")
    assert list(months["amount"]) == pytest.approx([120.0])


def test_wide_frame_to_readings() -> None:
    wide = pd.DataFrame(
        {
            "time": pd.to_datetime([0, 60_000], unit="ms", utc=True),
            "device": ["a", "a"],
            "e_imp_kwh": [1.0, 2.0],
            "p_kw": [5.0, None],
            "site": ["s", "s"],
        }
    )
    long = wide_to_long(wide)
    assert sorted(long["quantity"]) == ["e_imp_kwh", "e_imp_kwh", "p_kw"]


def test_bad_values_are_dropped_not_raised(plant: Plant) -> None:
    r = counter("main-1", "e_imp_kwh", "2023-05-01T00:00", 30, 10.0)
    r["value"] = r["value"].astype(object)
    r.loc[3, "value"] = "garbage"
    r.loc[4, "value"] = float("nan")
    unknown = pd.DataFrame({"time": r["time"], "device": "nope", "quantity": "e_imp_kwh", "value": 1.0})
    iv = compute_intervals(pd.concat([r, unknown]), plant)
    assert set(iv["device"]) == {"main-1"}
    assert iv["amount"].sum() == pytest.approx(300.0)
