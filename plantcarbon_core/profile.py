"""Meter profiles: register maps as data files (plantcarbon_core/meter_profiles/*.yaml) and their word codec.

One file per meter model. The format is documented in docs/meter-profiles.md. The edge
decodes with `decode_row`; the simulators encode with `encode_row`, so a value round-trips.

Bad input: a register block can answer garbage. `decode_row` expects words of the wrong
count or outside 0..0xFFFF, the meter's "not available" patterns (e.g. 0xFFFF, 0x8000, NaN,
compared in the meter's declared byte and word order), a scale-factor exponent outside
SunSpec's -10..10 (0x8000 = "not implemented"), values that overflow to ±inf once scaled, a
value transform's out-of-domain input and values outside the row's plausible range; it returns
a `Bad` with a reason instead of a number and never raises.

One place for what a profile says about a counter: `register_step` (the smallest step of a
register's value, scale factors and CT/PT ratios included) and `counter_modulus` (where a
counter wraps: `counter_max` + one step). The metering engine, the simulators and the tests
use them. One profile lookup for every part: `find_profile` (shipped profiles, then the
folders of PLANTCARBON_PROFILE_DIRS).
"""

from __future__ import annotations

import itertools
import math
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pymodbus.client.mixin import ModbusClientMixin

from plantcarbon_core import datafile
from plantcarbon_core.datafile import DataFileError, Problem
from plantcarbon_core.quantities import registry
from plantcarbon_core.settings import ProfileSettings

PROFILE_DIR = Path(__file__).with_name("meter_profiles")

Table = Literal["holding", "input", "coil", "discrete"]
DataType = Literal["int16", "uint16", "int32", "uint32", "int64", "uint64", "float32", "float64"]
Order = Literal["big", "little"]
RatioKind = Literal["none", "ct", "pt", "ctpt"]
# Named value transforms for device quirks (docs/meter-profiles.md); see TRANSFORMS below.
TransformName = Literal["schneider-four-quadrant-pf"]

# SunSpec sunssf: "valid range -10 … 10"; 0x8000 (-32768) means "not implemented".
SCALE_EXP_RANGE = (-10, 10)

WORDS: dict[str, int] = {
    "int16": 1,
    "uint16": 1,
    "int32": 2,
    "uint32": 2,
    "int64": 4,
    "uint64": 4,
    "float32": 2,
    "float64": 4,
}
_DT = ModbusClientMixin.DATATYPE
_PYMODBUS_TYPE = {
    "int16": _DT.INT16,
    "uint16": _DT.UINT16,
    "int32": _DT.INT32,
    "uint32": _DT.UINT32,
    "int64": _DT.INT64,
    "uint64": _DT.UINT64,
    "float32": _DT.FLOAT32,
    "float64": _DT.FLOAT64,
}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Manual(_Model):
    title: str
    version: str
    table: str  # the table or section of the manual the registers come from
    url: str | None = None
    notes: str | None = None  # what could not be confirmed from the manual


class Register(_Model):
    """One value in the meter's register map."""

    quantity: str | None = None  # a registry quantity; None for a helper register (scale factor)
    id: str | None = None  # name of a helper register, referenced by `scale_factor`
    address: int = Field(ge=0, le=65535)  # 0-based protocol address (manual's 30001/40001 removed)
    table: Table | None = None  # default: the profile's
    type: DataType = "float32"
    word_order: Order | None = None  # default: the profile's
    byte_order: Order | None = None  # default: the profile's
    scale: float = 1.0  # raw × scale (× 10**scale_factor) = value in the quantity's unit
    scale_factor: str | None = None  # id of an int16 register holding a power-of-ten exponent
    ratio: RatioKind = "none"  # CT/PT multiplier to reach primary values (secondary-value meters)
    not_available: list[int | Literal["nan"]] = []  # raw patterns meaning "no value"
    min: float | None = None  # plausible range of the engineering value, else `bad`
    max: float | None = None
    # Largest reading of a counter (e.g. 99999999.9), in the quantity's unit as the register
    # holds it (before CT/PT ratios); it wraps to 0 one step later (`counter_modulus`).
    counter_max: float | None = Field(default=None, gt=0)
    # Step of a float register's value as the meter counts it (its display resolution, e.g.
    # 0.01 kWh); integer registers step by `scale` and must not set it.
    resolution: float | None = Field(default=None, gt=0)
    transform: TransformName | None = None  # a named quirk applied after scaling (TRANSFORMS)
    poll: Literal["fast", "slow"] = "fast"  # slow blocks (energy counters) may be read less often

    @model_validator(mode="after")
    def _named(self) -> Register:
        if (self.quantity is None) == (self.id is None):
            raise ValueError("a register needs exactly one of quantity or id")
        if self.quantity is not None and self.quantity not in registry():
            raise ValueError(f"unknown quantity {self.quantity!r} (see plantcarbon_core/quantities.yaml)")
        return self

    @model_validator(mode="after")
    def _counter(self) -> Register:
        is_float = self.type.startswith("float")
        if self.resolution is not None and not is_float:
            raise ValueError(f"resolution: an {self.type} register steps by its scale ({self.scale:g}); remove it")
        if self.counter_max is None:
            return self
        if self.scale_factor is not None:
            raise ValueError(
                "counter_max cannot be used with scale_factor: where the counter wraps would depend on the "
                "exponent the meter answers at run time"
            )
        if is_float and self.resolution is None:
            raise ValueError("counter_max on a float register needs resolution (the counter's step, e.g. 0.01)")
        step = counting_step(self)
        steps = self.counter_max / step
        if abs(steps - round(steps)) > 1e-6 * max(1.0, steps) ** 0.5:
            raise ValueError(
                f"counter_max {self.counter_max:g} is not a whole number of steps of {step:g} "
                "(it is the largest reading, e.g. 99999999.9 for a 0.1 step)"
            )
        if not is_float and round(steps) > _int_range(self.type)[1]:
            raise ValueError(f"counter_max {self.counter_max:g} is more than an {self.type} register can hold")
        return self

    @property
    def name(self) -> str:
        return self.quantity or self.id or ""

    @property
    def words(self) -> int:
        return WORDS[self.type]


class MeterProfile(_Model):
    id: str
    manufacturer: str
    model: str
    carrier: str = "electricity"
    manual: Manual
    table: Table = "holding"
    word_order: Order = "big"
    byte_order: Order = "big"
    max_registers_per_request: int = Field(default=125, ge=1, le=125)
    registers: list[Register]
    notes: str | None = None

    @field_validator("registers")
    @classmethod
    def _registers(cls, regs: list[Register]) -> list[Register]:
        names = [r.name for r in regs]
        dups = {n for n in names if names.count(n) > 1}
        if dups:
            raise ValueError(f"duplicate register names {sorted(dups)}")
        ids = {r.id for r in regs if r.id}
        for r in regs:
            if r.scale_factor and r.scale_factor not in ids:
                raise ValueError(f"{r.name}: scale_factor {r.scale_factor!r} is not a helper register id")
        return regs

    @model_validator(mode="after")
    def _no_overlap(self) -> MeterProfile:
        spans = sorted((self.table_of(r), r.address, r.address + r.words, r.name) for r in self.registers)
        for a, b in itertools.pairwise(spans):
            if a[0] == b[0] and b[1] < a[2]:
                raise ValueError(f"registers {a[3]!r} and {b[3]!r} overlap at {a[0]} address {b[1]}")
        return self

    def table_of(self, r: Register) -> Table:
        return r.table or self.table

    def word_order_of(self, r: Register) -> Order:
        return r.word_order or self.word_order

    def byte_order_of(self, r: Register) -> Order:
        return r.byte_order or self.byte_order

    def by_name(self, name: str) -> Register:
        for r in self.registers:
            if r.name == name:
                return r
        raise KeyError(name)


class ProfileError(ValueError):
    pass


def profile_dirs(extra: Sequence[Path] | None = None) -> list[Path]:
    """Folders searched for profiles, in order: the shipped ones, then `extra` (default: configured)."""
    return [PROFILE_DIR, *(configured_profile_dirs() if extra is None else extra)]


def configured_profile_dirs() -> list[Path]:
    """The user's profile folders from PLANTCARBON_PROFILE_DIRS (or the edge's older variable)."""
    return list(ProfileSettings().profile_dirs)


def find_profile(profile_id: str, extra_dirs: Sequence[Path] | None = None) -> MeterProfile:
    """A shipped profile (plantcarbon_core/meter_profiles), else one from the user's profile folders.

    `extra_dirs=None` means the configured folders; every part (edge, metering, simulators,
    dashboards) looks profiles up here, so they agree on a meter's registers and counters.
    """
    if profile_id in available_profiles():
        return _load_shipped(profile_id)
    dirs = profile_dirs(extra_dirs)[1:]
    for d in dirs:
        path = Path(d) / f"{profile_id}.yaml"
        if path.is_file():
            return _load_user_profile(path.resolve(), path.stat().st_mtime_ns)
    known = sorted({*available_profiles(), *(p.stem for d in dirs for p in Path(d).glob("*.yaml"))})
    raise ProfileError(f"unknown meter profile {profile_id!r} (known: {', '.join(known) or 'none'})")


@lru_cache(maxsize=256)
def _load_user_profile(path: Path, mtime_ns: int) -> MeterProfile:
    # Keyed by modification time: an edited user profile is read again, an unchanged one is not.
    return load_profile_file(path)


@cache
def available_profiles() -> dict[str, Path]:
    return {p.stem: p for p in sorted(PROFILE_DIR.glob("*.yaml"))}


def load_profile_file(path: Path) -> MeterProfile:
    """A profile file, or a DataFileError listing every mistake (its id must equal the file name)."""
    prof = datafile.load(path, MeterProfile, expect="id, name and registers")
    if prof.id != path.stem:
        raise DataFileError([Problem(path.name, f"must equal the file name, got {prof.id!r}", field="id")])
    return prof


def load_profile(profile_id: str) -> MeterProfile:
    """A profile by id: shipped, else from the configured user folders (`find_profile`)."""
    return find_profile(profile_id)


@cache
def _load_shipped(profile_id: str) -> MeterProfile:
    return load_profile_file(available_profiles()[profile_id])


# --- word codec ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Bad:
    """A register that gave no usable value, and why."""

    reason: str


def _swap_bytes(words: list[int]) -> list[int]:
    return [((w & 0xFF) << 8) | (w >> 8) for w in words]


def decode_raw(words: list[int], dtype: DataType, word_order: Order, byte_order: Order) -> float | int:
    """Raw register words → number; word order by pymodbus, the per-register byte swap is ours."""
    if byte_order == "little":
        words = _swap_bytes(words)
    value = ModbusClientMixin.convert_from_registers(words, _PYMODBUS_TYPE[dtype], word_order=word_order)
    assert isinstance(value, (int, float))
    return value


def encode_raw(value: float | int, dtype: DataType, word_order: Order, byte_order: Order) -> list[int]:
    if dtype.startswith("float"):
        v: float | int = float(value)
    else:
        v = round(value)
    words = ModbusClientMixin.convert_to_registers(v, _PYMODBUS_TYPE[dtype], word_order=word_order)
    return _swap_bytes(words) if byte_order == "little" else list(words)


def declared_int(words: list[int], word_order: Order, byte_order: Order) -> int:
    """Register words → the value's bit pattern as the manual writes it (both orders undone)."""
    if byte_order == "little":
        words = _swap_bytes(words)
    value = 0
    for w in words if word_order == "big" else reversed(words):
        value = (value << 16) | w
    return value


def pattern_words(profile: MeterProfile, row: Register, pattern: int) -> list[int]:
    """A declared bit pattern (e.g. a "not available" 0x7FFF) → the words the meter sends; inverse of declared_int."""
    n = row.words
    words = [(pattern >> (16 * (n - 1 - k))) & 0xFFFF for k in range(n)]
    if profile.word_order_of(row) == "little":
        words.reverse()
    return _swap_bytes(words) if profile.byte_order_of(row) == "little" else words


# --- value transforms -----------------------------------------------------------------------


def _schneider_pf_decode(x: float) -> float | Bad:
    # PM5xxx four-quadrant PF register (PM5300 manual EAV15107 / PM5500 manual HRB1684301,
    # "Power factor register format"): register -2..-1 → PF = -2 - reg; -1..+1 → PF = reg;
    # +1..+2 → PF = 2 - reg. The result carries the IEC sign (positive while importing).
    if not -2.0 <= x <= 2.0:
        return Bad(f"transform schneider-four-quadrant-pf: register {x:g} outside -2..2")
    if x < -1.0:
        return -2.0 - x
    if x > 1.0:
        return 2.0 - x
    return x


def _schneider_pf_encode(pf: float) -> float:
    # -1..1 is stored as itself (quadrants 1 and 3 in the PM5300 table); the quadrant is not
    # recoverable from a PF alone, and the decode of this encoding is exact.
    return min(max(pf, -1.0), 1.0)


@dataclass(frozen=True, slots=True)
class Transform:
    decode: Callable[[float], float | Bad]
    encode: Callable[[float], float]
    source: str


TRANSFORMS: dict[str, Transform] = {
    "schneider-four-quadrant-pf": Transform(
        _schneider_pf_decode,
        _schneider_pf_encode,
        "Schneider PM5300 user manual EAV15107 / PM5500 HRB1684301, 'Power factor register format'",
    ),
}


# --- resolution and rollover -----------------------------------------------------------------


def counting_step(row: Register) -> float:
    """One count of a register in its own terms (before scale factors and ratios): |scale|, or a float's resolution."""
    return row.resolution if row.resolution is not None else abs(row.scale)


def register_step(row: Register, *, scale_exp: int = 0, ct: float = 1.0, pt: float = 1.0, value: float = 0.0) -> float:
    """Smallest step of a register's engineering (primary) value as the edge reads it.

    Integer registers: |scale| × 10**scale_exp × CT/PT ratio. Float registers: the declared
    `resolution` scaled the same way, or the float's own spacing at `value` (primary),
    whichever is coarser — a float cannot resolve finer than its spacing.
    """
    factor = 10.0**scale_exp * _ratio(row.ratio, ct, pt)
    declared = counting_step(row) * factor
    if not row.type.startswith("float"):
        return declared
    unit = abs(row.scale) * factor
    raw = abs(value) / unit if unit else 0.0
    width = np.float32 if row.type == "float32" else np.float64
    spacing = float(np.spacing(width(raw))) * unit
    return max(spacing, declared) if row.resolution is not None else spacing


def counter_modulus(row: Register, *, ct: float = 1.0, pt: float = 1.0) -> float | None:
    """Where a counter wraps, in primary units: (counter_max + one step) × CT/PT ratio; None if undeclared.

    A 0.1 kWh register whose largest reading is 99,999,999.9 wraps to 0 at 100,000,000.0, so a
    step from 99,999,950.0 to 25.4 is 100,000,000.0 − 99,999,950.0 + 25.4 = 75.4 kWh.
    """
    if row.counter_max is None:
        return None
    return (row.counter_max + counting_step(row)) * _ratio(row.ratio, ct, pt)


def decode_row(
    profile: MeterProfile,
    row: Register,
    words: list[int],
    *,
    scale_exp: int = 0,
    ct: float = 1.0,
    pt: float = 1.0,
) -> float | Bad:
    """Words of one register → engineering value in the quantity's unit (primary), or Bad."""
    if len(words) != row.words:
        return Bad(f"expected {row.words} words, got {len(words)}")
    if any(not isinstance(w, int) or not 0 <= w <= 0xFFFF for w in words):
        return Bad(f"not a register word in {[w if isinstance(w, int) else type(w).__name__ for w in words]}")
    lo, hi = SCALE_EXP_RANGE
    if not lo <= scale_exp <= hi:
        hint = " (0x8000: not implemented)" if scale_exp == -32768 else ""
        return Bad(f"scale factor {scale_exp}{hint} outside {lo}..{hi}")
    factor = row.scale * _ratio(row.ratio, ct, pt)
    if not math.isfinite(factor):
        return Bad(f"scale × CT/PT ratio is not finite ({factor})")
    wo, bo = profile.word_order_of(row), profile.byte_order_of(row)
    declared = declared_int(words, wo, bo)
    for pattern in row.not_available:
        if pattern != "nan" and declared == pattern:
            return Bad(f"not available (0x{declared:X})")
    try:
        raw = decode_raw(words, row.type, wo, bo)
    except (struct.error, ValueError, OverflowError) as exc:
        return Bad(f"cannot decode {row.type}: {exc}")
    if isinstance(raw, float) and not math.isfinite(raw):
        return Bad("not available (NaN)" if "nan" in row.not_available or math.isnan(raw) else "not finite")
    value = float(raw) * factor * (10.0**scale_exp)
    if not math.isfinite(value):
        return Bad(f"not finite after scaling: {raw} × {row.scale:g} × 10^{scale_exp} × ratio overflows")
    if row.transform is not None:
        done = TRANSFORMS[row.transform].decode(value)
        if isinstance(done, Bad):
            return done
        value = done
    if row.min is not None and value < row.min:
        return Bad(f"out of range: {value:g} < {row.min:g}")
    if row.max is not None and value > row.max:
        return Bad(f"out of range: {value:g} > {row.max:g}")
    return value


def encode_row(
    profile: MeterProfile,
    row: Register,
    value: float,
    *,
    scale_exp: int = 0,
    ct: float = 1.0,
    pt: float = 1.0,
) -> list[int]:
    """Engineering (primary) value → the words the meter would hold; inverse of decode_row."""
    if row.transform is not None:
        value = TRANSFORMS[row.transform].encode(value)
    raw = value / (row.scale * (10.0**scale_exp) * _ratio(row.ratio, ct, pt))
    if not row.type.startswith("float"):
        lo, hi = _int_range(row.type)
        raw = min(max(round(raw), lo), hi)
    return encode_raw(raw, row.type, profile.word_order_of(row), profile.byte_order_of(row))


def _int_range(dtype: DataType) -> tuple[int, int]:
    bits = 16 * WORDS[dtype]
    if dtype.startswith("u"):
        return 0, 2**bits - 1
    return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1


def _ratio(kind: RatioKind, ct: float, pt: float) -> float:
    return {"none": 1.0, "ct": ct, "pt": pt, "ctpt": ct * pt}[kind]
