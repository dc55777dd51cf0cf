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
from simulators.history import generate
from simulators.loads import SLOT_S
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


def device_lines(readings: pd.DataFrame, plant: Plant, edge: str = EDGE) -> Iterator[tuple[str, list[str]]]:
    """Per device, its readings as the line protocol ingest writes (bad samples carry no field, as live)."""
    book = TagBook.from_plants([plant])
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


def write_raw(target: InfluxTarget, lines: Iterator[tuple[str, list[str]]], n_devices: int, progress: Progress) -> int:
    """Writes every device's lines in requests of WRITE_LINES; returns the lines written."""
    total = 0
    buf: list[str] = []
    client = influx_client(target)
    try:
        for i, (_device, dl) in enumerate(lines, 1):
            buf += dl
            if len(buf) >= WRITE_LINES:
                write_lines(target, target.raw_bucket, buf, client=client)
                total += len(buf)
                buf = []
            if i % max(1, n_devices // 10) == 0 or i == n_devices:
                progress(f"history: readings of {i}/{n_devices} meters written")
        write_lines(target, target.raw_bucket, buf, client=client)
        total += len(buf)
    finally:
        client.close()
    return total


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
    progress(f"history: simulating {plan.origin:%Y-%m-%d %H:%M} → {plan.until:%Y-%m-%d %H:%M} …")
    h = generate(
        scenario,
        plan.origin,
        plan.until,
        plan.coarse_s,
        seed_value,
        fine_from=plan.fine_from,
        fine_step_s=plan.fine_s,
        with_truth=False,
    )
    out["readings"] = float(len(h.readings))
    out["simulate_s"] = time.monotonic() - t0
    t1 = time.monotonic()
    n_dev = int(h.readings["device"].nunique()) if not h.readings.empty else 0
    out["lines"] = float(write_raw(target, device_lines(h.readings, plant), n_dev, progress))
    out["raw_write_s"] = time.monotonic() - t1
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
