"""The EU CBAM default values and mark-up schedule data file (cbam_defaults.yaml), validated."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from plantcarbon_core import datafile

DEFAULTS_FILE = Path(__file__).with_name("cbam_defaults.yaml")
CN_PATTERN = r"^[0-9]{4} [0-9]{2} [0-9]{2}$"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Regulation(_Model):
    id: str
    title: str
    annex: str
    amended_by: str = ""
    basis: str
    confirmed: bool = False
    secondary_sources: list[str] = []


class Markup(_Model):
    schedule: dict[int, float] = Field(min_length=1)
    source: str
    confirmed: bool = False

    @model_validator(mode="after")
    def _fractions(self) -> Markup:
        bad = [f"{y}: {v}" for y, v in self.schedule.items() if not 0 <= v <= 1]
        datafile.raise_all([f"markup.schedule: a mark-up is a fraction 0..1, got {b}" for b in bad])
        return self

    def for_year(self, year: int) -> float:
        """The mark-up in force in `year`: the latest scheduled year not after it; 0 before the first."""
        past = [y for y in self.schedule if y <= year]
        return self.schedule[max(past)] if past else 0.0


class DefaultValue(_Model):
    cn_code: str = Field(pattern=CN_PATTERN)
    good: str
    country: str = Field(pattern=r"^[A-Z]{2}$")
    direct: float | None = Field(default=None, ge=0)
    indirect: float | None = Field(default=None, ge=0)
    total: float | None = Field(default=None, ge=0)  # as the table lists it, when given
    source: str
    confirmed: bool = False

    @property
    def known(self) -> bool:
        return self.direct is not None

    @property
    def total_value(self) -> float | None:
        if self.total is not None:
            return self.total
        if self.direct is None:
            return None
        return self.direct + (self.indirect or 0.0)

    def marked_up(self, markup: float) -> float | None:
        """default × (1 + mark-up) of the total, or None when the value is not in the file."""
        t = self.total_value
        return None if t is None else t * (1.0 + markup)


class Defaults(_Model):
    regulation: Regulation
    markup: Markup
    values: list[DefaultValue]

    @model_validator(mode="after")
    def _unique(self) -> Defaults:
        seen: set[tuple[str, str]] = set()
        errors = []
        for i, v in enumerate(self.values):
            key = (v.cn_code, v.country)
            if key in seen:
                errors.append(f"values[{i}]: {v.cn_code} {v.country} listed twice")
            seen.add(key)
        datafile.raise_all(errors)
        return self

    def value(self, cn_code: str, country: str) -> DefaultValue | None:
        return next((v for v in self.values if v.cn_code == cn_code and v.country == country), None)


@cache
def load_defaults(path: Path = DEFAULTS_FILE) -> Defaults:
    """The data file, or a DataFileError naming file, item and field of every mistake."""
    return datafile.load(path, Defaults, expect="regulation, markup and values")
