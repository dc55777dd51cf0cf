"""The carbon dashboard of a plant with an emission unit: three boundaries side by side, never added,
and the clinker intensity against the benchmark — every query run against a real InfluxDB 2.7
holding what metering/direct and the metering engine wrote for the simulated kiln line."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from dashboards import schema as sc
from dashboards.provision import dashboard_docs
from dashboards.thresholds import IntensityBenchmark
from dashboards.validate import problems, queries
from dashboards.verify import Check, Verifier, verify
from harness.influxdb import InfluxDB
from metering.direct.influx import read_direct
from plantcarbon_core.influx import InfluxTarget
from plantcarbon_core.plant import load_plant
from tests.dashboards.kiln import FIRST, Kiln, fill_kiln

PLANT_A = Path(__file__).resolve().parents[2] / "examples" / "plant-a.yaml"
UIDS = {sc.RAW_DS_UID, sc.METERING_DS_UID}
# A benchmark for the test only (the method file ships none): its value must reach the panels.
BENCH = IntensityBenchmark(value=0.86, source="test value, not a published benchmark", confirmed=False)


@pytest.fixture(scope="module")
def kiln(influxdb: InfluxDB, tmp_path_factory: pytest.TempPathFactory) -> tuple[InfluxTarget, Kiln]:
    target = influxdb.fresh_target()
    return target, fill_kiln(target, tmp_path_factory.mktemp("kiln"))


def carbon_doc(kiln: Kiln, lang: str = "en", benchmark: IntensityBenchmark | None = BENCH) -> dict[str, Any]:
    docs = dashboard_docs(kiln.plant, (lang,), benchmark=benchmark)  # type: ignore[arg-type]
    return next(d for d in docs if d["uid"].startswith("pc-cem-t-carbon"))


def panel(doc: dict[str, Any], title: str) -> dict[str, Any]:
    (p,) = [p for p in doc["panels"] if p.get("title") == title]
    return p


def run(target: InfluxTarget, kiln: Kiln, doc: dict[str, Any], title: str) -> list[Check]:
    v = Verifier(target, kiln.now, kiln.plant.site.timezone)
    variables, _ = v.variables(doc)
    return [v.query(doc, q, variables) for q in queries(doc) if q.panel and q.panel["title"] == title]


def value(check: Check, column: str) -> float:
    assert check.problem is None and check.frame is not None, check
    (x,) = check.frame[column].to_list()
    assert not math.isnan(x)
    return float(x)


@pytest.mark.integration
def test_every_carbon_query_of_the_kiln_plant_returns_data(kiln: tuple[InfluxTarget, Kiln]) -> None:
    target, k = kiln
    docs = [carbon_doc(k, "en"), carbon_doc(k, "zh", None)]
    for doc in docs:
        assert problems(doc, UIDS) == []
    checks = verify(docs, target, k.now, k.plant.site.timezone)
    failed = [f"{c.dashboard} {c.where}: {c.problem}\n  {c.query}" for c in checks if c.problem]
    assert failed == []
    assert len(checks) == sum(len(queries(d)) for d in docs)
    # Every panel and variable query returns rows (no alert fired on this line: the annotation may be empty).
    assert [c.where for c in checks if c.rows == 0 and not c.where.startswith("annotation")] == []
    # The direct-emission panels read the measurement metering/direct writes.
    assert sum(f'FROM "{sc.DIRECT}"' in c.query for c in checks) == 2 * 8


@pytest.mark.integration
def test_the_three_boundaries_match_what_metering_wrote(kiln: tuple[InfluxTarget, Kiln]) -> None:
    target, k = kiln
    doc = carbon_doc(k)
    unit = k.accounts.units[0]
    truth = k.line.truth()
    inventory = k.accounts.gbt32150()

    # National carbon market: the unit's direct CO2 (fuel + process), one series per unit.
    (ets,) = run(target, k, doc, "Direct CO2 per emission unit, national carbon market (fuel + process)")
    assert ets.frame is not None and list(ets.frame["unit"]) == ["kiln-1"]
    assert value(ets, "sum") == pytest.approx(unit.direct_co2_t, rel=1e-9)
    assert value(ets, "sum") == pytest.approx(truth["direct_co2_t"], rel=1e-3)  # the simulator's truth

    # GB/T 32150 scope 1: the units' direct CO2 plus fuels no unit weighs (the gas boiler); the
    # engine's own rows for the weighed coal are left out, so the coal is counted once.
    direct, others = run(target, k, doc, "Scope 1, GB/T 32150 (units' direct + other fuels)")
    assert value(direct, "sum") + value(others, "sum") == pytest.approx(inventory["scope1"]["tco2"], rel=1e-9)
    assert value(others, "sum") > 0
    assert unit.direct_co2_t <= value(direct, "sum") + value(others, "sum")  # ETS direct ≤ scope 1

    # Scope 2 by method, each alone; the totals add scope 1 to one method only.
    scope2 = {m: v["tco2"] for m, v in k.accounts.scope2.items()}
    (loc,) = run(target, k, doc, "Scope 2, location-based")
    (mkt,) = run(target, k, doc, "Scope 2, market-based")
    assert value(loc, "sum") == pytest.approx(scope2["location"], rel=1e-9)
    assert value(mkt, "sum") == pytest.approx(scope2["market"], rel=1e-9)
    assert value(loc, "sum") != pytest.approx(value(mkt, "sum"), rel=1e-3)  # different factors: both shown
    totals = {t["method"]: t["tco2"] for t in inventory["totals"]}
    for title, method in (("Scope 1 + 2, location-based", "location"), ("Scope 1 + 2, market-based", "market")):
        a, b = run(target, k, doc, title)
        assert value(a, "sum") + value(b, "sum") == pytest.approx(totals[method], rel=1e-9)

    # Each figure is labelled with its boundary; no panel adds the boundaries together.
    titles = [p.get("title", "") for p in doc["panels"]]
    assert titles.count("Direct CO2 per emission unit, national carbon market (fuel + process)") == 1
    assert "Scope 1" not in titles  # the engine-only scope 1 would miss the process CO2


@pytest.mark.integration
def test_clinker_intensity_against_the_benchmark(kiln: tuple[InfluxTarget, Kiln]) -> None:
    target, k = kiln
    doc = carbon_doc(k)
    unit = k.accounts.units[0]
    title = "Clinker intensity, national carbon market (t CO2 / t clinker)"
    (check,) = run(target, k, doc, title)
    got = value(check, "intensity")
    assert got == pytest.approx(unit.intensity, rel=1e-9)
    truth = k.line.truth()
    assert got == pytest.approx(truth["direct_co2_t"] / truth["clinker_t"], rel=1e-3)
    assert 0.7 < got < 1.0  # a clinker line: ~0.52 process + ~0.3 fuel (issue 17)
    steps = panel(doc, title)["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert [s["value"] for s in steps] == [None, BENCH.value]
    assert BENCH.source in panel(doc, title)["description"] and "[unconfirmed]" in panel(doc, title)["description"]
    daily = panel(doc, "Clinker intensity per day against the benchmark")
    assert daily["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"]["mode"] == "dashed"
    (per_day,) = run(target, k, doc, "Clinker intensity per day against the benchmark")
    assert per_day.frame is not None and len(per_day.frame) == len(unit.days) == 19
    assert not per_day.frame["intensity"].isna().any()
    # The `product` points metering/direct wrote, read back and divided here, give the same days.
    tz = k.plant.site.timezone
    stored = read_direct(target, "cem-t", pd.Timestamp(FIRST).tz_localize(tz), pd.Timestamp(k.now))
    product = stored[stored["source"] == "product"].sort_values("time")
    assert len(product) == 19
    expected = (product["co2_t"] / product["activity_t"]).to_list()
    assert per_day.frame.sort_values("time")["intensity"].to_list() == pytest.approx(expected, rel=1e-9)


@pytest.mark.integration
def test_direct_co2_by_source_adds_up_and_keeps_biogenic_apart(kiln: tuple[InfluxTarget, Kiln]) -> None:
    target, k = kiln
    doc = carbon_doc(k)
    (check,) = run(target, k, doc, "Direct CO2 by source and material (biogenic: memo item, not counted)")
    assert check.problem is None and check.frame is not None
    rows = check.frame
    assert not rows[["co2_t", "activity_t"]].isna().any().any()
    counted = rows[rows["source"] != "biogenic"]["co2_t"].sum()
    assert counted == pytest.approx(k.accounts.units[0].direct_co2_t, rel=1e-9)
    biogenic = rows[rows["source"] == "biogenic"]["co2_t"].sum()
    assert biogenic == pytest.approx(k.line.truth()["biogenic_t"], rel=1e-9) and biogenic > 0
    assert set(rows["source"]) == {"fuel", "biogenic", "process_clinker", "process_dust", "process_toc"}
    texts = panel(doc, "Direct CO2 by source and material (biogenic: memo item, not counted)")["fieldConfig"][
        "defaults"
    ]["mappings"][0]["options"]
    assert texts["biogenic"]["text"] == "biogenic CO2 (memo, not counted)"


def test_without_a_benchmark_the_intensity_says_none_is_published(tmp_path: Path) -> None:
    from simulators.kiln import PLANT

    (tmp_path / "plant.yaml").write_text(PLANT, "utf-8")
    plant = load_plant(tmp_path / "plant.yaml")
    doc = next(d for d in dashboard_docs(plant) if d["uid"] == "pc-cem-t-carbon")
    p = panel(doc, "Clinker intensity, national carbon market (t CO2 / t clinker)")
    assert [s["value"] for s in p["fieldConfig"]["defaults"]["thresholds"]["steps"]] == [None]
    assert "publishes none" in p["description"]
    assert "thresholdsStyle" not in p["fieldConfig"]["defaults"].get("custom", {})


def test_a_plant_without_emission_units_has_no_direct_panels() -> None:
    plant = load_plant(PLANT_A)
    assert plant.carbon is None
    for doc in dashboard_docs(plant, ("en", "zh")):
        assert not any(f'"{sc.DIRECT}"' in q.query for q in queries(doc))
    carbon = next(d for d in dashboard_docs(plant) if d["uid"] == "pc-plant-a-carbon")
    assert "Scope 1" in [p.get("title") for p in carbon["panels"]]


def test_cli_build_draws_the_benchmark_of_a_file(tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    from plantcarbon.cli import app
    from simulators.kiln import PLANT

    plant = tmp_path / "plant.yaml"
    plant.write_text(PLANT, "utf-8")
    title = "Clinker intensity, national carbon market (t CO2 / t clinker)"

    def build(*extra: str) -> tuple[int, str, dict[str, Any] | None]:
        out = tmp_path / f"out{len(list(tmp_path.iterdir()))}"
        # Wide: the error line names a temporary path longer than 80 columns under a parallel worker.
        runner = CliRunner(env={"COLUMNS": "1000"})
        r = runner.invoke(app, ["dashboards", "build", "--plant", str(plant), "--out", str(out), *extra])
        f = out / "dashboards" / "pc-cem-t-carbon.json"
        return r.exit_code, r.output, json.loads(f.read_text("utf-8")) if f.exists() else None

    bench = tmp_path / "bench.yaml"
    bench.write_text("benchmark: {value: 0.9, source: 'test file', confirmed: true}\n", "utf-8")
    code, output, doc = build("--benchmark", str(bench))
    assert code == 0, output
    assert doc is not None
    p = panel(doc, title)
    assert [s["value"] for s in p["fieldConfig"]["defaults"]["thresholds"]["steps"]] == [None, 0.9]
    assert p["description"] == "Benchmark 0.9 t CO2 / t clinker: test file"
    # The shipped method file can be given as it is: it publishes no benchmark.
    method = Path(__file__).resolve().parents[2] / "metering" / "direct" / "methods" / "cn-cement-clinker-2025.yaml"
    code, output, doc = build("--benchmark", str(method))
    assert code == 0, output
    assert doc is not None and "publishes none" in panel(doc, title)["description"]
    bench.write_text("benchmark: {value: -1, source: x}\n", "utf-8")
    code, output, doc = build("--benchmark", str(bench))
    assert code == 1 and doc is None
    assert f"{bench}:" in output and "benchmark.value" in output
