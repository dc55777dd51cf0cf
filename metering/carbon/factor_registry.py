"""Emission-factor registry: versioned, cited factors from YAML files (shipped + user), and their look-up.

Bad input: a factor file can be unreadable, not YAML, or hold factors that do not fit the
model (unknown unit, a value that disagrees with its own fuel parameters, a duplicate
id@version inside one file, valid_to before valid_from). `load_factor_file` collects every
mistake at once and raises `FactorFileError`, whose lines read
`my-factors.yaml: factors[2] (id=cn-grid-east): value: must be > 0, got -1`.
A user file may override a shipped factor by repeating its id and version; that is not an error.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from plantcarbon_core import datafile
from plantcarbon_core.datafile import DataFileError, Problem
from plantcarbon_core.plant import Plant

FACTOR_DIR = Path(__file__).with_name("factors")

Gas = Literal["CO2", "CH4", "N2O", "CO2e", "ce"]
Kind = Literal[
    "grid-average",
    "grid-residual",
    "grid-fossil",
    "grid-reporting",
    "fuel-combustion",
    "fuel-ch4",
    "fuel-n2o",
    "purchased-heat",
    "tce",
    "tce-generation",
]

# Mass of the numerator in kg; ce (coal equivalent) is also counted in kg.
_MASS_KG = {"kg": 1.0, "t": 1000.0, "g": 0.001, "lb": 0.45359237}
# Activity denominators in a base unit: energy → kWh or GJ, volume → Nm3 / m3, mass → t.
_ACTIVITY = {
    "kWh": ("kWh", 1.0),
    "MWh": ("kWh", 1000.0),
    "GJ": ("GJ", 1.0),
    "MJ": ("GJ", 0.001),
    "TJ": ("GJ", 1000.0),
    "Nm3": ("Nm3", 1.0),
    "10^4Nm3": ("Nm3", 1e4),
    "m3": ("m3", 1.0),
    "t": ("t", 1.0),
    "kg": ("t", 0.001),
}
_GAS_PREFIX = ("CO2e", "CO2", "CH4", "N2O", "ce")
CO2_PER_C = 44.0 / 12.0


def activity_base(den: str) -> tuple[str, float]:
    """'10^4Nm3' → ('Nm3', 10000.0): an activity unit as its base unit and how many of those it is."""
    if den not in _ACTIVITY:
        raise ValueError(f"activity unit must be one of {sorted(_ACTIVITY)}, got {den!r}")
    return _ACTIVITY[den]


def parse_unit(unit: str) -> tuple[float, str, float]:
    """'tCO2/MWh' → (1000.0 kg, 'kWh', 1000.0): numerator kg, activity base unit, activity scale."""
    if "/" not in unit:
        raise ValueError(f"must be '<mass><gas>/<activity>' like 'tCO2/MWh', got {unit!r}")
    num, den = unit.split("/", 1)
    mass = None
    for gas in _GAS_PREFIX:
        if num.endswith(gas) and num[: -len(gas)] in _MASS_KG:
            mass = _MASS_KG[num[: -len(gas)]]
            break
    if mass is None:
        raise ValueError(f"numerator must be one of kg|t|g|lb followed by the gas, got {num!r} in {unit!r}")
    if den not in _ACTIVITY:
        raise ValueError(f"activity unit must be one of {sorted(_ACTIVITY)}, got {den!r} in {unit!r}")
    base, scale = _ACTIVITY[den]
    return mass, base, scale


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Source(_Model):
    document: str
    table: str
    url: str | None = None
    note: str | None = None  # e.g. where sources disagree, which one was pinned and why

    def cite(self) -> str:
        return f"{self.document}, {self.table}" + (f" <{self.url}>" if self.url else "")


class FuelParameters(_Model):
    """Net calorific value × carbon content per unit heat × oxidation rate, for combustion CO2."""

    ncv: float = Field(gt=0)
    ncv_unit: str  # GJ per activity unit: "GJ/t", "GJ/10^4Nm3"
    carbon_content_tc_per_gj: float = Field(gt=0, lt=0.1)
    oxidation: float = Field(gt=0, le=1)

    @field_validator("ncv_unit")
    @classmethod
    def _ncv_unit(cls, v: str) -> str:
        if not v.startswith("GJ/") or v[3:] not in _ACTIVITY:
            raise ValueError(f"must be GJ per an activity unit ({sorted(_ACTIVITY)}), got {v!r}")
        return v

    def gj_per(self, activity: str) -> float:
        """NCV in GJ per one `activity` base unit (t, Nm3, …)."""
        base, scale = _ACTIVITY[self.ncv_unit[3:]]
        if base != activity:
            raise ValueError(f"NCV is per {base}, not per {activity}")
        return self.ncv / scale

    def tco2_per_ncv_unit(self) -> float:
        return self.ncv * self.carbon_content_tc_per_gj * self.oxidation * CO2_PER_C


class Factor(_Model):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9.-]{0,80}$")
    version: str = Field(min_length=1)
    name: str | None = None
    kind: Kind
    carrier: str
    fuel: str | None = None
    region: str
    unit: str
    value: float | None = None  # may be omitted when `parameters` give it
    gas: Gas
    valid_from: dt.date
    valid_to: dt.date | None = None
    method: Literal["location", "market"] = "location"
    source: Source
    parameters: FuelParameters | None = None

    @field_validator("version", mode="before")
    @classmethod
    def _version(cls, v: Any) -> str:
        return str(v)

    @field_validator("unit")
    @classmethod
    def _unit(cls, v: str) -> str:
        parse_unit(v)
        return v

    @model_validator(mode="after")
    def _consistent(self) -> Factor:
        if self.valid_to is not None and self.valid_to < self.valid_from:
            raise ValueError(f"valid_to {self.valid_to} is before valid_from {self.valid_from}")
        if self.parameters is not None:
            if self.unit != "tCO2/" + self.parameters.ncv_unit[3:]:
                want = "tCO2/" + self.parameters.ncv_unit[3:]
                raise ValueError(f"unit must be {want!r} to match parameters.ncv_unit, got {self.unit!r}")
            computed = self.parameters.tco2_per_ncv_unit()
            if self.value is None:
                object.__setattr__(self, "value", computed)
            elif abs(self.value - computed) > 5e-4 * computed:
                raise ValueError(
                    f"value {self.value} disagrees with its parameters (ncv × cc × ox × 44/12 = {computed:.6g})"
                )
        if self.value is None:
            raise ValueError("value is required (or parameters to compute it from)")
        if self.value < 0 or (self.value == 0 and self.kind not in ("grid-average", "grid-residual")):
            raise ValueError(f"value must be > 0, got {self.value}")
        return self

    @property
    def ref(self) -> str:
        return f"{self.id}@{self.version}"

    @property
    def activity_unit(self) -> str:
        return parse_unit(self.unit)[1]

    def kg_per(self, activity: str) -> float:
        """The factor in kg of its gas (or kgce) per one `activity` base unit (kWh, GJ, Nm3, m3, t)."""
        mass, base, scale = parse_unit(self.unit)
        if base != activity:
            raise ValueError(f"{self.ref} is per {self.unit.split('/', 1)[1]}, cannot apply it to {activity}")
        assert self.value is not None
        return self.value * mass / scale

    def valid_at(self, day: dt.date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)


class FactorFile(_Model):
    set: str
    description: str | None = None
    defaults: dict[str, Any] = {}
    factors: list[dict[str, Any]]


# A factor file's errors are the one data-file error (plantcarbon_core/datafile.py); the old name stays for callers.
FactorFileError = DataFileError


class FactorNotFound(LookupError):
    """No factor of that kind, region and date in the registry."""


def load_factor_file(path: str | Path) -> list[Factor]:
    path = Path(path)
    return parse_factor_file(datafile.read_text(path), source=path.name)


def parse_factor_file(text: str, source: str = "factors.yaml") -> list[Factor]:
    ff = datafile.parse(text, FactorFile, source, expect="set and factors")
    errors: list[Problem] = []
    out: list[Factor] = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(ff.factors):
        merged = _merge(ff.defaults, raw if isinstance(raw, dict) else {})
        ident = merged.get("id")
        where = f"factors[{i}]" + (f" (id={ident})" if ident else "")
        try:
            f = Factor.model_validate(merged)
        except ValidationError as exc:
            # Each factor is validated on its own (after its defaults): place its mistakes in the list.
            errors.extend(
                replace(p, where=where, field=p.field or "(factor)") for p in datafile.problems(exc, merged, source)
            )
            continue
        if f.ref in seen:
            errors.append(Problem(source, f"id@version {f.ref} duplicates factors[{seen[f.ref]}]", where))
            continue
        seen[f.ref] = i
        out.append(f)
    if errors:
        raise DataFileError(errors)
    return out


def _merge(defaults: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
    out = dict(defaults)
    for k, v in item.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = {**out[k], **v}
        else:
            out[k] = v
    return out


@dataclass(frozen=True)
class Registry:
    """Every factor by id@version; later files override earlier ones with the same id@version."""

    factors: dict[str, Factor]

    def __iter__(self) -> Iterator[Factor]:
        return iter(sorted(self.factors.values(), key=lambda f: (f.id, f.version)))

    def __len__(self) -> int:
        return len(self.factors)

    def get(self, ref: str) -> Factor:
        """'id@version', or 'id' for its newest version."""
        if "@" in ref:
            try:
                return self.factors[ref]
            except KeyError:
                raise FactorNotFound(f"no factor {ref}") from None
        versions = [f for f in self.factors.values() if f.id == ref]
        if not versions:
            raise FactorNotFound(f"no factor with id {ref!r}")
        return max(versions, key=lambda f: (f.valid_from, f.version))

    def lookup(
        self,
        kind: str,
        *,
        when: dt.date | dt.datetime | pd.Timestamp,
        region: str | None = None,
        carrier: str | None = None,
        fuel: str | None = None,
        gas: str | None = None,
    ) -> Factor:
        """The factor valid on `when`; failing that the newest that started before it (carried forward)."""
        day = _day(when)
        candidates = [
            f
            for f in self.factors.values()
            if f.kind == kind
            and (region is None or f.region == region)
            and (carrier is None or f.carrier == carrier)
            and (fuel is None or f.fuel == fuel)
            and (gas is None or f.gas == gas)
        ]
        valid = [f for f in candidates if f.valid_at(day)]
        if valid:
            return max(valid, key=lambda f: (f.valid_from, f.version))
        earlier = [f for f in candidates if f.valid_from <= day]
        if earlier:
            return max(earlier, key=lambda f: (f.valid_from, f.version))
        what = ", ".join(
            f"{k}={v}" for k, v in (("region", region), ("carrier", carrier), ("fuel", fuel), ("gas", gas)) if v
        )
        raise FactorNotFound(f"no {kind} factor for {what or 'any'} on or before {day}")


def _day(when: dt.date | dt.datetime | pd.Timestamp) -> dt.date:
    if isinstance(when, dt.datetime):
        return when.date()
    return when


@cache
def shipped_factors() -> tuple[Factor, ...]:
    out: list[Factor] = []
    for path in sorted(FACTOR_DIR.glob("*.yaml")):
        out.extend(load_factor_file(path))
    return tuple(out)


def load_registry(extra_files: Iterable[str | Path] = (), base: Path | None = None) -> Registry:
    """Shipped factors, then user files in order (relative paths against `base`)."""
    factors = {f.ref: f for f in shipped_factors()}
    errors: list[Problem] = []
    for name in extra_files:
        path = Path(name)
        if base is not None and not path.is_absolute():
            path = base / path
        try:
            for f in load_factor_file(path):
                factors[f.ref] = f
        except DataFileError as exc:
            errors.extend(exc.problems)
    if errors:
        raise FactorFileError(errors)
    return Registry(factors)


def user_factor_dir(data_dir: Path) -> Path:
    """Where energy managers' factor files go (saved through the API): `<data dir>/factors`."""
    return data_dir / "factors"


def plant_registry(plant_factor_files: Iterable[str | Path], plant_dir: Path | None, data_dir: Path | None) -> Registry:
    """The registry a plant meters with: shipped factors, the plant file's factor files, then
    the user files saved through the API (in name order). The API and the metering service
    both load it here, so a factor an energy manager adds is the one the next recompute uses."""
    files: list[str | Path] = list(plant_factor_files)
    if data_dir is not None:
        files += sorted(user_factor_dir(data_dir).glob("*.yaml"))
    return load_registry(files, base=plant_dir)


def grid_factor_now(
    plant: Plant, plant_dir: Path | None, data_dir: Path | None, when: dt.datetime | None = None
) -> Factor:
    """This plant's location-based grid factor (CO2 per kWh of its grid region) on the site's local day of `when`.

    The one way to ask "this plant's grid factor now": from `plant_registry`, so the alert
    engine's CO2 rate, the demo and the metering service use the same factor files, and a
    file an energy manager uploads counts at once. Raises FactorNotFound or DataFileError.
    """
    registry = plant_registry(plant.metering.factor_files, plant_dir, data_dir)
    local = (when or dt.datetime.now(dt.UTC)).astimezone(plant.site.tz)
    return registry.lookup("grid-average", when=local, region=plant.site.grid_region, carrier="electricity", gas="CO2")


# --- GWP-100 ----------------------------------------------------------------------------


@cache
def gwp(gas: str, gwp_set: str) -> float:
    """GWP-100 of a gas in an IPCC assessment report set (AR4, AR5, AR6), from `globalwarmingpotentials`."""
    if gas in ("CO2", "CO2e"):
        return 1.0
    import globalwarmingpotentials as gwps

    try:
        return float(gwps.data[f"{gwp_set}GWP100"][gas])
    except KeyError:
        raise FactorNotFound(f"no GWP-100 for {gas} in {gwp_set}") from None
