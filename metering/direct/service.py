"""Direct emissions from the live store: readings from InfluxDB `raw`, figures to `metering` (measurement `direct`)."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pandas as pd

from core.influx import InfluxTarget
from metering.direct.accounting import Accounts, Dataset, account
from metering.direct.influx import write_accounts
from metering.io import read_raw
from metering.service import PAD


def month_span(start: dt.date, end: dt.date, tz: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """UTC bounds of the whole months covering [start, end], padded so that boundary intervals interpolate."""
    first = pd.Timestamp(start.replace(day=1)).tz_localize(tz)
    last = (pd.Timestamp(end) + pd.offsets.MonthEnd(0) + pd.Timedelta(days=1)).tz_localize(tz)
    return first.tz_convert("UTC") - PAD, last.tz_convert("UTC") + PAD


def recompute_direct(ds: Dataset, target: InfluxTarget, start: dt.date, end: dt.date) -> tuple[Accounts, int]:
    """Read the weighers' and meters' readings, account [start, end] and write the daily points (idempotent)."""
    tz = ds.plant.site.timezone
    t0, t1 = month_span(start, end, tz)
    readings = read_raw(target, ds.plant, t0, t1)
    acc = account(dataclasses.replace(ds, readings=readings), start, end)
    return acc, write_accounts(target, acc, ds.plant.site.id, tz)
