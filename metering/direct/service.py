"""Direct emissions from the live store: readings from InfluxDB `raw`, figures to `metering` (measurement `direct`)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Callable

import pandas as pd

from metering.direct.accounting import Accounts, Dataset, account
from metering.direct.influx import write_accounts
from metering.io import read_raw
from metering.service import PAD
from plantcarbon_core.influx import InfluxTarget


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


def carbon_devices(ds: Dataset) -> list[str]:
    """The meters direct accounts read: the materials' weighers and feeders and the units' electricity meters."""
    ids = {d for m in ds.cfg.materials.values() for d in m.devices}
    for u in ds.cfg.units:
        ids.update(u.electricity_devices, u.cement_electricity_devices)
    return sorted(ids)


def today_so_far(ds: Dataset, target: InfluxTarget, now: pd.Timestamp) -> Accounts:
    """The local day of `now` up to `now`, from the store, nothing written: for live views (the demo).

    Only the carbon block's meters are read, from an hour before local midnight so the day's
    first interval interpolates; the day's tonnes end at the last reading. Stored `direct`
    points stay for closed days (`run_live`).
    """
    tz = ds.plant.site.timezone
    day = pd.Timestamp(now).tz_convert(tz).date()
    t0 = pd.Timestamp(day).tz_localize(tz).tz_convert("UTC") - PAD
    until = pd.Timestamp(now) + pd.Timedelta(milliseconds=1)  # a reading stamped `now` included (ms precision)
    readings = read_raw(target, ds.plant, t0, until, devices=carbon_devices(ds))
    return account(dataclasses.replace(ds, readings=readings), day, day)


def due_period(now: pd.Timestamp, tz: str, lateness: pd.Timedelta) -> tuple[dt.date, dt.date]:
    """The days a live run recomputes at `now`: the month to date up to the last closed local day.

    A day is closed `lateness` after its local midnight (late readings and the edge's outbox
    drain first). On the first days of a month, before its first day has closed, the previous
    month is recomputed whole, so that its last day is written once it closes (later
    corrections to a past month: `plantcarbon carbon recompute`).
    """
    local = pd.Timestamp(now).tz_convert(tz) - lateness
    last_closed = (local.normalize() - pd.Timedelta(days=1)).date()
    return last_closed.replace(day=1), last_closed


def run_live(
    load: Callable[[], Dataset],
    target: InfluxTarget,
    *,
    every: pd.Timedelta = pd.Timedelta(hours=1),
    lateness: pd.Timedelta = pd.Timedelta(minutes=30),
    once: bool = False,
    now: Callable[[], pd.Timestamp] = lambda: pd.Timestamp.now(tz="UTC"),
    sleep: Callable[[float], None] = time.sleep,
    report: Callable[[str], None] = print,
) -> None:
    """Recompute the month to date every `every` and write it (idempotent: the same points are rewritten).

    `load` reads the plant file, lab book and stock balances again at every run, so a lab
    correction is picked up at the next run; inputs that no longer validate, or a failing
    InfluxDB, are reported and the loop goes on with the next run.
    """
    while True:
        try:
            ds = load()
            period = due_period(now(), ds.plant.site.timezone, lateness)
            acc, n = recompute_direct(ds, target, *period)
            for u in acc.units:
                report(
                    f"{u.unit.id} {period[0]}..{period[1]}: direct CO2 {u.direct_co2_t:.1f} t, "
                    f"{u.intensity:.4f} tCO2/t clinker; {n} points written"
                    + (f"; incomplete: {len(u.missing)} item(s)" if u.missing else "")
                )
        except Exception as exc:  # bad inputs or InfluxDB down: reported, retried at the next run
            report(f"direct emissions run failed: {exc}")
        if once:
            return
        sleep(every.total_seconds())
