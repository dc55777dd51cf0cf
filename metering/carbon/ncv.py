"""Net calorific values: the shipped defaults per fuel (metering/carbon/ncv.yaml), overridden by the plant file."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from metering.carbon.factor_registry import Source, activity_base
from plantcarbon_core import datafile
from plantcarbon_core.plant import Plant

NCV_FILE = Path(__file__).with_name("ncv.yaml")
_ENERGY_GJ = {"MJ": 0.001, "GJ": 1.0}


@dataclass(frozen=True)
class Ncv:
    """One NCV: `value` `unit` (e.g. 389.31 GJ/10^4Nm3) and `ref`, what an emissions row cites for it."""

    fuel: str
    value: float
    unit: str
    ref: str

    def gj_per(self, activity: str) -> float | None:
        """GJ per one `activity` base unit (Nm3, t, …); None when the NCV is per another kind of unit."""
        energy, den = self.unit.split("/", 1)
        base, scale = activity_base(den)
        if base != activity:
            return None
        return self.value * _ENERGY_GJ[energy] / scale

    @property
    def text(self) -> str:
        return f"{self.value:g} {self.unit} ({self.ref})"


class _Default(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    version: str
    fuel: str
    value: float = Field(gt=0)
    unit: str
    source: Source


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    set: str
    values: list[_Default]


@cache
def shipped_ncv() -> dict[str, Ncv]:
    """Fuel id → the shipped default NCV (the file is part of the package: a mistake in it is a bug)."""
    data = datafile.load(NCV_FILE, _File, expect="set and values")
    return {d.fuel: Ncv(d.fuel, d.value, d.unit, f"{d.id}@{d.version}") for d in data.values}


def ncv_for(plant: Plant, fuel: str) -> Ncv | None:
    """The plant's own NCV for `fuel` (its `metering.ncv`), else the shipped default, else None."""
    own = plant.metering.ncv.get(fuel)
    if own is not None:
        return Ncv(fuel, own.value, own.unit, f"plant file: {own.source}")
    return shipped_ncv().get(fuel)
