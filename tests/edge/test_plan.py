"""Request planning: merged reads within the Modbus and per-device limits, gaps filled up to the setting."""

from __future__ import annotations

from edge.plan import apply_workarounds, plan_reads
from plantcarbon_core.plant import Workarounds
from plantcarbon_core.profile import MeterProfile


def profile(rows: list[dict], **kw: object) -> MeterProfile:
    return MeterProfile.model_validate(
        {
            "id": "t",
            "manufacturer": "T",
            "model": "T",
            "manual": {"title": "t", "version": "1", "table": "t"},
            "table": "holding",
            "registers": rows,
            **kw,
        }
    )


def spans(blocks) -> list[tuple[str, int, int]]:
    return [(b.table, b.start, b.count) for b in blocks]


# An SDM630-like map, pinned here so the test does not follow edits of the shipped profile.
SDM_LIKE = [
    {"quantity": q, "address": a}
    for q, a in [
        ("v_l1_v", 0),
        ("v_l2_v", 2),
        ("v_l3_v", 4),
        ("i_l1_a", 6),
        ("i_l2_a", 8),
        ("i_l3_a", 10),
        ("p_l1_kw", 12),
        ("p_l2_kw", 14),
        ("p_l3_kw", 16),
        ("p_kw", 52),
        ("s_kva", 56),
        ("q_kvar", 60),
        ("pf", 62),
        ("f_hz", 70),
        ("e_imp_kwh", 72),
        ("e_exp_kwh", 74),
        ("v_l12_v", 200),
        ("v_l23_v", 202),
        ("i_n_a", 224),
    ]
]


def test_plan_merges_across_small_gaps_only() -> None:
    # 0..17 contiguous; 52..75 has gaps of 2, 2 and 6 (<= 10); 200 and 224 are far apart.
    assert spans(plan_reads(profile(SDM_LIKE), Workarounds())) == [
        ("holding", 0, 18),
        ("holding", 52, 24),
        ("holding", 200, 4),
        ("holding", 224, 2),
    ]
    # With a gap fill of 4 the 6-register gap at 64..69 splits the middle block.
    assert ("holding", 70, 6) in spans(plan_reads(profile(SDM_LIKE), Workarounds(max_gap_fill=4)))


def test_no_gap_fill_keeps_gaps_out_of_reads(sdm630) -> None:
    blocks = plan_reads(sdm630, Workarounds(max_gap_fill=0))
    assert ("input", 52, 2) in spans(blocks) and ("input", 70, 10) in spans(blocks)
    for b in blocks:
        assert sum(r.words for r in b.rows) == b.count  # not one filler register


def test_block_size_never_exceeds_the_device_limit(sdm630) -> None:
    for limit in (1, 2, 7, 20, 125):
        for b in plan_reads(sdm630, Workarounds(max_registers_per_request=limit, max_gap_fill=125)):
            assert b.count <= max(limit, max(r.words for r in b.rows))
    # A float32 row is never split across two requests, even with a limit of 1 register.
    assert all(b.count == 2 for b in plan_reads(sdm630, Workarounds(max_registers_per_request=1)))


def test_125_register_modbus_limit_and_profile_limit() -> None:
    rows = [{"quantity": "p_kw", "address": 0}, {"quantity": "q_kvar", "address": 200}]
    rows += [{"id": f"h{i}", "address": 2 + 2 * i, "type": "int32"} for i in range(99)]
    p = profile(rows)
    blocks = plan_reads(p, Workarounds(max_gap_fill=125))
    assert max(b.count for b in blocks) <= 125
    assert sum(len(b.rows) for b in blocks) == len(rows)
    small = profile(rows, max_registers_per_request=10)
    assert max(b.count for b in plan_reads(small, Workarounds(max_gap_fill=125))) <= 10


def test_tables_are_planned_apart_with_their_function_codes() -> None:
    p = profile(
        [
            {"quantity": "p_kw", "address": 0},
            {"quantity": "q_kvar", "address": 2, "table": "input"},
            {"quantity": "pf", "address": 5, "table": "coil", "type": "uint16"},
            {"quantity": "f_hz", "address": 6, "table": "discrete", "type": "uint16"},
        ]
    )
    got = {(b.table, b.function_code, b.start, b.count) for b in plan_reads(p, Workarounds())}
    assert got == {("holding", 3, 0, 2), ("input", 4, 2, 2), ("coil", 1, 5, 1), ("discrete", 2, 6, 1)}


def test_word_and_byte_order_workarounds_override_profile_and_rows() -> None:
    p = profile(
        [{"quantity": "p_kw", "address": 0, "word_order": "big"}, {"quantity": "pf", "address": 2}], word_order="big"
    )
    spoken = apply_workarounds(p, Workarounds(word_order="little", byte_order="little"))
    assert {spoken.word_order_of(r) for r in spoken.registers} == {"little"}
    assert {spoken.byte_order_of(r) for r in spoken.registers} == {"little"}
    assert apply_workarounds(p, Workarounds()) is p
