"""Fault injection: scheduled and seeded-random fault windows per device, and counter display rules.

Faults are resolved once, when a simulation starts, into absolute windows; the same scenario,
seed and origin give the same windows. Modbus faults (timeout, exception, garbage,
not_available, zero) act on requests and register images; counter faults (rollover, reset,
replacement) change what the meter's counter shows, never the ground truth; MQTT faults
(clock_skew, out_of_order, duplicate, disconnect) act on the publisher.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from plantcarbon_core.profile import WORDS, MeterProfile, Register, counter_modulus
from simulators.loads import key_of, uniform
from simulators.model import PlantModel, counters_of
from simulators.scenario import COUNTER_FAULTS, MODBUS_FAULTS, MQTT_FAULTS, Fault, resolve_when

# A float register with no counter maximum in its profile rolls over like an 8-digit display.
DEFAULT_COUNTER_MAX = 100_000_000.0  # modulus of an 8-digit 0.1 display: 99,999,999.9 then 0


@dataclass(frozen=True)
class FaultWindow:
    device: str
    kind: str
    start: float  # epoch seconds
    end: float
    code: int = 0x0B
    skew_s: float = 0.0
    new_base: float | None = None

    def active(self, ts: float) -> bool:
        return self.start <= ts < self.end


def resolve_faults(model: PlantModel, until: datetime | None = None) -> list[FaultWindow]:
    """Scheduled faults plus the seeded random ones between the origin and `until` (default +7 days)."""
    sc = model.scenario
    out = [_window(model, f) for f in sc.faults]
    rf = sc.random_faults
    if rf is not None and rf.per_device_per_hour > 0 and rf.kinds:
        end = until or model.origin + timedelta(days=7)
        hours = max((end - model.origin).total_seconds() / 3600.0, 0.0)
        devices = rf.devices or [d.id for d in sc.metered]
        for dev_id in devices:
            meter = sc.device(dev_id).meter
            if meter is None:
                continue
            # Counter faults are one-off events: schedule them, they are not drawn at random.
            mqtt_dev = meter.protocol == "mqtt"
            kinds = [k for k in rf.kinds if k not in COUNTER_FAULTS and (k in MQTT_FAULTS) == mqtt_dev]
            if not kinds:
                continue
            n = round(rf.per_device_per_hour * hours)
            key = key_of(model.seed, dev_id, "random-faults")
            u = uniform(np.arange(3 * n, dtype=np.int64), key)
            for j in range(n):
                start = model.origin.timestamp() + float(u[3 * j]) * hours * 3600.0
                kind = kinds[int(u[3 * j + 1] * len(kinds))]
                code = (2, 4, 0x0B)[int(u[3 * j + 2] * 3)]
                out.append(FaultWindow(dev_id, kind, start, start + rf.duration_s, code=code, skew_s=300.0))
    return sorted(out, key=lambda w: (w.start, w.device))


def _window(model: PlantModel, f: Fault) -> FaultWindow:
    start = resolve_when(f.at, model.origin).timestamp()
    return FaultWindow(f.device, f.kind, start, start + f.duration_s, f.code, f.skew_s, f.new_base)


def counter_max_of(profile: MeterProfile | None, counter: str) -> float:
    """Where the counter wraps to 0: the profile's counter modulus, else what its register can hold."""
    if profile is None:
        return DEFAULT_COUNTER_MAX
    try:
        row = profile.by_name(counter)
    except KeyError:
        return DEFAULT_COUNTER_MAX
    modulus = counter_modulus(row)
    if modulus is not None:
        return modulus
    return register_capacity(row) or DEFAULT_COUNTER_MAX


def register_capacity(row: Register) -> float | None:
    if row.type.startswith("float") or row.scale_factor:
        return None
    bits = 16 * WORDS[row.type]
    top = 2**bits if row.type.startswith("u") else 2 ** (bits - 1)
    return top * row.scale


@dataclass
class CounterDisplay:
    """What one meter counter shows: `offset + integral` (mod counter_max), offsets changing at faults."""

    counter_max: float
    offsets: list[tuple[float, float]]  # (from epoch s, offset), sorted

    def show(self, ts: float, integral: float) -> float:
        offset = self.offsets[0][1]
        for start, off in self.offsets:
            if ts >= start:
                offset = off
        return (offset + integral) % self.counter_max


def counter_displays(
    model: PlantModel, device_id: str, windows: list[FaultWindow], profile: MeterProfile | None
) -> dict[str, CounterDisplay]:
    """Display rules of every counter of a device, with its rollover/reset/replacement faults applied."""
    d = model.devices[device_id]
    out: dict[str, CounterDisplay] = {}
    mine = [w for w in windows if w.device == device_id and w.kind in COUNTER_FAULTS]
    for c in counters_of(d):
        cmax = counter_max_of(profile, c)
        base = model.counter_base(device_id, c) % cmax
        offsets: list[tuple[float, float]] = [(model.origin.timestamp(), base)]
        for w in mine:
            at = datetime.fromtimestamp(w.start, model.origin.tzinfo)
            integral = model.integrate(model.origin, at)[device_id][c] if at > model.origin else 0.0
            if w.kind == "rollover":
                # The counter reaches its maximum exactly at the fault time and wraps to zero.
                offsets[0] = (offsets[0][0], (cmax - integral) % cmax)
            elif w.kind == "reset":
                offsets.append((w.start, -integral))
            elif w.kind == "replacement":
                new_base = w.new_base if w.new_base is not None else model.counter_base(device_id, c + "/new")
                offsets.append((w.start, new_base - integral))
        out[c] = CounterDisplay(cmax, sorted(offsets))
    return out


def modbus_fault(windows: list[FaultWindow], ts: float) -> FaultWindow | None:
    for w in windows:
        if w.kind in MODBUS_FAULTS and w.active(ts):
            return w
    return None
