"""Meter profiles: register maps as data files (core/meter_profiles/*.yaml) and their word codec.

One file per meter model. The format is documented in docs/meter-profiles.md. The edge
decodes with `decode_row`; the simulators encode with `encode_row`, so a value round-trips.

Bad input: a register block can answer garbage. `decode_row` expects words of the wrong
count, the meter's "not available" patterns (e.g. 0xFFFF, 0x8000, NaN) and values outside the
row's plausible range; it returns a `Bad` with a reason instead of a number, never raises.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pymodbus.client.mixin import ModbusClientMixin

from core.quantities import registry

PROFILE_DIR = Path(__file__).with_name("meter_profiles")

Table = Literal["holding", "input", "coil", "discrete"]
DataType = Literal["int16", "uint16", "int32", "uint32", "int64", "uint64", "float32", "float64"]
Order = Literal["big", "little"]
RatioKind = Literal["none", "ct", "pt", "ctpt"]

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
    counter_max: float | None = None  # rollover point of a counter, in the quantity's unit
    poll: Literal["fast", "slow"] = "fast"  # slow blocks (energy counters) may be read less often

    @model_validator(mode="after")
    def _named(self) -> Register:
        if (self.quantity is None) == (self.id is None):
            raise ValueError("a register needs exactly one of quantity or id")
        if self.quantity is not None and self.quantity not in registry():
            raise ValueError(f"unknown quantity {self.quantity!r} (see core/quantities.yaml)")
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


def profile_dirs(extra: list[Path] | None = None) -> list[Path]:
    return [PROFILE_DIR, *(extra or [])]


@cache
def available_profiles() -> dict[str, Path]:
    return {p.stem: p for p in sorted(PROFILE_DIR.glob("*.yaml"))}


def load_profile_file(path: Path) -> MeterProfile:
    try:
        data = yaml.safe_load(path.read_text("utf-8"))
        prof = MeterProfile.model_validate(data)
    except (OSError, yaml.YAMLError) as exc:
        raise ProfileError(f"{path.name}: {exc}") from None
    except ValidationError as exc:
        lines = [
            f"{path.name}: {'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in exc.errors(include_url=False)
        ]
        raise ProfileError("\n".join(lines)) from None
    if prof.id != path.stem:
        raise ProfileError(f"{path.name}: id {prof.id!r} must equal the file name")
    return prof


@cache
def load_profile(profile_id: str) -> MeterProfile:
    path = available_profiles().get(profile_id)
    if path is None:
        known = ", ".join(available_profiles()) or "none"
        raise ProfileError(f"unknown meter profile {profile_id!r} (known: {known})")
    return load_profile_file(path)


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


def _is_nan_pattern(words: list[int], dtype: DataType) -> bool:
    return dtype.startswith("float") and all(w == 0xFFFF for w in words)


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
    wo, bo = profile.word_order_of(row), profile.byte_order_of(row)
    raw_int = 0
    for w in words if wo == "big" else reversed(words):
        raw_int = (raw_int << 16) | w
    for pattern in row.not_available:
        if pattern != "nan" and raw_int == pattern:
            return Bad(f"not available (0x{raw_int:X})")
    raw = decode_raw(words, row.type, wo, bo)
    if isinstance(raw, float) and not math.isfinite(raw):
        return Bad("not available (NaN)" if "nan" in row.not_available or math.isnan(raw) else "not finite")
    value = float(raw) * row.scale * (10.0**scale_exp) * _ratio(row.ratio, ct, pt)
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
