"""DR baselines: what the load would have been without the event, per 15-minute interval.

Pluggable: `BASELINES[name](load, event_start, event_end, ctx, **params)`; each method takes a
Series of 15-minute mean kW (tz-aware index, labelled by interval START, holding the days
before the event and the event day) and returns a `Baseline`. Methods and sources:

- `10of10` — the mean of the 10 most recent eligible weekdays, with a same-day (day-of)
  adjustment: a ratio of the event day's load to the baseline over an adjustment window
  (default the 3 hours ending 1 hour before the event), capped at ±20 %. As described for
  CAISO's 10-in-10 baseline with day-of adjustment (CAISO Business Practice Manual for
  Demand Response; EnerNOC, "The Demand Response Baseline", 2009/2011).
- `high4of5` — of the 5 most recent eligible weekdays, drop the one with the lowest mean load
  over the event hours and average the other 4; symmetric additive same-day adjustment over
  the same window, capped. PJM's Customer Baseline Load (PJM Manual 11, Economic Load
  Response, "High 4 of 5" with symmetric additive adjustment).
- `similar_day` — the similar-day average of Chinese provincial programmes: the mean load
  curve of the N most recent days of the same kind (workdays: 5, non-workdays: 3), skipping
  event days and outlier days whose mean over the event hours is more than `outlier_pct`
  (25 %) from the candidates' median; no adjustment. 《江苏省电力需求响应实施细则（修订版）》
  (江苏省经济和信息化委员会, 2018) bases verification on such a similar-day average load.
- `regression` — production-normalised: for each interval of the day, an ordinary least-squares
  fit load = a + b × production over the eligible days, applied to the event day's
  production (IPMVP Option C / ASHRAE Guideline 14 style regression baseline).

Eligible days are before the event day, of the right kind, not event days (`ctx.event_days`),
not holidays (`ctx.calendar`), and complete over the slots the method needs. A method that
cannot find enough days raises `BaselineError` saying how many it found.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from metering.tariffs.model import Calendar

SLOT = pd.Timedelta(minutes=15)


class BaselineError(ValueError):
    """Not enough eligible history for a baseline method."""


@dataclass(frozen=True)
class BaselineContext:
    tz: str
    calendar: Calendar = field(default_factory=lambda: Calendar(id="none", name="weekends only"))
    event_days: frozenset[dt.date] = frozenset()
    production: pd.Series | None = None  # 15-minute production (e.g. t per interval), for `regression`
    lookback_days: int = 60


@dataclass(frozen=True)
class Baseline:
    method: str
    kw: pd.Series  # adjusted baseline per event interval (index = interval start, tz-aware)
    unadjusted_kw: pd.Series
    adjustment: float  # ratio (10of10) or kW (high4of5); 1.0 / 0.0 when none
    days_used: list[dt.date]


def _profiles(load: pd.Series, tz: str) -> pd.DataFrame:
    """Rows = local date, columns = slot of the day (0..95), values = kW."""
    s = load.astype(float)
    local = pd.DatetimeIndex(s.index).tz_convert(tz)
    frame = pd.DataFrame(
        {"date": local.date, "slot": (local.hour * 60 + local.minute) // 15, "kw": s.to_numpy()},
    )
    return frame.pivot_table(index="date", columns="slot", values="kw", aggfunc="mean")


def _event_slots(start: pd.Timestamp, end: pd.Timestamp, tz: str) -> tuple[dt.date, list[int], pd.DatetimeIndex]:
    starts = pd.date_range(start, end, freq=SLOT, inclusive="left")
    local = starts.tz_convert(tz)
    day = local[0].date()
    if (local[-1]).date() != day:
        raise BaselineError("events that cross local midnight are not supported by day-profile baselines")
    return day, list((local.hour * 60 + local.minute) // 15), starts


def _mean(prof: pd.DataFrame, d: dt.date, slots: list[int]) -> float:
    return float(np.mean(prof.loc[d].reindex(slots).to_numpy(dtype=float)))


def _is_workday(cal: Calendar, d: dt.date) -> bool:
    return cal.day_type(d) == "workday"


def _eligible(
    prof: pd.DataFrame, day: dt.date, ctx: BaselineContext, slots: list[int], *, workday: bool | None = True
) -> list[dt.date]:
    """Most recent first: days before `day` of the wanted kind, not event days, complete over `slots`."""
    out = []
    for d in sorted((d for d in prof.index if d < day), reverse=True):
        if (day - d).days > ctx.lookback_days:
            break
        if d in ctx.event_days:
            continue
        kind = ctx.calendar.day_type(d)
        if workday is True and kind != "workday":
            continue
        if workday is False and kind == "workday":
            continue
        row = prof.loc[d]
        if any(s not in row.index or pd.isna(row[s]) for s in slots):
            continue
        out.append(d)
    return out


def _adjust_window(start: pd.Timestamp, tz: str, hours: float, gap_hours: float) -> list[int]:
    local = pd.Timestamp(start).tz_convert(tz)
    end = local - pd.Timedelta(hours=gap_hours)
    begin = end - pd.Timedelta(hours=hours)
    if begin.date() != local.date():
        raise BaselineError("the same-day adjustment window starts before local midnight; use adjustment='none'")
    idx = pd.date_range(begin, end, freq=SLOT, inclusive="left")
    return list((idx.hour * 60 + idx.minute) // 15)


def _series(values: np.ndarray, index: pd.DatetimeIndex) -> pd.Series:
    return pd.Series(values.astype(float), index=index, name="baseline_kw")


def _same_day(
    prof: pd.DataFrame,
    day: dt.date,
    base_all: pd.Series,
    start: pd.Timestamp,
    ctx: BaselineContext,
    kind: str,
    cap: float,
    hours: float,
    gap_hours: float,
) -> float:
    """The adjustment: ratio (kind='ratio') or kW (kind='additive'), capped at ±cap of the baseline."""
    if kind == "none":
        return 0.0
    slots = _adjust_window(start, ctx.tz, hours, gap_hours)
    if day not in prof.index:
        raise BaselineError(f"no load on the event day {day} for the same-day adjustment")
    actual = prof.loc[day].reindex(slots)
    if actual.isna().any():
        raise BaselineError(f"the event day {day} has gaps in the same-day adjustment window")
    a = float(np.mean(actual.to_numpy(dtype=float)))
    b = float(np.mean(base_all.reindex(slots).to_numpy(dtype=float)))
    if b <= 0:
        return 1.0 if kind == "ratio" else 0.0
    if kind == "ratio":
        return float(np.clip(a / b, 1 - cap, 1 + cap))
    return float(np.clip(a - b, -cap * b, cap * b))


def ten_of_ten(
    load: pd.Series,
    start: pd.Timestamp,
    end: pd.Timestamp,
    ctx: BaselineContext,
    *,
    days: int = 10,
    adjustment: str = "ratio",
    cap: float = 0.20,
    adjust_hours: float = 3.0,
    adjust_gap_hours: float = 1.0,
) -> Baseline:
    prof = _profiles(load, ctx.tz)
    day, slots, starts = _event_slots(start, end, ctx.tz)
    need = sorted(set(slots) | set(_adjust_window(start, ctx.tz, adjust_hours, adjust_gap_hours)))
    chosen = _eligible(prof, day, ctx, need)[:days]
    if len(chosen) < days:
        raise BaselineError(f"10of10 needs {days} eligible weekdays before {day}, found {len(chosen)}")
    adjust = (adjustment, cap, adjust_hours, adjust_gap_hours)
    return _adjusted_baseline("10of10", prof, chosen, day, slots, starts, start, ctx, adjust)


def _adjusted_baseline(
    name: str,
    prof: pd.DataFrame,
    chosen: list[Any],
    day: Any,
    slots: list[int],
    starts: Any,
    start: pd.Timestamp,
    ctx: BaselineContext,
    adjust: tuple[str, float, float, float],
) -> Baseline:
    """Average the chosen days, then apply the same-day adjustment (ratio, additive or none)."""
    adjustment, cap, adjust_hours, adjust_gap_hours = adjust
    base_all = prof.loc[chosen].reindex(columns=list(range(96))).mean()
    unadj = base_all.reindex(slots).to_numpy()
    factor = _same_day(prof, day, base_all, start, ctx, adjustment, cap, adjust_hours, adjust_gap_hours)
    adj = unadj * factor if adjustment == "ratio" else unadj + (factor if adjustment == "additive" else 0.0)
    return Baseline(name, _series(adj, starts), _series(unadj, starts), factor, sorted(chosen))


def high_4_of_5(
    load: pd.Series,
    start: pd.Timestamp,
    end: pd.Timestamp,
    ctx: BaselineContext,
    *,
    adjustment: str = "additive",
    cap: float = 0.20,
    adjust_hours: float = 3.0,
    adjust_gap_hours: float = 1.0,
) -> Baseline:
    prof = _profiles(load, ctx.tz)
    day, slots, starts = _event_slots(start, end, ctx.tz)
    need = sorted(set(slots) | set(_adjust_window(start, ctx.tz, adjust_hours, adjust_gap_hours)))
    five = _eligible(prof, day, ctx, need)[:5]
    if len(five) < 5:
        raise BaselineError(f"high4of5 needs 5 eligible weekdays before {day}, found {len(five)}")
    means = {d: _mean(prof, d, slots) for d in five}
    lowest = min(five, key=lambda d: (means[d], d))
    chosen = [d for d in five if d != lowest]
    adjust = (adjustment, cap, adjust_hours, adjust_gap_hours)
    return _adjusted_baseline("high4of5", prof, chosen, day, slots, starts, start, ctx, adjust)


def similar_day(
    load: pd.Series,
    start: pd.Timestamp,
    end: pd.Timestamp,
    ctx: BaselineContext,
    *,
    workdays: int = 5,
    non_workdays: int = 3,
    outlier_pct: float = 25.0,
) -> Baseline:
    prof = _profiles(load, ctx.tz)
    day, slots, starts = _event_slots(start, end, ctx.tz)
    is_work = _is_workday(ctx.calendar, day)
    n = workdays if is_work else non_workdays
    candidates = _eligible(prof, day, ctx, slots, workday=is_work)
    chosen: list[dt.date] = []
    if candidates:
        # The median of the first 2n candidates is the reference an outlier day is judged against.
        ref = float(np.median([_mean(prof, d, slots) for d in candidates[: 2 * n]]))
        for d in candidates:
            m = _mean(prof, d, slots)
            if ref > 0 and abs(m - ref) / ref * 100 > outlier_pct:
                continue
            chosen.append(d)
            if len(chosen) == n:
                break
    if len(chosen) < n:
        kind = "workdays" if is_work else "non-workdays"
        raise BaselineError(f"similar_day needs {n} similar {kind} before {day}, found {len(chosen)}")
    vals = prof.loc[chosen, slots].mean().to_numpy()
    return Baseline("similar_day", _series(vals, starts), _series(vals, starts), 1.0, sorted(chosen))


def regression(
    load: pd.Series,
    start: pd.Timestamp,
    end: pd.Timestamp,
    ctx: BaselineContext,
    *,
    days: int = 20,
    workday: bool | None = True,
) -> Baseline:
    if ctx.production is None:
        raise BaselineError("regression needs a production series (ctx.production)")
    prof = _profiles(load, ctx.tz)
    prod = _profiles(ctx.production, ctx.tz)
    day, slots, starts = _event_slots(start, end, ctx.tz)
    if day not in prod.index or prod.loc[day].reindex(slots).isna().any():
        raise BaselineError(f"regression needs the event day's production over the event ({day})")
    chosen = [d for d in _eligible(prof, day, ctx, slots, workday=workday) if d in prod.index][:days]
    if len(chosen) < 3:
        raise BaselineError(
            f"regression needs at least 3 eligible days with production before {day}, found {len(chosen)}"
        )
    out = []
    for s in slots:
        x = prod.reindex(index=chosen)[s].to_numpy(dtype=float)
        y = prof.reindex(index=chosen)[s].to_numpy(dtype=float)
        x_event = float(prod.reindex(index=[day])[s].to_numpy(dtype=float)[0])
        if np.ptp(x) == 0:
            out.append(float(y.mean()))  # no spread in production: the mean is the best fit
            continue
        b, a = np.polyfit(x, y, 1)
        out.append(float(a + b * x_event))
    vals = np.array(out)
    return Baseline("regression", _series(vals, starts), _series(vals, starts), 1.0, sorted(chosen))


BaselineFn = Callable[..., Baseline]
BASELINES: dict[str, BaselineFn] = {
    "10of10": ten_of_ten,
    "high4of5": high_4_of_5,
    "similar_day": similar_day,
    "regression": regression,
}


def compute_baseline(
    method: str, load: pd.Series, start: pd.Timestamp, end: pd.Timestamp, ctx: BaselineContext, **params: Any
) -> Baseline:
    fn = BASELINES.get(method)
    if fn is None:
        raise BaselineError(f"unknown baseline method {method!r}; known: {', '.join(BASELINES)}")
    return fn(load, pd.Timestamp(start), pd.Timestamp(end), ctx, **params)
