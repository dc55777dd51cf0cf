"""Properties of the interval engine (hypothesis): totals are conserved, splits and recomputes change nothing."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metering.carbon.emissions import compute
from metering.carbon.factor_registry import load_registry
from metering.carbon.intervals import compute_intervals, rollup
from plantcarbon_core.plant import parse_plant
from tests.metering.conftest import PLANT_YAML

PLANT = parse_plant(PLANT_YAML)
REG = load_registry()
T0 = pd.Timestamp("2023-03-01T00:00Z")

# Irregular sampling (5–240 s steps, so some steps cross boundaries) and increments that
# include idle periods; counters start anywhere.
steps = st.lists(st.integers(min_value=5, max_value=240), min_size=2, max_size=120)
increments = st.lists(st.floats(min_value=0, max_value=20, allow_nan=False), min_size=2, max_size=120)


def _readings(step_list: list[int], inc: list[float], first: float) -> pd.DataFrame:
    n = min(len(step_list), len(inc))
    t = T0 + pd.to_timedelta(np.concatenate(([0], np.cumsum(step_list[: n - 1]))), unit="s")
    v = first + np.concatenate(([0.0], np.cumsum(inc[: n - 1])))
    return pd.DataFrame({"time": t, "device": "kiln-1", "quantity": "e_imp_kwh", "value": v})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps, increments, st.floats(min_value=0, max_value=1e6))
def test_sum_of_intervals_equals_total_delta(step_list: list[int], inc: list[float], first: float) -> None:
    r = _readings(step_list, inc, first)
    iv = compute_intervals(r, PLANT)
    total = r["value"].iloc[-1] - r["value"].iloc[0]
    # Spikes are rejected by design; with increments ≤ 20 per step and the median-rate rule a
    # step is only a spike if it is 50× the typical rate — allow for that explicitly.
    if "spike" not in ",".join(iv["events"]):
        assert np.isclose(iv["amount"].sum(), total, rtol=1e-9, atol=1e-6)
    assert (iv["amount"] >= -1e-9).all()
    assert ((iv["completeness"] >= 0) & (iv["completeness"] <= 1)).all()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps, increments, st.integers(min_value=1, max_value=10))
def test_splitting_a_period_never_changes_totals(step_list: list[int], inc: list[float], cut_q: int) -> None:
    r = _readings(step_list, inc, 100.0)
    whole = compute_intervals(r, PLANT)
    if whole.empty:
        return
    cut = T0 + pd.Timedelta(minutes=15 * cut_q)
    end = whole["interval_start"].max() + pd.Timedelta(minutes=15)
    a = compute_intervals(r, PLANT, end=cut)
    b = compute_intervals(r, PLANT, start=cut, end=end)
    assert np.isclose(a["amount"].sum() + b["amount"].sum(), whole["amount"].sum(), rtol=1e-9, atol=1e-6)
    # And reading only a padded window around the second part gives the same per-interval amounts.
    lo, hi = cut - pd.Timedelta(hours=1), end + pd.Timedelta(hours=1)
    windowed = compute_intervals(r[(r["time"] >= lo) & (r["time"] < hi)], PLANT, start=cut, end=end)
    merged = b.merge(windowed, on="interval_start", suffixes=("", "_w"))
    if "spike" not in ",".join(whole["events"]):
        assert np.allclose(merged["amount"], merged["amount_w"], rtol=1e-9, atol=1e-6)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps, increments)
def test_recompute_is_idempotent(step_list: list[int], inc: list[float]) -> None:
    r = _readings(step_list, inc, 5.0)
    first = compute(compute_intervals(r, PLANT), PLANT, REG)
    again = compute(compute_intervals(r.sample(frac=1.0, random_state=1), PLANT), PLANT, REG)
    pd.testing.assert_frame_equal(first.energy, again.energy)
    pd.testing.assert_frame_equal(first.emissions, again.emissions)


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=0, max_value=4 * 24 * 60), st.sampled_from(["Asia/Shanghai", "UTC", "America/New_York"]))
def test_local_day_boundaries(offset_q: int, tz: str) -> None:
    # One interval anywhere in 2023 (including DST changes in New York) lands in the local
    # day that contains its start.
    start = pd.Timestamp("2023-01-01T00:00Z") + pd.Timedelta(minutes=15 * offset_q)
    r = pd.DataFrame(
        {
            "time": [start, start + pd.Timedelta(minutes=15)],
            "device": "kiln-1",
            "quantity": "e_imp_kwh",
            "value": [0.0, 7.0],
        }
    )
    iv = compute_intervals(r, PLANT)
    day = rollup(iv, tz, "day")
    assert len(day) == 1
    local = start.tz_convert(tz)
    assert day["period_start"].iloc[0] == local.normalize()
    assert day["amount"].iloc[0] == 7.0
