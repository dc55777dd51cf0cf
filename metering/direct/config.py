"""The plant file's `carbon:` block: materials, emission units and their meters, validated with precise errors."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from metering.direct.method import Method, MethodError, load_method
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


class CarbonConfig(_Model):
    method: str = "cn-cement-clinker-2025"
    reconcile_threshold_pct: float = Field(default=2.0, ge=0)
    materials: dict[str, Material]
    units: list[EmissionUnit] = Field(min_length=1)

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
        if errors:
            raise ValueError("\n".join(errors))
        return self

    def unit(self, unit_id: str) -> EmissionUnit:
        for u in self.units:
            if u.id == unit_id:
                return u
        raise KeyError(unit_id)


class CarbonConfigError(ValueError):
    def __init__(self, errors: list[str]):
        super().__init__("\n".join(errors))
        self.errors = errors


def carbon_config(plant: Plant, source: str = "plant file") -> tuple[CarbonConfig, Method]:
    """The plant's carbon block and its method, or every mistake at once (devices checked against the plant)."""
    if plant.carbon is None:
        raise CarbonConfigError([f"{source}: no carbon: block (materials and emission units)"])
    try:
        cfg = CarbonConfig.model_validate(plant.carbon)
    except ValidationError as exc:
        raise CarbonConfigError(list(_errors(exc, source))) from None
    try:
        method = load_method(cfg.method)
    except MethodError as exc:
        raise CarbonConfigError([f"{source}: carbon.method: {exc}"]) from None
    ids = set(plant.device_ids)
    errors = []
    for mid, mat in cfg.materials.items():
        if mat.kind not in method.materials:
            errors.append(f"{source}: carbon.materials.{mid}: kind {mat.kind} has no parameters in method {method.ref}")
        for k, d in enumerate(mat.devices):
            if d not in ids:
                errors.append(f"{source}: carbon.materials.{mid}.devices[{k}]: unknown device {d!r}")
    for i, u in enumerate(cfg.units):
        for field in ("electricity_devices", "cement_electricity_devices"):
            for k, d in enumerate(getattr(u, field)):
                if d not in ids:
                    errors.append(f"{source}: carbon.units[{i}].{field}[{k}]: unknown device {d!r}")
    if errors:
        raise CarbonConfigError(errors)
    return cfg, method


def _errors(exc: ValidationError, source: str) -> list[str]:
    out = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        msg = str(err["msg"]).removeprefix("Value error, ")
        for line in msg.split("\n"):
            out.append(f"{source}: carbon{'.' + loc if loc else ''}: {line}")
    return out
