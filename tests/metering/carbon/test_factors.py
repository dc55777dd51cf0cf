"""Factor registry: shipped values checked against their published sources, look-up rules, user files."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from metering.carbon.factor_registry import (
    FactorFileError,
    FactorNotFound,
    gwp,
    load_factor_file,
    load_registry,
    parse_factor_file,
)

REG = load_registry()
MEE_2023 = "生态环境部 国家统计局《关于发布2023年电力二氧化碳排放因子的公告》"


# Worked examples 1–7: 2023 regional grid factors, seven regions.
# Source: MEE/NBS 关于发布2023年电力二氧化碳排放因子的公告; regional values 华北 0.6361,
# 东北 0.5122, 华东 0.5500, 华中 0.5271, 西北 0.5543, 南方 0.4042, 西南 0.2472 kgCO2/kWh.
@pytest.mark.parametrize(
    ("region", "value"),
    [
        ("cn-north", 0.6361),
        ("cn-northeast", 0.5122),
        ("cn-east", 0.5500),
        ("cn-central", 0.5271),
        ("cn-northwest", 0.5543),
        ("cn-south", 0.4042),
        ("cn-southwest", 0.2472),
    ],
)
def test_2023_regional_grid_factors(region: str, value: float) -> None:
    f = REG.lookup("grid-average", region=region, when=dt.date(2023, 6, 1))
    assert f.version == "2023"
    assert f.value == value
    assert f.source.document == MEE_2023
    # 1 MWh at the regional factor is value t = value × 1000 kg.
    assert 1000 * f.kg_per("kWh") == pytest.approx(value * 1000)


# Worked examples 8–11: national factors by year.
# Sources: 2021 公告2024年第12号 (0.5568); 2022 公告 2024-12-20 (0.5366, excl. market-traded
# non-fossil 0.5856, fossil 0.8325); 2023 公告 (0.5306, excl. 0.6096, fossil 0.8273).
@pytest.mark.parametrize(
    ("kind", "year", "value"),
    [
        ("grid-average", 2021, 0.5568),
        ("grid-average", 2022, 0.5366),
        ("grid-average", 2023, 0.5306),
        ("grid-residual", 2022, 0.5856),
        ("grid-residual", 2023, 0.6096),
        ("grid-fossil", 2022, 0.8325),
        ("grid-fossil", 2023, 0.8273),
    ],
)
def test_national_factors_by_year(kind: str, year: int, value: float) -> None:
    f = REG.lookup(kind, region="cn-national", when=dt.date(year, 3, 1))
    assert (f.version, f.value) == (str(year), value)


def test_2022_east_china_grid_co2_for_one_mwh() -> None:
    # Worked example: 1 MWh in 华东 in 2022 → 0.5617 tCO2 = 561.7 kg.
    # Source: MEE/NBS 关于发布2022年电力二氧化碳排放因子的公告 (华东 0.5617).
    f = REG.lookup("grid-average", region="cn-east", when=dt.date(2022, 12, 31))
    assert 1000 * f.kg_per("kWh") == pytest.approx(561.7)


def test_carbon_market_factor_is_separate_and_named() -> None:
    # Source: 环办气候函〔2023〕43号: 全国电网平均排放因子 0.5703 tCO2/MWh (reporting convention).
    f = REG.get("cn-ets-grid-reporting")
    assert (f.value, f.kind) == (0.5703, "grid-reporting")
    # It never stands in for the statistical location-based factor.
    assert REG.lookup("grid-average", region="cn-national", when=dt.date(2022, 6, 1)).value == 0.5366


def test_newest_factor_is_carried_forward_and_missing_years_are_errors() -> None:
    f = REG.lookup("grid-average", region="cn-east", when=dt.date(2025, 3, 1))
    assert f.ref == "cn-grid-east@2023"
    with pytest.raises(FactorNotFound, match="no grid-average factor for region=cn-east"):
        REG.lookup("grid-average", region="cn-east", when=dt.date(2021, 3, 1))


def test_egrid_in_pounds_converts_to_kg() -> None:
    # Worked example: 823.1 lb/MWh × 0.45359237 kg/lb ÷ 1000 kWh/MWh = 0.37335 kg/kWh.
    # Source: US EPA eGRID2022 summary tables, U.S. total CO2 output emission rate.
    f = REG.get("us-egrid-us@egrid2022")
    assert f.kg_per("kWh") == pytest.approx(823.1 * 0.45359237 / 1000)
    assert f.kg_per("kWh") == pytest.approx(0.37335, abs=1e-5)


def test_natural_gas_combustion_factor_from_parameters() -> None:
    # Worked example: 10^4 Nm3 natural gas × 389.31 GJ/10^4Nm3 × 0.01532 tC/GJ × 99 % × 44/12
    # = 21.650 tCO2. Source: 工业其他行业企业温室气体排放核算方法与报告指南(试行) 附录二 表2.1.
    f = REG.get("cn-fuel-natural-gas")
    assert f.value == pytest.approx(389.31 * 0.01532 * 0.99 * 44 / 12)
    assert f.value == pytest.approx(21.650, abs=5e-4)
    assert f.kg_per("Nm3") == pytest.approx(2.1650, abs=5e-5)


def test_diesel_combustion_factor_from_parameters() -> None:
    # Worked example: 1 t diesel × 42.652 GJ/t × 0.0202 tC/GJ × 98 % × 44/12 = 3.0959 tCO2.
    # Source: 工业其他行业企业温室气体排放核算方法与报告指南(试行) 附录二 表2.1.
    assert REG.get("cn-fuel-diesel").kg_per("t") == pytest.approx(3095.9, abs=0.1)


def test_ipcc_diesel_default() -> None:
    # Worked example: 1 TJ gas/diesel oil → 74 100 kg CO2, 3 kg CH4, 0.6 kg N2O.
    # Source: 2006 IPCC Guidelines Vol. 2 Ch. 1 Table 1.4 and Ch. 2 Table 2.3.
    assert REG.get("ipcc-co2-diesel").kg_per("GJ") * 1000 == pytest.approx(74_100)
    assert REG.get("ipcc-ch4-diesel").kg_per("GJ") * 1000 == pytest.approx(3)
    assert REG.get("ipcc-n2o-diesel").kg_per("GJ") * 1000 == pytest.approx(0.6)


def test_purchased_heat_factor() -> None:
    # Worked example: 100 GJ purchased heat × 0.11 tCO2/GJ = 11 tCO2.
    # Source: 工业其他行业企业温室气体排放核算方法与报告指南(试行) (热力 0.11 tCO2/GJ).
    f = REG.lookup("purchased-heat", carrier="heat", when=dt.date(2023, 1, 1))
    assert 100 * f.kg_per("GJ") == pytest.approx(11_000)


def test_tce_uses_the_standards_own_coefficients() -> None:
    # GB/T 2589-2020 表A.1: electricity (equivalent) 0.1229 kgce/kWh; natural gas 1.3300 kgce/m3;
    # diesel 1.4571 kgce/kg; heat 0.03412 kgce/MJ. Recomputing electricity from kJ gives
    # 3600 / 29 307 = 0.12284 — a different fourth digit; the standard's value is kept.
    e = REG.lookup("tce", carrier="electricity", when=dt.date(2023, 1, 1))
    assert e.value == 0.1229
    assert round(3600 / 29307, 4) == 0.1228 != e.value
    assert 10_000 * e.kg_per("kWh") == pytest.approx(1229.0)  # 10 MWh → 1.229 tce
    assert REG.lookup("tce", carrier="natural_gas", when=dt.date(2023, 1, 1)).kg_per("Nm3") == 1.33
    assert REG.lookup("tce", carrier="diesel", when=dt.date(2023, 1, 1)).kg_per("t") == pytest.approx(1457.1)
    assert REG.lookup("tce", carrier="heat", when=dt.date(2023, 1, 1)).kg_per("GJ") == pytest.approx(34.12)


@pytest.mark.parametrize(
    ("gwp_set", "ch4", "n2o"),
    # Source: IPCC AR4 WG1 Table 2.14 (25, 298); AR5 WG1 Table 8.7 (28, 265);
    # AR6 WG1 Table 7.15 (27.9, 273) — via the `globalwarmingpotentials` package.
    [("AR4", 25, 298), ("AR5", 28, 265), ("AR6", 27.9, 273)],
)
def test_gwp_sets(gwp_set: str, ch4: float, n2o: float) -> None:
    assert gwp("CH4", gwp_set) == ch4
    assert gwp("N2O", gwp_set) == n2o
    assert gwp("CO2", gwp_set) == 1


def test_every_shipped_factor_cites_a_source() -> None:
    assert len(REG) >= 40
    for f in REG:
        assert f.source.document and f.source.table, f.ref


GOOD_USER_FILE = """
set: my-site
factors:
  - id: cn-grid-east
    version: "2023"
    kind: grid-average
    carrier: electricity
    region: cn-east
    unit: kgCO2/kWh
    value: 0.5
    gas: CO2
    valid_from: 2023-01-01
    valid_to: 2023-12-31
    source: {document: "Our supplier's disclosure", table: "p. 3"}
  - id: tce-electricity-generation
    version: "2023"
    kind: tce-generation
    carrier: electricity
    region: cn-national
    unit: kgce/kWh
    value: 0.3
    gas: ce
    valid_from: 2023-01-01
    source: {document: "user supplied", table: "-"}
"""


def test_user_file_adds_and_overrides(tmp_path: Path) -> None:
    p = tmp_path / "mine.yaml"
    p.write_text(GOOD_USER_FILE, "utf-8")
    reg = load_registry([p])
    assert reg.get("cn-grid-east@2023").value == 0.5
    assert reg.get("cn-grid-east@2022").value == 0.5617
    assert reg.lookup("tce-generation", carrier="electricity", when=dt.date(2024, 1, 1)).value == 0.3
    assert len(reg) == len(REG) + 1


def test_bad_user_file_gets_precise_errors(tmp_path: Path) -> None:
    text = """
set: broken
factors:
  - {id: a, version: 1, kind: grid-average, carrier: electricity, region: x, unit: tCO2/MWh, value: -1, gas: CO2,
     valid_from: 2023-01-01, source: {document: d, table: t}}
  - {id: b, version: 1, kind: grid-avg, carrier: electricity, region: x, unit: tCO2/MWh, value: 1, gas: CO2,
     valid_from: 2023-01-01, source: {document: d, table: t}}
  - {id: c, version: 1, kind: tce, carrier: electricity, region: x, unit: furlongs, value: 1, gas: ce,
     valid_from: 2023-01-01, source: {document: d, table: t}}
  - {id: d, version: 1, kind: tce, carrier: electricity, region: x, unit: kgce/kWh, value: 1, gas: ce,
     valid_from: 2023-01-01, valid_to: 2022-01-01, source: {document: d, table: t}, colour: red}
  - {id: e, version: 1, kind: fuel-combustion, carrier: diesel, region: x, unit: tCO2/t, value: 9, gas: CO2,
     valid_from: 2023-01-01, source: {document: d, table: t},
     parameters: {ncv: 42.652, ncv_unit: GJ/t, carbon_content_tc_per_gj: 0.0202, oxidation: 0.98}}
  - {id: a, version: 1, kind: grid-average, carrier: electricity, region: x, unit: tCO2/MWh, value: 1, gas: CO2,
     valid_from: 2023-01-01, source: {document: d, table: t}}
"""
    with pytest.raises(FactorFileError) as info:
        parse_factor_file(text, source="mine.yaml")
    assert info.value.errors == [
        "mine.yaml: factors[0] (id=a): (factor): value must be > 0, got -1.0",
        "mine.yaml: factors[1] (id=b): kind: must be one of 'grid-average', 'grid-residual', 'grid-fossil', "
        "'grid-reporting', 'fuel-combustion', 'fuel-ch4', 'fuel-n2o', 'purchased-heat', 'tce' or 'tce-generation', "
        "got 'grid-avg'",
        "mine.yaml: factors[2] (id=c): unit: must be '<mass><gas>/<activity>' like 'tCO2/MWh', got 'furlongs'",
        "mine.yaml: factors[3] (id=d): colour: unknown field (check the spelling), got 'red'",
        "mine.yaml: factors[4] (id=e): (factor): value 9.0 disagrees with its parameters "
        "(ncv × cc × ox × 44/12 = 3.09591)",
    ]


def test_duplicate_and_inverted_validity(tmp_path: Path) -> None:
    text = """
set: broken
defaults: {kind: tce, carrier: electricity, region: x, unit: kgce/kWh, gas: ce, source: {document: d, table: t}}
factors:
  - {id: a, version: 1, value: 1, valid_from: 2023-01-01}
  - {id: a, version: 1, value: 2, valid_from: 2023-01-01}
  - {id: b, version: 1, value: 1, valid_from: 2023-01-01, valid_to: 2022-01-01}
"""
    with pytest.raises(FactorFileError) as info:
        parse_factor_file(text, source="dup.yaml")
    assert info.value.errors == [
        "dup.yaml: factors[1] (id=a): id@version a@1 duplicates factors[0]",
        "dup.yaml: factors[2] (id=b): (factor): valid_to 2022-01-01 is before valid_from 2023-01-01",
    ]


def test_not_yaml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FactorFileError, match=r"x.yaml:3:1: not valid YAML"):
        parse_factor_file("set: a\nfactors: [\n", source="x.yaml")
    with pytest.raises(FactorFileError, match="cannot read"):
        load_factor_file(tmp_path / "nope.yaml")
    with pytest.raises(FactorFileError, match=r"x.yaml: factors: required field is missing"):
        parse_factor_file("set: a\n", source="x.yaml")
