"""The device-kind table (kinds.yaml beside it): per kind, power direction, rating unit, load model and labels."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from plantcarbon_core import datafile

KINDS_FILE = Path(__file__).with_name("kinds.yaml")


class Kind(BaseModel):
    """One device kind; see the comments in kinds.yaml for what each trait means."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z][a-z0-9_]{0,40}$")
    power: Literal["consumer", "generator", "both"]
    rated_in: Literal["kVA", "kW"]
    load_model: str | None = None
    en: str = Field(min_length=1)
    zh: str = Field(min_length=1)

    @property
    def generates(self) -> bool:
        """It makes power: its energy is its export, and that energy is an internal transfer."""
        return self.power == "generator"

    @property
    def consumes_only(self) -> bool:
        """It only draws power (neither a generator nor storage): a load to rate and rank."""
        return self.power == "consumer"

    def label(self, lang: Literal["en", "zh"]) -> str:
        return self.en if lang == "en" else self.zh


class _KindFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kinds: list[Kind] = Field(min_length=1)

    @field_validator("kinds")
    @classmethod
    def _unique(cls, v: list[Kind]) -> list[Kind]:
        seen: set[str] = set()
        for k in v:
            if k.id in seen:
                raise ValueError(f"duplicate kind {k.id!r}")
            seen.add(k.id)
        return v


@cache
def kinds() -> dict[str, Kind]:
    """Kind id → its row, in the table's order (the file ships with the package: a mistake in it is a bug)."""
    return {k.id: k for k in datafile.load(KINDS_FILE, _KindFile, expect="kinds").kinds}


def kind(kind_id: str) -> Kind:
    """The row of a kind the plant file already validated (KeyError for an unknown one)."""
    return kinds()[kind_id]


def check_kind(value: str) -> str:
    """A plant file's `kind:` value, if the table has it; else the wording of pydantic's choice errors."""
    known = kinds()
    if value not in known:
        ids = [repr(k) for k in known]
        raise ValueError(f"must be one of {', '.join(ids[:-1])} or {ids[-1]}, got {value!r}")
    return value
