"""Block answers → primary engineering values, through core.profile's codec; pure, no I/O.

Bad input: a block may have failed (timeout, exception code, short answer) or hold the
meter's "not available" patterns or implausible values. Every row of a failed block becomes
a `bad` entry with the block's reason; a row `decode_row` rejects becomes `bad` with its
reason; a row scaled by a helper register whose own read failed is `bad` too. Never raises.

Plausibility of counters (`implausible_counters`): a register block the meter does not serve
often answers zero-filled words, which decode as a perfectly valid 0.0 kWh. A cumulative
counter reading exactly 0 after it has read more than 0 is a fault, and a device whose
counters all read exactly 0 before any of them has read more than 0 gives no reading either
(e.g. a DTSU666-H profile on a DTSU666, whose energies sit at another address).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from core.plant import Ratios
from core.profile import Bad, MeterProfile, Register, decode_raw, decode_row
from core.quantities import is_counter
from edge.plan import Block

# A block's answer: the words (or bits as 0/1) it returned, or why it has none.
Answer = list[int] | Bad


def _helper(profile: MeterProfile, row: Register, words: list[int]) -> int | Bad:
    """A helper register (scale-factor exponent, ratio) as an integer, or why it has none."""
    if len(words) != row.words:
        return Bad(f"expected {row.words} words, got {len(words)}")
    raw = decode_raw(words, row.type, profile.word_order_of(row), profile.byte_order_of(row))
    if isinstance(raw, float) and not math.isfinite(raw):
        return Bad(f"helper {row.id!r} is not a number ({raw})")  # a float helper reading NaN
    return int(raw)


def decode_blocks(
    profile: MeterProfile, answers: Mapping[Block, Answer], ratios: Ratios
) -> tuple[dict[str, float], dict[str, str]]:
    """Values and bad entries (quantity → reason) for every quantity row of the answered blocks."""
    ct, pt = ratios.ct_factor, ratios.pt_factor
    helpers: dict[str, int | Bad] = {}
    for block, answer in answers.items():
        for row in block.rows:
            if row.id is None:
                continue
            if isinstance(answer, Bad):
                helpers[row.id] = answer
            else:
                helpers[row.id] = _helper(profile, row, block.words_of(row, answer))
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


def implausible_counters(values: Mapping[str, float], counted: Mapping[str, float]) -> dict[str, str]:
    """Counter values that are no reading (quantity → reason); `counted` holds each counter's last value > 0."""
    counters = {q: v for q, v in values.items() if is_counter(q)}
    out: dict[str, str] = {}
    if counters and all(v == 0.0 for v in counters.values()) and not any(counted.get(q, 0.0) > 0 for q in counters):
        for q in counters:
            out[q] = "implausible: every counter reads exactly 0 (a register block the meter does not serve?)"
    for q, v in counters.items():
        last = counted.get(q, 0.0)
        if v == 0.0 and last > 0.0:
            out[q] = f"implausible: counter reads exactly 0 after {last:g} (zeroed or unserved register)"
    return out
