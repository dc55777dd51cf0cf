"""Energy rows, hierarchy, tce, scope 1 and dual-reported scope 2 — worked examples with their sources."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from metering.carbon.emissions import compute, tce_and_co2
from metering.carbon.energy import steam_gj_per_t, stored_energy_rows
from metering.carbon.factor_registry import Factor, Registry, gwp, load_registry
from metering.carbon.green_power import GreenContract, green_kwh_per_interval
from metering.carbon.intervals import compute_intervals
from plantcarbon_core.plant import Plant, SteamConditions, parse_plant
from tests.metering.conftest import PLANT_YAML, counter

REG = load_registry()
JUNE = "2023-06-01T00:00"


def _one(df: pd.DataFrame, **eq: str) -> pd.DataFrame:
    for k, v in eq.items():
        df = df[df[k] == v]
    return df


def test_sub_meter_remainder_and_virtual_meter(plant: Plant) -> None:
    # Worked example: main 150 kWh per quarter hour, kiln 60, fan 30 → unmetered 60 kWh.
    # Source: docs/design.md ("the unmetered remainder (main − Σ sub) as its own line").
    # PV generation (an export counter) is not consumption and stays out of the remainder;
    # the virtual meter pv-self = pv-1 − 0.5 × kiln-1 = 20 − 30 = −10 kWh.
    r = pd.concat(
        [
            counter("main-1", "e_imp_kwh", JUNE, 60, 10.0),
            counter("kiln-1", "e_imp_kwh", JUNE, 60, 4.0),
            counter("fan-1", "e_imp_kwh", JUNE, 60, 2.0),
            counter("pv-1", "e_exp_kwh", JUNE, 60, 20 / 15),
        ]
    )
    res = compute(compute_intervals(r, plant), plant, REG)
    e = res.energy
    rest = _one(e, device="main-1:unmetered")
    assert list(rest["amount"]) == pytest.approx([60.0] * 4)
    assert set(rest["role"]) == {"unmetered"}
    assert list(_one(e, device="pv-self")["amount"]) == pytest.approx([-10.0] * 4)
    # Site total = Σ main only: sub-meters never add to it.
    assert _one(e, role="main")["amount"].sum() == pytest.approx(600.0)
    # Generation carries no emissions.
    assert _one(res.emissions, device="pv-1").empty


def test_location_and_market_scope2_with_green_power(plant: Plant) -> None:
    # Worked example (green-power split): 400 kWh per quarter hour in 2023 at a 华东 site; a
    # green-power contract of 0.1 MWh spread over one hour gives 25 kWh per quarter hour.
    # location: 400 × 0.5500 = 220 kg; market: (400 − 25) × 0.6096 = 228.6 kg.
    # Sources: MEE/NBS 2023 factors (华东 0.5500; national excluding market-traded non-fossil
    # power 0.6096, the residual for market-based scope 2).
    r = counter("main-1", "e_imp_kwh", JUNE, 60, 400 / 15)
    green = [
        GreenContract(
            id="gp-1", kind="contract", mwh=0.1, start=dt.datetime(2023, 6, 1, 8), end=dt.datetime(2023, 6, 1, 9)
        )
    ]
    res = compute(compute_intervals(r, plant), plant, REG, green)
    loc = _one(res.emissions, device="main-1", method="location")
    mkt = _one(res.emissions, device="main-1", method="market")
    assert list(loc["co2_kg"]) == pytest.approx([220.0] * 4)
    assert list(mkt["co2_kg"]) == pytest.approx([375 * 0.6096] * 4)
    assert set(loc["factor"]) == {"cn-grid-east@2023"}
    assert set(mkt["factor"]) == {"cn-grid-national-excl-market@2023"}
    assert set(loc["scope"]) == {"2"}


def test_green_power_is_capped_at_consumption() -> None:
    starts = pd.date_range("2023-06-01T00:00Z", periods=4, freq="15min")
    c = GreenContract(
        id="x", kind="certificate", mwh=1.0, start=dt.datetime(2023, 6, 1, 8), end=dt.datetime(2023, 6, 1, 9)
    )
    avail = green_kwh_per_interval([c], pd.DatetimeIndex(starts), "Asia/Shanghai")
    assert list(avail) == pytest.approx([250.0] * 4)
    plant = parse_plant(PLANT_YAML)
    r = counter("main-1", "e_imp_kwh", JUNE, 60, 10.0)  # 150 kWh per quarter: less than 250 green
    res = compute(compute_intervals(r, plant), plant, REG, [c])
    assert list(_one(res.emissions, method="market")["co2_kg"]) == pytest.approx([0.0] * 4)


def test_scope1_natural_gas_with_ch4_n2o(plant: Plant) -> None:
    # Worked example: 100 Nm3 natural gas in a quarter hour.
    # CO2 = 100 × 389.31/10^4 GJ/Nm3 × 0.01532 tC/GJ × 0.99 × 44/12 × 1000 = 216.50 kg
    # (工业其他行业企业温室气体排放核算方法与报告指南 附录二 表2.1); energy 3.8931 GJ;
    # CH4 1 kg/TJ and N2O 0.1 kg/TJ (IPCC 2006 Vol. 2 Table 2.3) → CO2e adds
    # 3.8931e-3 TJ × (1 × 27.9 + 0.1 × 273) = 0.2149 kg with AR6.
    r = counter("boiler-1", "vol_nm3", JUNE, 15, 100 / 15)
    res = compute(compute_intervals(r, plant), plant, REG)
    row = _one(res.emissions, device="boiler-1").iloc[0]
    co2 = 100 * 389.31e-4 * 0.01532 * 0.99 * 44 / 12 * 1000
    assert row["co2_kg"] == pytest.approx(co2)
    assert row["co2_kg"] == pytest.approx(216.50, abs=0.01)
    assert row["co2e_kg"] == pytest.approx(co2 + 3.8931e-3 * (27.9 + 0.1 * 273))
    assert (row["scope"], row["method"], row["factor"]) == ("1", "", "cn-fuel-natural-gas@2015")
    # tce: 100 Nm3 × 1.3300 kgce/Nm3 (GB/T 2589-2020 表A.1) = 133 kgce.
    assert _one(res.energy, device="boiler-1")["tce_kg"].iloc[0] == pytest.approx(133.0)


GLOBAL_GAS = PLANT_YAML.replace("grid_region: cn-east", "grid_region: global")


def test_ipcc_per_tj_factor_applies_to_gas_volume_through_the_ncv() -> None:
    """Issue 14 defect 6: a `global` plant's gas meter crashed compute (ipcc-co2-natural-gas is per TJ)."""
    # Worked example: 100 Nm3 × 389.31/10^4 GJ/Nm3 (default NCV, 指南 附录二 表2.1) = 3.8931 GJ;
    # CO2 = 3.8931 GJ × 56 100 kg/TJ (IPCC 2006 Vol. 2 Table 1.4) = 218.40 kg; CO2e adds
    # 3.8931e-3 TJ × (1 kg CH4 × 27.9 + 0.1 kg N2O × 273) (IPCC Table 2.3, AR6) = 0.2149 kg.
    plant = parse_plant(GLOBAL_GAS)
    res = compute(compute_intervals(counter("boiler-1", "vol_nm3", JUNE, 15, 100 / 15), plant), plant, REG)
    row = _one(res.emissions, device="boiler-1").iloc[0]
    assert row["co2_kg"] == pytest.approx(218.40, abs=0.01)
    assert row["co2e_kg"] == pytest.approx(3.8931 * 56.1 + 3.8931e-3 * (27.9 + 0.1 * 273))
    assert (row["scope"], row["factor"]) == ("1", "ipcc-co2-natural-gas@2006")
    assert row["ncv"] == "389.31 GJ/10^4Nm3 (ncv-natural-gas@2015)"
    assert res.problems == []


def test_plant_ncv_from_a_lab_sample_overrides_the_default() -> None:
    # 36.0 MJ/Nm3 from the lab: 100 Nm3 = 3.6 GJ → IPCC: 3.6 × 56.1 = 201.96 kg; the Chinese
    # parameters with the lab NCV: 3.6 GJ × 0.01532 tC/GJ × 0.99 × 44/12 × 1000 = 200.20 kg.
    lab = "metering: {gwp_set: AR6, ncv: {natural_gas: {value: 36.0, unit: MJ/Nm3, source: lab sample LS-1}}}"
    r = counter("boiler-1", "vol_nm3", JUNE, 15, 100 / 15)
    for yaml_text, co2 in ((GLOBAL_GAS, 3.6 * 56.1), (PLANT_YAML, 3.6 * 0.01532 * 0.99 * 44 / 12 * 1000)):
        plant = parse_plant(yaml_text.replace("metering: {gwp_set: AR6}", lab))
        row = _one(compute(compute_intervals(r, plant), plant, REG).emissions, device="boiler-1").iloc[0]
        assert row["co2_kg"] == pytest.approx(co2)
        assert row["ncv"] == "36 MJ/Nm3 (plant file: lab sample LS-1)"


def test_per_energy_factor_without_any_ncv_is_a_problem_per_device_not_a_crash() -> None:
    # A fuel with an IPCC-style per-TJ factor (a user file) and no NCV anywhere: its rows are left
    # out with a problem naming the device; the other rows are still priced.
    plant = parse_plant(
        GLOBAL_GAS.replace("carrier: diesel, area: utilities}", "carrier: diesel, area: utilities, fuel: hfo}")
    )
    hfo = Factor.model_validate(
        {
            "id": "user-co2-hfo",
            "version": "1",
            "kind": "fuel-combustion",
            "carrier": "diesel",
            "fuel": "hfo",
            "region": "global",
            "unit": "kgCO2/TJ",
            "value": 77400,
            "gas": "CO2",
            "valid_from": "2006-01-01",
            "source": {"document": "test", "table": "n/a"},
        }
    )
    reg = Registry({**REG.factors, hfo.ref: hfo})
    r = pd.concat([counter("gen-1", "mass_t", JUNE, 15, 0.01), counter("boiler-1", "vol_nm3", JUNE, 15, 1.0)])
    res = compute(compute_intervals(r, plant), plant, reg)
    assert _one(res.emissions, device="gen-1").empty
    assert not _one(res.emissions, device="boiler-1").empty
    assert any(
        p.startswith("gen-1: user-co2-hfo@1 is per TJ and no net calorific value of hfo per t") for p in res.problems
    )


def test_gwp_set_changes_co2e_only() -> None:
    # Worked example: 1 t diesel (42.652 GJ) with IPCC Table 2.3 CH4 3 and N2O 0.6 kg/TJ:
    # AR4 adds 0.042652 × (3 × 25 + 0.6 × 298) = 10.825 kg; AR5 adds 0.042652 × (3 × 28 + 0.6 × 265).
    out = {}
    for gwp_set in ("AR4", "AR5"):
        plant = parse_plant(PLANT_YAML.replace("gwp_set: AR6", f"gwp_set: {gwp_set}"))
        r = counter("gen-1", "mass_t", JUNE, 15, 1 / 15)
        row = _one(compute(compute_intervals(r, plant), plant, REG).emissions, device="gen-1").iloc[0]
        out[gwp_set] = row
    assert out["AR4"]["co2_kg"] == pytest.approx(out["AR5"]["co2_kg"])
    assert out["AR4"]["co2e_kg"] - out["AR4"]["co2_kg"] == pytest.approx(0.042652 * (3 * 25 + 0.6 * 298))
    assert out["AR5"]["co2e_kg"] - out["AR5"]["co2_kg"] == pytest.approx(
        0.042652 * (3 * gwp("CH4", "AR5") + 0.6 * gwp("N2O", "AR5"))
    )


def test_steam_mass_to_heat_with_iapws() -> None:
    # Worked example: superheated steam at 1.0 MPa, 200 °C has h = 2828 kJ/kg, liquid water at
    # 20 °C (1 MPa) h = 84.8 kJ/kg; 1 t delivers (2828 − 84.8)/1000 = 2.743 GJ.
    # Source: IAPWS-IF97 steam tables (e.g. Çengel & Boles, Table A-6, P = 1.0 MPa, T = 200 °C).
    gj = steam_gj_per_t(SteamConditions(pressure_mpa=1.0, temperature_c=200, return_temp_c=20))
    assert gj == pytest.approx((2828.0 - 84.8) / 1000, rel=1e-3)
    # Saturated vapour at 1.0 MPa: h_g = 2777.1 kJ/kg (IAPWS-IF97, Table A-5).
    sat = steam_gj_per_t(SteamConditions(pressure_mpa=1.0, return_temp_c=20))
    assert sat == pytest.approx((2777.1 - 84.8) / 1000, rel=1e-3)


def test_steam_from_own_boiler_is_an_internal_transfer() -> None:
    """Issue 14 defect 3: steam from the site's gas boiler was priced as purchased heat (scope 2,
    location and market) on top of the boiler's scope 1, and its tce added to the gas's."""
    plant = parse_plant(
        PLANT_YAML.replace(
            "steam: {pressure_mpa: 1.0, temperature_c: 200, return_temp_c: 20}}",
            "steam: {pressure_mpa: 1.0, temperature_c: 200, return_temp_c: 20},"
            " supply: {origin: onsite, generated_by: boiler-1}}",
        )
    )
    # 100 Nm3 of gas and 2 t of steam in one quarter hour.
    r = pd.concat([counter("boiler-1", "vol_nm3", JUNE, 15, 100 / 15), counter("steam-1", "mass_t", JUNE, 15, 2 / 15)])
    res = compute(compute_intervals(r, plant), plant, REG)
    steam = _one(res.energy, device="steam-1").iloc[0]
    assert steam["amount"] == pytest.approx(2 * steam_gj_per_t(plant.device("steam-1").steam))  # type: ignore[arg-type]
    assert steam["tce_kg"] == 0.0  # counted once, at the gas
    assert _one(res.emissions, device="steam-1").empty
    # The site's CO2 is the boiler's scope 1 alone: 100 Nm3 × 21.650 tCO2/10^4Nm3 (cn-fuels,
    # 389.31 GJ/10^4Nm3 × 0.01532 tC/GJ × 0.99 × 44/12) = 216.5 kg; tce 100 × 1.33 kgce/Nm3 (GB/T 2589-2020).
    assert list(res.emissions["device"]) == ["boiler-1"]
    assert res.emissions["co2_kg"].sum() == pytest.approx(216.50, abs=0.01)
    assert _one(res.energy, role="main")["tce_kg"].sum() == pytest.approx(133.0)
    assert res.problems == []


def test_pv_generation_carries_no_tce_and_no_emissions(plant: Plant) -> None:
    # On-site PV is generation inside the fence: the grid import the main meter sees is already net of it.
    r = pd.concat([counter("main-1", "e_imp_kwh", JUNE, 15, 10.0), counter("pv-1", "e_exp_kwh", JUNE, 15, 2.0)])
    res = compute(compute_intervals(r, plant), plant, REG)
    pv = _one(res.energy, device="pv-1").iloc[0]
    assert pv["amount"] == pytest.approx(30.0) and pv["tce_kg"] == 0.0
    assert _one(res.emissions, device="pv-1").empty


def test_purchased_steam_scope2(plant: Plant) -> None:
    # 2 t steam at 1.0 MPa/200 °C = 5.486 GJ → × 0.11 tCO2/GJ = 603.5 kg (purchased heat factor,
    # 工业其他行业企业温室气体排放核算方法与报告指南); tce 5486 MJ × 0.03412 = 187.2 kgce.
    r = counter("steam-1", "mass_t", JUNE, 15, 2 / 15)
    res = compute(compute_intervals(r, plant), plant, REG)
    gj = 2 * steam_gj_per_t(plant.device("steam-1").steam)  # type: ignore[arg-type]
    e = _one(res.energy, device="steam-1").iloc[0]
    assert (e["amount"], e["unit"]) == (pytest.approx(gj), "GJ")
    assert e["tce_kg"] == pytest.approx(gj * 1000 * 0.03412)
    loc = _one(res.emissions, device="steam-1", method="location").iloc[0]
    assert loc["co2_kg"] == pytest.approx(gj * 110)
    assert loc["factor"] == "cn-purchased-heat@2015"


def test_tce_both_electricity_conventions(tmp_path: Path) -> None:
    # Equivalent value: 1000 kWh × 0.1229 kgce/kWh = 122.9 kgce (GB/T 2589-2020 表A.1).
    # Coal-consumption-of-generation value: configurable; here a user factor of 0.300 kgce/kWh
    # gives 300 kgce for the same 1000 kWh.
    user = tmp_path / "gen.yaml"
    user.write_text(
        """
set: gen
factors:
  - {id: tce-electricity-generation, version: "2023", kind: tce-generation, carrier: electricity, region: cn-national,
     unit: kgce/kWh, value: 0.300, gas: ce, valid_from: 2023-01-01, source: {document: "site energy audit", table: "-"}}
""",
        "utf-8",
    )
    r = counter("main-1", "e_imp_kwh", JUNE, 15, 1000 / 15)
    eq = parse_plant(PLANT_YAML)
    gen = parse_plant(
        PLANT_YAML.replace("metering: {gwp_set: AR6}", "metering: {gwp_set: AR6, electricity_tce: generation}")
    )
    e_eq = compute(compute_intervals(r, eq), eq, REG).energy
    e_gen = compute(compute_intervals(r, gen), gen, load_registry([user])).energy
    assert _one(e_eq, device="main-1")["tce_kg"].iloc[0] == pytest.approx(122.9)
    assert _one(e_gen, device="main-1")["tce_kg"].iloc[0] == pytest.approx(300.0)
    # Without a generation factor the row has no tce and the reason is reported, not guessed.
    res = compute(compute_intervals(r, gen), gen, REG)
    assert res.energy["tce_kg"].isna().all()
    assert any("tce-generation" in p for p in res.problems)


def test_factor_year_follows_the_interval_local_year(plant: Plant) -> None:
    # 2022-12-31T16:00Z is 2023-01-01 00:00 in Shanghai: the 2023 factor applies.
    r = counter("main-1", "e_imp_kwh", "2022-12-31T15:30", 60, 1.0)
    em = compute(compute_intervals(r, plant), plant, REG).emissions
    loc = _one(em, method="location").set_index("interval_start")["factor"]
    assert loc[pd.Timestamp("2022-12-31T15:45Z")] == "cn-grid-east@2022"
    assert loc[pd.Timestamp("2022-12-31T16:00Z")] == "cn-grid-east@2023"


def test_energy_columns_for_the_tariff_module(plant: Plant) -> None:
    r = counter("main-1", "e_imp_kwh", JUNE, 15, 1.0)
    e = compute(compute_intervals(r, plant), plant, REG).energy
    assert {"tou", "cost", "tce_kg", "amount", "unit"} <= set(e.columns)
    assert (e["tou"] == "").all() and e["cost"].isna().all()


def test_intensity_per_tonne_against_benchmark_and_baseline() -> None:
    # Worked example: a day with 100 t of product and 11 800 kgce of energy is 118 kgce/t:
    # it meets GB 16780-2012's new-plant access value (≤ 118) but not the advanced value (≤ 114).
    # Source: GB 16780-2012 水泥单位产品能源消耗限额, 可比熟料综合能耗, 4000 t/d and above.
    from metering.carbon.intensity import Baseline, BenchmarkFile, intensity, rate, shipped_benchmarks

    line = (
        "  - {id: clinker, name: Clinker, kind: production_line, carrier: production, area: kiln}\n"
        "  - {id: cement-1, name: Cement, kind: production_line, carrier: production, area: cement}\n"
    )
    plant = parse_plant(PLANT_YAML.replace("virtual_meters:", line + "virtual_meters:"))
    # 11 800 kgce as electricity at 0.1229 kgce/kWh = 96 013.02 kWh over the local day 2023-06-01.
    kwh = 11_800 / 0.1229
    day = "2023-05-31T16:00"  # local midnight in Shanghai
    r = pd.concat(
        [
            counter("main-1", "e_imp_kwh", day, 24 * 60, kwh / (24 * 60)),
            counter("clinker", "output_t", day, 24 * 60, 100 / (24 * 60)),
            counter("cement-1", "output_t", day, 24 * 60, 60 / (24 * 60)),
        ]
    )
    res = compute(compute_intervals(r, plant), plant, REG)
    # The site's whole output adds clinker and cement; the clinker benchmark takes clinker tonnes only.
    assert intensity(res, plant, "day")["output_t"].iloc[0] == pytest.approx(160.0)
    table = intensity(res, plant, "day", product="clinker")
    row = table.iloc[0]
    assert str(row["period_start"]) == "2023-06-01 00:00:00+08:00"
    assert row["output_t"] == pytest.approx(100.0)
    assert row["tce_kg_per_t"] == pytest.approx(118.0)
    assert row["co2e_kg_per_t"] == pytest.approx(kwh * 0.55 / 100)
    bench = BenchmarkFile(
        benchmarks=shipped_benchmarks().benchmarks,
        baselines=[Baseline(id="base-2022", product="*", metric="tce_kg_per_t", value=125.0, period="2022")],
    )
    rated = rate(table, bench, "clinker")
    assert rated["gb16780-2012-clinker-4000td"].iloc[0] == "new_plant"
    assert rated["base-2022_pct"].iloc[0] == pytest.approx((118 / 125 - 1) * 100)


def test_pricing_stored_energy_again_gives_the_same_emissions(plant: Plant) -> None:
    # What `recompute --source energy` relies on: the stored energy points (tags, amount, tce_kg;
    # no quantity, status or completeness) priced again give exactly the emissions and tce of
    # the full computation — for main, sub, PV generation, the unmetered remainder, a virtual
    # meter, fuels, steam and a green-power contract.
    r = pd.concat(
        [
            counter("main-1", "e_imp_kwh", JUNE, 120, 10.0),
            counter("kiln-1", "e_imp_kwh", JUNE, 120, 4.0),
            counter("fan-1", "e_imp_kwh", JUNE, 120, 2.0),
            counter("pv-1", "e_exp_kwh", JUNE, 120, 1.5),
            counter("boiler-1", "vol_nm3", JUNE, 120, 3.0),
            counter("gen-1", "mass_t", JUNE, 120, 0.01),
            counter("steam-1", "mass_t", JUNE, 120, 0.2),
        ]
    )
    green = [
        GreenContract(
            id="gp-1", kind="contract", mwh=0.2, start=dt.datetime(2023, 6, 1, 8), end=dt.datetime(2023, 6, 1, 9)
        )
    ]
    full = compute(compute_intervals(r, plant), plant, REG, green)
    stored = full.energy[["site", "area", "device", "carrier", "role", "tou", "interval_start", "amount", "tce_kg"]]
    again = tce_and_co2(stored_energy_rows(stored, plant), plant, REG, green)

    assert set(full.emissions["device"]) >= {"main-1", "main-1:unmetered", "pv-self", "boiler-1", "gen-1", "steam-1"}
    key = ["interval_start", "device", "scope", "method"]
    cols = [*key, "co2_kg", "co2e_kg", "factor", "gwp", "activity"]
    pd.testing.assert_frame_equal(
        again.emissions.sort_values(key)[cols]
        .reset_index(drop=True)
        .astype({c: str for c in ("device", "scope", "method", "factor", "gwp")}),
        full.emissions.sort_values(key)[cols]
        .reset_index(drop=True)
        .astype({c: str for c in ("device", "scope", "method", "factor", "gwp")}),
    )
    by = ["interval_start", "device"]
    assert list(again.energy.sort_values(by)["tce_kg"]) == pytest.approx(
        list(full.energy.sort_values(by)["tce_kg"]), nan_ok=True
    )
