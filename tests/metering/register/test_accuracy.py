"""GB 17167-2006 table 3 as data and the pure class check: worked cases per row, the place mapping, the user class.

The table's rows are as commonly reproduced (gb17167.yaml says the standard's text was not read:
every row confirmed: false); the cases below pin what the code does with each row.
"""

from __future__ import annotations

import pytest

from metering.register.accuracy import check, class_meets, load_table, parse_class, place_of, user_class


def test_the_table_says_what_it_rests_on() -> None:
    t = load_table()
    assert t.standard.startswith("GB 17167-2006") and "table 3" in t.clause
    # Not read from the standard: nothing may claim it was, and the secondary sources are named.
    assert t.confirmed is False and all(r.confirmed is False for r in t.rows)
    assert "guifancha" in t.secondary_source
    assert {r.instrument for r in t.rows} >= {"weigher", "electricity_meter", "gas_flow", "steam_flow"}


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("0.5S", (0.5, True)),
        ("1", (1.0, False)),
        ("2.0", (2.0, False)),
        ("±0.5%", (0.5, False)),
        ("B", (1.0, False)),
        ("c", (0.5, True)),
        ("", None),
        (None, None),
    ],
)
def test_classes_as_printed(text: str | None, parsed: tuple[float, bool] | None) -> None:
    assert parse_class(text) == parsed


def test_a_class_that_is_not_one_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="'class one'"):
        parse_class("class one")


def test_smaller_is_better_and_s_is_stricter() -> None:
    assert class_meets("0.5S", "0.5") and class_meets("0.2S", "0.5S") and class_meets("0.5", "1.0")
    assert not class_meets("0.5", "0.5S") and not class_meets("1", "0.5S") and not class_meets("2", "1")


def test_user_class_from_the_transformer_capacity() -> None:
    # Note 2 of table 3 (DL/T 448 classes): I ≥ 10 000 kVA, II ≥ 2 000 kVA, III ≥ 315 kVA, else IV.
    assert [user_class(k) for k in (20000, 10000, 5000, 2000, 315, 100)] == ["I", "I", "II", "II", "III", "IV"]
    assert user_class(None) is None


def test_place_follows_the_plant_file_role() -> None:
    assert place_of("main", "transformer") == "in_out"  # 进出用能单位
    assert place_of("sub", "feeder") == "sub"  # 次级用能单位
    assert place_of("sub", "kiln") == "equipment" and place_of("sub", "fan") == "equipment"  # 主要用能设备


def test_worked_cases_of_table_3() -> None:
    # Electricity in and out of a class-I user (≥ 10 000 kVA): 0.5S. A class-1 DTSU666 there is below it.
    c = check("electricity_meter", "in_out", "1", user="I")
    assert (c.verdict, c.required, c.row) == ("below", "0.5S", "elec-i")
    assert check("electricity_meter", "in_out", "0.5S", user="I").verdict == "meets"
    # Class III user (315 … 2 000 kVA): 1.0 — the same class-1 meter meets it.
    assert check("electricity_meter", "in_out", "1", user="III").verdict == "meets"
    # Unknown user class is judged as class I (the strictest), never passed by default.
    assert check("electricity_meter", "in_out", "0.5", user=None).verdict == "below"
    # Fuel on a belt scale or weigh feeder (dynamic weighing): ±0.5 %; static weighing: ±0.1 %.
    assert check("weigher", "in_out", "0.5", weighing="dynamic", fuel=True).verdict == "meets"
    assert check("weigher", "in_out", "0.5", weighing="static", fuel=True).verdict == "below"
    # The weigher rows are for fuel: a clinker belt scale is not judged against them.
    assert check("weigher", "in_out", "1", weighing="dynamic", fuel=False).verdict == "no_requirement"
    # Natural gas in and out: 2.0; steam: 2.5.
    assert check("gas_flow", "in_out", "1.5", carrier="natural_gas").verdict == "meets"
    assert check("steam_flow", "in_out", "4", carrier="steam").verdict == "below"
    # No class on record: the requirement is named, nothing is judged.
    c = check("gas_flow", "in_out", "", carrier="natural_gas")
    assert (c.verdict, c.required) == ("unknown_class", "2.0")
    # Table 3 names flows in and out of the unit only: a sub-meter is not judged against it.
    assert check("electricity_meter", "equipment", "2").verdict == "no_requirement"
