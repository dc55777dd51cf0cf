"""Metering benchmarks: engine throughput (readings/s on one core) and recompute time from a real InfluxDB.

    .venv/bin/python bench/metering_bench.py engine [--meters 250] [--days 30]
    .venv/bin/python bench/metering_bench.py recompute [--meters 250] [--days 2]

`engine` times readings → intervals → energy/tce/emissions in one process (one core).
`recompute` starts its own InfluxDB (harness), loads 1-minute counters for the meters
and days asked (`--days 365` is the whole year: ~8 min of loading), and times both kinds
of recompute into the metering bucket: `--source readings` (every raw reading → intervals
→ energy and emissions) and `--source energy` (after a factor update: the stored 15-minute
energy priced again). Shorter runs also print the time extrapolated to one year of 250
meters (linear in readings: the work is per chunk and per reading).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from metering.carbon.emissions import compute
from metering.carbon.factor_registry import load_registry
from metering.carbon.intervals import compute_intervals
from plantcarbon_core.influx import InfluxTarget
from plantcarbon_core.plant import Plant, parse_plant

YEAR_READINGS_250 = 250 * 365 * 24 * 60


def bench_plant(meters: int) -> Plant:
    lines = [
        "site: {id: bench, name: Bench, timezone: Asia/Shanghai, grid_region: cn-east}",
        "devices:",
        "  - {id: main, name: main, kind: transformer, carrier: electricity, role: main}",
    ]
    for i in range(1, meters):
        lines.append(f"  - {{id: m{i:03d}, name: m{i}, kind: motor, carrier: electricity, role: sub, parent: main}}")
    return parse_plant("\n".join(lines))


def readings(
    plant: Plant, start: pd.Timestamp, days: float, seed: int = 1, shuffled: bool = False, offset: float = 1e5
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = int(days * 24 * 60)
    t = start + pd.to_timedelta(np.arange(n), unit="min")
    frames = []
    for d in plant.devices:
        inc = rng.uniform(0.5, 2.0, n)
        inc[0] = 0
        frames.append(
            pd.DataFrame({"time": t, "device": d.id, "quantity": "e_imp_kwh", "value": offset + np.cumsum(inc)})
        )
    out = pd.concat(frames, ignore_index=True)
    # As metering.io.read_raw hands them over (GROUP BY device): label columns categorical, one
    # device after the other, each in time order. `--shuffled` times the engine's sort as well.
    if shuffled:
        out = out.sample(frac=1.0, random_state=seed, ignore_index=True)
    out["device"] = out["device"].astype("category")
    out["quantity"] = out["quantity"].astype("category")
    return out


def engine(meters: int, days: float, shuffled: bool = False) -> None:
    plant = bench_plant(meters)
    reg = load_registry()
    r = readings(plant, pd.Timestamp("2023-03-01T00:00Z"), days, shuffled=shuffled)
    compute(compute_intervals(r.head(10_000), plant), plant, reg)  # warm caches (registry, profiles)
    best: dict[str, float] = {}
    for _ in range(3):
        w0, c0 = time.perf_counter(), time.process_time()
        iv = compute_intervals(r, plant)
        w1, c1 = time.perf_counter(), time.process_time()
        res = compute(iv, plant, reg)
        w2, c2 = time.perf_counter(), time.process_time()
        for k, v in (("iv_wall", w1 - w0), ("iv_cpu", c1 - c0), ("all_wall", w2 - w0), ("all_cpu", c2 - c0)):
            best[k] = min(best.get(k, float("inf")), v)
    n = len(r)
    order = "shuffled rows" if shuffled else "grouped by device"
    print(f"engine: {meters} meters × {days:g} days of 1-minute counters = {n:,} readings, {order} (best of 3)")
    for label, k in (("intervals only", "iv"), ("intervals + energy/tce/CO2", "all")):
        cpu, wall = best[f"{k}_cpu"], best[f"{k}_wall"]
        print(
            f"  {label:<28} CPU {cpu:6.2f} s → {n / cpu / 1e6:5.2f} M readings/s per core"
            f"   (wall {wall:6.2f} s → {n / wall / 1e6:5.2f} M/s)"
        )
    print(f"  output: {len(res.energy):,} energy rows, {len(res.emissions):,} emissions rows")


def load_raw(target: InfluxTarget, plant: Plant, start: pd.Timestamp, days: float, step_days: float = 5.0) -> int:
    """Write 1-minute counters for the plant's meters into the raw bucket, a few days at a time (bounded memory)."""
    from plantcarbon_core.influx import write_lines

    n, d0 = 0, 0.0
    while d0 < days:
        span = min(step_days, days - d0)
        r = readings(plant, start + pd.Timedelta(days=d0), span, seed=int(d0) + 1, offset=_offset(plant, d0))
        ms = (r["time"] - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(milliseconds=1)
        lines = (
            "electricity,device="
            + r["device"].astype(str)
            + ",site=bench e_imp_kwh="
            + r["value"].map(repr)
            + " "
            + ms.astype(str)
        ).tolist()
        for i in range(0, len(lines), 100_000):
            write_lines(target, target.raw_bucket, lines[i : i + 100_000])
        n += len(lines)
        d0 += span
    return n


def _offset(plant: Plant, d0: float) -> float:
    # Counters keep growing across loading steps (at most 2 kWh a minute): start each step above the last.
    return 1e5 + d0 * 24 * 60 * 2.0


WHAT = {"readings": "raw readings → energy + emissions", "energy": "stored energy → tce + emissions"}


WHAT = {"readings": "raw readings → energy + emissions", "energy": "stored energy → tce + emissions"}


def recompute_bench(meters: int, days: float) -> None:
    from harness.influxdb import start_influxdb
    from metering.service import Context, recompute

    plant = bench_plant(meters)
    start = pd.Timestamp("2023-01-01T00:00Z")
    end = start + pd.Timedelta(days=days)
    ctx = Context(plant, load_registry(), [])
    with tempfile.TemporaryDirectory() as tmp:
        server = start_influxdb(Path(tmp))
        try:
            target = server.fresh_target()
            t0 = time.perf_counter()
            n = load_raw(target, plant, start, days)
            t_load = time.perf_counter() - t0
            print(f"recompute: {meters} meters × {days:g} days of 1-minute data = {n:,} readings in InfluxDB")
            print(f"  loading raw (not part of the figure): {t_load:.1f} s")
            for source in ("readings", "energy"):
                phases: dict[str, float] = {}
                t0 = time.perf_counter()
                points, _ = recompute(ctx, target, start, end, source=source, timings=phases)
                dt = time.perf_counter() - t0
                rate = f"{n / dt / 1e3:.0f} k readings/s"
                print(f"  --source {source:<8} ({WHAT[source]}): {dt:.1f} s, {points:,} points written, {rate}")
                print("    phases (wall s, overlapped): " + ", ".join(f"{k} {v:.1f}" for k, v in phases.items()))
                if n < YEAR_READINGS_250:
                    print(
                        f"    extrapolated to 1 year × 250 meters ({YEAR_READINGS_250 / 1e6:.0f} M readings): "
                        f"{YEAR_READINGS_250 / n * dt / 60:.1f} min (goal: under 3 min)"
                    )
        finally:
            server.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=["engine", "recompute"])
    ap.add_argument("--meters", type=int, default=250)
    ap.add_argument("--days", type=float, default=None)
    ap.add_argument("--shuffled", action="store_true", help="engine: rows in random order (times the sort too)")
    a = ap.parse_args()
    if a.what == "engine":
        engine(a.meters, a.days or 30, a.shuffled)
    else:
        recompute_bench(a.meters, a.days or 2)


if __name__ == "__main__":
    main()
