"""15-minute demand from 1-minute power: fixed blocks, a sliding window, month maxima, live forecast.

Pure pandas. Input is a Series of 1-minute mean active power (kW) on a tz-aware index, each
value labelled with the START of its minute (as InfluxQL `GROUP BY time(1m)` labels it).
Demand is the mean power over a window, i.e. the window's energy divided by its length.

Every demand value is labelled with the END of its window, as meters record the time of a
demand; so the fixed block 10:00–10:15 and the sliding window 10:00–10:15 are both at 10:15
and are equal there by definition. `method` says which kind a figure is:
- `block`: fixed 15-minute blocks aligned to the clock (:00, :15, :30, :45), the billing
  intervals of most Chinese utility demand meters and of interval energy;
- `sliding`: a 15-minute window that slides every minute (滑差 demand), which many
  electronic meters use for the maximum demand register; its maximum is ≥ the block maximum.

Bad input: minutes with no sample are gaps, not zeros. A window is only given a demand when at
least `min_coverage` of its minutes have samples; its `coverage` column says how many did.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from plantcarbon_core.plant import prealarm_threshold_kw

WINDOW_MIN = 15


def _minute_series(power_kw: pd.Series) -> pd.Series:
    if not isinstance(power_kw.index, pd.DatetimeIndex) or power_kw.index.tz is None:
        raise ValueError("power must be a Series on a tz-aware DatetimeIndex")
    s = power_kw.astype(float).sort_index()
    s = s[~s.index.duplicated(keep="last")]
    # One value per minute start; missing minutes stay NaN (gaps, not zeros).
    return s.resample("1min").mean()


def block_demand(power_kw: pd.Series, window_min: int = WINDOW_MIN, min_coverage: float = 0.8) -> pd.DataFrame:
    """Fixed-block demand: columns demand_kw, energy_kwh, coverage; index = block END; method = block."""
    s = _minute_series(power_kw)
    g = s.resample(f"{window_min}min", label="right", closed="left")
    mean = g.mean()
    count = g.count()
    coverage = count / window_min
    demand = mean.where(coverage >= min_coverage)
    out = pd.DataFrame(
        {
            "demand_kw": demand,
            "energy_kwh": demand * window_min / 60.0,
            "coverage": coverage,
        }
    )
    out["method"] = "block"
    out.index.name = "time"
    return out


def sliding_demand(power_kw: pd.Series, window_min: int = WINDOW_MIN, min_coverage: float = 0.8) -> pd.DataFrame:
    """Sliding-window demand every minute: columns demand_kw, coverage; index = window END; method = sliding."""
    s = _minute_series(power_kw)
    roll = s.rolling(window_min, min_periods=1)
    mean = roll.mean()
    count = roll.count()
    coverage = count / window_min
    # The value at minute-start t covers minutes t-14 … t, so the window ends at t + 1 min.
    demand = mean.where(coverage >= min_coverage)
    # The first window_min-1 minutes have no full window behind them.
    demand.iloc[: window_min - 1] = np.nan
    out = pd.DataFrame({"demand_kw": demand, "coverage": coverage})
    out.index = out.index + pd.Timedelta(minutes=1)
    out["method"] = "sliding"
    out.index.name = "time"
    return out


def month_max(demand: pd.DataFrame, tz: str) -> pd.DataFrame:
    """Maximum demand per local calendar month and when it happened (window end, local time).

    A window is attributed to the month in which it ends … except a window ending exactly at
    midnight on the 1st, which belongs to the month it ran in; so the month key is taken one
    nanosecond before the window end.
    """
    d = demand.dropna(subset=["demand_kw"])
    if d.empty:
        return pd.DataFrame(columns=["month", "max_kw", "at", "method"])
    local_end = pd.DatetimeIndex(d.index).tz_convert(tz)
    key = (local_end - pd.Timedelta(1, "ns")).strftime("%Y-%m")
    rows = []
    for month, grp in d.groupby(key):
        pos = int(np.argmax(grp["demand_kw"].to_numpy()))
        at = pd.DatetimeIndex(grp.index)[pos]
        rows.append(
            {
                "month": month,
                "max_kw": float(grp["demand_kw"].iloc[pos]),
                "at": at.tz_convert(tz),
                "method": str(grp["method"].iloc[0]) if "method" in grp else "",
            }
        )
    return pd.DataFrame(rows)


@dataclass(frozen=True, slots=True)
class Forecast:
    """The running block's forecast at one moment."""

    now: pd.Timestamp
    window_end: pd.Timestamp
    elapsed_min: int
    energy_kwh: float  # energy so far in the block
    present_kw: float  # the power assumed for the rest of the block
    forecast_kw: float  # the block's expected final demand
    threshold_kw: float  # limit × (1 − margin)
    prealarm: bool
    shed_kw: float  # power to shed for the rest of the block to end at the limit (0 if not needed)


def forecast_block(
    minutes_kw: np.ndarray,
    *,
    limit_kw: float,
    margin_pct: float,
    window_min: int = WINDOW_MIN,
    present_minutes: int = 2,
) -> tuple[float, float, float, bool, float]:
    """Forecast one running block from the minutes seen so far (NaN = missing).

    Final demand = (energy so far + present power × remaining time) / window. The present power
    is the mean of the last `present_minutes` samples, which follows a step change within one
    or two minutes without chasing single-minute noise. Missing minutes so far are filled with
    the block's mean so far. Returns (forecast_kw, present_kw, energy_kwh, prealarm, shed_kw).
    """
    seen = np.asarray(minutes_kw, dtype=float)
    n = len(seen)
    if n == 0 or np.all(np.isnan(seen)):
        return float("nan"), float("nan"), 0.0, False, 0.0
    filled = np.where(np.isnan(seen), np.nanmean(seen), seen)
    recent = seen[~np.isnan(seen)][-present_minutes:]
    present = float(recent.mean())
    remaining = window_min - n
    energy = float(filled.sum()) / 60.0
    forecast = (float(filled.sum()) + present * remaining) / window_min
    threshold = prealarm_threshold_kw(limit_kw, margin_pct)
    prealarm = forecast >= threshold
    shed = 0.0
    if forecast > limit_kw and remaining > 0:
        # Shedding S for the remaining minutes lowers the final demand by S × remaining / window.
        shed = (forecast - limit_kw) * window_min / remaining
    elif forecast > limit_kw:
        shed = float("inf")  # the block is over: too late to shed
    return forecast, present, energy, bool(prealarm), shed


def live_forecast(
    power_kw: pd.Series,
    *,
    limit_kw: float,
    margin_pct: float,
    window_min: int = WINDOW_MIN,
    present_minutes: int = 2,
) -> pd.DataFrame:
    """The forecast as it would have been made at the end of every minute of every block.

    Index = the moment of the forecast (end of the latest minute). Columns: window_end,
    elapsed_min, energy_kwh, present_kw, forecast_kw, threshold_kw, limit_kw, prealarm, shed_kw.
    The row at elapsed_min == window_min is the block's final demand.
    """
    s = _minute_series(power_kw)
    rows = []
    block_start = pd.DatetimeIndex(s.index).floor(f"{window_min}min")
    for start, grp in s.groupby(block_start):
        values = grp.to_numpy()
        offsets = ((pd.DatetimeIndex(grp.index) - pd.Timestamp(start)) / pd.Timedelta(minutes=1)).astype(int)
        buf = np.full(window_min, np.nan)
        buf[offsets] = values
        end = pd.Timestamp(start) + pd.Timedelta(minutes=window_min)
        for k in range(1, int(offsets.max()) + 2):
            f, present, energy, alarm, shed = forecast_block(
                buf[:k],
                limit_kw=limit_kw,
                margin_pct=margin_pct,
                window_min=window_min,
                present_minutes=present_minutes,
            )
            rows.append(
                {
                    "time": pd.Timestamp(start) + pd.Timedelta(minutes=k),
                    "window_end": end,
                    "elapsed_min": k,
                    "energy_kwh": energy,
                    "present_kw": present,
                    "forecast_kw": f,
                    "threshold_kw": prealarm_threshold_kw(limit_kw, margin_pct),
                    "limit_kw": limit_kw,
                    "prealarm": alarm,
                    "shed_kw": shed,
                }
            )
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    return out.set_index("time")


def prealarm_events(forecast: pd.DataFrame) -> pd.DataFrame:
    """The first pre-alarm of each block (rising edge): time, window_end, forecast_kw, shed_kw."""
    if forecast.empty:
        return forecast
    alarms = forecast[forecast["prealarm"]]
    first = alarms.groupby("window_end").head(1)
    return first[["window_end", "elapsed_min", "forecast_kw", "shed_kw"]]
