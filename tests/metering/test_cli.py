"""`plantcarbon metering compute|explain` offline from CSV, and `plantcarbon factors list|show|validate`."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from plantcarbon.cli import app
from tests.metering.conftest import PLANT_YAML, counter

runner = CliRunner()


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    plant = tmp_path / "plant.yaml"
    plant.write_text(PLANT_YAML, "utf-8")
    r = pd.concat(
        [
            counter("main-1", "e_imp_kwh", "2023-06-01T00:00", 120, 10.0),
            counter("boiler-1", "vol_nm3", "2023-06-01T00:00", 120, 2.0),
        ]
    )
    r["time"] = r["time"].dt.strftime("%Y-%m-%dT%H:%M:%S+00:00")
    csv = tmp_path / "readings.csv"
    r.to_csv(csv, index=False)
    return plant, csv


def test_compute_offline_csv_and_json(files: tuple[Path, Path], tmp_path: Path) -> None:
    plant, csv = files
    out = tmp_path / "results.csv"
    args = ["metering", "compute", "--plant", str(plant), "--readings", str(csv)]
    # Local times: 08:00–10:00 Shanghai = 00:00–02:00 UTC.
    res = runner.invoke(app, [*args, "--from", "2023-06-01T08:00", "--to", "2023-06-01T10:00", "--out", str(out)])
    assert res.exit_code == 0, res.output
    table = pd.read_csv(out)
    energy = table[(table["measurement"] == "energy") & (table["device"] == "main-1")]
    assert len(energy) == 8
    assert energy["amount"].sum() == pytest.approx(1200.0)
    em = table[(table["measurement"] == "emissions") & (table["device"] == "main-1") & (table["method"] == "location")]
    assert em["co2_kg"].sum() == pytest.approx(1200 * 0.55)
    js = tmp_path / "results.json"
    res = runner.invoke(app, [*args, "--from", "2023-06-01T08:00", "--to", "2023-06-01T09:00", "--out", str(js)])
    assert res.exit_code == 0, res.output
    doc = json.loads(js.read_text("utf-8"))
    assert {r["device"] for r in doc["energy"]} == {"main-1", "boiler-1"}
    assert sum(r["amount"] for r in doc["energy"] if r["device"] == "boiler-1") == pytest.approx(120.0)


def test_compute_on_a_global_plant_with_a_gas_meter_does_not_crash(files: tuple[Path, Path], tmp_path: Path) -> None:
    """Issue 14 defect 6: `ValueError: ipcc-co2-natural-gas@2006 is per TJ, cannot apply it to Nm3`."""
    plant, csv = files
    plant.write_text(PLANT_YAML.replace("grid_region: cn-east", "grid_region: global"), "utf-8")
    out = tmp_path / "results.csv"
    args = ["metering", "compute", "--plant", str(plant), "--readings", str(csv), "--out", str(out)]
    res = runner.invoke(app, [*args, "--from", "2023-06-01T08:00", "--to", "2023-06-01T10:00"])
    assert res.exit_code == 0, res.output
    table = pd.read_csv(out)
    gas = table[(table["measurement"] == "emissions") & (table["device"] == "boiler-1")]
    # 240 Nm3 × 0.038931 GJ/Nm3 (default NCV) × 56.1 kg/GJ (IPCC 2006 Table 1.4) = 524.17 kg.
    assert gas["co2_kg"].sum() == pytest.approx(240 * 0.038931 * 56.1)
    assert set(gas["factor"]) == {"ipcc-co2-natural-gas@2006"}


def test_compute_rejects_a_bad_csv(files: tuple[Path, Path], tmp_path: Path) -> None:
    plant, _ = files
    bad = tmp_path / "bad.csv"
    bad.write_text("when,device,value\n1,a,2\n", "utf-8")
    res = runner.invoke(
        app,
        [
            "metering",
            "compute",
            "--plant",
            str(plant),
            "--readings",
            str(bad),
            "--from",
            "2023-06-01",
            "--to",
            "2023-06-02",
            "--out",
            str(tmp_path / "o.csv"),
        ],
    )
    assert res.exit_code == 1
    assert "missing columns ['time']" in res.output


def test_explain_prints_the_chain(files: tuple[Path, Path]) -> None:
    plant, csv = files
    res = runner.invoke(
        app,
        [
            "metering",
            "explain",
            "--plant",
            str(plant),
            "--device",
            "main-1",
            "--interval",
            "2023-06-01T08:20",
            "--readings",
            str(csv),
        ],
    )
    assert res.exit_code == 0, res.output
    out = res.output
    assert "interval 2023-06-01T00:15:00+00:00" in out
    assert "3. interval amount: 150 kWh — status measured" in out
    assert "tce 18.435 kgce (tce-electricity-equivalent@gbt2589-2020)" in out
    assert "scope 2 location: 150 kWh × 0.55 tCO2/MWh (cn-grid-east@2023) = 82.5 kg CO2" in out
    assert "关于发布2023年电力二氧化碳排放因子的公告" in out


def test_factors_list_show_validate(tmp_path: Path) -> None:
    res = runner.invoke(app, ["factors", "list", "--region", "cn-east"])
    assert res.exit_code == 0, res.output
    assert "cn-grid-east@2023" in res.output and "cn-grid-north" not in res.output
    res = runner.invoke(app, ["factors", "show", "cn-grid-national@2022"])
    assert res.exit_code == 0
    assert "value 0.5366 tCO2/MWh" in res.output
    res = runner.invoke(app, ["factors", "show", "nope"])
    assert res.exit_code == 1 and "no factor with id 'nope'" in res.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("set: x\nfactors:\n  - {id: a}\n", "utf-8")
    res = runner.invoke(app, ["factors", "validate", str(bad)])
    assert res.exit_code == 1
    assert "bad.yaml: factors[0] (id=a): version: required field is missing" in res.output
    shipped = sorted((Path(__file__).resolve().parents[2] / "metering" / "carbon" / "factors").glob("*.yaml"))
    res = runner.invoke(app, ["factors", "validate", *map(str, shipped)])
    assert res.exit_code == 0, res.output


def test_compute_fills_tou_and_cost_from_the_plants_tariff(files: tuple[Path, Path], tmp_path: Path) -> None:
    plant, csv = files
    text = plant.read_text("utf-8").replace(
        "metering: {gwp_set: AR6}", "contract: {tariff: cn-js-large-industry}\nmetering: {gwp_set: AR6}"
    )
    plant.write_text(text, "utf-8")
    r = counter("main-1", "e_imp_kwh", "2025-07-01T00:00", 120, 10.0)
    r["time"] = r["time"].dt.strftime("%Y-%m-%dT%H:%M:%S+00:00")
    csv2025 = tmp_path / "readings-2025.csv"
    r.to_csv(csv2025, index=False)
    out = tmp_path / "results.csv"
    # Before the tariff's first version: computed without cost, with a warning, not a crash.
    early = runner.invoke(
        app,
        [
            "metering",
            "compute",
            "--plant",
            str(plant),
            "--readings",
            str(csv),
            "--from",
            "2023-06-01T08:00",
            "--to",
            "2023-06-01T10:00",
            "--out",
            str(out),
        ],
    )
    assert early.exit_code == 0, early.output
    assert "warning: tariff: tariff 'cn-js-large-industry' has no version in effect" in early.output
    res = runner.invoke(
        app,
        [
            "metering",
            "compute",
            "--plant",
            str(plant),
            "--readings",
            str(csv2025),
            "--from",
            "2025-07-01T08:00",
            "--to",
            "2025-07-01T10:00",
            "--out",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    table = pd.read_csv(out)
    main = table[(table["measurement"] == "energy") & (table["device"] == "main-1")]
    assert main["tou"].notna().all() and (main["cost"] > 0).all()
    assert len(main) == 8
    # Carried forward: the newest published grid factor (2023) applies to 2025 intervals.
    em = table[(table["measurement"] == "emissions") & (table["method"] == "location")]
    assert set(em["factor"]) == {"cn-grid-east@2023"}
