"""Block answers to values: CT/PT ratios, scale-factor helpers, not-available and out-of-range → bad."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge.plan import plan_reads
from edge.values import Decoder, decode_blocks, decode_blocks_by_row, implausible_counters
from plantcarbon_core.plant import Ratios, Workarounds
from plantcarbon_core.profile import (
    Bad,
    MeterProfile,
    available_profiles,
    encode_raw,
    encode_row,
    load_profile,
    pattern_words,
)


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
        # Main's codec rules: a transform (refusing |x| > 2), an asymmetric pattern (byte-swapped
        # words differ), a float helper (NaN → bad) scaling an int whose scaled value may overflow.
        {"quantity": "pf", "address": 22, "type": "float32", "transform": "schneider-four-quadrant-pf"},
        {"quantity": "v_l1_v", "address": 24, "type": "int16", "scale": 0.1, "not_available": [0x7FFF]},
        {"id": "v_sf", "address": 25, "type": "float32"},
        {"quantity": "v_l2_v", "address": 27, "type": "float64", "scale_factor": "v_sf", "ratio": "pt"},
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
    shipped = [load_profile(pid) for pid in sorted(available_profiles())]
    return shipped + [every_type_profile(*o) for o in ORDERS] + [simple_profile(*o) for o in ORDERS]


@pytest.mark.parametrize("p", all_profiles(), ids=lambda p: f"{p.id}-{p.word_order}-{p.byte_order}")
def test_compiled_plan_decodes_exactly_like_decode_row(p: MeterProfile) -> None:
    blocks = plan_reads(p, Workarounds(max_gap_fill=125))
    ratios = Ratios(ct="200/5", pt="10000/100")
    # Patterns in both byte orders (0x8000/0x0080, 0x7FFF/0xFF7F), NaN/inf halves, huge float64
    # exponents (overflow once scaled), scale factors in and outside -10..10, PF words past ±2.
    special = st.sampled_from(
        [
            0,
            0xFFFF,
            0x8000,
            0x0080,
            0x7FFF,
            0xFF7F,
            0x7F80,
            0xFF80,
            0x7FF0,
            0x7FEF,
            0xFFEF,
            0x7FC0,
            0xC000,
            0x4000,
            0x3F80,
            0xBF80,
            0x4020,
            0xC020,
            1,
            2,
            0xFFFE,
            3,
            0xFFFD,
            10,
            11,
            0xFFF6,
            0xFFF5,
            0xF5,
        ]
    )
    word = st.one_of(st.integers(0, 0xFFFF), special, special, st.sampled_from([-1, 0x10000]))
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
        # Neither raises: a scale factor outside -10..10, an overflow once scaled or a word
        # outside 0..0xFFFF is a bad value with the codec's reason, on both paths.
        assert decoder.decode(answers) == decode_blocks_by_row(p, answers, ratios)

    check()


def test_compiled_plan_keeps_failed_blocks_and_their_helpers_bad() -> None:
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


@pytest.mark.parametrize(
    "w_sf,reason",
    [
        (0x8000, "scale factor -32768 (0x8000: not implemented) outside -10..10"),  # SunSpec "not implemented"
        (308, "scale factor 308 outside -10..10"),  # 10^308 × 1000 W would be inf
    ],
)
def test_a_scale_factor_register_that_is_no_scale_makes_a_bad_value(w_sf: int, reason: str) -> None:
    p = prof(
        [
            {"id": "w_sf", "address": 10, "type": "int16"},
            {"quantity": "p_kw", "address": 0, "type": "int16", "scale": 0.001, "scale_factor": "w_sf"},
        ]
    )
    values, bad = decode_blocks(p, answer_all(p, {0: 1000, 10: w_sf}), Ratios())
    assert values == {} and bad == {"p_kw": reason}


def test_an_all_zero_energy_block_is_no_reading() -> None:
    # A DTSU666-H profile on a DTSU666: the meter answers its unused 0x401E block with zeros.
    got = implausible_counters({"e_imp_kwh": 0.0, "e_exp_kwh": 0.0, "p_kw": 0.0}, {})
    assert set(got) == {"e_imp_kwh", "e_exp_kwh"}
    assert got["e_imp_kwh"].startswith("implausible: every counter reads exactly 0")
    # An export counter that never moved beside a counting import counter is a reading.
    assert implausible_counters({"e_imp_kwh": 1234.5, "e_exp_kwh": 0.0}, {}) == {}
    # Once a counter has counted, all zeros are no new meter: the rule below names it.
    assert implausible_counters({"e_imp_kwh": 0.0, "e_exp_kwh": 0.0}, {"e_imp_kwh": 10.0}) == {
        "e_imp_kwh": "implausible: counter reads exactly 0 after 10 (zeroed or unserved register)"
    }


def test_a_counter_reading_exactly_0_after_more_than_0_is_a_fault() -> None:
    got = implausible_counters({"e_imp_kwh": 0.0, "e_exp_kwh": 5.0}, {"e_imp_kwh": 8123.4, "e_exp_kwh": 4.0})
    assert got == {"e_imp_kwh": "implausible: counter reads exactly 0 after 8123.4 (zeroed or unserved register)"}
    assert implausible_counters({"e_imp_kwh": 0.01}, {"e_imp_kwh": 8123.4}) == {}  # a decrease: metering's job


def test_a_float_helper_reading_nan_makes_its_rows_bad() -> None:
    p = prof(
        [
            {"id": "sf", "address": 10, "type": "float32"},
            {"quantity": "p_kw", "address": 0, "type": "int16", "scale_factor": "sf"},
        ]
    )
    values, bad = decode_blocks(p, answer_all(p, {0: 5, 10: 0x7FC0, 11: 0}), Ratios())
    assert values == {} and bad == {"p_kw": "scale factor: helper 'sf' is not a number (nan)"}


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st.sampled_from(sorted(available_profiles())), st.data())
def test_decode_blocks_of_any_answer_gives_values_or_reasons(profile_id: str, data: st.DataObject) -> None:
    # The edge's whole decoding path (helpers, scale factors, transforms, ratios) on random
    # register answers, failed blocks and short answers: finite values or bad reasons, nothing else.
    p = load_profile(profile_id)
    answers = {}
    for b in plan_reads(p, Workarounds()):
        answers[b] = data.draw(
            st.one_of(
                st.just(Bad("timeout")),
                st.lists(st.integers(0, 0xFFFF), min_size=max(b.count - 1, 0), max_size=b.count),
            )
        )
    values, bad = decode_blocks(p, answers, Ratios(ct="200/5", pt="10000/100"))
    assert all(isinstance(v, float) and math.isfinite(v) for v in values.values())
    assert all(isinstance(r, str) and r for r in bad.values())
    assert not set(values) & set(bad)


@pytest.mark.parametrize("order", ORDERS, ids=lambda o: f"{o[0]}-{o[1]}")
def test_compiled_plan_follows_the_codec_rules_case_by_case(order: tuple[str, str]) -> None:
    # Each of plantcarbon_core.profile's rules on the plan's own path (one block, one plan), value and reason
    # equal to decode_row's: transform, byte-swapped pattern, scale factor outside -10..10 or NaN,
    # a value overflowing once scaled, a word outside 0..0xFFFF.
    p = every_type_profile(*order)
    (block,) = plan_reads(p, Workarounds(max_gap_fill=125))
    ratios = Ratios(ct="200/5", pt="10000/100")
    decoder = Decoder(p, ratios)
    assert decoder.plan(block) is not None

    def answer(**values: float) -> list[int]:
        words = [0] * block.count
        for name, v in values.items():
            row = p.by_name(name)
            exp = {"i_l1_a": values.get("a_sf", 0), "v_l2_v": values.get("v_sf", 0)}.get(name, 0)
            if name in ("a_sf", "v_sf"):
                ws = encode_raw(v, row.type, p.word_order_of(row), p.byte_order_of(row))
            else:
                ct, pt = ratios.ct_factor, ratios.pt_factor
                ws = encode_row(p, row, v, scale_exp=int(exp) if math.isfinite(exp) else 0, ct=ct, pt=pt)
            words[row.address : row.address + row.words] = ws
        return words

    cases: list[tuple[list[int], dict[str, float], dict[str, str]]] = []
    w = answer(pf=0.5)
    w[22:24] = encode_raw(1.5, "float32", p.word_order, p.byte_order)  # quadrant 4: PF = 2 - 1.5
    cases.append((w, {"pf": 0.5}, {}))
    w = answer()
    w[22:24] = encode_raw(2.5, "float32", p.word_order, p.byte_order)
    cases.append((w, {}, {"pf": "transform schneider-four-quadrant-pf: register 2.5 outside -2..2"}))
    w = answer()
    w[24:25] = pattern_words(p, p.by_name("v_l1_v"), 0x7FFF)  # 0x7FFF as the meter sends it
    cases.append((w, {}, {"v_l1_v": "not available (0x7FFF)"}))
    w = answer(i_l1_a=3.0)
    w[8:9] = encode_raw(-32768, "int16", p.word_order, p.byte_order)
    cases.append((w, {}, {"i_l1_a": "scale factor -32768 (0x8000: not implemented) outside -10..10"}))
    w = answer()
    w[25:27] = encode_raw(math.nan, "float32", p.word_order, p.byte_order)
    cases.append((w, {}, {"v_l2_v": "scale factor: helper 'v_sf' is not a number (nan)"}))
    w = answer(v_sf=10)
    w[27:31] = encode_raw(1e307, "float64", p.word_order, p.byte_order)  # × 100 (PT) × 10^10: inf
    cases.append((w, {}, {"v_l2_v": "not finite after scaling: 1e+307 × 1 × 10^10 × ratio overflows"}))
    w = answer()
    w[7] = 0x10000
    cases.append((w, {}, {"i_l2_a": "not a register word in [65536]"}))
    for words, want_values, want_bad in cases:
        got = decoder.decode({block: words})
        assert got == decode_blocks_by_row(p, {block: words}, ratios)
        values, bad = got
        assert {q: values[q] for q in want_values} == pytest.approx(want_values)
        assert bad == want_bad
