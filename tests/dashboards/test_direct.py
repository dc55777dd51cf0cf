"""The carbon dashboard of a plant with an emission unit: three boundaries side by side, never added,
and the clinker intensity against the benchmark — every query run against a real InfluxDB 2.7
holding what metering/direct and the metering engine wrote for the simulated kiln line."""

from __future__ import annotations

import datetime as dt
import math
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from dashboards import schema as sc
from dashboards.plantfile import emission_units as emission_units_of
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
INTENSITY_DAILY = "Clinker intensity per day, national carbon market, against the benchmark"
BY_SOURCE = "Direct CO2 by source and material, national carbon market (biogenic: memo item, not counted)"
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
    # 8 panels' queries of the units' row and boundaries, 3 breakdown parts (by source, by unit, per day).
    assert sum(f'FROM "{sc.DIRECT}"' in c.query for c in checks) == 2 * 11
    assert sum(f'FROM "{sc.CBAM}"' in c.query for c in checks) == 2 * 4


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
    daily = panel(doc, INTENSITY_DAILY)
    assert daily["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"]["mode"] == "dashed"
    (per_day,) = run(target, k, doc, INTENSITY_DAILY)
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
    (check,) = run(target, k, doc, BY_SOURCE)
    assert check.problem is None and check.frame is not None
    rows = check.frame
    assert not rows[["co2_t", "activity_t"]].isna().any().any()
    counted = rows[rows["source"] != "biogenic"]["co2_t"].sum()
    assert counted == pytest.approx(k.accounts.units[0].direct_co2_t, rel=1e-9)
    biogenic = rows[rows["source"] == "biogenic"]["co2_t"].sum()
    assert biogenic == pytest.approx(k.line.truth()["biogenic_t"], rel=1e-9) and biogenic > 0
    assert set(rows["source"]) == {"fuel", "biogenic", "process_clinker", "process_dust", "process_toc"}
    texts = panel(doc, BY_SOURCE)["fieldConfig"]["defaults"]["mappings"][0]["options"]
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


def location_total(k: Kiln) -> float:
    """GB/T 32150 scope 1 + scope 2 location-based of the period, as metering/direct computed it (t)."""
    totals = {t["method"]: t["tco2"] for t in k.accounts.gbt32150()["totals"]}
    return float(totals["location"])


@pytest.mark.integration
def test_carbon_breakdowns_count_the_kiln_coal_once_and_add_the_process_co2(kiln: tuple[InfluxTarget, Kiln]) -> None:
    """By source, by area and the monthly trend of a plant with a `carbon:` block add up to scope 1 + 2
    location-based (the units' direct CO2 in place of the engine's kiln-coal estimate), not to the engine alone."""
    target, k = kiln
    doc = carbon_doc(k)
    expected = location_total(k)
    title = "CO2 by carrier and direct source, scope 1 + 2 location-based"
    engine, direct = run(target, k, doc, title)
    assert engine.frame is not None and direct.frame is not None
    assert set(direct.frame["source"]) == {"fuel", "process_clinker", "process_dust", "process_toc"}  # no biogenic
    assert "coal" not in set(engine.frame["carrier"])  # the weighers' engine rows are left out
    assert engine.frame["sum"].sum() + direct.frame["sum"].sum() == pytest.approx(expected, rel=1e-9)
    areas, units = run(target, k, doc, "CO2 by area and emission unit, scope 1 + 2 location-based")
    assert units.frame is not None and list(units.frame["unit"]) == ["kiln-1"]
    assert value(units, "sum") == pytest.approx(k.accounts.units[0].direct_co2_t, rel=1e-9)
    assert areas.frame is not None and areas.frame["sum"].sum() + value(units, "sum") == pytest.approx(
        expected, rel=1e-9
    )
    daily_engine, daily_direct = run(target, k, doc, "Monthly trend, scope 1 + 2 location-based (t CO2)")
    assert daily_engine.frame is not None and daily_direct.frame is not None
    assert daily_engine.frame["sum"].sum() + daily_direct.frame["sum"].sum() == pytest.approx(expected, rel=1e-9)
    # Without the process CO2 the figure would be far lower: a clinker line's process CO2 is ~0.52 t/t.
    assert daily_direct.frame["sum"].sum() > daily_engine.frame["sum"].sum()
    monthly = panel(doc, "Monthly trend, scope 1 + 2 location-based (t CO2)")
    calc = [t for t in monthly["transformations"] if t["id"] == "calculateField"]
    assert calc[0]["options"]["reduce"]["include"] == ["co2_0", "co2_1"] and calc[0]["options"]["alias"] == "co2"


@pytest.mark.integration
def test_cbam_panels_give_the_accounts_embedded_emissions(kiln: tuple[InfluxTarget, Kiln]) -> None:
    """CBAM per tonne of clinker and of cement (clinker as precursor), direct and indirect apart, from the
    stored `cbam` days — equal to metering/direct/cbam.py's figures of the same period."""
    target, k = kiln
    doc = carbon_doc(k)
    cbam = {c["product"]: c for c in k.accounts.cbam}
    assert set(cbam) == {"clinker", "cement"}
    (ck,) = run(target, k, doc, "CBAM embedded emissions, clinker (t CO2 / t clinker)")
    assert value(ck, "direct") == pytest.approx(cbam["clinker"]["see_direct_tco2_per_t"], rel=1e-9)
    assert value(ck, "indirect") == pytest.approx(cbam["clinker"]["see_indirect_tco2_per_t"], rel=1e-9)
    assert value(ck, "indirect") > 0 and value(ck, "direct") > 10 * value(ck, "indirect")
    # Cement: two queries; Grafana computes own + clinker share × clinker per tonne (the panel's transformations).
    clinker, cement = run(
        target, k, doc, "CBAM embedded emissions, cement with clinker as precursor (t CO2 / t cement)"
    )
    share = value(cement, "clinker_share")
    for part in ("direct", "indirect"):
        got = value(cement, f"own_{part}") + share * value(clinker, f"ck_{part}")
        assert got == pytest.approx(cbam["cement"][f"see_{part}_tco2_per_t"], rel=1e-9)
    assert value(cement, "own_direct") == 0.0  # grinding burns nothing here: all direct CO2 is the clinker's
    p = panel(doc, "CBAM embedded emissions, cement with clinker as precursor (t CO2 / t cement)")
    calcs = [
        (t["options"]["alias"], t["options"]["binary"]) for t in p["transformations"] if t["id"] == "calculateField"
    ]
    assert ("direct", {"left": "own_direct", "operator": "+", "right": "precursor_direct"}) in calcs
    assert ("precursor_direct", {"left": "clinker_share", "operator": "*", "right": "ck_direct"}) in calcs
    assert p["options"]["reduceOptions"]["fields"] == "/^(direct|indirect)$/"
    assert [t["alias"] for t in p["targets"]] == ["$col", "$col"]  # the fields the calculations name
    (act,) = run(target, k, doc, "CBAM activity: production, electricity per tonne, clinker share of cement")
    assert act.frame is not None
    rows = act.frame.set_index("product")
    for product, c in cbam.items():
        assert rows.loc[product, "production_t"] == pytest.approx(c["production_t"], rel=1e-9)
        assert rows.loc[product, "electricity_mwh_per_t"] == pytest.approx(c["electricity_mwh_per_t"], rel=1e-9)
    assert rows.loc["cement", "clinker_share"] == pytest.approx(cbam["cement"]["clinker_share"], rel=1e-9)


@pytest.mark.integration
def test_the_overview_of_a_kiln_plant_shows_boundaries_not_the_engines_coal_estimate(
    kiln: tuple[InfluxTarget, Kiln],
) -> None:
    target, k = kiln
    from dashboards.boards.overview import overview
    from dashboards.validate import to_json

    doc = to_json(overview(k.plant, "en", BENCH))
    titles = [p.get("title") for p in doc["panels"]]
    assert "CO2 today, scope 1 + 2 location-based" not in titles  # the engine's kiln-coal estimate, no process CO2
    unit = k.accounts.units[0]
    (ets,) = run(target, k, doc, "Direct CO2 this month, national carbon market (closed days)")
    assert value(ets, "sum") == pytest.approx(unit.direct_co2_t, rel=1e-9)
    title = "Clinker intensity this month, national carbon market (closed days)"
    (intensity,) = run(target, k, doc, title)
    assert value(intensity, "intensity") == pytest.approx(unit.intensity, rel=1e-9)
    # Against the benchmark when one is given, with its source and "[unconfirmed]" (no line without one).
    assert [s["value"] for s in panel(doc, title)["fieldConfig"]["defaults"]["thresholds"]["steps"]] == [None, 0.86]
    assert BENCH.source in panel(doc, title)["description"] and "[unconfirmed]" in panel(doc, title)["description"]
    bare = panel(to_json(overview(k.plant, "en")), title)
    assert [s["value"] for s in bare["fieldConfig"]["defaults"]["thresholds"]["steps"]] == [None]
    assert "publishes none" in bare["description"]
    # Scope 2 today, evaluated on each of the 19 days, adds up to the period's location-based scope 2.
    (q,) = [q for q in queries(doc) if q.panel and q.panel["title"] == "Scope 2 today, location-based"]
    variables, _ = Verifier(target, k.now, k.plant.site.timezone).variables(doc)
    days = []
    for d in range(19):
        v = Verifier(target, k.now - dt.timedelta(days=d + 1), k.plant.site.timezone)
        days.append(value(v.query(doc, q, variables), "sum"))
    assert sum(days) == pytest.approx(k.accounts.scope2["location"]["tco2"], rel=1e-9)
    assert sum(days) != pytest.approx(k.accounts.scope2["market"]["tco2"], rel=1e-3)


# --- no query adds location- and market-based rows; every carbon figure titles its boundary -------------

BOUNDARY_WORDS = ("scope 1", "scope 2", "national carbon market", "cbam")


def methods_of(query: str) -> set[str] | None:
    """The scope 2 methods whose CO2 rows one query adds together: None when it reads no emissions CO2,
    {'per method'} when it keeps methods apart (GROUP BY "method"), set() for scope 1 only."""
    if f'FROM "{sc.EMISSIONS}"' not in query or "co2" not in query:
        return None
    if re.search(r'GROUP BY .*"method"', query):
        return {"per method"}
    if f"\"scope\" = '{sc.SCOPE_1}'" in query:
        return set()
    kept = {m for op, m in re.findall(r'"method" (=|!=) \'(\w+)\'', query) if op == "="}
    kept |= {
        ({sc.LOCATION, sc.MARKET} - {m}).pop()
        for op, m in re.findall(r'"method" (=|!=) \'(\w+)\'', query)
        if op == "!="
    }
    return kept or {sc.LOCATION, sc.MARKET}  # no method filter: both methods' rows summed


def mixing(doc: dict[str, Any]) -> list[str]:
    """Panels whose queries add location- and market-based rows, within one query or across its targets."""
    out = []
    for p in doc["panels"]:
        found = [m for t in p.get("targets", []) if (m := methods_of(t["query"])) is not None]
        together = set().union(*found) - {"per method"} if found else set()
        if {sc.LOCATION, sc.MARKET} <= together:
            out.append(f"{doc['uid']}: {p['title']}")
    return out


def test_no_dashboard_query_adds_location_and_market_based_rows() -> None:
    from tests.dashboards.golden import golden_plants

    plants = golden_plants()
    assert any(emission_units_of(p) for p in plants.values())  # the kiln line and the cement scenario
    for name, plant in plants.items():
        # The queries are the same in both languages (only titles differ): English is checked.
        for doc in dashboard_docs(plant):
            assert mixing(doc) == [], name
            for p in doc["panels"]:
                reads = [t["query"] for t in p.get("targets", [])]
                carbon = any(methods_of(q) is not None for q in reads if "factor" not in q) or any(
                    f'FROM "{m}"' in q for q in reads for m in (sc.DIRECT, sc.CBAM)
                )
                if carbon:
                    assert any(w in p["title"].lower() for w in BOUNDARY_WORDS), f"{doc['uid']}: {p['title']}"
    # The rule can fail: a query without a method filter, or a panel of one location and one market query.
    base = 'SELECT sum("co2_kg") FROM "emissions" WHERE $timeFilter'
    assert methods_of(base) == {sc.LOCATION, sc.MARKET}
    assert methods_of(base + " AND \"method\" != 'market'") == {sc.LOCATION}
    bad = {
        "uid": "x",
        "panels": [
            {
                "title": "t",
                "targets": [
                    {"query": base + " AND \"method\" = 'location'"},
                    {"query": base + " AND \"method\" != 'location'"},
                ],
            }
        ],
    }
    assert mixing(bad) == ["x: t"]
