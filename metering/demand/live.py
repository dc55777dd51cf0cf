"""The live demand step: each minute, forecast the running block of the site and of each main meter and write it.

`live_step(target, plant, now)` reads the last 30 minutes of 1-minute power from `raw`, computes
the running block's forecast, pre-alarm and load to shed, the latest sliding demand and (at a
block end) the finished block's demand, and writes them to the `demand` measurement. `now` is
passed in (the CLI uses the wall clock) so the step is reproducible in tests.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from metering.demand.calc import WINDOW_MIN, block_demand, forecast_block, sliding_demand
from metering.demand.io import demand_lines, read_power_1m, write_demand
from plantcarbon_core import schema as sc
from plantcarbon_core.influx import InfluxTarget
from plantcarbon_core.plant import Plant

SITE_DEVICE = sc.SITE_TOTAL_DEVICE  # the `device` tag of site-level demand points


@dataclass(frozen=True)
class LiveDemand:
    device: str
    now: pd.Timestamp
    forecast_kw: float
    sliding_kw: float
    limit_kw: float | None
    prealarm: bool
    shed_kw: float


def live_step(target: InfluxTarget, plant: Plant, now: pd.Timestamp, write: bool = True) -> list[LiveDemand]:
    """One minute of live demand for the site (Σ main electricity meters) and each main meter."""
    end = pd.Timestamp(now).floor("1min")
    start = end - pd.Timedelta(minutes=2 * WINDOW_MIN)
    mains = [d.id for d in plant.main_meters() if d.carrier == "electricity" and d.source is not None]
    series = {m: read_power_1m(target, plant.site.id, m, start, end) for m in mains}
    if mains:
        frame = pd.concat(series.values(), axis=1)
        series[SITE_DEVICE] = frame.sum(axis=1, min_count=len(mains))
    limit = plant.contract.demand_limit_kw
    margin = plant.contract.prealarm_margin_pct
    out: list[LiveDemand] = []
    lines: list[str] = []
    block_start = end.floor(f"{WINDOW_MIN}min")
    for device, power in series.items():
        power = power.dropna()
        seen = power[(power.index >= block_start) & (power.index < end)]
        buf = seen.reindex(pd.date_range(block_start, end, freq="1min", inclusive="left")).to_numpy()
        # Only the site is compared with the contract limit; meters get a forecast without one.
        dev_limit = limit if device == SITE_DEVICE else None
        f, _, _, alarm, shed = forecast_block(
            buf, limit_kw=dev_limit if dev_limit is not None else float("inf"), margin_pct=margin
        )
        sliding = sliding_demand(power) if not power.empty else pd.DataFrame(columns=["demand_kw"])
        sl = sliding["demand_kw"].dropna()
        last_sliding = float(sl.iloc[-1]) if not sl.empty and sl.index[-1] == end else float("nan")
        fc = pd.DataFrame(
            {"forecast_kw": [f], "shed_kw": [shed if dev_limit is not None else float("nan")], "prealarm": [alarm]},
            index=pd.DatetimeIndex([end]),
        )
        block = None
        if end == block_start and not power.empty:  # a block just ended: its final demand
            done = block_demand(power)
            block = done[done.index == end]
        lines += demand_lines(
            plant.site.id, device, block=block, sliding=sliding[sliding.index == end], forecast=fc, limit_kw=dev_limit
        )
        out.append(LiveDemand(device, end, f, last_sliding, dev_limit, alarm and dev_limit is not None, shed))
    if write and lines:
        write_demand(target, lines)
    return out
