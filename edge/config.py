"""Edge checks of a plant file beyond the core model: profiles, register maps, serial lines, MQTT maps.

Bad input: a plant file that loads (plantcarbon_core.plant) can still be unusable at the edge — an
unknown or broken meter profile, registers that overlap after a device's word-size quirks,
two devices claiming one unit on one RS-485 line, devices on one serial port with different
line settings, a timeout shorter than a full answer takes at the configured baud rate, an
MQTT mapping to an unknown quantity. `edge_errors` returns every such mistake as a line in
plantcarbon_core.plant's format (`plant.yaml: devices[3] (id=x): source.profile: …`); `check_plant`
raises `PlantFileError` with them. Nothing connects to anything here.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from edge.plan import MAX_REGISTERS, plan_reads
from plantcarbon_core.datafile import DataFileError, Problem
from plantcarbon_core.plant import ModbusRtuSource, ModbusTcpSource, MqttSource, Plant, PlantFileError
from plantcarbon_core.profile import ProfileError, find_profile
from plantcarbon_core.quantities import registry
from plantcarbon_core.wire import TS_MIN_MS, ReadingBatch, Sample, WireError, decode_batch, encode_batch

# find_profile: core's one lookup (plantcarbon_core.profile), re-exported for the edge's callers.
__all__ = ["EDGE_ID_RULE", "check_plant", "edge_errors", "edge_id_error", "find_profile", "frame_time_s"]

# An RTU frame carries 1 start bit + data bits + parity bit + stop bits per byte.
_RTU_OVERHEAD_BYTES = 5  # unit, function, byte count, CRC (2)


def edge_errors(plant: Plant, source: str = "plant.yaml", profile_dirs: Sequence[Path] = ()) -> list[str]:
    return [f"{source}: {line}" for line in _errors(plant, profile_dirs)]


def check_plant(plant: Plant, source: str = "plant.yaml", profile_dirs: Sequence[Path] = ()) -> Plant:
    errors = [Problem(source, line) for line in _errors(plant, profile_dirs)]
    if errors:
        raise PlantFileError(errors)
    return plant


EDGE_ID_RULE = "1 to 63 characters of a-z, 0-9, '_' and '-', starting with a letter or digit"


def edge_id_error(edge_id: str) -> str | None:
    """Why ingest would refuse batches from this edge id, or None. Checked by the wire contract
    itself (a batch round trip), so the rule cannot drift from what ingest accepts."""
    probe = ReadingBatch(edge=edge_id, device="probe", seq=0, samples=[Sample(ts=TS_MIN_MS, values={"p_kw": 0.0})])
    try:
        decode_batch(encode_batch(probe))
    except WireError:
        return f"edge id {edge_id!r} is not valid: it must be {EDGE_ID_RULE} (ingest refuses any other)"
    return None


def frame_time_s(rtu: ModbusRtuSource, registers: int = MAX_REGISTERS) -> float:
    """Seconds a full answer of `registers` registers takes on the line at its settings."""
    bits_per_byte = 1 + rtu.bytesize + (0 if rtu.parity == "N" else 1) + rtu.stopbits
    return (2 * registers + _RTU_OVERHEAD_BYTES) * bits_per_byte / rtu.baudrate


def _errors(plant: Plant, profile_dirs: Sequence[Path]) -> Iterator[str]:
    lines: dict[str, tuple[int, str, ModbusRtuSource]] = {}
    rtu_units: dict[tuple[str, int], str] = {}
    for i, d in enumerate(plant.devices):
        where = f"devices[{i}] (id={d.id})"
        src = d.source
        if isinstance(src, ModbusTcpSource | ModbusRtuSource):
            yield from _profile_errors(where, src, profile_dirs)
        if isinstance(src, ModbusTcpSource) and src.unit == 0:
            yield f"{where}: source.unit: 0 is the broadcast address, which never answers a read; use 1..247"
        if isinstance(src, ModbusRtuSource):
            key = (src.serial_port, src.unit)
            if key in rtu_units:
                yield f"{where}: source.unit: unit {src.unit} on {src.serial_port} is already device {rtu_units[key]!r}"
            else:
                rtu_units[key] = d.id
            if src.parity == "N" and src.stopbits == 1 and src.bytesize == 7:
                yield (
                    f"{where}: source: 7 data bits, no parity and 1 stop bit is 9 bits a character; "
                    "Modbus RTU needs 11 (use parity E/O or stopbits 2)"
                )
            first = lines.get(src.serial_port)
            if first is None:
                lines[src.serial_port] = (i, d.id, src)
            else:
                j, other, osrc = first
                for attr in ("baudrate", "parity", "stopbits", "bytesize"):
                    if getattr(src, attr) != getattr(osrc, attr):
                        yield (
                            f"{where}: source.{attr}: {getattr(src, attr)!r} differs from "
                            f"{getattr(osrc, attr)!r} of devices[{j}] (id={other}) on the same serial "
                            f"port {src.serial_port}; one RS-485 line has one setting"
                        )
            try:
                longest = max(b.count for b in plan_reads(find_profile(src.profile, profile_dirs), src.workarounds))
            except (ProfileError, ValueError):
                longest = 0
            need = frame_time_s(src, longest)
            if longest and need >= src.timeout_s:
                yield (
                    f"{where}: source.timeout_s: {src.timeout_s:g} s is shorter than the "
                    f"{need:.2f} s a {longest}-register answer takes at {src.baudrate} baud "
                    "(raise timeout_s or lower workarounds.max_registers_per_request)"
                )
        if isinstance(src, MqttSource):
            yield from _mqtt_errors(where, src)


def _profile_errors(where: str, src: ModbusTcpSource | ModbusRtuSource, extra_dirs: Sequence[Path]) -> Iterator[str]:
    try:
        find_profile(src.profile, extra_dirs)
    except (ProfileError, DataFileError) as exc:
        lines = str(exc).splitlines()
        if len(lines) == 1 and lines[0].startswith("unknown meter profile"):
            yield f"{where}: source.profile: {lines[0]}"
            return
        for line in lines:
            yield f"{where}: source.profile: {src.profile!r} is broken: {line}"


def _mqtt_errors(where: str, src: MqttSource) -> Iterator[str]:
    known = registry()
    for name, f in src.fields.items():
        if name not in known:
            yield f"{where}: source.fields.{name}: unknown quantity {name!r} (see plantcarbon_core/quantities.yaml)"
        if not f.path or any(not part for part in f.path.split(".")):
            yield f"{where}: source.fields.{name}.path: must be a dotted JSON path like 'ENERGY.Power', got {f.path!r}"
        if f.scale == 0:
            yield f"{where}: source.fields.{name}.scale: must not be 0"
    if not src.topic or (any(c in src.topic for c in "#+") and not _valid_filter(src.topic)):
        yield f"{where}: source.topic: not a valid MQTT topic filter, got {src.topic!r}"
    if src.timestamp != "arrival" and any(not part for part in src.timestamp.split(".")):
        yield f"{where}: source.timestamp: must be 'arrival' or a dotted JSON path, got {src.timestamp!r}"


def _valid_filter(topic: str) -> bool:
    levels = topic.split("/")
    for i, level in enumerate(levels):
        if "#" in level and (level != "#" or i != len(levels) - 1):
            return False
        if "+" in level and level != "+":
            return False
    return True
