"""The plant model and the plant-file loader: one YAML file describes a plant for every part.

Bad input: a plant file can be unreadable, not YAML, or YAML that does not fit the model.
`load_plant` collects every mistake it can find at once and raises `DataFileError`, whose
lines read `plant.yaml: devices[3] (id=kiln-2): source.port: must be 1..65535, got 70000`.
Nothing connects to anything while a plant file is loaded ("init validates, start connects").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from fractions import Fraction
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from plantcarbon_core import datafile
from plantcarbon_core.datafile import DataFileError
from plantcarbon_core.kinds import check_kind
from plantcarbon_core.kinds import kind as kind_of
from plantcarbon_core.wire import ID_PATTERN

_ID = re.compile(ID_PATTERN)

# A device kind is a row of core/kinds.yaml (traits and labels there): a new kind is one row.
DeviceKind = Annotated[str, AfterValidator(check_kind)]
Carrier = Literal[
    "electricity",
    "natural_gas",
    "coal",
    "diesel",
    "steam",
    "heat",
    "water",
    "production",
]
Role = Literal["main", "sub"]


class _Model(BaseModel):
    # Unknown fields are errors: a misspelt key must not be silently ignored.
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_id(value: str) -> str:
    if not _ID.match(value):
        raise ValueError(f"must match {ID_PATTERN} (lower-case letters, digits, - and _), got {value!r}")
    return value


class Site(_Model):
    id: str
    name: str
    timezone: str = "Asia/Shanghai"
    grid_region: str = "cn-national"

    _id = field_validator("id")(classmethod(lambda cls, v: _check_id(v)))

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone, got {v!r}") from None
        return v

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def prealarm_threshold_kw(limit_kw: float, margin_pct: float) -> float:
    """The demand at which the pre-alarm fires: `margin_pct` per cent below the limit."""
    return limit_kw * (1 - margin_pct / 100.0)


class Contract(_Model):
    demand_limit_kw: float | None = Field(default=None, gt=0)
    tariff: str | None = None
    # Margin below the limit at which the demand pre-alarm fires.
    prealarm_margin_pct: float = Field(default=5.0, ge=0, le=50)

    @property
    def prealarm_kw(self) -> float | None:
        """The contract's pre-alarm demand (None without a demand limit)."""
        if self.demand_limit_kw is None:
            return None
        return prealarm_threshold_kw(self.demand_limit_kw, self.prealarm_margin_pct)


def parse_ratio(text: str) -> float:
    """'200/5' → 40.0; a bare number is taken as the ratio itself."""
    s = str(text).strip()
    try:
        if "/" in s:
            num, den = s.split("/", 1)
            value = Fraction(num.strip()) / Fraction(den.strip())
        else:
            value = Fraction(s)
    except (ValueError, ZeroDivisionError):
        raise ValueError(f"must be 'primary/secondary' like '200/5' or a number, got {text!r}") from None
    if value <= 0:
        raise ValueError(f"must be positive, got {text!r}")
    return float(value)


class Ratios(_Model):
    """Instrument transformer ratios; applied at the edge so readings are primary values."""

    ct: str = "1"
    pt: str = "1"

    @field_validator("ct", "pt", mode="before")
    @classmethod
    def _ratio(cls, v: Any) -> str:
        parse_ratio(str(v))
        return str(v)

    @property
    def ct_factor(self) -> float:
        return parse_ratio(self.ct)

    @property
    def pt_factor(self) -> float:
        return parse_ratio(self.pt)


class Workarounds(_Model):
    """Per-device Modbus quirks, named rather than scattered as flags."""

    max_registers_per_request: int = Field(default=125, ge=1, le=125)
    max_gap_fill: int = Field(default=10, ge=0, le=125)
    pause_between_requests_ms: int = Field(default=0, ge=0, le=10_000)
    word_order: Literal["big", "little"] | None = None
    byte_order: Literal["big", "little"] | None = None


class _SourceBase(_Model):
    interval_s: float = Field(default=5.0, gt=0, le=86_400)
    timeout_s: float = Field(default=1.0, gt=0, le=60)


class ModbusTcpSource(_SourceBase):
    protocol: Literal["modbus-tcp"]
    host: str
    port: int = 502
    unit: int = Field(default=1, ge=0, le=255)
    profile: str
    # "socket" is Modbus TCP (MBAP); "rtu" is RTU framing over TCP, as serial gateways speak.
    framer: Literal["socket", "rtu"] = "socket"
    workarounds: Workarounds = Workarounds()

    @field_validator("port")
    @classmethod
    def _port(cls, v: int) -> int:
        if not 1 <= v <= 65535:
            raise ValueError(f"must be 1..65535, got {v}")
        return v


class ModbusRtuSource(_SourceBase):
    protocol: Literal["modbus-rtu"]
    serial_port: str
    baudrate: Literal[1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200] = 9600
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 1
    bytesize: Literal[7, 8] = 8
    unit: int = Field(default=1, ge=1, le=247)
    profile: str
    workarounds: Workarounds = Workarounds()


class MqttField(_Model):
    """One JSON value of a device-native payload mapped to a quantity."""

    path: str  # dotted path into the JSON, e.g. "ENERGY.Power"; list indexes as ".0"
    scale: float = 1.0  # value in the payload × scale = value in the quantity's unit
    offset: float = 0.0


class MqttSource(_SourceBase):
    protocol: Literal["mqtt"]
    topic: str  # the device's own topic on the broker the edge subscribes to
    fields: dict[str, MqttField]  # quantity name → where it is in the payload
    # Where the sample time comes from: "arrival", or a JSON path to epoch s/ms or ISO 8601.
    timestamp: str = "arrival"
    timestamp_format: Literal["epoch_s", "epoch_ms", "iso8601"] = "epoch_ms"

    @field_validator("fields")
    @classmethod
    def _fields(cls, v: dict[str, MqttField]) -> dict[str, MqttField]:
        if not v:
            raise ValueError("must map at least one quantity")
        return v


Source = Annotated[ModbusTcpSource | ModbusRtuSource | MqttSource, Field(discriminator="protocol")]


class SteamConditions(_Model):
    """State of metered steam, for mass → heat where only mass is metered."""

    pressure_mpa: float = Field(gt=0, le=30)  # absolute
    temperature_c: float | None = Field(default=None, gt=0, le=800)  # None = saturated
    return_temp_c: float = Field(default=20.0, ge=0, le=200)  # feedwater/condensate reference


class Supply(_Model):
    """Where a device's carrier comes from: bought across the site fence, or made on site.

    `{origin: onsite, generated_by: gas-boiler}` marks an internal transfer (steam from the
    site's own boiler): its energy was already counted, and its emissions already booked, at
    the fuel the generating device burns (docs/metering.md, "Internal transfers").
    """

    origin: Literal["purchased", "onsite"] = "purchased"
    generated_by: str | None = None  # the device that makes it, for origin onsite

    @model_validator(mode="after")
    def _generator(self) -> Supply:
        if self.origin == "onsite" and self.generated_by is None:
            raise ValueError("origin onsite needs generated_by: the id of the device that makes it")
        if self.origin == "purchased" and self.generated_by is not None:
            raise ValueError(f"generated_by {self.generated_by!r} needs origin: onsite (purchased energy has none)")
        return self


class Device(_Model):
    id: str
    name: str
    kind: DeviceKind
    carrier: Carrier
    role: Role = "main"
    parent: str | None = None
    area: str = "default"
    source: Source | None = None  # None: a device with no meter of its own (e.g. a group)
    ratios: Ratios = Ratios()
    rated_kw: float | None = Field(default=None, gt=0)
    fuel: str | None = None  # factor-set fuel id for scope 1, when the carrier is not enough
    steam: SteamConditions | None = None
    supply: Supply = Supply()  # purchased unless it says which device on site makes it

    _id = field_validator("id")(classmethod(lambda cls, v: _check_id(v)))


class VirtualMeter(_Model):
    """A meter computed from others by formula, e.g. PV self-consumption = pv-01 - exp-01."""

    id: str
    name: str
    carrier: Carrier = "electricity"
    area: str = "default"
    # Device ids joined by " + " and " - " (spaces required: ids may contain "-"), each
    # optionally times a number: "pv-01 - 1.0*exp-01".
    formula: str

    _id = field_validator("id")(classmethod(lambda cls, v: _check_id(v)))

    def terms(self) -> list[tuple[float, str]]:
        return parse_formula(self.formula)


_TERM = re.compile(r"\s*([+-])?\s*(?:(\d+(?:\.\d+)?)\s*\*\s*)?([a-z0-9][a-z0-9_-]*)\s*")


def parse_formula(formula: str) -> list[tuple[float, str]]:
    """'a - b + 0.5*c' → [(1, 'a'), (-1, 'b'), (0.5, 'c')]."""
    terms: list[tuple[float, str]] = []
    pos = 0
    text = formula.strip()
    while pos < len(text):
        m = _TERM.match(text, pos)
        if not m or m.end() == pos or (terms and m.group(1) is None):
            raise ValueError(f"cannot parse formula at position {pos}: {formula!r}")
        sign = -1.0 if m.group(1) == "-" else 1.0
        coef = float(m.group(2)) if m.group(2) else 1.0
        terms.append((sign * coef, m.group(3)))
        pos = m.end()
    if not terms:
        raise ValueError("formula is empty")
    return terms


NCV_UNIT = re.compile(r"^(MJ|GJ)/(Nm3|10\^4Nm3|m3|t|kg)$")


class Ncv(_Model):
    """A fuel's net calorific value as the plant knows it (supplier's certificate or a lab sample)."""

    value: float = Field(gt=0)
    unit: str  # energy per metered unit: GJ/10^4Nm3, MJ/Nm3, GJ/t, MJ/kg …
    source: str = Field(min_length=1)  # where it comes from, e.g. "lab sample LS-2026-031, 2026-03-02"

    @field_validator("unit")
    @classmethod
    def _unit(cls, v: str) -> str:
        if not NCV_UNIT.match(v):
            raise ValueError(f"must be MJ or GJ per Nm3, 10^4Nm3, m3, t or kg (e.g. 'GJ/10^4Nm3'), got {v!r}")
        return v


class MeteringOptions(_Model):
    gwp_set: Literal["AR4", "AR5", "AR6"] = "AR6"
    # GB/T 2589-2020 electricity convention: equivalent value or coal consumption of generation.
    electricity_tce: Literal["equivalent", "generation"] = "equivalent"
    factor_files: list[str] = []  # extra or overriding emission-factor files
    green_power_file: str | None = None  # contracts and certificates for market-based scope 2
    lateness_s: float = Field(default=120, ge=0, le=86_400)
    # Net calorific value per fuel id, overriding the shipped defaults (metering/carbon/ncv.yaml).
    ncv: dict[str, Ncv] = {}


class Plant(_Model):
    site: Site
    contract: Contract = Contract()
    metering: MeteringOptions = MeteringOptions()
    devices: list[Device]
    virtual_meters: list[VirtualMeter] = []
    # Direct-emissions block (emission units, materials): validated by metering/direct/config.py.
    carbon: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _cross_checks(self) -> Plant:
        datafile.raise_all(list(_cross_errors(self)))
        return self

    def device(self, device_id: str) -> Device:
        return datafile.by_id(self.devices, device_id)

    @property
    def device_ids(self) -> list[str]:
        return [d.id for d in self.devices]

    def children(self, device_id: str) -> list[Device]:
        return [d for d in self.devices if d.parent == device_id]

    def main_meters(self) -> list[Device]:
        return [d for d in self.devices if d.role == "main"]

    def internal_transfers(self) -> frozenset[str]:
        """Devices metering energy made and used inside the fence: on-site supply, its sub-meters, PV.

        Their energy carries tce 0 and no emissions of its own: both are counted once, at the
        fuel or purchase that entered the fence (GB/T 2589-2020; docs/metering.md).
        """
        own = {d.id for d in self.devices if d.supply.origin == "onsite" or kind_of(d.kind).generates}
        parents = {d.id: d.parent for d in self.devices}
        carrier = {d.id: d.carrier for d in self.devices}
        out: set[str] = set()
        for d in self.devices:
            node: str | None = d.id
            seen: set[str] = set()
            while node is not None and node not in seen and carrier.get(node) == d.carrier:
                if node in own:
                    out.add(d.id)
                    break
                seen.add(node)
                node = parents.get(node)
        return frozenset(out)


def _cross_errors(plant: Plant) -> Iterator[str]:
    """Checks that span devices; each line is `devices[i] (id=x): field: message`."""
    seen: dict[str, int] = {}
    for i, d in enumerate(plant.devices):
        where = f"devices[{i}] (id={d.id})"
        if d.id in seen:
            yield f"{where}: id: duplicate of devices[{seen[d.id]}]"
        else:
            seen[d.id] = i
    ids = set(seen)
    endpoints: dict[tuple[str, int, int], str] = {}
    for i, d in enumerate(plant.devices):
        where = f"devices[{i}] (id={d.id})"
        if d.parent is not None:
            if d.parent not in ids:
                yield f"{where}: parent: no device with id {d.parent!r}"
            elif d.parent == d.id:
                yield f"{where}: parent: a device cannot be its own parent"
        if d.role == "sub" and d.parent is None:
            yield f"{where}: parent: a sub-meter (role: sub) needs a parent"
        if isinstance(d.source, ModbusTcpSource):
            key = (d.source.host, d.source.port, d.source.unit)
            if key in endpoints:
                yield (
                    f"{where}: source: same host, port and unit as device {endpoints[key]!r} "
                    f"({d.source.host}:{d.source.port} unit {d.source.unit})"
                )
            else:
                endpoints[key] = d.id
    by_id = {d.id: d for d in plant.devices}
    for i, d in enumerate(plant.devices):
        gen_id = d.supply.generated_by
        if gen_id is None:
            continue
        where = f"devices[{i}] (id={d.id}): supply.generated_by"
        gen = by_id.get(gen_id)
        if gen is None:
            yield f"{where}: no device with id {gen_id!r}"
        elif gen.id == d.id:
            yield f"{where}: a device cannot generate its own supply"
        elif gen.carrier == d.carrier and not kind_of(gen.kind).generates:
            yield (
                f"{where}: {gen_id!r} meters {gen.carrier} too, so it does not convert it; name the device "
                f"that makes {d.carrier} from another carrier (e.g. a boiler burning natural_gas) or a pv"
            )
    # Parent cycles: follow parents from every device.
    parents = {d.id: d.parent for d in plant.devices}
    for i, d in enumerate(plant.devices):
        chain, node = [d.id], d.parent
        while node is not None and node in parents:
            if node == d.id:
                yield f"devices[{i}] (id={d.id}): parent: cycle {' -> '.join([*chain, node])}"
                break
            if node in chain:
                break
            chain.append(node)
            node = parents[node]
    for i, v in enumerate(plant.virtual_meters):
        where = f"virtual_meters[{i}] (id={v.id})"
        if v.id in ids:
            yield f"{where}: id: already used by a device"
        try:
            terms = v.terms()
        except ValueError as exc:
            yield f"{where}: formula: {exc}"
            continue
        for _, ref in terms:
            if ref not in ids:
                yield f"{where}: formula: no device with id {ref!r}"


# The plant file's errors are the one data-file error (core/datafile.py); the old name stays for callers.
PlantFileError = DataFileError


def load_plant(path: str | Path) -> Plant:
    path = Path(path)
    return parse_plant(datafile.read_text(path), source=datafile.source_name(path))


def parse_plant(text: str, source: str = "plant.yaml") -> Plant:
    return datafile.parse(text, Plant, source, expect="site and devices")


def dump_plant(plant: Plant) -> str:
    """YAML text of a plant, for simulators that generate plant files."""
    data = plant.model_dump(mode="json", exclude_defaults=True)
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def iter_sources(plant: Plant, protocols: Iterable[str]) -> Iterator[Device]:
    wanted = set(protocols)
    for d in plant.devices:
        if d.source is not None and d.source.protocol in wanted:
            yield d
