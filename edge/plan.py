"""Request planning: merge a device's registers into as few Modbus reads as its quirks allow.

Pure functions over a meter profile and the device's `Workarounds`; no I/O. A plan is a list
of `Block`s, each one read request (function code 01/02/03/04) covering one or more rows.
"""

from __future__ import annotations

from dataclasses import dataclass

from plantcarbon_core.plant import Workarounds
from plantcarbon_core.profile import MeterProfile, Register, Table

# Function code per table: 01 coils, 02 discrete inputs, 03 holding, 04 input registers.
FUNCTION_CODE: dict[Table, int] = {"coil": 1, "discrete": 2, "holding": 3, "input": 4}
# Modbus limits per request (spec: 125 registers, 2000 bits).
MAX_REGISTERS = 125
MAX_BITS = 2000


@dataclass(frozen=True, slots=True, eq=False)  # identity: a block is a key in a poll's answers
class Block:
    """One read request: `count` registers (or bits) of `table` from `start`, holding `rows`."""

    table: Table
    start: int
    count: int
    rows: tuple[Register, ...]

    @property
    def function_code(self) -> int:
        return FUNCTION_CODE[self.table]

    def words_of(self, row: Register, words: list[int]) -> list[int]:
        """The slice of this block's answer that belongs to `row`."""
        off = row.address - self.start
        return words[off : off + row.words]


def apply_workarounds(profile: MeterProfile, wk: Workarounds) -> MeterProfile:
    """The profile as this device speaks it: a word/byte order override applies to every row."""
    if wk.word_order is None and wk.byte_order is None:
        return profile
    update: dict[str, object] = {}
    row_update: dict[str, object] = {}
    if wk.word_order is not None:
        update["word_order"] = wk.word_order
        row_update["word_order"] = None
    if wk.byte_order is not None:
        update["byte_order"] = wk.byte_order
        row_update["byte_order"] = None
    rows = [r.model_copy(update=row_update) for r in profile.registers]
    return profile.model_copy(update={**update, "registers": rows})


def plan_reads(profile: MeterProfile, wk: Workarounds, rows: list[Register] | None = None) -> list[Block]:
    """Merge rows per table in address order; a gap of up to `max_gap_fill` is read across.

    A block never exceeds the smallest of the Modbus limit, the profile's and the device's
    `max_registers_per_request`. A row wider than that limit gets a block of its own.
    """
    rows = list(profile.registers) if rows is None else rows
    limit_regs = min(MAX_REGISTERS, profile.max_registers_per_request, wk.max_registers_per_request)
    blocks: list[Block] = []
    by_table: dict[Table, list[Register]] = {}
    for r in rows:
        by_table.setdefault(profile.table_of(r), []).append(r)
    for table in sorted(by_table):
        bits = table in ("coil", "discrete")
        limit = MAX_BITS if bits else limit_regs
        current: list[Register] = []
        start = end = 0
        for r in sorted(by_table[table], key=lambda r: r.address):
            width = 1 if bits else r.words
            if current:
                gap = r.address - end
                if gap <= wk.max_gap_fill and r.address + width - start <= limit:
                    current.append(r)
                    end = max(end, r.address + width)
                    continue
                blocks.append(Block(table, start, end - start, tuple(current)))
            current, start, end = [r], r.address, r.address + width
        if current:
            blocks.append(Block(table, start, end - start, tuple(current)))
    return blocks
