"""Meter-profile codec at the register-word level: every type and word/byte order round-trips."""

from __future__ import annotations

import json
import math

import pytest
import yaml

from plantcarbon_core.profile import (
    Bad,
    MeterProfile,
    ProfileError,
    Register,
    available_profiles,
    counter_modulus,
    declared_int,
    decode_row,
    encode_row,
    find_profile,
    load_profile,
    pattern_words,
    register_step,
)


def prof(**reg) -> tuple[MeterProfile, Register]:
    r = Register(**reg)
    p = MeterProfile(
        id="t", manufacturer="x", model="y", manual={"title": "t", "version": "1", "table": "1"}, registers=[r]
    )
    return p, r


@pytest.mark.parametrize("dtype", ["int16", "uint16", "int32", "uint32", "int64", "uint64", "float32", "float64"])
@pytest.mark.parametrize("wo", ["big", "little"])
@pytest.mark.parametrize("bo", ["big", "little"])
def test_round_trip_all_types_and_orders(dtype: str, wo: str, bo: str) -> None:
    p, r = prof(quantity="p_kw", address=0, type=dtype, word_order=wo, byte_order=bo, scale=0.1)
    value = 1234.5 if dtype != "int16" and dtype != "uint16" else 123.4
    assert decode_row(p, r, encode_row(p, r, value)) == pytest.approx(value, rel=1e-6)


def test_sdm630_power_word_level() -> None:
    # 812400 W as IEEE 754 float32 is 0x49465700: words [0x4946, 0x5700], big endian.
    p = load_profile("eastron-sdm630")
    assert decode_row(p, p.by_name("p_kw"), [0x4946, 0x5700]) == pytest.approx(812.4)


def test_cdab_word_swap() -> None:
    p, r = prof(quantity="e_imp_kwh", address=0, type="uint32", word_order="little")
    # 0x0001_86A0 = 100000; CDAB sends the low word first.
    assert decode_row(p, r, [0x86A0, 0x0001]) == 100000.0


def test_scale_factor_and_ratios() -> None:
    p, r = prof(quantity="i_l1_a", address=0, type="int16", scale_factor=None, ratio="ct", scale=0.01)
    assert decode_row(p, r, [500], ct=40.0) == pytest.approx(200.0)  # 5.00 A secondary × 200/5
    assert decode_row(p, r, [500], scale_exp=1, ct=1.0) == pytest.approx(50.0)


def test_not_available_and_range() -> None:
    p, r = prof(quantity="pf", address=0, type="int16", scale=0.001, not_available=[0x8000], min=-1, max=1)
    assert isinstance(decode_row(p, r, [0x8000]), Bad)
    assert decode_row(p, r, [0x7FFF]) == Bad("out of range: 32.767 > 1")
    pf, rf = prof(quantity="p_kw", address=0, type="float32", not_available=["nan"])
    bad = decode_row(pf, rf, [0x7FC0, 0x0000])
    assert isinstance(bad, Bad) and "NaN" in bad.reason
    assert isinstance(decode_row(pf, rf, [1]), Bad)  # wrong word count


def test_profile_validation() -> None:
    with pytest.raises(ValueError, match="unknown quantity"):
        Register(quantity="power", address=0)
    with pytest.raises(ValueError, match="overlap"):
        MeterProfile(
            id="t",
            manufacturer="x",
            model="y",
            manual={"title": "t", "version": "1", "table": "1"},
            registers=[Register(quantity="p_kw", address=0), Register(quantity="q_kvar", address=1)],
        )
    with pytest.raises(ProfileError, match="unknown meter profile"):
        load_profile("no-such-meter")


def test_shipped_profiles_load() -> None:
    assert "eastron-sdm630" in available_profiles()
    for pid in available_profiles():
        assert load_profile(pid).registers
    assert not math.isnan(0.0)


# --- "not available" in the declared order (issue 14, defect 7) ------------------------------


@pytest.mark.parametrize("dtype,pattern", [("int16", 0x7FFF), ("uint16", 0xFFFF), ("int32", 0x7FFFFFFF)])
@pytest.mark.parametrize("wo", ["big", "little"])
def test_not_available_on_a_byte_swapped_meter_is_compared_in_the_declared_order(
    dtype: str, pattern: int, wo: str
) -> None:
    # The manual declares int16 0x7FFF "not available"; a byte-swapped meter sends it as the
    # word 0xFF7F. Compared after undoing only the word order (0xFF7F ≠ 0x7FFF) it decoded as 32767.
    p, r = prof(quantity="p_kw", address=0, type=dtype, word_order=wo, byte_order="little", not_available=[pattern])
    words = pattern_words(p, r, pattern)
    if dtype == "int16":
        assert words == [0xFF7F]
    assert decode_row(p, r, words) == Bad(f"not available (0x{pattern:X})")
    assert declared_int(words, wo, "little") == pattern
    # The same words on a big-endian meter are a real value, not the sentinel.
    pb, rb = prof(quantity="p_kw", address=0, type=dtype, word_order=wo, byte_order="big", not_available=[pattern])
    if words != pattern_words(pb, rb, pattern):
        assert not isinstance(decode_row(pb, rb, words), Bad)


# --- scale factors that are no scale (issue 16, finding 3) -----------------------------------


def test_sunspec_w_sf_308_is_a_bad_value_not_inf() -> None:
    p = load_profile("sunspec-203")
    row = p.by_name("p_kw")
    got = decode_row(p, row, [1000], scale_exp=308)
    assert got == Bad("scale factor 308 outside -10..10")


def test_sunspec_w_sf_0x8000_is_a_bad_value_not_zero() -> None:
    # SunSpec sunssf: 0x8000 (-32768 as int16) = "not implemented"; 10**-32768 silently gave 0.0.
    p = load_profile("sunspec-203")
    got = decode_row(p, p.by_name("p_kw"), [1000], scale_exp=-32768)
    assert got == Bad("scale factor -32768 (0x8000: not implemented) outside -10..10")


def test_a_value_that_overflows_once_scaled_is_a_bad_value_not_inf() -> None:
    p, r = prof(quantity="p_kw", address=0, type="float64", scale=1000.0)
    got = decode_row(p, r, [0x7FEF, 0xFFFF, 0xFFFF, 0xFFFF])  # the largest float64, ≈ 1.8e308
    assert isinstance(got, Bad) and got.reason.startswith("not finite after scaling")
    q, rq = prof(quantity="i_l1_a", address=0, type="float32", ratio="ct")
    got = decode_row(q, rq, encode_row(q, rq, 3e38), ct=1e300)
    assert isinstance(got, Bad) and got.reason.startswith("not finite after scaling")


def test_words_outside_a_register_are_a_bad_value() -> None:
    p, r = prof(quantity="p_kw", address=0, type="uint16")
    assert decode_row(p, r, [0x10000]) == Bad("not a register word in [65536]")
    assert decode_row(p, r, [-1]) == Bad("not a register word in [-1]")


# --- resolution in one place (issue 14, defect 11) ---------------------------------------


def test_sunspec_counter_resolution_includes_its_scale_factor() -> None:
    # SunSpec 203 TotWhImp is acc32 Wh × 10^TotWh_SF; the profile's scale 0.001 makes kWh. With
    # TotWh_SF = +1 (the simulated cnv-1 and fan-1) one count is 10 Wh = 0.01 kWh, not 0.001.
    row = load_profile("sunspec-203").by_name("e_imp_kwh")
    assert register_step(row, scale_exp=1) == pytest.approx(0.01)
    assert register_step(row) == pytest.approx(0.001)
    em340 = load_profile("carlo-gavazzi-em340").by_name("e_imp_kwh")
    assert register_step(em340) == pytest.approx(0.1)
    # A float32 counter resolves its spacing: 2^-4 kWh between 2^19 and 2^20 kWh.
    sdm = load_profile("eastron-sdm630").by_name("e_imp_kwh")
    assert register_step(sdm, value=600_000.0) == 2.0**-4
    # A secondary-value register steps by its count × CT × PT (DTSU666 on CT 300/5).
    _, r = prof(quantity="e_imp_kwh", address=0, type="uint32", scale=0.01, ratio="ctpt")
    assert register_step(r, ct=60.0, pt=1.0) == pytest.approx(0.6)


def test_counter_modulus_is_the_largest_reading_plus_one_step() -> None:
    em340 = load_profile("carlo-gavazzi-em340").by_name("e_imp_kwh")
    assert counter_modulus(em340) == pytest.approx(214_748_364.8)
    steam = load_profile("generic-steam-totalizer").by_name("mass_t")
    assert counter_modulus(steam) == pytest.approx(2**32 / 1000)
    _, r = prof(quantity="e_imp_kwh", address=0, type="uint32", scale=0.1, counter_max=99_999_999.9, ratio="ct")
    assert counter_modulus(r, ct=40.0) == pytest.approx(4_000_000_000.0)


def test_counter_max_must_be_a_reading_the_register_can_show() -> None:
    with pytest.raises(ValueError, match="not a whole number of steps"):
        Register(quantity="e_imp_kwh", address=0, type="uint32", scale=0.1, counter_max=99_999_999.95)
    with pytest.raises(ValueError, match="more than an uint32"):
        Register(quantity="e_imp_kwh", address=0, type="uint32", scale=0.001, counter_max=4_294_967.296)
    with pytest.raises(ValueError, match="needs resolution"):
        Register(quantity="e_imp_kwh", address=0, type="float32", counter_max=99_999_999.9)
    with pytest.raises(ValueError, match="scale_factor"):
        Register(quantity="e_imp_kwh", address=0, type="uint32", scale_factor="sf", counter_max=1000)
    with pytest.raises(ValueError, match="steps by its scale"):
        Register(quantity="e_imp_kwh", address=0, type="uint32", resolution=0.1)
    ok = Register(quantity="e_imp_kwh", address=0, type="float32", counter_max=99_999_999.9, resolution=0.1)
    assert counter_modulus(ok) == pytest.approx(100_000_000.0)


# --- one profile lookup (issue 14, defect 5) ---------------------------------------------


def test_load_profile_finds_user_profiles_in_the_configured_folders(tmp_path, monkeypatch) -> None:
    src = load_profile("eastron-sdm630").model_dump(mode="json", exclude_defaults=True)
    src["id"] = "acme-z9"
    (tmp_path / "acme-z9.yaml").write_text(yaml.safe_dump(src), "utf-8")
    with pytest.raises(ProfileError, match="unknown meter profile 'acme-z9'"):
        load_profile("acme-z9")
    monkeypatch.setenv("PLANTCARBON_PROFILE_DIRS", json.dumps([str(tmp_path)]))
    assert load_profile("acme-z9").model == "SDM630 Modbus V2"
    with pytest.raises(ProfileError, match="unknown meter profile 'acme-z9'"):
        find_profile("acme-z9", [])  # explicit folders replace the configured ones


# --- value transforms (issue 14, defect 10) ----------------------------------------------


@pytest.mark.parametrize(
    "words,pf",
    [
        ([0x3F73, 0x3333], 0.95),  # register 0.95: quadrant 1, PF = register
        ([0x3F99, 0x999A], 0.8),  # register 1.2: quadrant 4, PF = 2 − 1.2
        ([0xBFA6, 0x6666], -0.7),  # register −1.3: PF = −2 − (−1.3)
        ([0xBF00, 0x0000], -0.5),  # register −0.5: PF = register
    ],
)
def test_pm5000_four_quadrant_pf_is_decoded_by_the_manuals_formula(words: list[int], pf: float) -> None:
    # Worked from the PM5300 user manual (EAV15107) / PM5500 user manual (HRB1684301), "Power
    # factor register format": −2..−1 → PF = −2 − reg, −1..+1 → PF = reg, +1..+2 → PF = 2 − reg.
    p = load_profile("schneider-pm5000")
    row = p.by_name("pf")
    assert (row.address, row.transform) == (3083, "schneider-four-quadrant-pf")  # register 3084
    assert decode_row(p, row, words) == pytest.approx(pf, abs=1e-6)


def test_a_four_quadrant_pf_outside_minus_2_to_2_is_a_bad_value() -> None:
    p = load_profile("schneider-pm5000")
    got = decode_row(p, p.by_name("pf"), [0x4020, 0x0000])  # 2.5
    assert got == Bad("transform schneider-four-quadrant-pf: register 2.5 outside -2..2")


def test_dtsu666_and_dtsu666_h_read_their_own_energy_blocks() -> None:
    # CHINT DTSU666 manual (ZTY0.464.1448, Table 11): ImpEp 0x101E, ExpEp 0x1028; the DTSU666-H
    # (Huawei smart power sensor, Tasmota's DTSU666-H driver): 0x401E / 0x4028.
    plain, h = load_profile("chint-dtsu666"), load_profile("chint-dtsu666-h")
    assert (plain.by_name("e_imp_kwh").address, plain.by_name("e_exp_kwh").address) == (0x101E, 0x1028)
    assert (h.by_name("e_imp_kwh").address, h.by_name("e_exp_kwh").address) == (0x401E, 0x4028)
    same = [(r.name, r.address) for r in plain.registers if not r.name.startswith("e_")]
    assert same == [(r.name, r.address) for r in h.registers if not r.name.startswith("e_")]
