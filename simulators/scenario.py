"""Scenario files (simulators/scenarios/*.yaml): the simulated plant, its meters, DR events and faults.

A scenario is a plant file plus what only a simulator knows: each device's load model and
rating, which meter model (profile or MQTT payload style) it carries, on which gateway/unit,
demand-response events and faults. `Scenario.to_plant(endpoints)` yields the plant file the edge
and metering use.

Bad input: a scenario can be unreadable, not YAML, or not fit the model (unknown profile, unknown
parent, duplicate ids, a fault on a device that does not exist). `load_scenario` raises
`ScenarioError` listing every mistake as `file: where: message`, before anything starts.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from plantcarbon_core import datafile
from plantcarbon_core.datafile import DataFileError, Problem
from plantcarbon_core.kinds import kind as kind_of
from plantcarbon_core.plant import (
    Carrier,
    Contract,
    Device,
    DeviceKind,
    ModbusTcpSource,
    MqttField,
    MqttSource,
    Plant,
    Ratios,
    Role,
    Site,
    Supply,
)
from plantcarbon_core.profile import ProfileError, load_profile
from simulators.loads import MODELS

SCENARIO_DIR = Path(__file__).with_name("scenarios")

FaultKind = Literal[
    "timeout",
    "exception",
    "garbage",
    "not_available",
    "zero",
    "rollover",
    "reset",
    "replacement",
    "clock_skew",
    "out_of_order",
    "duplicate",
    "disconnect",
]
MODBUS_FAULTS = {"timeout", "exception", "garbage", "not_available", "zero"}
COUNTER_FAULTS = {"rollover", "reset", "replacement"}
MQTT_FAULTS = {"clock_skew", "out_of_order", "duplicate", "disconnect"}



class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Gateway(_Model):
    """One TCP port answering for many unit ids: a serial gateway (rtu) or a Modbus TCP concentrator."""

    id: str
    framer: Literal["socket", "rtu"] = "socket"


class Meter(_Model):
    """The meter a device carries. Modbus: a profile on a gateway/unit or its own port. MQTT: a payload style."""

    protocol: Literal["modbus", "mqtt"] = "modbus"
    profile: str | None = None  # modbus: plantcarbon_core/meter_profiles/<id>.yaml
    gateway: str | None = None  # modbus: a gateway id; None = the meter has its own port
    unit: int | None = Field(default=None, ge=1, le=247)  # None = next free unit on the gateway
    framer: Literal["socket", "rtu"] = "socket"  # for a meter on its own port
    interval_s: float = Field(default=5.0, gt=0)  # poll interval written into the plant file
    payload: Literal["tasmota", "vendor-gateway"] | None = None  # mqtt
    period_s: float = Field(default=10.0, gt=0)  # mqtt: publish period

    @model_validator(mode="after")
    def _check(self) -> Meter:
        if self.protocol == "modbus" and not self.profile:
            raise ValueError("a modbus meter needs a profile")
        if self.protocol == "mqtt" and not self.payload:
            raise ValueError("an mqtt meter needs a payload style (tasmota | vendor-gateway)")
        return self


class SimDevice(_Model):
    id: str
    name: str
    kind: DeviceKind
    carrier: Carrier = "electricity"
    role: Role = "main"
    parent: str | None = None
    area: str = "default"
    # Rating in the carrier's rate unit: kW, Nm3/h (gas), t/h (steam, production).
    rated: float = Field(gt=0)
    model: str | None = None  # a load model in simulators.loads.MODELS; default from kind
    params: dict[str, float | str] = {}
    voltage_v: float = Field(default=230.0, gt=0)  # phase-to-neutral, primary
    pf: float = Field(default=0.9, gt=0, le=1)
    ratios: Ratios = Ratios()
    meter: Meter | None = None
    fuel: str | None = None
    count: int | None = Field(default=None, ge=1, le=1000)  # repeat: "{n}" in id/name/parent is 1..count

    @property
    def model_name(self) -> str:
        return self.model or kind_of(self.kind).load_model or "constant"  # the kind's (kinds.yaml)

    @field_validator("model")
    @classmethod
    def _model(cls, v: str | None) -> str | None:
        if v is not None and v not in MODELS:
            raise ValueError(f"unknown load model {v!r} (known: {', '.join(sorted(MODELS))})")
        return v


# A time in a scenario: seconds after the simulation's origin, or an absolute ISO 8601 datetime.
When = float | datetime


class DrEvent(_Model):
    """A demand-response event: during [start, end) each listed device runs at `factor` × its normal rate."""

    id: str
    start: When
    end: When
    shed: dict[str, float]  # device id → factor (0 = stopped)

    @field_validator("shed")
    @classmethod
    def _factors(cls, v: dict[str, float]) -> dict[str, float]:
        for dev, f in v.items():
            if not 0 <= f <= 1:
                raise ValueError(f"{dev}: factor must be 0..1, got {f}")
        return v


class Fault(_Model):
    device: str
    kind: FaultKind
    at: When
    duration_s: float = Field(default=10.0, ge=0)
    code: int = Field(default=0x0B, ge=1, le=255)  # exception: 2 illegal address, 4 device failure, 0x0B gateway
    skew_s: float = 300.0  # clock_skew: the device clock's offset
    new_base: float | None = None  # replacement: the new meter's starting reading (default: seeded)


class RandomFaults(_Model):
    """Faults drawn from the seed: about `per_device_per_hour` per device, of the listed kinds."""

    per_device_per_hour: float = Field(default=0.5, ge=0)
    kinds: list[FaultKind] = ["timeout", "exception", "garbage", "not_available", "zero"]
    duration_s: float = Field(default=10.0, ge=0)
    devices: list[str] = []  # empty = every metered device


class CalendarSpec(_Model):
    shifts: list[tuple[float, float, float]] = [(0.0, 8.0, 0.8), (8.0, 16.0, 1.0), (16.0, 24.0, 0.9)]
    weekend: float = Field(default=0.5, ge=0, le=1)
    holidays: list[date] = []
    holiday: float = Field(default=0.2, ge=0, le=1)


class Scenario(_Model):
    id: str
    description: str = ""
    seed: int = 1
    site: Site
    contract: Contract = Contract()
    calendar: CalendarSpec = CalendarSpec()
    gateways: list[Gateway] = []
    devices: list[SimDevice]
    dr_events: list[DrEvent] = []
    faults: list[Fault] = []
    random_faults: RandomFaults | None = None
    # The plant file's carbon: block (materials and emission units), copied as it is; the
    # direct-emissions part validates it (metering/direct/config.py).
    carbon: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _cross(self) -> Scenario:
        errors: list[str] = []
        ids = [d.id for d in self.devices]
        seen: set[str] = set()
        for dev_id in ids:
            if dev_id in seen:
                errors.append(f"devices: duplicate id {dev_id!r}")
            seen.add(dev_id)
        gws = {g.id for g in self.gateways}
        for d in self.devices:
            if d.parent is not None and d.parent not in seen:
                errors.append(f"devices (id={d.id}): parent: no device with id {d.parent!r}")
            if d.meter and d.meter.gateway and d.meter.gateway not in gws:
                errors.append(f"devices (id={d.id}): meter.gateway: no gateway {d.meter.gateway!r}")
            if d.meter and d.meter.profile:
                try:
                    load_profile(d.meter.profile)
                except (ProfileError, DataFileError) as exc:
                    errors.append(f"devices (id={d.id}): meter.profile: {exc}")
            src = d.params.get("from_boiler")
            if src is not None and src not in seen:
                errors.append(f"devices (id={d.id}): params.from_boiler: no device with id {src!r}")
        for i, e in enumerate(self.dr_events):
            for dev in e.shed:
                if dev not in seen:
                    errors.append(f"dr_events[{i}] (id={e.id}): shed: no device with id {dev!r}")
        for i, f in enumerate(self.faults):
            target = next((d for d in self.devices if d.id == f.device), None)
            if target is None:
                errors.append(f"faults[{i}]: device: no device with id {f.device!r}")
            elif target.meter is None:
                errors.append(f"faults[{i}]: device: {f.device!r} has no meter")
            elif target.meter.protocol == "mqtt" and f.kind in MODBUS_FAULTS:
                errors.append(f"faults[{i}]: kind: {f.kind} is a Modbus fault, {f.device!r} is an MQTT device")
            elif target.meter.protocol == "modbus" and f.kind in MQTT_FAULTS:
                errors.append(f"faults[{i}]: kind: {f.kind} is an MQTT fault, {f.device!r} is a Modbus device")
        if self.random_faults is not None:
            for dev_id in self.random_faults.devices:
                if dev_id not in seen:
                    errors.append(f"random_faults.devices: no device with id {dev_id!r}")
        datafile.raise_all(errors)
        return self

    def device(self, device_id: str) -> SimDevice:
        return datafile.by_id(self.devices, device_id)

    def children(self, device_id: str) -> list[SimDevice]:
        return [d for d in self.devices if d.parent == device_id]

    @property
    def metered(self) -> list[SimDevice]:
        return [d for d in self.devices if d.meter is not None]


# A scenario file's errors are the one data-file error (plantcarbon_core/datafile.py); the old name stays for callers.
ScenarioError = DataFileError


_N = re.compile(r"\{n(?::(\d+)d)?\}")


def _expand(raw: dict[str, Any]) -> list[dict[str, Any]]:
    """A device with `count: N` becomes N devices; "{n}" / "{n:02d}" in strings is replaced by 1..N."""
    count = raw.get("count")
    if not count:
        return [raw]
    out: list[dict[str, Any]] = []
    for n in range(1, int(count) + 1):

        def sub(v: Any, n: int = n) -> Any:
            if isinstance(v, str):
                return _N.sub(lambda m: f"{n:0{int(m.group(1))}d}" if m.group(1) else str(n), v)
            if isinstance(v, dict):
                return {k: sub(x) for k, x in v.items()}
            return v

        item = {k: sub(v) for k, v in raw.items() if k != "count"}
        out.append(item)
    return out


def _expand_devices(data: dict[str, Any]) -> dict[str, Any]:
    devices = data.get("devices")
    if not isinstance(devices, list):
        return data
    return {**data, "devices": [x for d in devices for x in (_expand(d) if isinstance(d, dict) else [d])]}


def parse_scenario(text: str, source: str = "scenario.yaml") -> Scenario:
    return datafile.parse(text, Scenario, source, expect="site and devices", prepare=_expand_devices)


def available_scenarios() -> dict[str, Path]:
    return {p.stem: p for p in sorted(SCENARIO_DIR.glob("*.yaml"))}


def load_scenario(name_or_path: str | Path) -> Scenario:
    """A scenario by name (`small`, `cement`) or by path to a YAML file."""
    path = Path(name_or_path)
    if not path.suffix:
        found = available_scenarios().get(str(name_or_path))
        if found is None:
            known = ", ".join(available_scenarios())
            raise DataFileError([Problem(str(name_or_path), f"unknown scenario (known: {known})")])
        path = found
    return parse_scenario(datafile.read_text(path), source=path.name)


def resolve_when(when: When, origin: datetime) -> datetime:
    """Seconds after the origin, or an absolute datetime (naive = UTC)."""
    if isinstance(when, datetime):
        return when if when.tzinfo else when.replace(tzinfo=origin.tzinfo)
    return origin + timedelta(seconds=float(when))


# --- endpoints and the plant file ------------------------------------------------------------


class Endpoint(_Model):
    """Where a simulated meter answers: Modbus host/port/unit/framer, or its MQTT topic."""

    device: str
    protocol: Literal["modbus", "mqtt"]
    host: str = "127.0.0.1"
    port: int = 0
    unit: int = 1
    framer: Literal["socket", "rtu"] = "socket"
    port_key: str = ""  # the gateway id, or the device id for a meter on its own port
    topic: str = ""


def assign_endpoints(scenario: Scenario, ports: dict[str, int], host: str = "127.0.0.1") -> dict[str, Endpoint]:
    """Endpoint per metered device; `ports` maps each port key (gateway or device id) to a TCP port."""
    out: dict[str, Endpoint] = {}
    next_unit: dict[str, int] = {}
    used: dict[str, set[int]] = {}
    for d in scenario.metered:
        if d.meter is not None and d.meter.gateway and d.meter.unit:
            used.setdefault(d.meter.gateway, set()).add(d.meter.unit)
    gw_framer = {g.id: g.framer for g in scenario.gateways}
    for d in scenario.metered:
        m = d.meter
        assert m is not None
        if m.protocol == "mqtt":
            out[d.id] = Endpoint(device=d.id, protocol="mqtt", topic=mqtt_topic(d))
            continue
        key = m.gateway or d.id
        if m.gateway:
            unit = m.unit
            if unit is None:
                unit = next_unit.get(key, 1)
                while unit in used.setdefault(key, set()):
                    unit += 1
                used[key].add(unit)
                next_unit[key] = unit + 1
            framer = gw_framer[m.gateway]
        else:
            unit, framer = m.unit or 1, m.framer
        out[d.id] = Endpoint(
            device=d.id, protocol="modbus", host=host, port=ports[key], unit=unit, framer=framer, port_key=key
        )
    return out


def port_keys(scenario: Scenario) -> list[str]:
    keys: list[str] = []
    for d in scenario.metered:
        if d.meter is not None and d.meter.protocol == "modbus":
            key = d.meter.gateway or d.id
            if key not in keys:
                keys.append(key)
    return keys


def mqtt_topic(d: SimDevice) -> str:
    assert d.meter is not None
    if d.meter.payload == "tasmota":
        return f"tele/{d.id}/SENSOR"
    return f"acme-gw/{d.id}/up"


def mqtt_fields(d: SimDevice) -> tuple[dict[str, MqttField], str, Literal["epoch_s", "epoch_ms", "iso8601"]]:
    """How the edge maps this device's native payload: fields, timestamp path and format."""
    assert d.meter is not None
    if d.meter.payload == "tasmota":
        # Tasmota reports W and kWh; a PV plug's power is generation, i.e. negative net import.
        generates = kind_of(d.kind).generates
        sign = -1.0 if generates else 1.0
        counter = "e_exp_kwh" if generates else "e_imp_kwh"
        return (
            {
                "p_kw": MqttField(path="ENERGY.Power", scale=0.001 * sign),
                counter: MqttField(path="ENERGY.Total"),
                "v_l1_v": MqttField(path="ENERGY.Voltage"),
                "i_l1_a": MqttField(path="ENERGY.Current"),
                "pf": MqttField(path="ENERGY.Factor"),
            },
            "Time",
            "iso8601",
        )
    if d.carrier == "natural_gas":
        fields = {
            "flow_nm3h": MqttField(path="data.StdFlow_m3h"),
            "vol_nm3": MqttField(path="data.StdTotal_m3"),
            "temp_c": MqttField(path="data.Temp_degC"),
            "press_kpa": MqttField(path="data.Press_bar", scale=100.0),
        }
    elif d.carrier == "steam":
        fields = {
            "flow_th": MqttField(path="data.MassFlow_kgh", scale=0.001),
            "mass_t": MqttField(path="data.MassTotal_kg", scale=0.001),
            "temp_c": MqttField(path="data.Temp_degC"),
            "press_mpa": MqttField(path="data.Press_bar", scale=0.1),
        }
    elif d.carrier == "production":
        fields = {
            "rate_th": MqttField(path="data.Rate_kgh", scale=0.001),
            "output_t": MqttField(path="data.Total_kg", scale=0.001),
        }
    else:
        fields = {
            "p_kw": MqttField(path="data.Pt_W", scale=0.001),
            "e_imp_kwh": MqttField(path="data.EpImp_Wh", scale=0.001),
            "e_exp_kwh": MqttField(path="data.EpExp_Wh", scale=0.001),
            "v_l1_v": MqttField(path="data.Ua_V"),
            "i_l1_a": MqttField(path="data.Ia_A"),
        }
    return fields, "ts", "epoch_ms"


def _supply(d: SimDevice) -> Supply:
    """A steam header fed by a boiler of the scenario (`params.from_boiler`) is made on site."""
    src = d.params.get("from_boiler")
    return Supply(origin="onsite", generated_by=str(src)) if src is not None else Supply()


def to_plant(scenario: Scenario, endpoints: dict[str, Endpoint]) -> Plant:
    """The plant file of this scenario, its sources pointing at the given endpoints."""
    devices: list[Device] = []
    for d in scenario.devices:
        source: ModbusTcpSource | MqttSource | None = None
        ep = endpoints.get(d.id)
        if d.meter is not None and ep is not None:
            if ep.protocol == "modbus":
                assert d.meter.profile is not None
                source = ModbusTcpSource(
                    protocol="modbus-tcp",
                    host=ep.host,
                    port=ep.port,
                    unit=ep.unit,
                    profile=d.meter.profile,
                    framer=ep.framer,
                    interval_s=d.meter.interval_s,
                )
            else:
                fields, ts_path, ts_format = mqtt_fields(d)
                source = MqttSource(
                    protocol="mqtt",
                    topic=ep.topic,
                    fields=fields,
                    timestamp=ts_path,
                    timestamp_format=ts_format,
                    interval_s=d.meter.period_s,
                )
        devices.append(
            Device(
                id=d.id,
                name=d.name,
                kind=d.kind,
                carrier=d.carrier,
                role=d.role,
                parent=d.parent,
                area=d.area,
                source=source,
                ratios=d.ratios,
                rated_kw=d.rated if d.carrier == "electricity" else None,
                fuel=d.fuel,
                supply=_supply(d),
            )
        )
    return Plant(site=scenario.site, contract=scenario.contract, devices=devices, carbon=scenario.carbon)
