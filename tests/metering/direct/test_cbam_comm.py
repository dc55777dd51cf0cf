"""The CBAM communication's arithmetic on a hand-worked case, the EU default values file, and the XLSX read back."""

from __future__ import annotations

import io
from pathlib import Path

import openpyxl
import pytest

from metering.compliance.workbook import to_bytes
from metering.direct import cbam_xlsx
from metering.direct.cbam_comm import MonthFigures, Unit, communication, period_months
from metering.direct.cbam_defaults import DEFAULTS_FILE, Defaults, load_defaults
from metering.direct.config import CarbonConfig, CbamInputs
from plantcarbon_core import datafile
from plantcarbon_core.datafile import DataFileError

UNIT = Unit(site="cem-t", id="kiln-1", name="Clinker line 1", has_cement=True)
INPUTS = CbamInputs.model_validate(
    {
        "installation": {"name": "Cement test plant", "city": "Wuhu", "country": "CN", "unlocode": "CN WHI"},
        "carbon_prices": [
            {"year": 2027, "price_cny_per_t": 60.0, "share_not_free": 0.05, "cny_per_eur": 8.0, "source": "ledger"}
        ],
        "exports": [{"product": "clinker", "period": "2027Q1", "t": 500.0}],
    }
)


def months() -> list[MonthFigures]:
    """Two months, hand-made: 1000 t clinker at 0.8 tCO2/t direct, 0.07 MWh/t at 0.5 tCO2/MWh; 1200 t cement
    from 900 t of that clinker (share 0.75) and 36 MWh in the mill."""
    half = dict(
        clinker_t=500.0,
        direct_co2_t=400.0,
        electricity_mwh=35.0,
        electricity_co2_t=17.5,
        electricity_factors=("cn-grid-east@2023",),
        cement_t=600.0,
        cement_clinker_t=450.0,
        mill_mwh=18.0,
        mill_co2_t=9.0,
        mill_factors=("cn-grid-east@2023",),
    )
    return [
        MonthFigures(month="2027-01", source="locked revision 2", defaults_used=("coal oxidation_factor",), **half),
        MonthFigures(month="2027-02", source="recompute", missing=("kiln-1: coal: 2 day(s) without readings",), **half),
        MonthFigures(
            month="2027-03",
            source="recompute",
            clinker_t=0.0,
            direct_co2_t=0.0,
            electricity_mwh=0.0,
            electricity_co2_t=0.0,
        ),
    ]


def with_clinker_default(direct: float, indirect: float) -> Defaults:
    """The shipped file with a clinker value for China in place of its unfilled line (the schedule stays the file's)."""
    d = load_defaults().model_dump()
    for v in d["values"]:
        if v["cn_code"] == "2523 10 00":
            v.update(direct=direct, indirect=indirect, source="test value")
    return Defaults.model_validate(d)


def test_a_hand_worked_communication() -> None:
    c = communication(UNIT, "2027Q1", months(), INPUTS, with_clinker_default(0.90, 0.05))
    clinker, cement = c["products"]
    # clinker: 800 t CO2 / 1000 t = 0.8; 70 MWh × 0.5 tCO2/MWh = 35 t → 0.035 t/t; 0.07 MWh/t
    assert clinker["cn_code"] == "2523 10 00"
    assert clinker["see_direct"] == pytest.approx(0.8)
    assert clinker["see_indirect"] == pytest.approx(0.035)
    assert clinker["see_total"] == pytest.approx(0.835)
    assert clinker["electricity_mwh_per_t"] == pytest.approx(0.07)
    assert clinker["electricity_factor"] == {
        "ids": ["cn-grid-east@2023"],
        "tco2_per_mwh": pytest.approx(0.5),
        "method": "location-based grid factor (factor registry id@version)",
    }
    # cement: 900 t clinker × 0.8 = 720 t → 0.6 t/t; (900 × 0.035 + 36 × 0.5) / 1200 = 49.5 / 1200 = 0.04125
    assert cement["cn_code"] == "2523 29 00"
    assert cement["clinker_share"] == pytest.approx(0.75)
    assert cement["see_direct"] == pytest.approx(0.6)
    assert cement["see_indirect"] == pytest.approx(0.04125)
    assert cement["electricity_mwh_per_t"] == pytest.approx(0.03)
    (pre,) = c["precursors"]
    assert (pre["consumed_t"], pre["embedded_direct_tco2"], pre["embedded_indirect_tco2"]) == pytest.approx(
        (900.0, 720.0, 31.5)
    )
    # EU default 0.90 + 0.05 = 0.95 with the 2027 mark-up of 20 %: 1.14; saving 1.14 − 0.835 = 0.305 t/t,
    # on 500 t exported 152.5 t
    d = clinker["eu_default"]
    assert (d["markup"], d["total_with_markup"], d["saving_per_t"]) == pytest.approx((0.20, 1.14, 0.305))
    assert (d["direct_with_markup"], d["indirect_with_markup"]) == pytest.approx((1.08, 0.06))
    assert clinker["exported_t"] == 500.0 and clinker["saving_exported_tco2"] == pytest.approx(152.5)
    assert cement["exported_t"] is None and cement["saving_exported_tco2"] is None
    # China ETS: 0.8 t/t × 5 % not free × 60 CNY/t = 2.4 CNY per t clinker (0.30 EUR at 8 CNY/EUR); cement 1.8
    cp = clinker["carbon_price_paid"]
    assert (cp["tco2_paid_per_t"], cp["cny_per_t"], cp["eur_per_t"]) == pytest.approx((0.04, 2.4, 0.3))
    assert cement["carbon_price_paid"]["cny_per_t"] == pytest.approx(1.8)
    # where each figure came from
    assert c["basis"]["figures"] == "mixed"
    assert c["basis"]["per_month"][0] == {
        "month": "2027-01",
        "source": "locked revision 2",
        "clinker_t": 500.0,
        "direct_co2_t": 400.0,
        "inputs": "",
    }
    assert clinker["value_basis"]["see_direct"].endswith("method defaults for: coal oxidation_factor")
    assert c["warnings"] == [
        "2027-03: no clinker produced (no readings in the month?)",
        "2027-02: kiln-1: coal: 2 day(s) without readings",
    ]
    assert c["template"].startswith("EU CBAM communication template for installations, version 2.1")


def test_the_shipped_defaults_file_and_its_markup_schedule() -> None:
    d = load_defaults(DEFAULTS_FILE)
    assert d.regulation.id == "Commission Implementing Regulation (EU) 2025/2621"
    # the schedule of the file: 10 % 2026, 20 % 2027, 30 % from 2028, none before 2026
    assert [d.markup.for_year(y) for y in (2025, 2026, 2027, 2028, 2031)] == [0.0, 0.10, 0.20, 0.30, 0.30]
    other = d.value("2523 90 00", "CN")
    assert other is not None and not other.confirmed
    assert other.marked_up(d.markup.for_year(2027)) == pytest.approx(1.46 * 1.20)  # the listed total, not 1.29+0.18
    # clinker's China line could not be read: no number, and the communication says so instead of guessing
    clinker = d.value("2523 10 00", "CN")
    assert clinker is not None and not clinker.known and clinker.marked_up(0.1) is None
    c = communication(UNIT, "2027Q1", months(), INPUTS, d)
    eu = c["products"][0]["eu_default"]
    assert (
        eu["available"] is False and "not reachable" in eu["note"] and c["products"][0]["saving_exported_tco2"] is None
    )
    # a plant declaring its cement as "other hydraulic cement" gets that line: 1.46 × 1.2 − (0.6 + 0.04125) t/t
    other_inputs = INPUTS.model_copy(update={"cement_cn_code": "2523 90 00"})
    cement = communication(UNIT, "2027Q1", months(), other_inputs, d)["products"][1]
    assert cement["cn_code"] == "2523 90 00"
    assert cement["eu_default"]["saving_per_t"] == pytest.approx(1.752 - (0.6 + 0.04125))


def test_a_bad_defaults_file_names_file_item_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "defaults.yaml"
    text = DEFAULTS_FILE.read_text("utf-8").replace("2027: 0.20", "2027: 1.20").replace('"2523 29 00"', '"2523 2900"')
    bad.write_text(text, "utf-8")
    with pytest.raises(DataFileError) as exc:
        load_defaults(bad)
    msg = "\n".join(exc.value.errors)
    assert "defaults.yaml" in msg and "values[1]" in msg and "cn_code" in msg


def test_periods() -> None:
    assert period_months("2026Q2") == ["2026-04", "2026-05", "2026-06"]
    assert period_months("2026-11") == ["2026-11"]
    assert period_months("2026")[::11] == ["2026-01", "2026-12"]


def test_the_xlsx_has_the_template_sections_and_the_same_figures() -> None:
    c = communication(UNIT, "2027Q1", months(), INPUTS, with_clinker_default(0.90, 0.05))
    wb = openpyxl.load_workbook(io.BytesIO(to_bytes(cbam_xlsx.build(c))))
    assert wb.sheetnames == list(cbam_xlsx.SHEETS)
    contents = {r[0]: r[1] for r in wb["a_Contents 说明"].iter_rows(min_row=2, values_only=True)}
    assert contents["模板 Template followed"] == c["template"]
    inst = {r[0]: r[1] for r in wb["A_InstData 装置数据"].iter_rows(min_row=2, values_only=True)}
    assert (inst["装置名称 Installation name"], inst["UN/LOCODE"]) == ("Cement test plant", "CN WHI")
    assert (inst["报告期开始 Reporting period start"], inst["报告期结束 Reporting period end"]) == (
        "2027-01-01",
        "2027-03-31",
    )
    s = wb["Summary_Communication 汇总"]
    head = [h.value for h in s[1]]
    row = {h: v.value for h, v in zip(head, s[2], strict=True)}
    assert row["产品 Good"] == "clinker" and row["CN 编码 CN code"] == "2523 10 00"
    assert row["直接 SEE direct (tCO2e/t)"] == pytest.approx(0.8)
    assert row["间接 SEE indirect (tCO2e/t)"] == pytest.approx(0.035)
    assert row["含加成默认值 Default × (1 + mark-up)"] == pytest.approx(1.14)
    assert row["出口节省 Saving on exports (tCO2e)"] == pytest.approx(152.5)
    assert row["已付碳价 Carbon price paid (CNY/t)"] == pytest.approx(2.4)
    assert row["因子来源 Factor source"] == "cn-grid-east@2023"
    pre = wb["E_PurchPrec 前体"]
    assert [v.value for v in pre[2]][:5] == [
        "cement",
        "clinker",
        "2523 10 00",
        "own installation (same clinker line)",
        900.0,
    ]


def test_the_cbam_inputs_are_validated_naming_the_field() -> None:
    block = {
        "materials": {"clinker": {"kind": "clinker", "devices": ["cl"]}},
        "units": [{"id": "kiln-1", "name": "K", "clinker": "clinker", "fuels": []}],
        "cbam": {
            "installation": {"name": "I"},
            "carbon_prices": [{"year": 2026, "price_cny_per_t": 60, "share_not_free": 1.5, "source": "s"}],
            "exports": [{"product": "clinker", "period": "2026Q5", "t": 1}],
        },
    }
    with pytest.raises(DataFileError) as exc:
        datafile.validate(CarbonConfig, block, "plant.yaml", prefix=("carbon",))
    msg = "\n".join(exc.value.errors)
    assert "carbon.cbam.carbon_prices[0].share_not_free" in msg and "carbon.cbam.exports[0].period" in msg
