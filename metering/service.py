"""Metering composition root: one period end to end, recompute in chunks, and the continuous service loop.

The continuous loop never crashes on bad data: a factor it cannot find, a query that
fails or a write that is refused is counted, logged once per kind, and retried on the
next cycle (intervals stay dirty until they are written).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from metering.carbon.emissions import Result, compute, internal_devices, tce_and_co2
from metering.carbon.factor_registry import Registry, plant_registry
from metering.carbon.green_power import GreenContract, load_green_power
from metering.carbon.intervals import INTERVAL_S, EngineOptions, compute_intervals
from metering.io import delete_emissions, interval_counts, read_energy, read_raw, write_results
from metering.tariffs import TariffError, TariffFile, fill_tou_cost, load_tariff
from plantcarbon_core.influx import InfluxTarget
from plantcarbon_core.liveness import Liveness
from plantcarbon_core.plant import Plant

log = logging.getLogger("plantcarbon.metering")

# Readings this far outside a window are read too, so that its boundaries can be interpolated.
PAD = pd.Timedelta(hours=1)
STEP = pd.Timedelta(seconds=INTERVAL_S)


@dataclass
class Context:
    """What every computation needs besides readings: the plant, its factors and green power."""

    plant: Plant
    registry: Registry
    green: list[GreenContract]
    options: EngineOptions = field(default_factory=EngineOptions)
    tariff: TariffFile | None = None  # fills `tou` and `cost` on electricity energy rows
    problems: list[str] = field(default_factory=list)  # set-up problems that do not stop metering

    @classmethod
    def load(cls, plant: Plant, plant_dir: Path | None = None, data_dir: Path | None = None) -> Context:
        """`data_dir`: where the API keeps user factor files (`factors/`) and tariff files (`tariffs/`)."""
        reg = plant_registry(plant.metering.factor_files, plant_dir, data_dir)
        green: list[GreenContract] = []
        if plant.metering.green_power_file:
            p = Path(plant.metering.green_power_file)
            green = load_green_power(plant_dir / p if plant_dir is not None and not p.is_absolute() else p)
        tariff, problems = None, []
        if plant.contract.tariff:
            try:
                extra = (data_dir / "tariffs",) if data_dir is not None else ()
                tariff = load_tariff(plant.contract.tariff, extra)
            except TariffError as exc:  # metering goes on; cost stays empty and the reason is reported
                problems.append(f"tariff: {exc}")
        return cls(plant, reg, green, tariff=tariff, problems=problems)


def floor_interval(ts: pd.Timestamp) -> pd.Timestamp:
    return pd.Timestamp(ts).tz_convert("UTC").floor(f"{INTERVAL_S}s")


def compute_period(ctx: Context, readings: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> Result:
    """Readings (which should extend PAD beyond the period) → energy and emissions for [start, end)."""
    iv = compute_intervals(readings, ctx.plant, start=start, end=end, options=ctx.options)
    res = compute(iv, ctx.plant, ctx.registry, ctx.green)
    if ctx.tariff is not None and not res.energy.empty:
        energy = res.energy.assign(tou=res.energy["tou"].astype(object))
        try:
            res.energy = fill_tou_cost(energy, ctx.tariff, ctx.plant.site.timezone)
        except TariffError as exc:  # e.g. no tariff version in effect: energy is written without cost
            res.problems.append(f"tariff: {exc}")
    res.problems.extend(ctx.problems)
    return res


SOURCES = ("readings", "energy")


def reprice_period(ctx: Context, energy: pd.DataFrame) -> Result:
    """Stored energy rows → emissions at today's factors, and the energy rows whose tce changed.

    Only `tce_kg` of an energy row depends on factors; rows where it is unchanged are left
    out (nothing to rewrite). Cost and tou stay as stored.
    """
    stored = energy["tce_kg"].to_numpy(dtype=np.float64, na_value=np.nan, copy=True)
    res = tce_and_co2(energy, ctx.plant, ctx.registry, ctx.green)
    new = res.energy["tce_kg"].to_numpy(dtype=np.float64, na_value=np.nan)
    same = np.isclose(new, stored, rtol=1e-12, atol=0.0) | (np.isnan(new) & np.isnan(stored))
    res.energy = res.energy[~same].reset_index(drop=True)
    res.problems.extend(ctx.problems)
    return res


def recompute(
    ctx: Context,
    target: InfluxTarget,
    start: pd.Timestamp,
    end: pd.Timestamp,
    *,
    source: str = "readings",
    chunk: pd.Timedelta | None = None,
    progress: Callable[[int], None] | None = None,
    timings: dict[str, float] | None = None,
) -> tuple[int, list[str]]:
    """Recompute [start, end) into the metering bucket, chunk by chunk.

    `source="readings"` derives everything again from the raw bucket (after late data, a
    plant-file or engine change); `source="energy"` prices the interval energy already in the
    metering bucket again (after a factor update): it rewrites `tce_kg` and the emissions and
    reads 15-minute rows instead of every reading.

    Idempotent: the same readings and factors give the same points, and a point is identified
    by measurement, tags and time, so writing it again overwrites it. Emissions points of
    internal transfers (which an older plant file may have priced as purchased) are deleted
    first: no point of theirs may stay to be counted twice. Returns (points, problems);
    `timings`, when given, accumulates wall seconds per phase (read, compute, write).
    """
    if source not in SOURCES:
        raise ValueError(f"recompute: source must be one of {SOURCES}, got {source!r}")
    if chunk is None:  # a day of readings; a week of 15-minute rows (fewer, larger requests)
        chunk = pd.Timedelta(days=1) if source == "readings" else pd.Timedelta(days=7)
    clock = timings if timings is not None else {}
    start, end = floor_interval(start), floor_interval(end)
    internal = internal_devices(ctx.plant)
    if internal and end > start:
        delete_emissions(target, ctx.plant.site.id, sorted(internal), start, end)
    chunks: list[tuple[pd.Timestamp, pd.Timestamp]] = []
    t = start
    while t < end:
        chunks.append((t, min(t + chunk, end)))
        t = chunks[-1][1]
    points = 0
    problems: dict[str, None] = {}

    def read(span: tuple[pd.Timestamp, pd.Timestamp]) -> tuple[pd.DataFrame, float]:
        t0 = time.perf_counter()
        if source == "energy":
            data = read_energy(target, ctx.plant, span[0], span[1])
        else:
            data = read_raw(target, ctx.plant, span[0] - PAD, span[1] + PAD)
        return data, time.perf_counter() - t0

    def work(data: pd.DataFrame, lo: pd.Timestamp, hi: pd.Timestamp) -> Result:
        if source == "readings":
            return compute_period(ctx, data, lo, hi)
        res = reprice_period(ctx, data)
        if data.empty:  # never metered: there is nothing to price again
            res.problems.append(
                f"no energy stored for {lo:%Y-%m-%d %H:%M}Z–{hi:%Y-%m-%d %H:%M}Z: use --source readings"
            )
        return res

    def write(res: Result) -> tuple[int, float]:
        t0 = time.perf_counter()
        fields = ("tce_kg",) if source == "energy" else None
        return write_results(target, res.energy, res.emissions, energy_fields=fields), time.perf_counter() - t0

    # A three-stage pipeline: the next chunk is read and the previous one written while this
    # one is computed. InfluxDB does the reading and writing, so they overlap with our CPU work.
    with ThreadPoolExecutor(max_workers=2) as pool:
        pending_read: Future[tuple[pd.DataFrame, float]] | None = pool.submit(read, chunks[0]) if chunks else None
        pending_write: Future[tuple[int, float]] | None = None
        for i, (lo, hi) in enumerate(chunks):
            assert pending_read is not None
            data, dt_read = pending_read.result()
            pending_read = pool.submit(read, chunks[i + 1]) if i + 1 < len(chunks) else None
            t0 = time.perf_counter()
            res = work(data, lo, hi)
            dt_compute = time.perf_counter() - t0
            if pending_write is not None:
                n, dt_write = pending_write.result()
                points += n
                clock["write"] = clock.get("write", 0.0) + dt_write
            pending_write = pool.submit(write, res)
            clock["read"] = clock.get("read", 0.0) + dt_read
            clock["compute"] = clock.get("compute", 0.0) + dt_compute
            problems.update(dict.fromkeys(res.problems))
            if progress is not None:
                progress(int((hi - lo) / STEP))
        if pending_write is not None:
            n, dt_write = pending_write.result()
            points += n
            clock["write"] = clock.get("write", 0.0) + dt_write
    return points, list(problems)


@dataclass
class ContinuousMetering:
    """Closes each interval `lateness_s` after its end and recomputes intervals that got late data.

    Each cycle counts the raw values per device and interval over `horizon`; an interval is
    dirty when its count differs from the count it was last computed with (new, or late data
    arrived). Dirty intervals and their neighbours (whose boundary interpolation a late
    sample also moves) are recomputed and rewritten.
    """

    ctx: Context
    target: InfluxTarget
    horizon: pd.Timedelta = field(default_factory=lambda: pd.Timedelta(days=2))
    seen: dict[tuple[str, pd.Timestamp], int] = field(default_factory=dict)
    written: set[pd.Timestamp] = field(default_factory=set)
    errors: dict[str, int] = field(default_factory=dict)
    points: int = 0

    def closed_end(self, now: pd.Timestamp) -> pd.Timestamp:
        return floor_interval(now - pd.Timedelta(seconds=self.ctx.plant.metering.lateness_s))

    def cycle(self, now: pd.Timestamp | None = None) -> list[pd.Timestamp]:
        """One pass; returns the interval starts it (re)wrote."""
        now = pd.Timestamp.now(tz="UTC") if now is None else pd.Timestamp(now)
        end = self.closed_end(now)
        start = end - self.horizon
        try:
            counts = interval_counts(self.target, self.ctx.plant, start, end)
        except Exception as exc:  # the database may be down: try again next cycle
            self._error("count query failed", exc)
            return []
        dirty: set[pd.Timestamp] = set()
        for key, n in counts.items():
            if self.seen.get(key) != n:
                dirty.update({key[1] - STEP, key[1], key[1] + STEP})
        if counts:
            # Every interval between the first and last with data, including whole intervals
            # inside an outage (they get an estimate spread across the gap).
            first = min(ts for _, ts in counts)
            last = max(ts for _, ts in counts)
            span = set(pd.date_range(first, last, freq=STEP))
            dirty.update(ts for ts in span if ts not in self.written)
            dirty &= span
        dirty = {ts for ts in dirty if start <= ts < end}
        if not dirty:
            return []
        done: list[pd.Timestamp] = []
        for lo, hi in _runs(sorted(dirty)):
            try:
                readings = read_raw(self.target, self.ctx.plant, lo - PAD, hi + PAD)
                res = compute_period(self.ctx, readings, lo, hi)
                self.points += write_results(self.target, res.energy, res.emissions)
            except Exception as exc:
                self._error("recompute failed", exc)
                continue
            for p in res.problems:
                self._error("factor", p)
            t = lo
            while t < hi:
                done.append(t)
                self.written.add(t)
                t += STEP
        for key, n in counts.items():
            if key[1] in self.written:
                self.seen[key] = n
        return done

    def _error(self, kind: str, exc: object) -> None:
        key = f"{kind}: {exc}"
        if key not in self.errors:
            log.warning("%s", key)
        self.errors[key] = self.errors.get(key, 0) + 1

    def run(
        self, poll_s: float = 30.0, stop: Callable[[], bool] = lambda: False, liveness: Liveness | None = None
    ) -> None:
        """Cycle every `poll_s` until `stop()`; `liveness` hears of each finished cycle ("cycle")."""
        while not stop():
            if liveness is not None:
                liveness.beat("cycle")
            written = self.cycle()
            if written:
                log.info("wrote %d interval(s) up to %s", len(written), max(written))
            time.sleep(poll_s)


def _runs(starts: list[pd.Timestamp]) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """Sorted interval starts → contiguous [lo, hi) ranges."""
    out: list[tuple[pd.Timestamp, pd.Timestamp]] = []
    for ts in starts:
        if out and out[-1][1] == ts:
            out[-1] = (out[-1][0], ts + STEP)
        else:
            out.append((ts, ts + STEP))
    return out
