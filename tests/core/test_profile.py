"""Meter-profile codec at the register-word level: every type and word/byte order round-trips."""

from __future__ import annotations

import math

import pytest

from core.profile import (
    Bad,
    MeterProfile,
    ProfileError,
    Register,
    available_profiles,
    decode_row,
    encode_row,
    load_profile,
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
