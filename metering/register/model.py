"""A register entry (one instrument or lab method that feeds a reported figure) and the edit an energy manager sends.

Bad input: an edit from the API or a file — unknown keys, a class that is not a class, a due date
before the last calibration, an interval out of range, over-long text. Validation raises
pydantic's ValidationError naming the field; nothing is stored.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from metering.register.accuracy import Check, Place, UserClass, check, parse_class
from metering.register.accuracy import Instrument as InstrumentKind
from plantcarbon_core.wire import ID_PATTERN

Source = Literal["device", "lab_method"]

# The fields a register entry must have for the control plan; an empty one is listed as missing.
REQUIRED = ("model", "serial", "accuracy_class", "last_calibration", "calibration_due", "certificate", "owner")


# Calibration dates a person could mean (far dates would overflow the due-date arithmetic).
EARLIEST, LATEST = dt.date(1900, 1, 1), dt.date(2199, 12, 31)


def _sane(v: dt.date | None) -> dt.date | None:
    if v is not None and not EARLIEST <= v <= LATEST:
        raise ValueError(f"must be between {EARLIEST} and {LATEST}, got {v}")
    return v


class _Edit(BaseModel):
    """Fields people keep up to date: nameplate, calibration and who owns it."""

    model_config = ConfigDict(extra="forbid")
    manufacturer: str = Field(default="", max_length=200)
    model: str = Field(default="", max_length=200)
    serial: str = Field(default="", max_length=64)
    location: str = Field(default="", max_length=200)
    accuracy_class: str = Field(default="", max_length=16, description="As printed: 0.5S, 1, 2.0, B; ±% for weighers.")
    class_source: str = Field(
        default="", max_length=300, description="Where the class comes from (datasheet, nameplate)."
    )
    user_class: UserClass | None = Field(default=None, description="Electricity user class I–V (GB 17167 table 3).")
    weighing: Literal["static", "dynamic"] | None = None
    last_calibration: dt.date | None = None
    calibration_interval_months: int | None = Field(default=None, ge=1, le=120)
    calibration_due: dt.date | None = Field(default=None, description="Empty: last calibration + interval.")
    certificate: str = Field(default="", max_length=128, description="Calibration certificate reference.")
    owner: str = Field(default="", max_length=100, description="Who answers for the data (role or person).")
    notes: str = Field(default="", max_length=2000)

    _dates_sane = field_validator("last_calibration", "calibration_due")(classmethod(lambda cls, v: _sane(v)))

    @field_validator("accuracy_class")
    @classmethod
    def _class(cls, v: str) -> str:
        parse_class(v)  # raises ValueError naming the text
        return v.strip()

    @model_validator(mode="after")
    def _dates(self) -> _Edit:
        if self.last_calibration and self.calibration_due and self.calibration_due < self.last_calibration:
            raise ValueError(
                f"calibration_due ({self.calibration_due}) is before last_calibration ({self.last_calibration})"
            )
        return self


class InstrumentEdit(BaseModel):
    """The body of PUT /api/v1/register/{id}: every field optional; the fields sent replace the stored ones."""

    model_config = ConfigDict(extra="forbid")
    manufacturer: str | None = Field(default=None, max_length=200)
    model: str | None = Field(default=None, max_length=200)
    serial: str | None = Field(default=None, max_length=64)
    location: str | None = Field(default=None, max_length=200)
    accuracy_class: str | None = Field(default=None, max_length=16, description="0.5S, 1, 2.0, B; ±% for weighers.")
    class_source: str | None = Field(default=None, max_length=300)
    user_class: UserClass | None = None
    weighing: Literal["static", "dynamic"] | None = None
    last_calibration: dt.date | None = None
    calibration_interval_months: int | None = Field(default=None, ge=1, le=120)
    calibration_due: dt.date | None = None
    certificate: str | None = Field(default=None, max_length=128)
    owner: str | None = Field(default=None, max_length=100)
    notes: str | None = Field(default=None, max_length=2000)

    _dates_sane = field_validator("last_calibration", "calibration_due")(classmethod(lambda cls, v: _sane(v)))

    @field_validator("accuracy_class")
    @classmethod
    def _class(cls, v: str | None) -> str | None:
        if v is None:
            return v
        parse_class(v)  # raises ValueError naming the text
        return v.strip()

    def changes(self) -> dict[str, Any]:
        """The fields sent (an explicit null clears a date or choice; a text field is cleared with "")."""
        out = self.model_dump(mode="json", exclude_unset=True)
        return {k: ("" if v is None and k in _TEXT else v) for k, v in out.items()}


_TEXT = (
    "manufacturer",
    "model",
    "serial",
    "location",
    "accuracy_class",
    "class_source",
    "certificate",
    "owner",
    "notes",
)


class Entry(_Edit):
    """One register entry: what the plant file says (seeded) and what people keep up to date."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=ID_PATTERN)
    site: str = Field(pattern=ID_PATTERN)
    source: Source
    device: str | None = None  # the plant file's device id, for source device
    name: str = ""
    instrument: InstrumentKind
    parameter: str = ""  # the measured parameter: quantity or material.parameter
    carrier: str | None = None
    place: Place | None = None  # GB 17167 place (None for lab methods)
    fuel: bool = False  # it meters a fuel (GB 17167's weigher rows are for fuel)
    profile: str | None = None

    def due(self) -> dt.date | None:
        """The calibration due date: as entered, else the last calibration plus the interval."""
        if self.calibration_due is not None:
            return self.calibration_due
        if self.last_calibration is not None and self.calibration_interval_months:
            return add_months(self.last_calibration, self.calibration_interval_months)
        return None

    def calibration_state(self, today: dt.date, due_within_days: int) -> str:
        """unknown (no due date) | lapsed (due before today) | due (within the window) | ok."""
        due = self.due()
        if due is None:
            return "unknown"
        days = (due - today).days
        return "lapsed" if days < 0 else "due" if days <= due_within_days else "ok"

    def gb17167(self) -> Check | None:
        """The verdict of GB 17167 table 3 for this entry at its place (None for a lab method)."""
        if self.place is None:
            return None
        return check(
            self.instrument,
            self.place,
            self.accuracy_class,
            carrier=self.carrier,
            user=self.user_class,
            weighing=self.weighing,
            fuel=self.fuel,
        )

    def missing(self) -> list[str]:
        """The control plan's fields still empty (a due date counts when the interval gives one)."""
        out = []
        for f in REQUIRED:
            if f == "calibration_due":
                if self.due() is None:
                    out.append(f)
            elif f == "serial" and self.source == "lab_method":
                continue  # a lab method has no serial number
            elif getattr(self, f) in (None, ""):
                out.append(f)
        return out

    def apply(self, edit: InstrumentEdit) -> Entry:
        """This entry with the edit's fields replaced, validated again as a whole (dates across old and new)."""
        return Entry.model_validate({**self.model_dump(mode="json"), **edit.changes()})


def add_months(day: dt.date, months: int) -> dt.date:
    """`day` plus whole months, the day clamped to the month's last (31 Jan + 1 month = 28/29 Feb)."""
    m = day.month - 1 + months
    year, month = day.year + m // 12, m % 12 + 1
    last = (dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)).day
    return dt.date(year, month, min(day.day, last))
