"""Intensity per unit of product: energy, tce and CO2 per tonne per local period, against benchmark and baseline levels.

Benchmarks and baselines are data files (YAML, `metering/carbon/intensity_benchmarks/*.yaml`, plus user
files). Bad input: a file that does not fit the model raises `ValueError` whose lines name
the file, the item and the field; nothing is guessed.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from metering.carbon.emissions import Result
from metering.carbon.factor_registry import Source
from plantcarbon_core import datafile
from plantcarbon_core.plant import Plant

BENCHMARK_DIR = Path(__file__).with_name("intensity_benchmarks")
Metric = Literal["tce_kg_per_t", "kwh_per_t", "co2e_kg_per_t"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Benchmark(_Model):
    """Levels of one intensity metric for one product, best (lowest) first, e.g. advanced ≤ new plant ≤ limit."""

    id: str
    product: str  # matches a production device's id or area, or "*" for the site's whole output
    metric: Metric
    levels: dict[str, float] = Field(min_length=1)  # name → upper bound of the metric
    source: Source


class Baseline(_Model):
    """The site's own reference intensity (e.g. last year's average), to track improvement."""

    id: str
    product: str
    metric: Metric
    value: float = Field(gt=0)
    period: str  # what it was measured over, e.g. "2024"
    note: str | None = None


class BenchmarkFile(_Model):
    benchmarks: list[Benchmark] = []
    baselines: list[Baseline] = []


def load_benchmark_file(path: str | Path) -> BenchmarkFile:
    return datafile.load(path, BenchmarkFile, expect="benchmarks and baselines")


@cache
def shipped_benchmarks() -> BenchmarkFile:
    bench: list[Benchmark] = []
    base: list[Baseline] = []
    for p in sorted(BENCHMARK_DIR.glob("*.yaml")):
        f = load_benchmark_file(p)
        bench += f.benchmarks
        base += f.baselines
    return BenchmarkFile(benchmarks=bench, baselines=base)


def intensity(
    result: Result, plant: Plant, period: Literal["day", "month"] = "day", product: str = "*"
) -> pd.DataFrame:
    """Per local period: output (t), electricity (kWh), tce (kg), CO2e (kg, location-based) and their ratios per tonne.

    Site totals use `role: main` rows only (sub-meters never add to the total). `product`: the
    tonnes of the production meters whose id or area it names (a benchmark's product: clinker
    energy against clinker tonnes, not raw meal + clinker + cement); "*" the site's whole
    output. Periods without output have NaN intensities.
    """
    freq = {"day": "D", "month": "M"}[period]
    tz = plant.site.timezone

    def by_period(df: pd.DataFrame, value: str) -> pd.Series:
        if df.empty:
            return pd.Series(dtype=np.float64)
        local = df["interval_start"].dt.tz_convert(tz).dt.tz_localize(None).dt.to_period(freq).dt.start_time
        return df[value].groupby(local.to_numpy()).sum()

    e = result.energy
    main = e[e["role"] == "main"]
    if product == "*":
        made = main[main["carrier"] == "production"]
    else:
        ids = {d.id for d in plant.devices if d.carrier == "production" and product in (d.id, d.area)}
        made = e[(e["carrier"] == "production") & e["device"].astype(str).isin(ids)]
    output = by_period(made, "amount")
    kwh = by_period(main[(main["carrier"] == "electricity") & (main["quantity"] != "e_exp_kwh")], "amount")
    tce = by_period(main[main["carrier"] != "production"], "tce_kg")
    em = result.emissions
    em_main = em[(em["role"] == "main") & (em["method"].astype(str) != "market")]
    co2e = by_period(em_main, "co2e_kg")
    out = pd.DataFrame({"output_t": output, "kwh": kwh, "tce_kg": tce, "co2e_kg": co2e}).fillna(
        {"kwh": 0.0, "tce_kg": 0.0, "co2e_kg": 0.0}
    )
    t = out["output_t"].where(out["output_t"] > 0)
    out["kwh_per_t"] = out["kwh"] / t
    out["tce_kg_per_t"] = out["tce_kg"] / t
    out["co2e_kg_per_t"] = out["co2e_kg"] / t
    out.index = pd.DatetimeIndex(out.index).tz_localize(tz, ambiguous="NaT", nonexistent="shift_forward")
    out.index.name = "period_start"
    return out.reset_index()


def rate(table: pd.DataFrame, benchmarks: BenchmarkFile, product: str = "*") -> pd.DataFrame:
    """Adds, per benchmark and baseline for `product`, the best level met (or 'above all levels') and % vs baseline."""
    out = table.copy()
    for b in benchmarks.benchmarks:
        if b.product not in (product, "*"):
            continue
        levels = sorted(b.levels.items(), key=lambda kv: kv[1])
        values = out[b.metric].to_numpy()
        met = np.full(len(out), "above all levels", dtype=object)
        for name, bound in reversed(levels):
            # Compared at the standard's precision: 118.0000000001 meets a bound of 118.
            met = np.where(values <= bound * (1 + 1e-9), name, met)
        out[f"{b.id}"] = np.where(np.isnan(values), "", met)
    for base in benchmarks.baselines:
        if base.product not in (product, "*"):
            continue
        out[f"{base.id}_pct"] = (out[base.metric] / base.value - 1.0) * 100.0
    return out
