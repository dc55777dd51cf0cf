"""Block answers to values: CT/PT ratios, scale-factor helpers, not-available and out-of-range → bad."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.plant import Ratios, Workarounds
from core.profile import Bad, MeterProfile, available_profiles, encode_row, load_profile
from edge.plan import plan_reads
from edge.values import decode_blocks, implausible_counters


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
