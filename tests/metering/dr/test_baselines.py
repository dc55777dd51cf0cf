"""Baselines on a small synthetic day set, worked by hand: days are flat loads so every mean is checkable.

Sources of the methods: CAISO 10-in-10 with day-of adjustment (capped), PJM Manual 11 "High 4 of 5"
with symmetric additive adjustment, the similar-day average of 《江苏省电力需求响应实施细则（修订版）》,
and a production-normalised regression (IPMVP Option C); see metering/dr/baselines.py.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from metering.dr.baselines import BaselineContext, BaselineError, compute_baseline
from metering.tariffs import load_calendar

TZ = "Asia/Shanghai"
CAL = load_calendar("cn")
START = pd.Timestamp("2025-07-15 14:00", tz=TZ)  # a Tuesday
END = pd.Timestamp("2025-07-15 16:00", tz=TZ)

# Weekday loads, most recent first; 07-09 is an earlier event day and must be skipped.
WEEKDAYS = {
    "2025-07-14": 1000, "2025-07-11": 1100, "2025-07-10": 900, "2025-07-09": 400, "2025-07-08": 1200,
    "2025-07-07": 800,
}  # fmt: skip


def day_set(overrides: dict[str, float] | None = None, pre: float = 1100, during: float = 700) -> pd.Series:
    """15-minute kW from 2025-06-16 to the event day: weekdays 1000 unless listed, weekends 500;
    on the event day `pre` until the event and `during` in it."""
    idx = pd.date_range("2025-06-16", "2025-07-16", freq="15min", tz=TZ, inclusive="left")
    values = []
    loads = {**WEEKDAYS, **(overrides or {})}
    for t in idx:
        d = t.strftime("%Y-%m-%d")
        if d == "2025-07-15":
            values.append(during if START <= t < END else pre)
        elif d in loads:
            values.append(loads[d])
        else:
            values.append(500.0 if t.weekday() >= 5 else 1000.0)
    return pd.Series(values, index=idx, dtype=float)


def ctx(**kw: object) -> BaselineContext:
    return BaselineContext(tz=TZ, calendar=CAL, event_days=frozenset({dt.date(2025, 7, 9)}), **kw)  # type: ignore[arg-type]


def test_10of10_with_same_day_ratio() -> None:
    # 10 most recent weekdays without 07-09: 1000, 1100, 900, 1200, 800 and five at 1000 → mean 1000.
    # Adjustment window 10:00-13:00 (3 h ending 1 h before): event day 1100 / baseline 1000 = 1.10.
    b = compute_baseline("10of10", day_set(), START, END, ctx())
    assert dt.date(2025, 7, 9) not in b.days_used and len(b.days_used) == 10
    assert b.unadjusted_kw.tolist() == pytest.approx([1000.0] * 8)
    assert b.adjustment == pytest.approx(1.10)
    assert b.kw.tolist() == pytest.approx([1100.0] * 8)


def test_10of10_adjustment_is_capped_at_20_pct() -> None:
    b = compute_baseline("10of10", day_set(pre=1500), START, END, ctx())
    assert b.adjustment == pytest.approx(1.20)  # 1.5 capped
    assert b.kw.tolist() == pytest.approx([1200.0] * 8)
    b = compute_baseline("10of10", day_set(pre=1500), START, END, ctx(), cap=0.4)
    assert b.adjustment == pytest.approx(1.40)


def test_10of10_skips_holidays() -> None:
    # Event on Thu 2025-06-05: Mon 2025-06-02 is the Dragon Boat holiday (国办发明电〔2024〕12号), load 300.
    series = day_set({"2025-06-02": 300})
    start, end = pd.Timestamp("2025-06-05 14:00", tz=TZ), pd.Timestamp("2025-06-05 15:00", tz=TZ)
    idx = pd.date_range("2025-05-01", "2025-06-16", freq="15min", tz=TZ, inclusive="left")
    early = pd.Series([300.0 if t.strftime("%Y-%m-%d") == "2025-06-02" else (500.0 if t.weekday() >= 5 else 1000.0)
                       for t in idx], index=idx)  # fmt: skip
    b = compute_baseline("10of10", pd.concat([early, series]), start, end, ctx(), adjustment="none")
    assert dt.date(2025, 6, 2) not in b.days_used
    assert b.kw.tolist() == pytest.approx([1000.0] * 4)


def test_high_4_of_5_drops_the_lowest_day_and_adds_capped_adjustment() -> None:
    # Five most recent: 1000, 1100, 900, 1200, 800 → drop 800 → mean 1050.
    # Additive adjustment: 1100 - 1050 = +50 kW.
    b = compute_baseline("high4of5", day_set(), START, END, ctx())
    assert dt.date(2025, 7, 7) not in b.days_used and len(b.days_used) == 4
    assert b.unadjusted_kw.tolist() == pytest.approx([1050.0] * 8)
    assert b.adjustment == pytest.approx(50.0)
    assert b.kw.tolist() == pytest.approx([1100.0] * 8)
    # Event day 1500 before the event: +450 kW capped at 20 % of 1050 = 210 kW.
    b = compute_baseline("high4of5", day_set(pre=1500), START, END, ctx())
    assert b.kw.tolist() == pytest.approx([1260.0] * 8)


def test_similar_day_average_skips_outliers() -> None:
    # 5 similar workdays: 1000, 1100, 900, 1200, 800 → 1000 (all within 25 % of the median 1000).
    b = compute_baseline("similar_day", day_set(), START, END, ctx())
    assert b.kw.tolist() == pytest.approx([1000.0] * 8)
    # 07-10 at 600 kW (a breakdown, 40 % under the median) is an outlier: 07-04 (1000) replaces it.
    b = compute_baseline("similar_day", day_set({"2025-07-10": 600}), START, END, ctx())
    assert dt.date(2025, 7, 10) not in b.days_used
    assert b.kw.tolist() == pytest.approx([(1000 + 1100 + 1200 + 800 + 1000) / 5] * 8)


def test_similar_day_on_a_weekend_uses_three_non_workdays() -> None:
    start, end = pd.Timestamp("2025-07-12 14:00", tz=TZ), pd.Timestamp("2025-07-12 15:00", tz=TZ)
    b = compute_baseline("similar_day", day_set({"2025-07-06": 560}), start, end, ctx())
    assert b.days_used == [dt.date(2025, 6, 29), dt.date(2025, 7, 5), dt.date(2025, 7, 6)]
    assert b.kw.tolist() == pytest.approx([(500 + 500 + 560) / 3] * 4)


def test_regression_normalises_by_production() -> None:
    # Load = 200 + 2 × production (t/h) on every past day; production varies by day.
    idx = pd.date_range("2025-07-01", "2025-07-16", freq="15min", tz=TZ, inclusive="left")
    prod_by_day = {d: 300 + 20 * i for i, d in enumerate(sorted({t.date() for t in idx}))}
    prod = pd.Series([float(prod_by_day[t.date()]) for t in idx], index=idx)
    load = 200 + 2 * prod
    event_prod = prod_by_day[dt.date(2025, 7, 15)]
    b = compute_baseline("regression", load, START, END, ctx(production=prod))
    assert b.kw.tolist() == pytest.approx([200 + 2 * event_prod] * 8)
    with pytest.raises(BaselineError, match="production"):
        compute_baseline("regression", load, START, END, ctx())


def test_not_enough_days_is_a_clear_error() -> None:
    short = day_set()[lambda s: s.index >= pd.Timestamp("2025-07-08", tz=TZ)]
    with pytest.raises(BaselineError, match="10of10 needs 10 eligible weekdays before 2025-07-15, found 4"):
        compute_baseline("10of10", short, START, END, ctx())
    with pytest.raises(BaselineError, match="unknown baseline method"):
        compute_baseline("avg", short, START, END, ctx())
