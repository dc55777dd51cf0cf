"""Direct-emissions benchmark: a year of one clinker line (1-minute weigher data, daily lab) offline and from InfluxDB.

    .venv/bin/python bench/direct_bench.py offline [--days 365]
    .venv/bin/python bench/direct_bench.py influx [--days 365]

`offline` simulates the line (simulators/kiln.py, seed 7), validates its lab book and stock
balances, and times `account` for the whole period at once and month by month (each month
with its own readings slice, as `plantcarbon carbon month` runs). `influx` starts its own
InfluxDB (harness), loads the 1-minute counters into `raw` (not part of the figure) and
times `recompute_direct` month by month (read raw → account → write `direct`). Both print the
relative error of the direct CO2 against the simulator's truth, per month and for the period.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import tempfile
import time
from pathlib import Path

import pandas as pd

from metering.carbon.factor_registry import load_registry
from metering.direct.accounting import Dataset, account
from metering.direct.config import carbon_config
from metering.direct.lab import LAB_COLUMNS, validate_lab
from metering.direct.stocks import STOCK_COLUMNS, validate_stocks
from plantcarbon_core.plant import parse_plant
from simulators.kiln import PLANT, KilnLine, simulate

START = dt.date(2026, 1, 1)


def _text(rows: list[dict[str, object]], columns: list[str]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=columns).astype(str)
    df["row"] = range(2, len(df) + 2)
    return df


def dataset(line: KilnLine, readings: pd.DataFrame | None) -> Dataset:
    plant = parse_plant(PLANT)
    cfg, method = carbon_config(plant)
    lab = validate_lab(_text(line.lab_rows, LAB_COLUMNS), cfg, method, "lab")
    stocks = validate_stocks(_text(line.stock_rows, STOCK_COLUMNS), cfg, "stocks")
    return Dataset(plant, cfg, method, readings=readings, lab=lab, stocks=stocks, registry=load_registry())


def months(line: KilnLine) -> list[tuple[dt.date, dt.date]]:
    out = []
    for m in sorted({pd.Period(d, freq="M") for d in line.days}):
        md = [d for d in line.days if pd.Period(d, freq="M") == m]
        out.append((md[0], md[-1]))
    return out


def _err(value: float, truth: float) -> str:
    return f"{(value / truth - 1) * 100:+.2e} %"


def offline(days: int) -> None:
    line = simulate(START, START + dt.timedelta(days=days - 1))
    t0 = time.perf_counter()
    readings = line.readings(step_s=60)
    print(
        f"offline: {days} days, {readings['device'].nunique()} meters at 1 minute = {len(readings):,} readings "
        f"(simulated in {time.perf_counter() - t0:.1f} s, not part of the figure)"
    )
    ds = dataset(line, readings)
    t0 = time.perf_counter()
    acc = account(ds, line.days[0], line.days[-1])
    whole = time.perf_counter() - t0
    truth = line.truth()
    u = acc.units[0]
    print(
        f"  whole period at once: {whole:.1f} s; direct CO2 {u.direct_co2_t:,.1f} t vs truth "
        f"{truth['direct_co2_t']:,.1f} t ({_err(u.direct_co2_t, truth['direct_co2_t'])})"
    )
    tz = ds.plant.site.timezone
    total, worst, spent = 0.0, 0.0, 0.0
    for a, b in months(line):
        lo = pd.Timestamp(a).tz_localize(tz).tz_convert("UTC") - pd.Timedelta(hours=1)
        hi = pd.Timestamp(b + dt.timedelta(days=1)).tz_localize(tz).tz_convert("UTC") + pd.Timedelta(hours=1)
        part = readings[(readings["time"] >= lo) & (readings["time"] <= hi)]
        t0 = time.perf_counter()
        mu = account(dataclasses.replace(ds, readings=part), a, b).units[0]
        spent += time.perf_counter() - t0
        mt = line.truth([d for d in line.days if a <= d <= b])["direct_co2_t"]
        worst = max(worst, abs(mu.direct_co2_t / mt - 1))
        total += mu.direct_co2_t
    print(
        f"  month by month ({len(months(line))} months): {spent:.1f} s in all; worst monthly relative error "
        f"{worst:.2e}; Σ months vs truth {_err(total, truth['direct_co2_t'])}"
    )


def influx(days: int) -> None:
    from harness.influxdb import start_influxdb
    from metering.direct.service import recompute_direct
    from plantcarbon_core.influx import write_lines

    line = simulate(START, START + dt.timedelta(days=days - 1))
    readings = line.readings(step_s=60)
    ds = dataset(line, None)
    tags = {
        d.id: f"{d.carrier},area={d.area},kind={d.kind},device={d.id},edge=e1,site={ds.plant.site.id}"
        for d in ds.plant.devices
    }
    ms = (readings["time"] - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(milliseconds=1)
    lines = (
        readings["device"].map(tags)
        + " "
        + readings["quantity"]
        + "="
        + readings["value"].map(repr)
        + " "
        + ms.astype(str)
    ).tolist()
    with tempfile.TemporaryDirectory() as tmp:
        server = start_influxdb(Path(tmp))
        try:
            target = server.fresh_target()
            t0 = time.perf_counter()
            for i in range(0, len(lines), 100_000):
                write_lines(target, target.raw_bucket, lines[i : i + 100_000])
            print(
                f"influx: {len(lines):,} readings loaded into raw in {time.perf_counter() - t0:.1f} s "
                "(not part of the figure)"
            )
            total, worst, spent, points = 0.0, 0.0, 0.0, 0
            for a, b in months(line):
                t0 = time.perf_counter()
                acc, n = recompute_direct(ds, target, a, b)
                spent += time.perf_counter() - t0
                points += n
                mt = line.truth([d for d in line.days if a <= d <= b])["direct_co2_t"]
                worst = max(worst, abs(acc.units[0].direct_co2_t / mt - 1))
                total += acc.units[0].direct_co2_t
            truth = line.truth()["direct_co2_t"]
            print(
                f"  recompute month by month: {spent:.1f} s for {days} days ({points:,} points written); worst "
                f"monthly relative error {worst:.2e}; Σ months vs truth {_err(total, truth)}"
            )
        finally:
            server.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=["offline", "influx"])
    ap.add_argument("--days", type=int, default=365)
    args = ap.parse_args()
    offline(args.days) if args.what == "offline" else influx(args.days)


if __name__ == "__main__":
    main()
