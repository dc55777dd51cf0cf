"""Seeds a demo's InfluxDB with the simulated plant's last days before it goes live, so every view has history.

Three steps, each reporting progress: (1) the scenario's readings over [origin, now) —
15-minute samples, 1-minute samples for the last day — written to the raw bucket with
ingest's own tagging and line format (`ingest.mapping.TagBook`, `plantcarbon_core.influx.batch_lines`);
(2) the metered intervals, energy and emissions, by the metering service's `recompute`;
(3) the site's 15-minute demand of the last day by the demand engine. The live simulators
start with the same seed and `origin`, so their counters continue the history's: no reset
at the seam, and metering closes the first live interval like any other.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd

from ingest.mapping import TagBook
from plantcarbon_core import schema as sc
from plantcarbon_core.influx import InfluxTarget, batch_lines, influx_client, write_lines
from plantcarbon_core.plant import Plant
from plantcarbon_core.wire import ReadingBatch, Sample
from simulators.history import CHUNK, iter_readings
from simulators.loads import SLOT_S
from simulators.model import PlantModel
from simulators.scenario import Scenario

EDGE = "sim-history"  # the `edge` tag of seeded readings: they are told apart from live ones
WRITE_LINES = 50_000  # lines per write request
Progress = Callable[[str], None]


@dataclass(frozen=True)
class SeedPlan:
    """What to seed: [origin, until) at `coarse_s`, its last `fine_h` hours at `fine_s`."""

    origin: datetime
    until: datetime
    coarse_s: float = 900.0
    fine_s: float = 60.0
    fine_h: float = 24.0

    @classmethod
    def last_days(cls, now: datetime, days: float) -> SeedPlan:
        # The origin on the simulators' slot grid, so counters are sums of whole slots.
        ts = int((now - timedelta(days=days)).timestamp())
        return cls(datetime.fromtimestamp(ts - ts % SLOT_S, now.tzinfo), now)

    @property
    def fine_from(self) -> datetime:
        return max(self.origin, self.until - timedelta(hours=self.fine_h))


def device_lines(
    readings: pd.DataFrame, plant: Plant, edge: str = EDGE, book: TagBook | None = None
) -> Iterator[tuple[str, list[str]]]:
    """Per device, its readings as the line protocol ingest writes (bad samples carry no field, as live)."""
    book = book or TagBook.from_plants([plant])
    for device, df in readings.groupby("device", sort=False):
        info = book.lookup(plant.site.id, str(device))
        if info is None:  # the scenario and its plant file list the same devices; say so if not
            raise ValueError(f"seed: device {device!r} is not in the plant file of site {plant.site.id!r}")
        good = df[df["bad"] == ""].drop_duplicates(["ts_ms", "quantity"], keep="last")
        wide = good.pivot(index="ts_ms", columns="quantity", values="value").sort_index()
        samples = [
            Sample(int(ts), {str(k): float(v) for k, v in row.items() if v == v})
            for ts, row in zip(wide.index, wide.to_dict("records"), strict=True)
        ]
        yield str(device), batch_lines(ReadingBatch(edge, str(device), 1, samples), info.tags)


@dataclass
class RawFigures:
    """What `write_raw` did: long rows simulated, lines written, seconds simulating and writing."""

    readings: int = 0
    lines: int = 0
    simulate_s: float = 0.0
    write_s: float = 0.0


def write_raw(
    target: InfluxTarget, frames: Iterator[pd.DataFrame], plant: Plant, n_frames: int, progress: Progress
) -> RawFigures:
    """Writes the readings as they are simulated (one device-day at a time), in requests of WRITE_LINES.

    Streaming keeps the memory to a request's lines: the whole week of a 2,000-meter plant as one
    table is ~80 M rows (over 15 GB on the way to line protocol).
    """
    fig = RawFigures()
    buf: list[str] = []
    client = influx_client(target)
    book = TagBook.from_plants([plant])
    step = max(1, n_frames // 10)
    try:
        i = 0
        while True:
            t = time.monotonic()
            frame = next(frames, None)
            fig.simulate_s += time.monotonic() - t
            if frame is None:
                break
            i += 1
            fig.readings += len(frame)
            t = time.monotonic()
            for _device, dl in device_lines(frame, plant, book=book):
                buf += dl
            if len(buf) >= WRITE_LINES:
                write_lines(target, target.raw_bucket, buf, client=client)
                fig.lines += len(buf)
                buf = []
            fig.write_s += time.monotonic() - t
            if i % step == 0:
                progress(f"history: readings {100 * i // n_frames} % written")
        t = time.monotonic()
        write_lines(target, target.raw_bucket, buf, client=client)
        fig.lines += len(buf)
        fig.write_s += time.monotonic() - t
    finally:
        client.close()
    return fig


def seed(
    scenario: Scenario,
    plant: Plant,
    target: InfluxTarget,
    plan: SeedPlan,
    progress: Progress,
    seed_value: int | None = None,
) -> dict[str, float]:
    """Runs the three steps; returns their figures (readings, lines, interval points, seconds each)."""
    from metering.service import Context, recompute

    out: dict[str, float] = {}
    t0 = time.monotonic()
    progress(f"history: simulating and writing {plan.origin:%Y-%m-%d %H:%M} → {plan.until:%Y-%m-%d %H:%M} …")
    model = PlantModel(scenario, seed_value, origin=plan.origin)
    frames = iter_readings(model, plan.origin, plan.until, plan.coarse_s, plan.fine_from, plan.fine_s)
    chunks = max(1, math.ceil((plan.until - model.origin) / CHUNK))
    raw = write_raw(target, frames, plant, chunks * len(scenario.metered), progress)
    out["readings"] = float(raw.readings)
    out["lines"] = float(raw.lines)
    out["simulate_s"] = raw.simulate_s
    out["raw_write_s"] = raw.write_s
    t2 = time.monotonic()
    ctx = Context.load(plant)
    start, end = pd.Timestamp(plan.origin), pd.Timestamp(plan.until)
    days = max(1, int((end - start) / pd.Timedelta(days=1)))
    done = {"n": 0}

    def step(n: int) -> None:
        done["n"] += n
        progress(f"history: metered intervals {done['n']:,} / {int((end - start) / pd.Timedelta(minutes=15)):,}")

    points, problems = recompute(ctx, target, start, end, source="readings", progress=step)
    for p in problems[:5]:
        progress(f"history: metering warning: {p}")
    out["interval_points"] = float(points)
    out["metering_s"] = time.monotonic() - t2
    t3 = time.monotonic()
    out["demand_points"] = float(seed_demand(plant, target, pd.Timestamp(plan.fine_from), end))
    out["demand_s"] = time.monotonic() - t3
    progress(
        f"history: {days} days seeded — {out['readings']:,.0f} readings, {points:,} interval points, "
        f"in {time.monotonic() - t0:.0f} s"
    )
    return out


def seed_demand(plant: Plant, target: InfluxTarget, start: pd.Timestamp, end: pd.Timestamp) -> int:
    """The site's block and sliding demand and forecast over [start, end) from the seeded 1-minute power."""
    from metering.demand import block_demand, live_forecast, sliding_demand
    from metering.demand.io import demand_lines, read_site_power_1m, write_demand

    mains = [d.id for d in plant.main_meters() if d.carrier == "electricity"]
    if not mains:
        return 0
    power = read_site_power_1m(target, plant.site.id, mains, start, end)
    if power.empty:
        return 0
    limit = plant.contract.demand_limit_kw
    fc = None
    if limit is not None:
        fc = live_forecast(power, limit_kw=limit, margin_pct=plant.contract.prealarm_margin_pct)
    name = mains[0] if len(mains) == 1 else sc.SITE_TOTAL_DEVICE
    lines = demand_lines(
        plant.site.id, name, block=block_demand(power), sliding=sliding_demand(power), forecast=fc, limit_kw=limit
    )
    return write_demand(target, lines)
