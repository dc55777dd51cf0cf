"""Apply a TOU tariff: band and price for each interval start, and cost per interval per device or site.

Pure pandas: timestamps in, DataFrames out. An interval is priced by the band in force at its
start (local time); Chinese TOU periods begin on the hour or half hour, so a 15-minute
interval never straddles two bands. The version used is the one in effect on the interval's
local date, so a later price change never rewrites a past cost.
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from metering.tariffs.model import (
    BANDS,
    Calendar,
    TariffError,
    TariffFile,
    TariffFileError,
    Version,
    load_calendar_file,
    load_tariff_file,
    period_minutes,
)
from plantcarbon_core.datafile import Problem

FILES_DIR = Path(__file__).with_name("files")
CALENDARS_DIR = Path(__file__).with_name("calendars")


def builtin_tariff_paths() -> list[Path]:
    return sorted(FILES_DIR.glob("*.yaml"))


@cache
def _builtin_index() -> dict[str, Path]:
    out: dict[str, Path] = {}
    for p in builtin_tariff_paths():
        out[p.stem] = p
    return out


def load_tariff(tariff_id: str, extra_dirs: tuple[Path, ...] = ()) -> TariffFile:
    """A tariff by id: `<dir>/<id>.yaml` in the extra dirs first (user overrides), then the built-in files."""
    for d in extra_dirs:
        p = Path(d) / f"{tariff_id}.yaml"
        if p.exists():
            return _checked(load_tariff_file(p), p)
    path = _builtin_index().get(tariff_id)
    if path is None:
        known = ", ".join(sorted(_builtin_index())) or "none"
        raise TariffError(f"no tariff {tariff_id!r} (built-in: {known})")
    return _checked(load_tariff_file(path), path)


def _checked(t: TariffFile, path: Path) -> TariffFile:
    if t.id != path.stem:
        raise TariffFileError([Problem(path.name, f"must equal the file name {path.stem!r}, got {t.id!r}", field="id")])
    return t


@cache
def load_calendar(calendar_id: str) -> Calendar:
    path = CALENDARS_DIR / f"{calendar_id}.yaml"
    if not path.exists():
        raise TariffError(f"no holiday calendar {calendar_id!r} in {CALENDARS_DIR}")
    return load_calendar_file(path)


def _no_holidays() -> Calendar:
    return Calendar(id="none", name="weekends only")


def band_table(version: Version, month: int, day_type: str, holiday_days: int = 0) -> np.ndarray:
    """1440 band names (one per minute of the day) for a month and day type, overlays applied.

    `holiday_days` is the length of the holiday run the day belongs to (0 on other days).
    """
    season = version.season_of(month)
    table = np.empty(1440, dtype=object)
    for band, periods in season.periods.items():
        for p in periods:
            table[period_minutes(p)] = band
    for o in version.overlays:
        if o.months is not None and month not in o.months:
            continue
        if o.days is not None and day_type not in o.days:
            continue
        if o.min_holiday_days is not None and holiday_days < o.min_holiday_days:
            continue
        for p in o.periods:
            table[period_minutes(p)] = o.band
    return table


def classify(
    tariff: TariffFile, starts: pd.DatetimeIndex, tz: str | ZoneInfo, calendar: Calendar | None = None
) -> pd.DataFrame:
    """Band, price and version for each interval start.

    `starts` must be tz-aware (UTC or any zone); days, months and clock periods are taken in
    `tz`, the site's zone. Returns a DataFrame on the same index with columns `tou` (band),
    `price` (currency per kWh), `version` (the effective_from date of the version used) and
    `day_type`. Raises TariffError when a start falls before the tariff's first version.
    """
    if starts.tz is None:
        raise TariffError("interval starts must be tz-aware timestamps")
    cal = calendar if calendar is not None else (load_calendar(tariff.calendar) if tariff.calendar else _no_holidays())
    local = starts.tz_convert(tz)
    dates = pd.Series(local.date, index=starts)
    minutes = np.asarray(local.hour * 60 + local.minute)
    months = np.asarray(local.month)
    uniq = sorted(set(dates))
    day_info = {d: (tariff.version_at(d), cal.day_type(d), cal.holiday_length(d)) for d in uniq}
    tou = np.empty(len(starts), dtype=object)
    price = np.empty(len(starts), dtype=float)
    version = np.empty(len(starts), dtype=object)
    day_type = np.empty(len(starts), dtype=object)
    tables: dict[tuple[dt.date, int, str, int], np.ndarray] = {}
    date_arr = dates.to_numpy()
    for d in uniq:
        v, kind, hol_len = day_info[d]
        mask = date_arr == d
        month = int(months[mask][0])
        key = (v.effective_from, month, kind, hol_len)
        if key not in tables:
            tables[key] = band_table(v, month, kind, hol_len)
        bands = tables[key][minutes[mask]]
        tou[mask] = bands
        price[mask] = [v.price_of(b, month) for b in bands]
        version[mask] = v.effective_from.isoformat()
        day_type[mask] = kind
    return pd.DataFrame({"tou": tou, "price": price, "version": version, "day_type": day_type}, index=starts)


def interval_cost(
    tariff: TariffFile,
    energy: pd.DataFrame,
    tz: str | ZoneInfo,
    *,
    time_col: str = "time",
    kwh_col: str = "kwh",
    calendar: Calendar | None = None,
) -> pd.DataFrame:
    """Add `tou`, `price`, `cost`, `version` to interval energy rows (one row per interval per device).

    `energy` has a tz-aware `time_col` holding each interval's start and the interval's energy in
    `kwh_col`; any other columns (device, site, …) are kept. Rows with missing energy get no cost
    (NaN), never zero. This is the function the interval engine calls to fill the `energy`
    measurement's `tou` tag and `cost` field.
    """
    if energy.empty:
        return energy.assign(tou=pd.Series(dtype=object), price=pd.Series(dtype=float), cost=pd.Series(dtype=float))
    starts = pd.DatetimeIndex(energy[time_col])
    c = classify(tariff, starts, tz, calendar)
    out = energy.copy()
    out["tou"] = c["tou"].to_numpy()
    out["price"] = c["price"].to_numpy()
    out["version"] = c["version"].to_numpy()
    out["cost"] = out[kwh_col].astype(float) * out["price"]
    return out


def cost_summary(costed: pd.DataFrame, by: list[str] | None = None) -> pd.DataFrame:
    """Energy and cost per band (and per `by` columns, e.g. device), with a total row per group."""
    keys = [*(by or []), "tou"]
    g = costed.groupby(keys, dropna=False)[["kwh", "cost"]].sum().reset_index()
    order = {b: i for i, b in enumerate(BANDS)}
    return g.sort_values([*(by or []), "tou"], key=lambda s: s.map(order) if s.name == "tou" else s).reset_index(
        drop=True
    )


def fill_tou_cost(
    energy: pd.DataFrame,
    tariff: TariffFile | None,
    tz: str | ZoneInfo,
    *,
    time_col: str = "interval_start",
    amount_col: str = "amount",
    carrier_col: str = "carrier",
    unit_col: str = "unit",
) -> pd.DataFrame:
    """Fill `tou` and `cost` on interval energy rows shaped like the interval engine's ENERGY_COLUMNS.

    Only electricity rows in kWh are priced; other rows keep their `tou`/`cost` untouched. With no
    tariff (the plant names none) the frame is returned as it is. Rows with NaN energy stay NaN.
    """
    if tariff is None or energy.empty:
        return energy
    out = energy.copy()
    mask = (out[carrier_col] == "electricity") & (out[unit_col] == "kWh")
    if not mask.any():
        return out
    sel = out.loc[mask]
    costed = interval_cost(tariff, sel, tz, time_col=time_col, kwh_col=amount_col)
    out.loc[mask, "tou"] = costed["tou"].to_numpy()
    out.loc[mask, "cost"] = costed["cost"].to_numpy()
    return out
