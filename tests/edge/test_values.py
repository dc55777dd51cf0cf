"""Block answers to values: CT/PT ratios, scale-factor helpers, not-available and out-of-range → bad."""

from __future__ import annotations

import pytest

from core.plant import Ratios, Workarounds
from core.profile import Bad, MeterProfile, encode_row
from edge.plan import plan_reads
from edge.values import decode_blocks


def prof(rows: list[dict]) -> MeterProfile:
    return MeterProfile.model_validate(
        {
            "id": "t",
            "manufacturer": "T",
            "model": "T",
            "manual": {"title": "t", "version": "1", "table": "t"},
            "table": "holding",
            "registers": rows,
        }
    )


def answer_all(p: MeterProfile, words_at: dict[int, int]):
    blocks = plan_reads(p, Workarounds(max_gap_fill=125))
    return {b: [words_at.get(a, 0) for a in range(b.start, b.start + b.count)] for b in blocks}


def test_ct_pt_ratios_make_primary_values() -> None:
    # A secondary-value meter behind CT 200/5 (40) and PT 10000/100 (100): 1.2 kW secondary → 4800 kW primary.
    p = prof(
        [
            {"quantity": "p_kw", "address": 0, "ratio": "ctpt"},
            {"quantity": "i_l1_a", "address": 2, "ratio": "ct"},
            {"quantity": "v_l1_v", "address": 4, "ratio": "pt"},
            {"quantity": "pf", "address": 6},
        ]
    )
    words: dict[int, int] = {}
    for r, v in zip(p.registers, (1.2, 4.5, 57.7, 0.95), strict=True):
        for i, w in enumerate(encode_row(p, r, v)):  # what the meter holds: secondary values
            words[r.address + i] = w
    values, bad = decode_blocks(p, answer_all(p, words), Ratios(ct="200/5", pt="10000/100"))
    assert bad == {}
    assert values == pytest.approx({"p_kw": 4800.0, "i_l1_a": 180.0, "v_l1_v": 5770.0, "pf": 0.95}, rel=1e-6)


def test_not_available_patterns_and_out_of_range_become_bad_with_reason() -> None:
    p = prof(
        [
            {"quantity": "p_kw", "address": 0, "type": "int16", "not_available": [0x8000]},
            {"quantity": "q_kvar", "address": 1, "type": "float32", "not_available": ["nan"]},
            {"quantity": "f_hz", "address": 3, "type": "uint16", "scale": 0.01, "min": 45, "max": 65},
            {"quantity": "pf", "address": 4, "type": "int16", "scale": 0.001},
        ]
    )
    words = {0: 0x8000, 1: 0xFFFF, 2: 0xFFFF, 3: 9000, 4: 0xFC18}  # pf = -1000 * 0.001
    values, bad = decode_blocks(p, answer_all(p, words), Ratios())
    assert values == {"pf": pytest.approx(-1.0)}
    assert bad == {
        "p_kw": "not available (0x8000)",
        "q_kvar": "not available (NaN)",
        "f_hz": "out of range: 90 > 65",
    }


def test_scale_factor_register_and_failed_helper() -> None:
    # SunSpec style: W = raw × 10^W_SF; W_SF = -1 → 12345 → 1234.5 W → 1.2345 kW (scale 0.001).
    p = prof(
        [
            {"id": "w_sf", "address": 10, "type": "int16"},
            {"quantity": "p_kw", "address": 0, "type": "int16", "scale": 0.001, "scale_factor": "w_sf"},
        ]
    )
    values, bad = decode_blocks(p, answer_all(p, {0: 12345, 10: 0xFFFF}), Ratios())
    assert values == {"p_kw": pytest.approx(1.2345)} and bad == {}
    blocks = plan_reads(p, Workarounds(max_gap_fill=0))
    answers = {b: (Bad("timeout") if b.start == 10 else [12345]) for b in blocks}
    values, bad = decode_blocks(p, answers, Ratios())
    assert values == {} and bad == {"p_kw": "scale factor: timeout"}


def test_a_failed_block_marks_each_of_its_rows_bad(sdm630) -> None:
    blocks = plan_reads(sdm630, Workarounds())
    answers = {b: Bad("exception 04 server device failure") if b.start == 52 else [0] * b.count for b in blocks}
    values, bad = decode_blocks(sdm630, answers, Ratios())
    assert set(bad) == {r.quantity for b in blocks if b.start == 52 for r in b.rows}
    assert set(bad.values()) == {"exception 04 server device failure"}
    assert "v_l1_v" in values and not set(values) & set(bad)


# --- the compiled block plan against the codec, row by row ------------------------------

ORDERS = [("big", "big"), ("little", "big"), ("big", "little"), ("little", "little")]


def every_type_profile(word_order: str, byte_order: str) -> MeterProfile:
    """One row per data type, a helper scale factor, patterns, a range, a gap: what the plan must match."""
    rows = [
        {"quantity": "p_kw", "address": 0, "type": "float32", "not_available": ["nan"], "min": -1e6, "max": 1e6},
        {"quantity": "q_kvar", "address": 2, "type": "float64", "ratio": "ctpt"},
        {"quantity": "i_l1_a", "address": 6, "type": "int16", "scale_factor": "a_sf", "not_available": [0x8000]},
        {"quantity": "i_l2_a", "address": 7, "type": "uint16", "scale": 0.01, "not_available": [0xFFFF], "min": 0},
        {"id": "a_sf", "address": 8, "type": "int16"},
        {"quantity": "e_imp_kwh", "address": 10, "type": "uint32", "scale": 0.1, "not_available": [0xFFFFFFFF]},
        {"quantity": "e_exp_kwh", "address": 12, "type": "int32", "ratio": "ct"},
        {"quantity": "eq_imp_kvarh", "address": 14, "type": "uint64", "scale": 0.001},
        {"quantity": "eq_exp_kvarh", "address": 18, "type": "int64", "max": 1e12},
    ]
    p = prof(rows)
    return p.model_copy(update={"word_order": word_order, "byte_order": byte_order})


def simple_profile(word_order: str, byte_order: str) -> MeterProfile:
    """Every type, ranges and ratios, but no scale factor and no pattern: the plan's short loop."""
    rows = [
        {"quantity": "p_kw", "address": 0, "type": "float32", "min": -1e6, "max": 1e6},
        {"quantity": "q_kvar", "address": 2, "type": "float64", "ratio": "ctpt"},
        {"quantity": "i_l1_a", "address": 6, "type": "int16", "scale": 0.1, "ratio": "ct", "min": 0},
        {"quantity": "i_l2_a", "address": 7, "type": "uint16", "scale": 0.01, "max": 500},
        {"quantity": "e_imp_kwh", "address": 10, "type": "uint32", "scale": 0.1},
        {"quantity": "e_exp_kwh", "address": 12, "type": "int32", "ratio": "pt"},
        {"quantity": "eq_imp_kvarh", "address": 14, "type": "uint64", "scale": 0.001},
        {"quantity": "eq_exp_kvarh", "address": 18, "type": "int64", "max": 1e12},
    ]
    return prof(rows).model_copy(update={"word_order": word_order, "byte_order": byte_order, "id": "simple"})


def all_profiles() -> list[MeterProfile]:
    from core.profile import available_profiles, load_profile

    shipped = [load_profile(pid) for pid in sorted(available_profiles())]
    return shipped + [every_type_profile(*o) for o in ORDERS] + [simple_profile(*o) for o in ORDERS]


@pytest.mark.parametrize("p", all_profiles(), ids=lambda p: f"{p.id}-{p.word_order}-{p.byte_order}")
def test_compiled_plan_decodes_exactly_like_decode_row(p: MeterProfile) -> None:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from edge.values import Decoder, decode_blocks_by_row

    blocks = plan_reads(p, Workarounds(max_gap_fill=125))
    ratios = Ratios(ct="200/5", pt="10000/100")
    special = st.sampled_from([0, 0xFFFF, 0x8000, 0x7FFF, 0x7F80, 0xFF80, 0x7FF0, 1, 2, 0xFFFE, 3, 0xFFFD])
    word = st.one_of(st.integers(0, 0xFFFF), special)
    decoder = Decoder(p, ratios)  # one decoder for every draw: the plans are reused, as in a poll loop
    assert all(decoder.plan(b) is not None for b in blocks if b.table not in ("coil", "discrete"))
    if p.id == "simple":
        assert all(plan.simple is not None for b in blocks if (plan := decoder.plan(b)) is not None)

    @settings(max_examples=300, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(word, min_size=sum(b.count for b in blocks), max_size=sum(b.count for b in blocks)))
    def check(words: list[int]) -> None:
        answers, at = {}, 0
        for b in blocks:
            answers[b] = words[at : at + b.count]
            at += b.count
        try:
            expected = decode_blocks_by_row(p, answers, ratios)
        except OverflowError:  # 10 ** a huge scale factor: the codec raises; so must the plan
            with pytest.raises(OverflowError):
                decoder.decode(answers)
            return
        assert decoder.decode(answers) == expected

    check()


def test_compiled_plan_keeps_failed_blocks_and_their_helpers_bad() -> None:
    from edge.values import Decoder, decode_blocks_by_row

    p = prof(
        [
            {"quantity": "i_l1_a", "address": 0, "type": "int16", "scale_factor": "a_sf"},
            {"quantity": "v_l1_v", "address": 1, "type": "uint16"},
            {"id": "a_sf", "address": 10, "type": "int16"},
            {"quantity": "f_hz", "address": 11, "type": "uint16", "scale": 0.01},
        ]
    )
    first, second = plan_reads(p, Workarounds(max_gap_fill=0))
    answers = {first: [12, 230], second: Bad("timeout")}  # the helper's block failed
    got = Decoder(p, Ratios()).decode(answers)
    assert got == decode_blocks_by_row(p, answers, Ratios())
    assert got == ({"v_l1_v": 230.0}, {"i_l1_a": "scale factor: timeout", "f_hz": "timeout"})
