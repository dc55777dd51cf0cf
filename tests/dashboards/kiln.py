"""Fill InfluxDB with a simulated clinker line's figures as metering writes them, for the carbon dashboard tests.

The kiln line of simulators/kiln.py (plant `cem-t`, one emission unit `kiln-1`, ground truth),
January 2026 days 1..19, seen from "now" = 20 January 12:00 local: those days are closed, as the
live direct-emissions service would have written them. Its readings go through the real
producers: metering/direct accounts the days from the readings and the lab book and writes the
`direct` points (`metering.direct.influx.write_accounts`); the metering engine computes energy and
emissions of the same period (`metering.service.compute_period`) and writes them
(`metering.io.write_results`). A fixed past month: nothing depends on today's date.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from metering.carbon.factor_registry import load_registry
from metering.direct.accounting import Accounts, Dataset, account
from metering.direct.config import carbon_config
from metering.direct.influx import write_accounts
from metering.direct.lab import parse_lab
from metering.direct.stocks import parse_stocks
from metering.io import write_results
from metering.service import Context, compute_period
from plantcarbon_core.influx import InfluxTarget
from plantcarbon_core.plant import Plant, load_plant
from simulators.kiln import KilnLine, simulate, write_files

FIRST, LAST = dt.date(2026, 1, 1), dt.date(2026, 1, 19)


@dataclass
class Kiln:
    plant: Plant
    line: KilnLine
    accounts: Accounts  # what metering/direct computed and wrote
    now: dt.datetime


def fill_kiln(target: InfluxTarget, folder: Path) -> Kiln:
    line = simulate(FIRST, LAST)
    paths = write_files(line, folder)
    plant = load_plant(paths["plant.yaml"])
    cfg, method = carbon_config(plant)
    readings = line.readings()
    ds = Dataset(
        plant,
        cfg,
        method,
        readings=readings,
        lab=parse_lab(paths["lab.csv"], cfg, method),
        stocks=parse_stocks(paths["stocks.csv"], cfg),
        registry=load_registry(),
    )
    acc = account(ds, FIRST, LAST)
    tz = plant.site.timezone
    write_accounts(target, acc, plant.site.id, tz)
    start = pd.Timestamp(FIRST).tz_localize(tz).tz_convert("UTC")
    end = pd.Timestamp(LAST + dt.timedelta(days=1)).tz_localize(tz).tz_convert("UTC")
    result = compute_period(Context.load(plant), readings, start, end)
    write_results(target, result.energy, result.emissions)
    now = pd.Timestamp("2026-01-20T12:00").tz_localize(tz).to_pydatetime()
    return Kiln(plant, line, acc, now)
