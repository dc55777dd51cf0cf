"""Block answers → primary engineering values, through plantcarbon_core.profile's codec; pure, no I/O.

Bad input: a block may have failed (timeout, exception code, short answer) or hold the
meter's "not available" patterns or implausible values. Every row of a failed block becomes
a `bad` entry with the block's reason; a row `decode_row` rejects becomes `bad` with its
reason; a row scaled by a helper register whose own read failed is `bad` too. Never raises.

Speed: a poll decodes each block with one precompiled `struct` call (`BlockPlan`, built once
per block) instead of one codec call per register. The plan only accepts a value that is
finite, matches none of the row's "not available" patterns and lies inside its min/max;
anything else is handed to `plantcarbon_core.profile.decode_row`, so every verdict on a bad value, and
its reason, comes from the one codec. The plan applies the codec's rules in the codec's
order: a scale-factor exponent outside SunSpec's -10..10 (0x8000: not implemented), a value
that overflows once scaled, a `transform` that refuses its input, or a word outside 0..0xFFFF
all go to `decode_row` for the verdict. `decode_blocks_by_row` is that codec applied row by
row: the reference the plan is tested against, value for value.

Plausibility of counters (`implausible_counters`): a register block the meter does not serve
often answers zero-filled words, which decode as a perfectly valid 0.0 kWh. A cumulative
counter reading exactly 0 after it has read more than 0 is a fault, and a device whose
counters all read exactly 0 before any of them has read more than 0 gives no reading either
(e.g. a DTSU666-H profile on a DTSU666, whose energies sit at another address).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from edge.plan import Block
from plantcarbon_core.plant import Ratios
from plantcarbon_core.profile import SCALE_EXP_RANGE, TRANSFORMS, Bad, MeterProfile, Register, decode_raw, decode_row
from plantcarbon_core.quantities import is_counter

# A block's answer: the words (or bits as 0/1) it returned, or why it has none.
Answer = list[int] | Bad

_FORMAT = {"int16": "h", "uint16": "H", "int32": "i", "uint32": "I", "int64": "q", "uint64": "Q"}
_FORMAT |= {"float32": "f", "float64": "d"}
_UNSIGNED = {1: "H", 2: "I", 4: "Q"}
_EXP_LO, _EXP_HI = SCALE_EXP_RANGE


def _ratio(row: Register, ratios: Ratios) -> float:
    ct, pt = ratios.ct_factor, ratios.pt_factor
    return {"none": 1.0, "ct": ct, "pt": pt, "ctpt": ct * pt}[row.ratio]


@dataclass(frozen=True, slots=True)
class _Field:
    row: Register
    index: int  # position in the unpacked tuple
    factor: float  # scale × CT/PT ratio, computed as decode_row computes it
    transform: Callable[[float], float | Bad] | None  # the row's value transform (decode_row's), if any
    patterns: tuple[int, ...]  # integer "not available" patterns (the "nan" pattern needs none: NaN is caught)
    lo: float  # row.min, or -inf
    hi: float  # row.max, or +inf


@dataclass(frozen=True)
class BlockPlan:
    """One register block decoded in one `struct.unpack_from`: words are reordered for
    little word order, packed with the byte order, unpacked with the rows' formats."""

    block: Block
    count: int
    order: list[int] | None  # word permutation (little word order), None when words stay in place
    pack: struct.Struct  # words → bytes (">" or "<" per word: the byte order)
    values: struct.Struct  # bytes → every row's raw number, gaps skipped
    raw_ints: struct.Struct | None  # big-endian words → unsigned ints, for "not available" patterns
    fields: tuple[_Field, ...]
    # When every row is a quantity with neither scale factor, pattern nor transform (most meters):
    # per row (quantity, index, factor, min, max, field), for the short loop in `Decoder.decode`.
    simple: tuple[tuple[str, int, float, float, float, _Field], ...] | None

    @staticmethod
    def build(profile: MeterProfile, block: Block, ratios: Ratios) -> BlockPlan | None:
        """The plan, or None when the block cannot be one struct (bits, mixed byte orders)."""
        if block.table in ("coil", "discrete") or not block.rows:
            return None
        byte_orders = {profile.byte_order_of(r) for r in block.rows}
        if len(byte_orders) != 1:
            return None
        order = list(range(block.count))
        fmt, ufmt, pos, fields = ">", ">", 0, []
        for i, row in enumerate(sorted(block.rows, key=lambda r: r.address)):
            off = row.address - block.start
            if off < pos or off + row.words > block.count:
                return None
            gap = "x" * (2 * (off - pos))
            fmt, ufmt = fmt + gap + _FORMAT[row.type], ufmt + gap + _UNSIGNED[row.words]
            if profile.word_order_of(row) == "little":
                order[off : off + row.words] = reversed(order[off : off + row.words])
            patterns = tuple(p for p in row.not_available if p != "nan")
            lo = -math.inf if row.min is None else row.min
            hi = math.inf if row.max is None else row.max
            transform = None if row.transform is None else TRANSFORMS[row.transform].decode
            fields.append(_Field(row, i, row.scale * _ratio(row, ratios), transform, patterns, lo, hi))
            pos = off + row.words
        return BlockPlan(
            block=block,
            count=block.count,
            order=None if order == list(range(block.count)) else order,
            pack=struct.Struct(("<" if byte_orders == {"little"} else ">") + "H" * block.count),
            values=struct.Struct(fmt),
            raw_ints=struct.Struct(ufmt) if any(f.patterns for f in fields) else None,
            fields=tuple(fields),
            simple=tuple((f.row.name, f.index, f.factor, f.lo, f.hi, f) for f in fields)
            if all(
                f.row.quantity is not None and f.row.scale_factor is None and not f.patterns and f.transform is None
                for f in fields
            )
            else None,
        )

    def unpack(self, words: list[int]) -> tuple[tuple[float | int, ...], tuple[int, ...] | None]:
        """Every row's raw number and, when patterns are to be checked, its declared unsigned int.

        Raises struct.error for a word outside 0..0xFFFF (the caller hands the block to the codec)."""
        ordered = words if self.order is None else [words[i] for i in self.order]
        packed = self.pack.pack(*ordered)
        raw = self.values.unpack_from(packed)
        # Patterns are compared in declared order (both word and byte order undone), as in
        # decode_row: the packed bytes already hold each value as the manual writes it.
        ints = None if self.raw_ints is None else self.raw_ints.unpack_from(packed)
        return raw, ints


class Decoder:
    """A device's decoder: block plans built on first use (a block may be re-planned later)."""

    def __init__(self, profile: MeterProfile, ratios: Ratios):
        self.profile = profile
        self.ratios = ratios
        self._plans: dict[Block, BlockPlan | None] = {}

    def plan(self, block: Block) -> BlockPlan | None:
        try:
            return self._plans[block]
        except KeyError:
            plan = self._plans[block] = BlockPlan.build(self.profile, block, self.ratios)
            return plan

    def decode(self, answers: Mapping[Block, Answer]) -> tuple[dict[str, float], dict[str, str]]:
        """Values and bad entries (quantity → reason) for every quantity row of the answered blocks."""
        unpacked: dict[Block, tuple[BlockPlan, tuple[float | int, ...], tuple[int, ...] | None]] = {}
        rest: dict[Block, Answer] = {}
        helpers: dict[str, int | Bad] = {}
        for block, answer in answers.items():
            plan = self.plan(block)
            if plan is None or isinstance(answer, Bad) or len(answer) != plan.count:
                rest[block] = answer
                continue
            try:
                raw, ints = plan.unpack(answer)
            except struct.error:  # a word outside 0..0xFFFF: the codec names it
                rest[block] = answer
                continue
            unpacked[block] = (plan, raw, ints)
            for f in plan.fields:
                if f.row.id is not None:
                    helpers[f.row.id] = _helper_value(f.row, raw[f.index])
        slow_values: dict[str, float] = {}
        slow_bad: dict[str, str] = {}
        if rest:  # a failed block, or one without a plan: the codec, row by row
            helpers |= _helpers(self.profile, rest)
            slow_values, slow_bad = decode_blocks_by_row(self.profile, rest, self.ratios, helpers)
        values: dict[str, float] = {}
        bad: dict[str, str] = {}
        isfinite = math.isfinite
        for block, (plan, raw, ints) in unpacked.items():
            words = answers[block]
            assert not isinstance(words, Bad)
            if plan.simple is not None:
                doubtful: list[_Field] = []
                for name, i, factor, lo, hi, f in plan.simple:
                    # decode_row's arithmetic in its order (× 10**0 is exact); v − v is 0 only if finite.
                    value = float(raw[i]) * factor
                    if lo <= value <= hi and value - value == 0.0:
                        values[name] = value
                    else:
                        doubtful.append(f)
                for f in doubtful:
                    result = decode_row(
                        self.profile,
                        f.row,
                        block.words_of(f.row, words),
                        ct=self.ratios.ct_factor,
                        pt=self.ratios.pt_factor,
                    )
                    if isinstance(result, Bad):
                        bad[f.row.name] = result.reason
                    else:
                        values[f.row.name] = result
                continue
            for f in plan.fields:
                row = f.row
                q = row.quantity
                if q is None:
                    continue
                sf = row.scale_factor
                exp = 0
                if sf is None:
                    # The same arithmetic, in the same order, as decode_row (× 10**0 is exact).
                    value = float(raw[f.index]) * f.factor
                else:
                    helper = helpers.get(sf, Bad(f"scale factor {sf!r} not read"))
                    if isinstance(helper, Bad):
                        bad[q] = f"scale factor: {helper.reason}"
                        continue
                    exp = helper
                    # An exponent outside -10..10 is no scale: NaN sends the row to decode_row.
                    value = float(raw[f.index]) * f.factor * (10.0**exp) if _EXP_LO <= exp <= _EXP_HI else math.nan
                if f.transform is not None and isfinite(value):
                    done = f.transform(value)
                    value = math.nan if isinstance(done, Bad) else done  # refused: decode_row says why
                if f.lo <= value <= f.hi and isfinite(value) and (ints is None or ints[f.index] not in f.patterns):
                    values[q] = value
                    continue
                # Anything doubtful: the codec decides, and says why.
                result = decode_row(
                    self.profile,
                    row,
                    block.words_of(row, words),
                    scale_exp=exp,
                    ct=self.ratios.ct_factor,
                    pt=self.ratios.pt_factor,
                )
                if isinstance(result, Bad):
                    bad[q] = result.reason
                else:
                    values[q] = result
        values.update(slow_values)
        bad.update(slow_bad)
        return values, bad


def decode_blocks(
    profile: MeterProfile, answers: Mapping[Block, Answer], ratios: Ratios
) -> tuple[dict[str, float], dict[str, str]]:
    """Values and bad entries (quantity → reason) for every quantity row of the answered blocks."""
    return Decoder(profile, ratios).decode(answers)


def decode_blocks_by_row(
    profile: MeterProfile,
    answers: Mapping[Block, Answer],
    ratios: Ratios,
    known_helpers: Mapping[str, int | Bad] | None = None,
) -> tuple[dict[str, float], dict[str, str]]:
    """The reference: `decode_row` for every quantity row. `known_helpers`: scale-factor
    registers read in blocks that are not among `answers`."""
    ct, pt = ratios.ct_factor, ratios.pt_factor
    helpers = {**(known_helpers or {}), **_helpers(profile, answers)}
    values: dict[str, float] = {}
    bad: dict[str, str] = {}
    for block, answer in answers.items():
        for row in block.rows:
            if row.quantity is None:
                continue
            if isinstance(answer, Bad):
                bad[row.quantity] = answer.reason
                continue
            exp: int | Bad = 0
            if row.scale_factor is not None:
                exp = helpers.get(row.scale_factor, Bad(f"scale factor {row.scale_factor!r} not read"))
            if isinstance(exp, Bad):
                bad[row.quantity] = f"scale factor: {exp.reason}"
                continue
            result = decode_row(profile, row, block.words_of(row, answer), scale_exp=exp, ct=ct, pt=pt)
            if isinstance(result, Bad):
                bad[row.quantity] = result.reason
            else:
                values[row.quantity] = result
    return values, bad


def _helpers(profile: MeterProfile, answers: Mapping[Block, Answer]) -> dict[str, int | Bad]:
    """Scale-factor registers (rows with an `id`) of the answered blocks, or why each has no value."""
    helpers: dict[str, int | Bad] = {}
    for block, answer in answers.items():
        for row in block.rows:
            if row.id is None:
                continue
            helpers[row.id] = answer if isinstance(answer, Bad) else _helper(profile, row, block.words_of(row, answer))
    return helpers


def _helper(profile: MeterProfile, row: Register, words: list[int]) -> int | Bad:
    """A helper register (scale-factor exponent, ratio) as an integer, or why it has none."""
    if len(words) != row.words:
        return Bad(f"expected {row.words} words, got {len(words)}")
    if any(not isinstance(w, int) or not 0 <= w <= 0xFFFF for w in words):
        return Bad(f"not a register word in {[w if isinstance(w, int) else type(w).__name__ for w in words]}")
    return _helper_value(row, decode_raw(words, row.type, profile.word_order_of(row), profile.byte_order_of(row)))


def _helper_value(row: Register, raw: float | int) -> int | Bad:
    if isinstance(raw, float) and not math.isfinite(raw):
        return Bad(f"helper {row.id!r} is not a number ({raw})")  # a float helper reading NaN
    return int(raw)


def implausible_counters(
    values: Mapping[str, float], counted: Mapping[str, float], names: Iterable[str] | None = None
) -> dict[str, str]:
    """Counter values that are no reading (quantity → reason); `counted` holds each counter's last
    value > 0. `names`: the counter quantities the device can report (looked up once per device
    instead of once per value and poll); None: every counter of the quantity registry."""
    if names is None:
        counters = {q: v for q, v in values.items() if is_counter(q)}
    else:
        counters = {q: values[q] for q in names if q in values}
    out: dict[str, str] = {}
    if counters and all(v == 0.0 for v in counters.values()) and not any(counted.get(q, 0.0) > 0 for q in counters):
        for q in counters:
            out[q] = "implausible: every counter reads exactly 0 (a register block the meter does not serve?)"
    for q, v in counters.items():
        last = counted.get(q, 0.0)
        if v == 0.0 and last > 0.0:
            out[q] = f"implausible: counter reads exactly 0 after {last:g} (zeroed or unserved register)"
    return out
