"""Time-of-use tariff files: the pydantic model, the loader and its located errors.

A tariff file is YAML: an id, the customer class, and a list of versions, each with an
`effective_from` date, the season → band → clock-period table, optional overlays (sharp
peak in summer afternoons, deep valley on holidays) and the prices (explicit per band, or a
flat base price times the official ratios). Versions never overlap: a price change is a new
version, so a cost computed for a past interval never changes.

Bad input: a file that is unreadable, not YAML, or YAML that breaks the model (unknown keys,
a bad clock period, a day not covered exactly once by the base periods, a band without a
price, versions out of order) raises `TariffFileError` whose lines read
`cn-js.yaml: versions[0].seasons[1]: months 3 appear in two seasons`. Nothing is half-loaded.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from plantcarbon_core import datafile
from plantcarbon_core.datafile import DataFileError

Band = Literal["sharp", "peak", "flat", "valley", "deep_valley"]
BANDS: tuple[Band, ...] = ("sharp", "peak", "flat", "valley", "deep_valley")
DayType = Literal["workday", "weekend", "holiday"]
DAY_TYPES: tuple[DayType, ...] = ("workday", "weekend", "holiday")

_PERIOD = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")
ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,80}$")


def parse_period(text: str) -> tuple[int, int]:
    """'22:00-02:00' → (1320, 120) minutes of the day; an end before the start wraps past midnight."""
    m = _PERIOD.match(text.strip())
    if not m:
        raise ValueError(f"clock period must look like '08:00-11:30', got {text!r}")
    h1, m1, h2, m2 = (int(g) for g in m.groups())
    if h1 > 23 or m1 > 59 or h2 > 24 or m2 > 59 or (h2 == 24 and m2 != 0):
        raise ValueError(f"clock period has an impossible time, got {text!r}")
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if start == end % 1440:
        raise ValueError(f"clock period is empty, got {text!r}")
    return start, end


def period_minutes(text: str) -> list[int]:
    """The minutes of the day [start, end) a clock period covers, wrapping past midnight."""
    start, end = parse_period(text)
    if end > start:
        return list(range(start, end))
    return list(range(start, 1440)) + list(range(0, end))


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Source(_Model):
    document: str  # the official document number or title, e.g. 苏发改价格发〔2025〕426号
    title: str | None = None
    url: str | None = None
    note: str | None = None


class Season(_Model):
    name: str
    months: list[int] = Field(min_length=1)
    # Band → clock periods; together they must cover each minute of the day exactly once.
    periods: dict[Band, list[str]]
    # Optional per-season ratios (e.g. Anhui's higher peak ratio in Jan, Jul-Sep, Dec).
    ratios: dict[Band, float] | None = None

    @field_validator("months")
    @classmethod
    def _months(cls, v: list[int]) -> list[int]:
        bad = [m for m in v if not 1 <= m <= 12]
        if bad:
            raise ValueError(f"months must be 1..12, got {bad}")
        return v

    @model_validator(mode="after")
    def _cover(self) -> Season:
        seen: dict[int, str] = {}
        for band, periods in self.periods.items():
            for p in periods:
                for minute in period_minutes(p):
                    if minute in seen:
                        at = f"{minute // 60:02d}:{minute % 60:02d}"
                        raise ValueError(f"season {self.name!r}: {band} {p} overlaps {seen[minute]} at {at}")
                    seen[minute] = f"{band} {p}"
        if len(seen) != 1440:
            gap = min(set(range(1440)) - set(seen))
            raise ValueError(f"season {self.name!r}: periods leave {gap // 60:02d}:{gap % 60:02d} uncovered")
        return self


class Overlay(_Model):
    """A band that replaces the base band on some months, day types or dates (sharp peak, deep valley)."""

    band: Band
    periods: list[str] = Field(min_length=1)
    months: list[int] | None = None  # None: every month
    days: list[DayType] | None = None  # None: every day type
    # Only holidays in a block of at least this many days (e.g. Anhui's deep valley: 3-day+ holidays).
    min_holiday_days: int | None = Field(default=None, ge=1)
    note: str | None = None

    @field_validator("periods")
    @classmethod
    def _periods(cls, v: list[str]) -> list[str]:
        for p in v:
            parse_period(p)
        return v


class Version(_Model):
    effective_from: dt.date
    source: Source
    seasons: list[Season] = Field(min_length=1)
    overlays: list[Overlay] = []
    # Either explicit prices per band (currency per kWh) …
    prices: dict[Band, float] | None = None
    # … or a flat base price times ratios (the official documents give ratios to the flat price).
    flat_price: float | None = Field(default=None, gt=0)
    ratios: dict[Band, float] | None = None
    # The part of the price that does not float with the band (transmission, funds and surcharges
    # under most provincial rules since 2021): price = flat_price × ratio + fixed_adder.
    fixed_adder: float = Field(default=0.0, ge=0)
    price_note: str | None = None
    # Two-part tariff basic charge (for the demand charge), currency per kW-month / kVA-month.
    demand_price_kw_month: float | None = Field(default=None, gt=0)
    capacity_price_kva_month: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _checks(self) -> Version:
        months: dict[int, str] = {}
        for s in self.seasons:
            for m in s.months:
                if m in months:
                    raise ValueError(f"month {m} appears in seasons {months[m]!r} and {s.name!r}")
                months[m] = s.name
        missing = sorted(set(range(1, 13)) - set(months))
        if missing:
            raise ValueError(f"months {missing} are in no season")
        if self.prices is None and (self.flat_price is None or self.ratios is None):
            raise ValueError("give either prices per band, or flat_price and ratios")
        if self.prices is not None and (self.flat_price is not None or self.ratios is not None or self.fixed_adder):
            raise ValueError("give prices per band, or flat_price and ratios (and fixed_adder), not both")
        used: set[str] = {o.band for o in self.overlays}
        for s in self.seasons:
            used |= set(s.periods)
        for band in sorted(used):
            if self.prices is not None:
                if band not in self.prices:
                    raise ValueError(f"band {band!r} is used but has no price")
            else:
                if not any(band in (s.ratios or {}) for s in self.seasons) and band not in (self.ratios or {}):
                    raise ValueError(f"band {band!r} is used but has no ratio")
        return self

    def price_of(self, band: str, month: int) -> float:
        """Price per kWh of a band in a month (season ratios override the version's ratios)."""
        if self.prices is not None:
            return self.prices[band]  # type: ignore[index]
        assert self.flat_price is not None and self.ratios is not None
        season = self.season_of(month)
        ratios = {**self.ratios, **(season.ratios or {})}
        return self.flat_price * ratios[band] + self.fixed_adder  # type: ignore[index]

    def season_of(self, month: int) -> Season:
        for s in self.seasons:
            if month in s.months:
                return s
        raise KeyError(month)


class TariffFile(_Model):
    id: str
    name: str
    region: str
    customer_class: str
    currency: str = "CNY"
    energy_unit: str = "kWh"
    # Holiday calendar id (metering/tariffs/calendars/<id>.yaml) for the `holiday` day type.
    calendar: str | None = "cn"
    versions: list[Version] = Field(min_length=1)

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not ID_PATTERN.match(v):
            raise ValueError(f"must match {ID_PATTERN.pattern}, got {v!r}")
        return v

    @model_validator(mode="after")
    def _order(self) -> TariffFile:
        dates = [v.effective_from for v in self.versions]
        if dates != sorted(dates) or len(set(dates)) != len(dates):
            raise ValueError(f"versions must be in strictly increasing effective_from order, got {dates}")
        return self

    def version_at(self, day: dt.date) -> Version:
        chosen = None
        for v in self.versions:
            if v.effective_from <= day:
                chosen = v
        if chosen is None:
            raise TariffError(
                f"tariff {self.id!r} has no version in effect on {day} (first: {self.versions[0].effective_from})"
            )
        return chosen


class Calendar(_Model):
    """Statutory holidays and the weekend days worked instead (调休), from the State Council's notices."""

    id: str
    name: str
    sources: list[Source] = []
    holidays: list[dt.date] = []
    workdays: list[dt.date] = []  # Saturdays/Sundays that are working days

    def holiday_length(self, day: dt.date) -> int:
        """Length in days of the run of consecutive holidays that holds `day` (0 if not a holiday)."""
        hol = self._holidays
        if day not in hol:
            return 0
        n, d = 1, day - dt.timedelta(days=1)
        while d in hol:
            n, d = n + 1, d - dt.timedelta(days=1)
        d = day + dt.timedelta(days=1)
        while d in hol:
            n, d = n + 1, d + dt.timedelta(days=1)
        return n

    def day_type(self, day: dt.date) -> DayType:
        if day in self._holidays:
            return "holiday"
        if day in self._workdays:
            return "workday"
        return "weekend" if day.weekday() >= 5 else "workday"

    @property
    def _holidays(self) -> frozenset[dt.date]:
        return frozenset(self.holidays)

    @property
    def _workdays(self) -> frozenset[dt.date]:
        return frozenset(self.workdays)


class TariffError(ValueError):
    """A tariff that cannot be applied (no version in effect, unknown id)."""


# Tariff and calendar file errors are the one data-file error (plantcarbon_core/datafile.py); old name kept.
TariffFileError = DataFileError


def load_tariff_file(path: str | Path) -> TariffFile:
    return datafile.load(path, TariffFile, expect="id, name and versions")


def load_calendar_file(path: str | Path) -> Calendar:
    return datafile.load(path, Calendar, expect="id and holidays")
