"""DR composition: read the event's meters from InfluxDB, compute baseline, track, report, write `dr`."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from metering.demand.io import read_power_1m
from metering.dr.baselines import Baseline, BaselineContext, compute_baseline
from metering.dr.events import DrEvent
from metering.dr.verify import Report, dr_lines, report, track
from plantcarbon_core.influx import InfluxTarget, write_lines


def load_15min(target: InfluxTarget, site: str, meters: list[str], start: pd.Timestamp, end: pd.Timestamp) -> pd.Series:
    """Σ meters' 15-minute mean kW (index = interval start, UTC); an interval missing on any meter is NaN.

    An interval with fewer than 12 of its 15 minutes is a gap, not a low value.
    """
    parts = []
    for m in meters:
        p = read_power_1m(target, site, m, start, end)
        g = p.resample("15min", label="left", closed="left")
        mean, count = g.mean(), g.count()
        parts.append(mean.where(count >= 12))
    if not parts:
        return pd.Series(dtype=float)
    frame = pd.concat(parts, axis=1)
    return frame.sum(axis=1, min_count=len(parts))


@dataclass(frozen=True)
class Verification:
    baseline: Baseline
    tracking: pd.DataFrame
    report: Report


def verify_event(
    target: InfluxTarget,
    event: DrEvent,
    ctx: BaselineContext,
    *,
    history_days: int = 45,
    write: bool = True,
) -> Verification:
    start, end = pd.Timestamp(event.start), pd.Timestamp(event.end)
    day_start = start.tz_convert(ctx.tz).normalize()
    load = load_15min(target, event.site, event.meters, day_start - pd.Timedelta(days=history_days), end)
    params = dict(event.programme.baseline_params)
    b = compute_baseline(event.programme.baseline, load, start, end, ctx, **params)
    t = track(event, b.kw, load)
    rep = report(event, t, b.method)
    if write:
        write_lines(target, target.metering_bucket, dr_lines(event, t))
    return Verification(b, t, rep)
