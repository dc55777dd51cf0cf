"""Interval engine: meter readings → amount per device, quantity and 15-minute interval (pure pandas/numpy).

Input is a *readings* frame in long form, one row per sample value:

    time (UTC, tz-aware) · device · quantity · value

Output is an *interval* frame, one row per device, quantity and interval (`INTERVAL_COLUMNS`):

    site · device · area · carrier · role · quantity · interval_start (UTC, tz-aware) ·
    amount · unit · source (counter|gauge) · status (measured|estimated|partial) ·
    estimated (bool) · completeness (0..1) · events

How cumulative counters become interval amounts: the accepted per-sample deltas make a
corrected counter C(t) that only grows; C is linearly interpolated at the interval
boundaries and the interval amount is the difference. Σ intervals therefore equals the
total delta exactly, and a gap is spread linearly across the intervals it spans (the
estimate), which are marked `estimated`.

Bad input this module expects, and what it does with it (it never raises on data):
- duplicate timestamps: the last value wins;
- a transient bad read (one sample that dips below or jumps above both neighbours, e.g. a
  0 between 1000 and 1001): the sample is dropped, event `transient`;
- a decrease: `rollover` when the counter's modulus (the profile's `counter_max` plus one
  register step, CT/PT ratios applied: `plantcarbon_core.profile.counter_modulus`) explains it with a
  plausible step, `reset` when the counter restarted near zero (the new value is the delta),
  `replacement` when a different meter starts at an unrelated value (the step is estimated
  from the series' typical rate);
- an absurd increase (more than `spike_factor` × the typical rate, or more than twice the
  device's rated power): rejected, event `spike`, the step estimated from the typical rate;
- NaN or non-finite values: dropped.
Gauges (power, flow) are integrated (trapezoid) only for a device that has no counter of
the same quantity; their intervals have source `gauge`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache

import numpy as np
import pandas as pd

from plantcarbon_core.datafile import DataFileError
from plantcarbon_core.plant import Device, Plant
from plantcarbon_core.profile import ProfileError, counter_modulus, find_profile
from plantcarbon_core.quantities import is_counter, quantity

log = logging.getLogger(__name__)

INTERVAL_S = 900

READING_COLUMNS = ["time", "device", "quantity", "value"]
INTERVAL_COLUMNS = [
    "site",
    "device",
    "area",
    "carrier",
    "role",
    "quantity",
    "interval_start",
    "amount",
    "unit",
    "source",
    "status",
    "estimated",
    "completeness",
    "events",
]

# A gauge integrated over time stands in for this counter; factor converts value×seconds to
# the counter's unit (kW·s → kWh, Nm3/h·s → Nm3, …).
GAUGE_FOR_COUNTER: dict[str, tuple[str, float]] = {
    "p_kw": ("e_imp_kwh", 1 / 3600),
    "flow_nm3h": ("vol_nm3", 1 / 3600),
    "flow_th": ("mass_t", 1 / 3600),
    "heat_rate_gjh": ("heat_gj", 1 / 3600),
    "flow_m3h": ("vol_m3", 1 / 3600),
    "rate_th": ("output_t", 1 / 3600),
}

EVENTS = ("transient", "rollover", "reset", "replacement", "spike")
STATUSES = ("measured", "partial", "estimated")


@dataclass(frozen=True, slots=True)
class EngineOptions:
    interval_s: int = INTERVAL_S
    # A step between two samples longer than this is a gap: its amount is spread linearly
    # (estimated) and its time does not count toward completeness.
    max_gap_s: float = 300.0
    # A step larger than this many times the series' median rate is an absurd spike.
    spike_factor: float = 50.0


@dataclass(frozen=True, slots=True)
class SeriesMeta:
    """What the engine knows about one device's quantity beyond its samples."""

    counter_modulus: float | None = None  # where the counter wraps to 0 (counter_max + one step), primary units
    max_rate_per_h: float | None = None  # e.g. 2 × rated kW for a kWh counter


@dataclass(slots=True)
class SeriesResult:
    """Intervals of one series as arrays (the engine's inner, allocation-light form)."""

    starts_s: np.ndarray  # interval start, epoch seconds (int64)
    amount: np.ndarray
    good_s: np.ndarray  # seconds of the interval covered by measured steps
    est_s: np.ndarray  # seconds of the interval covered by estimated steps
    events: dict[int, set[str]] = field(default_factory=dict)  # interval index → events


# --- one series -------------------------------------------------------------------------


def clean_counter(
    t_s: np.ndarray, v: np.ndarray, meta: SeriesMeta, opts: EngineOptions
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[tuple[float, str]]]:
    """Sorted, de-duplicated counter samples → (times, per-step delta, step estimated?, events).

    `delta[i]` is the accepted amount between sample i-1 and i (delta[0] = 0).
    Events are (time, name) at the sample that revealed them.
    """
    events: list[tuple[float, str]] = []
    # Transient bad reads: one sample outside both neighbours that agree with each other.
    if len(v) >= 3:
        prev, cur, nxt = v[:-2], v[1:-1], v[2:]
        dip = (cur < prev) & (nxt >= prev)
        jump = (cur > nxt) & (nxt >= prev)
        bad = np.concatenate(([False], dip | jump, [False]))
        if bad.any():
            events.extend((float(x), "transient") for x in t_s[bad])
            t_s, v = t_s[~bad], v[~bad]
    n = len(v)
    delta = np.zeros(n)
    est = np.zeros(n, dtype=bool)
    if n < 2:
        return t_s, delta, est, events
    d = np.diff(v)
    dt = np.diff(t_s)
    ok = (d >= 0) & (dt > 0)
    rates = d[ok] / dt[ok]
    med_rate = float(np.median(rates)) if rates.size else 0.0
    limit = np.full(n - 1, np.inf)
    if med_rate > 0:
        limit = np.maximum(opts.spike_factor * med_rate * dt, 1e-9)
    if meta.max_rate_per_h is not None:
        limit = np.minimum(limit, meta.max_rate_per_h * np.maximum(dt, 1.0) / 3600.0)
    step = d.copy()
    est_step = np.zeros(n - 1, dtype=bool)
    if (d > limit).any() or (d < 0).any():
        typical = med_rate * dt
        spike = d > limit
        neg = d < 0
        cur = v[1:]
        prv = v[:-1]
        roll = np.zeros(n - 1, dtype=bool)
        if meta.counter_modulus is not None:
            wrapped = meta.counter_modulus - prv + cur
            roll = neg & (wrapped >= 0) & (wrapped <= np.minimum(limit, 0.1 * meta.counter_modulus))
            step = np.where(roll, wrapped, step)
        # A counter that restarts near zero: the new value is what was used since the reset.
        reset = neg & ~roll & (cur <= limit)
        repl = neg & ~roll & ~reset
        step = np.where(reset, cur, step)
        step = np.where(repl | spike, typical, step)
        est_step = repl | spike
        for mask, name in ((roll, "rollover"), (reset, "reset"), (repl, "replacement"), (spike, "spike")):
            if mask.any():
                events.extend((float(x), name) for x in t_s[1:][mask])
    delta[1:] = step
    est[1:] = est_step
    return t_s, delta, est, events


def integrate_gauge(t_s: np.ndarray, v: np.ndarray, per_s: float) -> np.ndarray:
    """Trapezoid integral per step (delta[0] = 0) of a non-negative gauge, in the counter's unit."""
    delta = np.zeros(len(v))
    if len(v) >= 2:
        vv = np.clip(v, 0.0, None)
        delta[1:] = (vv[1:] + vv[:-1]) * 0.5 * np.diff(t_s) * per_s
    return delta


def series_intervals(
    t_s: np.ndarray,
    delta: np.ndarray,
    est: np.ndarray,
    opts: EngineOptions,
    events: Iterable[tuple[float, str]] = (),
) -> SeriesResult:
    """Per-step deltas → amounts per interval by interpolating the corrected counter at boundaries."""
    width = opts.interval_s
    if len(t_s) < 2:
        empty = np.zeros(0)
        return SeriesResult(np.zeros(0, dtype=np.int64), empty, empty, empty)
    first = int(np.floor(t_s[0] / width)) * width
    last = int(np.ceil(t_s[-1] / width)) * width
    if last == first:
        last += width
    bounds = np.arange(first, last + 1, width, dtype=np.int64)
    cum = np.cumsum(delta)
    dt = np.diff(t_s, prepend=t_s[0])
    gap = dt > opts.max_gap_s
    good_time = np.cumsum(np.where(gap | est, 0.0, dt))
    est_time = np.cumsum(np.where(gap | est, dt, 0.0))
    bf = bounds.astype(np.float64)
    amount = np.diff(np.interp(bf, t_s, cum))
    good = np.diff(np.interp(bf, t_s, good_time))
    est_s = np.diff(np.interp(bf, t_s, est_time))
    ev: dict[int, set[str]] = {}
    for ts, name in events:
        k = min(int((ts - first) // width), len(amount) - 1)
        ev.setdefault(k, set()).add(name)
    return SeriesResult(bounds[:-1], amount, good, est_s, ev)


# --- frames -----------------------------------------------------------------------------


def series_meta(device: Device, quantity_name: str) -> SeriesMeta:
    """Counter modulus from the device's meter profile (shipped or user's); a rate ceiling from its rating."""
    modulus = None
    profile_id = getattr(device.source, "profile", None) if device.source is not None else None
    if profile_id:
        try:
            profile = find_profile(profile_id)
        except (ProfileError, DataFileError) as exc:  # costs the rollover hint, not the interval: say so once
            _warn_once(profile_id, str(exc))
        else:
            for reg in profile.registers:
                if reg.quantity == quantity_name:
                    modulus = counter_modulus(reg, ct=device.ratios.ct_factor, pt=device.ratios.pt_factor)
    max_rate = None
    if device.rated_kw is not None and quantity_name in ("e_imp_kwh", "e_exp_kwh"):
        max_rate = 2.0 * device.rated_kw
    return SeriesMeta(counter_modulus=modulus, max_rate_per_h=max_rate)


@cache
def _warn_once(profile_id: str, reason: str) -> None:
    log.warning(
        "meter profile %r: %s; its counters get no rollover detection (a wrap reads as a reset)", profile_id, reason
    )


_EPOCH = pd.Timestamp(0, tz="UTC")


def epoch_seconds(times: pd.Series) -> np.ndarray:
    """tz-aware timestamps → float epoch seconds, whatever the frame's datetime resolution."""
    if times.empty:
        return np.zeros(0)
    return ((times - _EPOCH) / pd.Timedelta(seconds=1)).to_numpy(dtype=np.float64)


def wide_to_long(frame: pd.DataFrame, quantities: Iterable[str] | None = None) -> pd.DataFrame:
    """A wide frame (time, device, one column per quantity — as InfluxQL returns it) → readings."""
    cols = [c for c in (quantities or frame.columns) if c in frame.columns and c not in ("time", "device")]
    cols = [c for c in cols if _known(c)]
    if frame.empty or not cols:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in READING_COLUMNS})
    long = frame.melt(id_vars=["time", "device"], value_vars=cols, var_name="quantity", value_name="value")
    return long.dropna(subset=["value"]).reset_index(drop=True)


def _known(name: str) -> bool:
    try:
        quantity(name)
    except KeyError:
        return False
    return True


def compute_intervals(
    readings: pd.DataFrame,
    plant: Plant,
    *,
    start: pd.Timestamp | None = None,
    end: pd.Timestamp | None = None,
    options: EngineOptions | None = None,
) -> pd.DataFrame:
    """Readings (long form) → the interval frame for every known device's counters and gauges.

    Only intervals with `start <= interval_start < end` are returned when bounds are given;
    pass readings from a little before `start` to a little after `end` so the boundaries
    can be interpolated. Readings of devices not in the plant, or of quantities that are
    neither counters nor integrable gauges, are ignored.
    """
    opts = options or EngineOptions()
    missing = [c for c in READING_COLUMNS if c not in readings.columns]
    if missing:
        raise ValueError(f"readings: missing columns {missing} (need {READING_COLUMNS})")
    if readings.empty:
        return empty_intervals()
    # Work on integer codes and numpy arrays: string columns are only touched by factorize.
    dcode, dnames = pd.factorize(readings["device"], sort=False)
    qcode, qnames = pd.factorize(readings["quantity"], sort=False)
    raw_values = readings["value"]
    if not pd.api.types.is_float_dtype(raw_values.dtype):
        raw_values = pd.to_numeric(raw_values, errors="coerce")
    values = raw_values.to_numpy(dtype=np.float64, na_value=np.nan)
    times = readings["time"]
    if not isinstance(times.dtype, pd.DatetimeTZDtype):
        times = pd.to_datetime(times, utc=True)
    t_all = epoch_seconds(times)
    devices = {d.id: d for d in plant.devices}
    known_dev = np.array([str(n) in devices for n in dnames] + [False])
    ok = known_dev[dcode] & np.isfinite(values) & np.isfinite(t_all) & (qcode >= 0)
    nq = max(len(qnames), 1)
    key = dcode.astype(np.int64) * nq + qcode
    key, t_all, values = key[ok], t_all[ok], values[ok]
    # Readings straight from InfluxDB (grouped by device) already come one series at a time in
    # time order: then no sort is needed, each series is one contiguous run.
    dk, dt_ = np.diff(key), np.diff(t_all)
    runs = np.concatenate(([0], np.flatnonzero(dk) + 1)) if key.size else np.zeros(0, dtype=np.int64)
    if not (((dk != 0) | (dt_ >= 0)).all() and np.unique(key[runs]).size == runs.size):
        if (dt_ >= 0).all() and key.size and key.max() < 32_768:
            # Time-ordered with series interleaved: a stable sort by a 16-bit key is a radix
            # sort and keeps time order within each series.
            order = np.argsort(key.astype(np.int16), kind="stable")
        else:
            order = np.lexsort((t_all, key))
        key, t_all, values = key[order], t_all[order], values[order]
    cuts = np.flatnonzero(np.diff(key)) + 1
    seg_starts = np.concatenate(([0], cuts))
    seg_ends = np.concatenate((cuts, [len(key)]))
    present = {(str(dnames[k // nq]), str(qnames[k % nq])) for k in key[seg_starts]} if len(key) else set()

    out_dev: list[str] = []
    out_q: list[str] = []
    out_src: list[str] = []
    out_len: list[int] = []
    parts: list[SeriesResult] = []
    for a, b in zip(seg_starts, seg_ends, strict=True):
        k = int(key[a])
        dev_id, qname = str(dnames[k // nq]), str(qnames[k % nq])
        source = "counter"
        if is_counter(qname):
            target = qname
        elif qname in GAUGE_FOR_COUNTER:
            target, per_s = GAUGE_FOR_COUNTER[qname]
            if (dev_id, target) in present:
                continue  # the device has the counter: never integrate its gauge
            source = "gauge"
        else:
            continue
        t_s, v = t_all[a:b], values[a:b]
        # Duplicate timestamps: the last value wins.
        if len(t_s) > 1:
            keep = np.concatenate((t_s[1:] != t_s[:-1], [True]))
            if not keep.all():
                t_s, v = t_s[keep], v[keep]
        if source == "counter":
            t_s, delta, est, events = clean_counter(t_s, v, series_meta(devices[dev_id], qname), opts)
        else:
            delta, est, events = integrate_gauge(t_s, v, per_s), np.zeros(len(v), dtype=bool), []
        res = series_intervals(t_s, delta, est, opts, events)
        if res.amount.size == 0:
            continue
        parts.append(res)
        out_dev.append(dev_id)
        out_q.append(target)
        out_src.append(source)
        out_len.append(res.amount.size)
    if not parts:
        return empty_intervals()
    out = _frame(plant, parts, out_dev, out_q, out_src, out_len, opts)
    if start is not None or end is not None:
        s_ns = out["interval_start"]
        keep_rows = np.ones(len(out), dtype=bool)
        if start is not None:
            keep_rows &= (s_ns >= pd.Timestamp(start)).to_numpy()
        if end is not None:
            keep_rows &= (s_ns < pd.Timestamp(end)).to_numpy()
        out = out[keep_rows]
    return out.reset_index(drop=True)


def _cat(labels: list[str], lengths: list[int]) -> pd.Categorical:
    """Per-series labels repeated per interval, as a categorical (cheap to build, compare and group)."""
    codes, cats = pd.factorize(pd.Index(labels))
    return pd.Categorical.from_codes(np.repeat(codes, lengths), categories=pd.Index(cats))


def _frame(
    plant: Plant,
    parts: list[SeriesResult],
    dev_ids: list[str],
    qnames: list[str],
    sources: list[str],
    lengths: list[int],
    opts: EngineOptions,
) -> pd.DataFrame:
    devs = [plant.device(d) for d in dev_ids]
    amount = np.concatenate([p.amount for p in parts])
    good = np.concatenate([p.good_s for p in parts])
    est_s = np.concatenate([p.est_s for p in parts])
    starts = np.concatenate([p.starts_s for p in parts])
    completeness = np.clip(good / opts.interval_s, 0.0, 1.0)
    status_code = np.where(est_s > 1e-6, 2, np.where(completeness >= 0.999, 0, 1))
    events = np.full(len(amount), "", dtype=object)
    offset = 0
    for p in parts:
        for k, names in p.events.items():
            events[offset + k] = ",".join(sorted(names))
        offset += p.amount.size
    return pd.DataFrame(
        {
            "site": pd.Categorical.from_codes(
                np.zeros(len(amount), dtype=np.int8), categories=pd.Index([plant.site.id])
            ),
            "device": _cat(dev_ids, lengths),
            "area": _cat([d.area for d in devs], lengths),
            "carrier": _cat([d.carrier for d in devs], lengths),
            "role": _cat([d.role for d in devs], lengths),
            "quantity": _cat(qnames, lengths),
            "interval_start": pd.to_datetime(starts, unit="s", utc=True),
            "amount": amount,
            "unit": _cat([quantity(q).unit for q in qnames], lengths),
            "source": _cat(sources, lengths),
            "status": pd.Categorical.from_codes(status_code, categories=pd.Index(STATUSES)),
            "estimated": status_code == 2,
            "completeness": completeness,
            "events": events,
        }
    )


def empty_intervals() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "site": pd.Series(dtype=object),
            "device": pd.Series(dtype=object),
            "area": pd.Series(dtype=object),
            "carrier": pd.Series(dtype=object),
            "role": pd.Series(dtype=object),
            "quantity": pd.Series(dtype=object),
            "interval_start": pd.Series(dtype="datetime64[ns, UTC]"),
            "amount": pd.Series(dtype=np.float64),
            "unit": pd.Series(dtype=object),
            "source": pd.Series(dtype=object),
            "status": pd.Series(dtype=object),
            "estimated": pd.Series(dtype=bool),
            "completeness": pd.Series(dtype=np.float64),
            "events": pd.Series(dtype=object),
        }
    )


PERIODS = {"hour": "h", "day": "D", "month": "M"}


def rollup(intervals: pd.DataFrame, timezone: str, period: str) -> pd.DataFrame:
    """Sum interval amounts per device and quantity into local `hour`, `day` or `month` periods.

    Periods are in the site's local time zone (a Shanghai day runs 16:00–16:00 UTC);
    `period_start` is tz-aware local time. Completeness is the mean over the period's
    intervals that exist; `estimated` is true if any interval was.
    """
    if intervals.empty:
        return pd.DataFrame(columns=["device", "quantity", "period_start", "amount", "unit", "estimated"])
    freq = PERIODS[period]
    local = intervals["interval_start"].dt.tz_convert(timezone)
    starts = (
        local.dt.tz_localize(None)
        .dt.to_period(freq)
        .dt.start_time.dt.tz_localize(timezone, ambiguous="NaT", nonexistent="shift_forward")
    )
    grouped = intervals.assign(period_start=starts).groupby(["device", "quantity", "period_start"], sort=True)
    out = grouped.agg(
        amount=("amount", "sum"),
        unit=("unit", "first"),
        estimated=("estimated", "any"),
        completeness=("completeness", "mean"),
    )
    return out.reset_index()
