"""Generated dashboards are valid Grafana models: SDK round trip, unique ids, datasources resolve."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest

from dashboards.generate import Threshold, build_dashboards
from dashboards.influxql import InfluxAnnotation, InfluxQLQuery
from dashboards.interpolate import format_interval, interpolate, interval_ms, panel_range, round_interval_ms
from dashboards.provision import dashboard_docs
from dashboards.validate import problems, read_back
from plantcarbon_core import schema as sc
from plantcarbon_core.plant import load_plant

PLANT = Path(__file__).resolve().parents[2] / "examples" / "plant-a.yaml"
UIDS = {sc.RAW_DS_UID, sc.METERING_DS_UID}


@pytest.fixture(scope="module")
def docs() -> list[dict]:
    return dashboard_docs(load_plant(PLANT), ("en", "zh"))


def test_every_dashboard_is_valid(docs: list[dict]) -> None:
    assert len(docs) == 2 * 9  # overview, transformer/kiln/pv/boiler, carbon, demand, quality, alerts
    for doc in docs:
        assert problems(doc, UIDS) == []


def test_uids_are_stable_unique_and_grafana_sized(docs: list[dict]) -> None:
    uids = [d["uid"] for d in docs]
    assert len(set(uids)) == len(uids)
    assert all(len(u) <= 40 for u in uids)
    again = dashboard_docs(load_plant(PLANT), ("en", "zh"))
    assert [d["uid"] for d in again] == uids
    assert again == docs  # generation is deterministic


def test_an_unknown_field_is_reported(docs: list[dict]) -> None:
    doc = copy.deepcopy(docs[0])
    doc["panels"][1]["fieldConfig"]["defaults"]["colour"] = "red"
    found = problems(doc, UIDS)
    assert any("fieldConfig.defaults.colour" in p and "lost" in p for p in found), found
    doc = copy.deepcopy(docs[0])
    doc["panels"][1]["targets"][0]["measurment"] = "x"
    found = problems(doc, UIDS)
    assert any("unknown field(s) ['measurment']" in p for p in found), found


def test_duplicate_ids_and_unprovisioned_datasources_are_reported(docs: list[dict]) -> None:
    doc = copy.deepcopy(docs[0])
    doc["panels"][2]["id"] = doc["panels"][1]["id"]
    doc["panels"][3]["targets"][0]["datasource"]["uid"] = "nope"
    doc["panels"][3]["datasource"]["uid"] = "nope"
    found = problems(doc, UIDS)
    assert any(f"panel id {doc['panels'][1]['id']} used by" in p for p in found), found
    assert any("'uid': 'nope'" in p and "not provisioned" in p for p in found), found


def test_targets_read_back_as_influxql_and_the_annotation_keeps_its_query(docs: list[dict]) -> None:
    board = read_back(docs[0])
    targets = [t for p in board.panels if getattr(p, "targets", None) for t in p.targets]
    assert targets and all(isinstance(t, InfluxQLQuery) for t in targets)
    anno = board.annotations.list_val[0]
    assert isinstance(anno, InfluxAnnotation)
    assert f'FROM "{sc.ALERTS}"' in anno.query and anno.text_column == "message"


def test_titles_follow_the_language(docs: list[dict]) -> None:
    en = {d["uid"]: d for d in docs if not d["uid"].endswith("-zh")}
    zh = {d["uid"]: d for d in docs if d["uid"].endswith("-zh")}
    assert en["pc-plant-a-overview"]["title"] == "Plant A · Plant overview"
    assert zh["pc-plant-a-overview-zh"]["title"] == "Plant A · 工厂总览"
    assert zh["pc-plant-a-eq-transformer-zh"]["title"] == "Plant A · 设备 · 变压器"
    cjk = re.compile(r"[\u4e00-\u9fff]")
    for doc in zh.values():
        for p in doc["panels"]:
            assert cjk.search(p["title"]), (doc["uid"], p["title"])


def test_every_device_kind_has_a_title_in_both_languages() -> None:

    from dashboards.i18n import TEXTS
    from plantcarbon_core.kinds import kinds

    for kind in kinds():
        assert f"kind.{kind}" in TEXTS


def _panel(doc: dict, title: str) -> dict:
    return next(p for p in doc["panels"] if p.get("title") == title)


def test_demand_limit_and_prealarm_are_drawn_from_the_plant_file(docs: list[dict]) -> None:
    # plant-a: demand_limit_kw 4000, prealarm_margin_pct 5 → pre-alarm at 3800 kW.
    demand = next(d for d in docs if d["uid"] == "pc-plant-a-demand")
    p = _panel(demand, "15-minute demand against the contract limit")
    steps = p["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert [(s["value"], s["color"]) for s in steps] == [(None, "green"), (3800.0, "orange"), (4000.0, "red")]
    assert p["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"]["mode"] == "dashed"
    assert p["fieldConfig"]["defaults"]["unit"] == "kwatt"


def test_site_totals_use_main_meters_only(docs: list[dict]) -> None:
    overview = docs[0]
    co2 = _panel(overview, "CO2 today, scope 1 + 2 location-based")["targets"][0]["query"]
    assert "\"role\" = 'main'" in co2 and "\"method\" != 'market'" in co2
    top = _panel(overview, "Top consumers today (tce)")["targets"][0]["query"]
    # tr-01 has sub-meters: ranking it beside them would count twice; its remainder row stays in.
    assert '"device" !~ /^(tr\\-01)$/' in top
    carbon = next(d for d in docs if d["uid"] == "pc-plant-a-carbon")
    by_area = _panel(carbon, "CO2 by area, scope 1 + 2 location-based")["targets"][0]["query"]
    assert '"device" !~ /^(tr\\-01)$/' in by_area and "\"role\" != 'virtual'" in by_area


def test_load_factor_runs_one_query_per_rating() -> None:
    from dashboards.validate import to_json
    from plantcarbon_core.plant import parse_plant

    plant = load_plant(PLANT).model_dump(mode="json")
    for i in range(6):  # six motors of two sizes
        plant["devices"].append(
            {
                "id": f"m-{i}",
                "name": f"M{i}",
                "kind": "motor",
                "carrier": "electricity",
                "rated_kw": 75 if i % 2 else 160,
                "source": {
                    "protocol": "modbus-tcp",
                    "host": "127.0.0.1",
                    "port": 6000 + i,
                    "profile": "eastron-sdm630",
                },
            }
        )
    boards = {d.uid: to_json(d) for d in build_dashboards(parse_plant(__import__("yaml").safe_dump(plant)))}
    load = _panel(boards["pc-plant-a-eq-motor"], "Load factor")
    queries = [t["query"] for t in load["targets"]]
    assert len(queries) == 2
    assert queries[0].startswith('SELECT mean("p_kw") / 75.0 * 100') and "m\\-1|m\\-3|m\\-5" in queries[0]


def test_equipment_panels_follow_the_meter_profile() -> None:
    plant = load_plant(PLANT)
    boards = {d.uid: d for d in build_dashboards(plant)}
    pv = boards["pc-plant-a-eq-pv"]
    titles = [p.title for p in pv.panels]
    # pv-01 is an MQTT device mapping only p_kw and e_exp_kwh: no voltage or current panels.
    assert "Active power" in titles and "Phase voltage" not in titles
    transformer = [p.title for p in boards["pc-plant-a-eq-transformer"].panels]
    assert {"Load factor", "Phase voltage", "Phase current", "Power factor"} <= set(transformer)
    assert "pc-plant-a-eq-steam_header" not in boards  # steam-1 has no meter


def test_thresholds_set_by_energy_managers_are_drawn_on_the_matching_panel() -> None:
    plant = load_plant(PLANT)
    rule = Threshold(rule="tr-01-pf-low", device="tr-01", quantity="pf", condition="below", value=0.9)
    boards = {d.uid: d for d in build_dashboards(plant, thresholds=[rule])}
    from dashboards.validate import to_json

    doc = to_json(boards["pc-plant-a-eq-transformer"])
    pf = _panel(doc, "Power factor")
    (override,) = pf["fieldConfig"]["overrides"]
    assert override["matcher"] == {"id": "byName", "options": "tr-01"}
    steps = override["properties"][0]["value"]["steps"]
    assert [(s["value"], s["color"]) for s in steps] == [(None, "orange"), (0.9, "green")]
    assert problems(doc, UIDS) == []


# --- Grafana's substitution -----------------------------------------------------------


def test_interval_rounding_matches_grafana() -> None:
    # gtime.roundInterval: 86.4 s → 1m; 24 h / 1000 points → 1m; 30 d / 1000 = 2592 s → 30m.
    assert round_interval_ms(86_400) == 60_000
    assert format_interval(interval_ms(0, 86_400_000)) == "1m"
    assert format_interval(interval_ms(0, 30 * 86_400_000)) == "30m"
    assert format_interval(interval_ms(0, 60_000)) == "10s"  # never below the datasource's 10s
    assert format_interval(500) == "500ms"


def test_variables_and_macros_are_substituted_like_grafana() -> None:
    q = 'SELECT mean("p_kw") FROM "e" WHERE "site" =~ /^$site$/ AND "device" =~ /^${device}$/ AND $timeFilter GROUP BY time($__interval)'
    got = interpolate(q, {"site": (["plant-a"], False), "device": (["kiln-1", "tr.01"], True)}, 1000, 2000, 60_000)
    assert got == (
        'SELECT mean("p_kw") FROM "e" WHERE "site" =~ /^plant-a$/ AND "device" =~ /^(kiln-1|tr\\.01)$/ '
        "AND time >= 1000ms and time <= 2000ms GROUP BY time(1m)"
    )


def test_panel_time_override_today_is_local() -> None:
    from datetime import UTC, datetime

    now = datetime(2026, 11, 21, 14, 0, tzinfo=UTC)  # 22:00 in Shanghai
    lo, hi = panel_range("now-24h", "now", "now/d", now, "Asia/Shanghai")
    assert lo == int(datetime(2026, 11, 20, 16, 0, tzinfo=UTC).timestamp() * 1000)  # 00:00 local
    assert hi == int(datetime(2026, 11, 21, 16, 0, tzinfo=UTC).timestamp() * 1000) - 1
    lo, hi = panel_range("now-24h", "now", "5m", now, "Asia/Shanghai")
    assert hi - lo == 300_000


def test_implausible_values_for_the_unit_fail_the_check() -> None:
    import pandas as pd

    from dashboards.validate import Query
    from dashboards.verify import _check_frame

    panel = {"fieldConfig": {"defaults": {"unit": "percent"}}}
    q = Query(
        "panel 1 'Load factor' A",
        sc.RAW_DS_UID,
        'SELECT mean("p_kw") / 500 * 100 FROM "electricity"',
        "time_series",
        panel,
    )
    assert _check_frame(q, pd.DataFrame({"mean": [50.0, float("nan")]})) is None
    assert (
        _check_frame(q, pd.DataFrame({"mean": [50.0, 180.0]}))
        == "1 value(s) outside -1.0..150.0 for unit percent, e.g. 180.0"
    )
    assert _check_frame(q, pd.DataFrame({"max": [1.0]})) == "no column 'mean' in ['max']"
    assert _check_frame(q, pd.DataFrame()) == "no rows"


def test_titles_are_unique_within_each_dashboard(docs: list[dict]) -> None:
    for doc in docs:
        titles = [p["title"] for p in doc["panels"]]
        assert len(titles) == len(set(titles)), (doc["uid"], titles)
