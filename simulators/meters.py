"""Register images of simulated Modbus meters: engineering values → words, by the meter's profile.

Encoding is `plantcarbon_core.profile.encode_row`, the inverse of the edge's `decode_row`, so a client
decoding with the profile gets the model's values back (within the register's resolution).
Scale-factor helper registers are fixed per meter at start, as real SunSpec-style meters do.
Gaps of up to GAP_FILL registers between a profile's registers read as zeros (most meters answer
so), larger gaps answer exception 02 (illegal data address).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from plantcarbon_core.profile import WORDS, MeterProfile, Register, encode_raw, encode_row, pattern_words
from simulators.loads import key_of, uniform

GAP_FILL = 10

Image = dict[str, dict[int, int]]  # table → address → word


def scale_exponents(profile: MeterProfile, full_scale: dict[str, float]) -> dict[str, int]:
    """Per helper register, the smallest power of ten at which every value using it fits its type."""
    out: dict[str, int] = {}
    for helper in (r for r in profile.registers if r.id):
        users = [r for r in profile.registers if r.scale_factor == helper.id]
        if not users:
            continue  # an informational helper (e.g. a CT ratio register), not a scale factor
        exp = -3
        for r in users:
            top = _int_top(r)
            need = abs(full_scale.get(r.quantity or "", 0.0)) / (r.scale * top) if top else 0.0
            while need > 10.0**exp and exp < 9:
                exp += 1
        out[helper.id or ""] = exp
    return out


def _int_top(r: Register) -> float:
    if r.type.startswith("float"):
        return 0.0
    bits = 16 * WORDS[r.type]
    return float(2 ** (bits - 1) - 1 if not r.type.startswith("u") else 2**bits - 1)


def not_available_words(profile: MeterProfile, r: Register) -> list[int]:
    """The words a meter shows for "no value": the row's first pattern, else NaN / all ones."""
    n = r.words
    for p in r.not_available:
        if p == "nan":
            return encode_raw(math.nan, r.type, profile.word_order_of(r), profile.byte_order_of(r))
        return pattern_words(profile, r, int(p))  # the manual's pattern, sent in the meter's orders
    if r.type.startswith("float"):
        return encode_raw(math.nan, r.type, profile.word_order_of(r), profile.byte_order_of(r))
    return [0xFFFF] * n


@dataclass
class MeterImage:
    """One meter's register image, rebuilt from engineering values each update."""

    profile: MeterProfile
    ct: float = 1.0
    pt: float = 1.0
    exps: dict[str, int] = field(default_factory=dict)  # scale-factor helper id → exponent

    def helper_value(self, helper_id: str) -> int:
        """Scale-factor exponents; CHINT-style ratio registers (irat = CT, urat = PT × 10); else 0."""
        if helper_id in self.exps:
            return self.exps[helper_id]
        return {"irat": round(self.ct), "urat": round(self.pt * 10)}.get(helper_id, 0)

    def layout(self) -> Image:
        """Every address the meter answers, zero-filled across small gaps."""
        img: Image = {}
        spans: dict[str, list[tuple[int, int]]] = {}
        for r in self.profile.registers:
            spans.setdefault(self.profile.table_of(r), []).append((r.address, r.address + r.words))
        for table, ss in spans.items():
            ss.sort()
            tab = img.setdefault(table, {})
            prev_end: int | None = None
            for a, b in ss:
                if prev_end is not None and 0 < a - prev_end <= GAP_FILL:
                    for x in range(prev_end, a):
                        tab[x] = 0
                for x in range(a, b):
                    tab[x] = 0
                prev_end = b if prev_end is None else max(prev_end, b)
        return img

    def encode(
        self, values: dict[str, float], mode: str | None = None, salt: int = 0
    ) -> list[tuple[str, int, list[int]]]:
        """(table, address, words) for every register; `mode` = a content fault: garbage | not_available | zero."""
        out: list[tuple[str, int, list[int]]] = []
        p = self.profile
        for r in p.registers:
            table = p.table_of(r)
            if r.id:
                words = encode_raw(self.helper_value(r.id), r.type, p.word_order_of(r), p.byte_order_of(r))
            elif mode == "not_available":
                words = not_available_words(p, r)
            elif mode == "garbage":
                u = uniform(np.arange(r.words, dtype=np.int64), key_of(salt, r.address))
                words = [int(x * 65536) & 0xFFFF for x in u]
            else:
                v = 0.0 if mode == "zero" else values.get(r.quantity or "", 0.0)
                exp = self.exps.get(r.scale_factor, 0) if r.scale_factor else 0
                words = encode_row(p, r, v, scale_exp=exp, ct=self.ct, pt=self.pt)
            out.append((table, r.address, words))
        return out
