"""Interval engine: counters → 15-minute amounts, rollover vs reset vs replacement, gaps, gauges, local periods."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from metering.carbon.intervals import (
    EngineOptions,
    SeriesMeta,
    clean_counter,
    compute_intervals,
    rollup,
    series_meta,
    wide_to_long,
)
from plantcarbon_core.plant import Plant, Ratios, parse_plant
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
    # Worked example: a 6-digit register of 1 kWh steps shows 999 999 at most, then 0: it wraps
    # at 1 000 000. Reading 999 990 then 5, the step is 1 000 000 − 999 990 + 5 = 15 kWh
    # (999 990 → 999 999 is 9, → 0 is 1, → 5 is 5), a rollover, not a reset to 5.
    # Source: counter_max is the largest reading (docs/meter-profiles.md), the modulus is
    # counter_max + one step (plantcarbon_core.profile.counter_modulus).
    t, v = _series([999_970, 999_980, 999_990, 5, 15, 25])
    _, delta, est, events = clean_counter(t, v, SeriesMeta(counter_modulus=1_000_000), EngineOptions())
    assert delta[3] == pytest.approx(15.0)
    assert delta.sum() == pytest.approx(10 + 10 + 15 + 10 + 10)
    assert [n for _, n in events] == ["rollover"]
    assert not est.any()


EM340_PLANT = """
site: {id: plant-r, name: "Rollover plant", timezone: Asia/Shanghai, grid_region: cn-east}
devices:
  - {id: m-1, name: Meter, kind: transformer, carrier: electricity, role: main, area: substation,
     source: {protocol: modbus-tcp, host: 127.0.0.1, port: 5020, unit: 1, profile: PROFILE, interval_s: 1}}
"""


def _wrap_readings(values: list[float]) -> pd.DataFrame:
    t = pd.Timestamp("2023-05-01T00:00Z") + pd.to_timedelta(np.arange(len(values)), unit="min")
    return pd.DataFrame({"time": t, "device": "m-1", "quantity": "e_imp_kwh", "value": values})


def test_rollover_of_a_0_1_kwh_register_keeps_the_last_step() -> None:
    # The Carlo Gavazzi EM340 kWh register is int32 × 0.1 kWh: its largest reading is
    # 2 147 483 647 × 0.1 = 214 748 364.7 (the profile's counter_max), the next step shows 0.
    # 214 748 300.0 → 25.4 is 214 748 364.8 − 214 748 300.0 + 25.4 = 90.2 kWh (90.1 drops a step).
    plant = parse_plant(EM340_PLANT.replace("PROFILE", "carlo-gavazzi-em340"))
    iv = compute_intervals(_wrap_readings([214_748_120.0, 214_748_210.0, 214_748_300.0, 25.4, 115.6]), plant)
    assert iv["amount"].sum() == pytest.approx(90.0 + 90.0 + 90.2 + 90.2, abs=1e-6)
    assert "rollover" in set(iv["events"])


USER_PROFILE = {
    "id": "acme-e8",
    "manufacturer": "Acme",
    "model": "E8 (8-digit display, 0.1 kWh)",
    "manual": {"title": "test", "version": "1", "table": "1"},
    "registers": [
        {"quantity": "e_imp_kwh", "address": 0, "type": "uint32", "scale": 0.1, "counter_max": 99999999.9},
    ],
}


@pytest.mark.parametrize("variable", ["PLANTCARBON_PROFILE_DIRS", "PLANTCARBON_EDGE_PROFILE_DIRS"])
def test_rollover_on_a_user_profile_meter_is_not_a_reset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    # Issue 14 case: a user profile (found by the edge in its profile folders) with counter_max
    # 99 999 999.9 on a 0.1 kWh register; 99 999 950.0 → 25.4 is 49.9 to the largest reading,
    # one 0.1 step to 0, then 25.4: 100 000 000.0 − 99 999 950.0 + 25.4 = 75.4 kWh (the issue
    # text says 75.5; its own arithmetic gives 75.4, and the old formula 75.3). Metering must
    # look the profile up where the edge does (a reset would keep only 25.4 kWh).
    (tmp_path / "acme-e8.yaml").write_text(yaml.safe_dump(USER_PROFILE), "utf-8")
    monkeypatch.setenv(variable, json.dumps([str(tmp_path)]))
    plant = parse_plant(EM340_PLANT.replace("PROFILE", "acme-e8"))
    t, v = _series([99_999_930.0, 99_999_940.0, 99_999_950.0, 25.4, 35.4])
    meta = series_meta(plant.device("m-1"), "e_imp_kwh")
    assert meta.counter_modulus == pytest.approx(100_000_000.0)
    _, delta, _, events = clean_counter(t, v, meta, EngineOptions())
    assert delta[3] == pytest.approx(75.4, abs=1e-6)
    assert [n for _, n in events] == ["rollover"]
    iv = compute_intervals(_wrap_readings([99_999_930.0, 99_999_940.0, 99_999_950.0, 25.4, 35.4]), plant)
    assert iv["amount"].sum() == pytest.approx(10 + 10 + 75.4 + 10, abs=1e-6)


def test_a_meter_with_an_unknown_profile_still_gets_intervals(caplog: pytest.LogCaptureFixture) -> None:
    plant = parse_plant(EM340_PLANT.replace("PROFILE", "no-such-meter-x"))
    with caplog.at_level("WARNING", logger="metering.carbon.intervals"):
        iv = compute_intervals(_wrap_readings([100.0, 110.0, 120.0]), plant)
    assert iv["amount"].sum() == pytest.approx(20.0)
    assert "no-such-meter-x" in caplog.text and "no rollover detection" in caplog.text


def test_reset_counts_the_new_value() -> None:
    # A meter reset mid-range: 50 000 → 3 (cleared, then 3 kWh used): the step is 3 kWh.
    t, v = _series([49_980, 49_990, 50_000, 3, 13, 23])
    _, delta, _, events = clean_counter(t, v, SeriesMeta(counter_modulus=1_000_000), EngineOptions())
    assert delta[3] == pytest.approx(3.0)
    assert [n for _, n in events] == ["reset"]


def test_replacement_is_estimated_from_the_typical_rate() -> None:
    # A new meter installed reading 20 000 where the old one read 50 000: not near zero, not a
    # rollover — the swap step is estimated from the 10 kWh/min rate and marked.
    t, v = _series([49_980, 49_990, 50_000, 20_000, 20_010, 20_020])
    _, delta, est, events = clean_counter(t, v, SeriesMeta(counter_modulus=1_000_000), EngineOptions())
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
