"""The plant file's `carbon:` block: materials, emission units and their meters, validated with precise errors."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from metering.direct.method import Method, MethodError, load_method
from plantcarbon_core import datafile
from plantcarbon_core.datafile import DataFileError, Problem
from plantcarbon_core.plant import Plant

MaterialKindName = Literal["fossil_fuel", "alternative_fuel", "biomass_fuel", "clinker", "raw_meal", "dust", "cement"]
FUEL_KINDS = ("fossil_fuel", "alternative_fuel", "biomass_fuel")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Material(_Model):
    kind: MaterialKindName
    name: str = ""
    # Meters (belt weighers, loss-in-weight feeders: devices with a mass_t counter) that weigh it.
    devices: list[str] = []
    # Where the month's tonnes come from: the meters, or the stock balance (receipts + opening − closing).
    activity: Literal["meter", "stock"] = "meter"


class EmissionUnit(_Model):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    name: str
    clinker: str  # material id of kind clinker (the product)
    raw_meal: str | None = None
    fuels: list[str]
    dust: list[str] = []  # kiln-head and bypass dust leaving the system
    # Electricity meters of the line (for CBAM indirect emissions per tonne of clinker).
    electricity_devices: list[str] = []
    # CBAM only: cement ground from this line's clinker (material of kind cement, with its
    # clinker share from the lab) and the cement mill's electricity meters.
    cement: str | None = None
    cement_electricity_devices: list[str] = []


PERIOD_PATTERN = r"^20[0-9]{2}(Q[1-4]|-(0[1-9]|1[0-2]))?$"


class Installation(_Model):
    """The installation as the CBAM communication names it (A_InstData of the EU template)."""

    name: str = Field(min_length=1, max_length=200)
    name_zh: str = ""
    address: str = ""
    city: str = ""
    country: str = Field(default="CN", pattern=r"^[A-Z]{2}$")
    unlocode: str = Field(default="", pattern=r"^([A-Z]{2} ?[A-Z0-9]{3})?$")
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)


class CarbonPrice(_Model):
    """The carbon price effectively paid in China for a year: the exporter's declaration input.

    National ETS: the unit's direct emissions not covered by free allocation are paid at the
    allowance price; `share_not_free` = (verified emissions − free allocation) / verified
    emissions of the compliance year, from the plant's allowance position.
    """

    year: int = Field(ge=2000, le=2099)
    price_cny_per_t: float = Field(ge=0, description="CNY per tCO2 (allowance price paid or the year's average)")
    share_not_free: float = Field(ge=0, le=1)
    cny_per_eur: float | None = Field(default=None, gt=0, description="exchange rate, when EUR are wanted")
    source: str = Field(min_length=1, description="where price and share come from (allowance ledger, invoices)")


class CbamExport(_Model):
    product: Literal["clinker", "cement"]
    period: str = Field(pattern=PERIOD_PATTERN)
    t: float = Field(ge=0)


class CbamInputs(_Model):
    installation: Installation
    # The CN code the plant declares its cement under: Portland (2523 29 00, the default) or other
    # hydraulic cements (2523 90 00, e.g. composite cements), white Portland, aluminous.
    cement_cn_code: Literal["2523 21 00", "2523 29 00", "2523 30 00", "2523 90 00"] = "2523 29 00"
    carbon_prices: list[CarbonPrice] = []
    exports: list[CbamExport] = []


class CarbonConfig(_Model):
    method: str = "cn-cement-clinker-2025"
    reconcile_threshold_pct: float = Field(default=2.0, ge=0)
    materials: dict[str, Material]
    units: list[EmissionUnit] = Field(min_length=1)
    # The EU CBAM communication's inputs (docs/cbam.md): installation data, carbon price paid, exports.
    cbam: CbamInputs | None = None

    @model_validator(mode="after")
    def _refs(self) -> CarbonConfig:
        errors: list[str] = []
        users: dict[str, list[str]] = {}
        for i, u in enumerate(self.units):
            where = f"units[{i}] (id={u.id})"
            refs: list[tuple[str, str | None, tuple[str, ...]]] = [
                ("clinker", u.clinker, ("clinker",)),
                ("raw_meal", u.raw_meal, ("raw_meal",)),
                ("cement", u.cement, ("cement",)),
            ]
            refs += [(f"fuels[{k}]", m, FUEL_KINDS) for k, m in enumerate(u.fuels)]
            refs += [(f"dust[{k}]", m, ("dust",)) for k, m in enumerate(u.dust)]
            for what, mid, kinds in refs:
                if mid is None:
                    continue
                mat = self.materials.get(mid)
                if mat is None:
                    errors.append(f"{where}: {what}: unknown material {mid!r} (materials: {', '.join(self.materials)})")
                elif mat.kind not in kinds:
                    errors.append(f"{where}: {what}: material {mid!r} is {mat.kind}, need {' or '.join(kinds)}")
                users.setdefault(mid, []).append(u.id)
        for mid, mat in self.materials.items():
            if mat.activity == "meter" and mat.kind not in ("dust",) and not mat.devices and mid in users:
                errors.append(f"materials.{mid}: activity meter needs devices (or activity: stock)")
            if mat.activity == "stock" and len(set(users.get(mid, []))) > 1:
                errors.append(f"materials.{mid}: a stock balance cannot be split between units {users[mid]}")
        datafile.raise_all(errors)
        return self

    def unit(self, unit_id: str) -> EmissionUnit:
        return datafile.by_id(self.units, unit_id)


# The carbon block's errors are the one data-file error (plantcarbon_core/datafile.py); the old name stays for callers.
CarbonConfigError = DataFileError


def carbon_config(plant: Plant, source: str = "plant file") -> tuple[CarbonConfig, Method]:
    """The plant's carbon block and its method, or every mistake at once (devices checked against the plant)."""
    if plant.carbon is None:
        raise DataFileError([Problem(source, "no carbon: block (materials and emission units)")])
    cfg = datafile.validate(CarbonConfig, plant.carbon, source, prefix=("carbon",))
    try:
        method = load_method(cfg.method)
    except (MethodError, DataFileError) as exc:
        raise DataFileError([Problem(source, str(exc), field="carbon.method")]) from None
    ids = set(plant.device_ids)
    errors = []
    for mid, mat in cfg.materials.items():
        if mat.kind not in method.materials:
            msg = f"kind {mat.kind} has no parameters in method {method.ref}"
            errors.append(Problem(source, msg, field=f"carbon.materials.{mid}"))
        for k, d in enumerate(mat.devices):
            if d not in ids:
                errors.append(Problem(source, f"unknown device {d!r}", field=f"carbon.materials.{mid}.devices[{k}]"))
    for i, u in enumerate(cfg.units):
        for field in ("electricity_devices", "cement_electricity_devices"):
            for k, d in enumerate(getattr(u, field)):
                if d not in ids:
                    errors.append(Problem(source, f"unknown device {d!r}", field=f"carbon.units[{i}].{field}[{k}]"))
    if errors:
        raise DataFileError(errors)
    return cfg, method
