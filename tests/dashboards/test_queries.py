"""Every query of every generated dashboard runs against a real InfluxDB 2.7 filled with plant data."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from core.influx import InfluxTarget, influxql
from core.plant import load_plant
from dashboards import schema as sc
from dashboards.interpolate import interpolate, interval_ms, panel_range
from dashboards.provision import dashboard_docs
from dashboards.validate import Query, queries
from tests.dashboards.synthetic import Written, fill

pytestmark = pytest.mark.integration

PLANT = Path(__file__).resolve().parents[2] / "examples" / "plant-a.yaml"


def _columns_expected(query: str) -> list[str]:
    """Column names the outer SELECT yields: its AS aliases, else the function or field names."""
    outer = query[len("SELECT ") : query.index(" FROM ")]
    items, depth, cur = [], 0, ""
    for ch in outer:
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            items.append(cur)
            cur = ""
        else:
            cur += ch
    items.append(cur)
    names = []
    for item in items:
        alias = re.search(r'\bAS "([^"]+)"\s*$', item)
        if alias:
            names.append(alias.group(1))
        else:
            names.append(re.match(r'\s*"?([A-Za-z_]+)', item).group(1))  # type: ignore[union-attr]
    return names


class Runner:
    """Resolves a dashboard's variables like Grafana, then runs its queries on the right bucket."""

    def __init__(self, target: InfluxTarget, now: datetime, tz: str):
        self.target = target
        self.now = now
        self.tz = tz
        self.db = {sc.RAW_DS_UID: target.raw_bucket, sc.METERING_DS_UID: target.metering_bucket}

    def run(self, q: str, ds_uid: str) -> pd.DataFrame:
        return influxql(self.target, q, self.db[ds_uid])

    def variables(self, doc: dict[str, Any]) -> dict[str, tuple[list[str], bool]]:
        out: dict[str, tuple[list[str], bool]] = {}
        for v in doc["templating"]["list"]:
            df = self.run(interpolate(v["query"], out), v["datasource"]["uid"])
            options = sorted(df["value"]) if not df.empty else []
            assert options, f"{doc['uid']}: variable {v['name']} has no values: {v['query']}"
            current = v["current"]["value"]
            if current == "$__all":
                out[v["name"]] = (options, True)
            else:
                assert current in options, f"{doc['uid']}: variable {v['name']}: {current!r} not in {options}"
                out[v["name"]] = ([current], bool(v.get("multi")))
        return out

    def query(self, doc: dict[str, Any], q: Query, variables: dict[str, tuple[list[str], bool]]) -> pd.DataFrame:
        time_from = (q.panel or {}).get("timeFrom")
        lo, hi = panel_range(doc["time"]["from"], doc["time"]["to"], time_from, self.now, self.tz)
        text = interpolate(q.query, variables, lo, hi, interval_ms(lo, hi))
        assert not re.search(r"\$[A-Za-z_{]|\[\[", text), f"{q.where}: left unsubstituted: {text}"
        return self.run(text, q.datasource_uid)


@pytest.fixture
def filled(influx_target: InfluxTarget) -> tuple[InfluxTarget, Written, datetime]:
    now = datetime.now(UTC)
    written = fill(load_plant(PLANT), influx_target, now)
    return influx_target, written, now


def test_every_panel_query_returns_the_fields_it_shows(filled: tuple[InfluxTarget, Written, datetime]) -> None:
    target, _, now = filled
    plant = load_plant(PLANT)
    runner = Runner(target, now, plant.site.timezone)
    ran = 0
    for doc in dashboard_docs(plant, ("en", "zh")):
        variables = runner.variables(doc)
        for q in queries(doc):
            if q.where.startswith("variable"):
                continue
            df = runner.query(doc, q, variables)
            assert not df.empty, f"{doc['uid']} {q.where}: no rows for\n{q.query}"
            for col in _columns_expected(q.query):
                assert col in df.columns, f"{doc['uid']} {q.where}: no column {col!r} in {list(df.columns)}"
                assert df[col].notna().any(), f"{doc['uid']} {q.where}: column {col!r} is all null"
            unit = (q.panel or {}).get("fieldConfig", {}).get("defaults", {}).get("unit")
            numeric = df.select_dtypes("number").drop(columns=["_statement"], errors="ignore")
            if unit == "percent":
                values = numeric.stack().dropna()
                assert values.between(0, 150).all(), f"{q.where}: percentages out of range: {values.describe()}"
            if unit in ("kwatt", "kwatth", "masst"):
                assert (numeric.stack().dropna() >= 0).all(), f"{q.where}: negative {unit}"
            ran += 1
    # 2 languages × (overview, 4 equipment kinds, carbon, demand, quality, alerts): dozens of queries.
    assert ran > 100


def test_overview_co2_today_equals_the_metering_bucket_sum(filled: tuple[InfluxTarget, Written, datetime]) -> None:
    target, written, now = filled
    plant = load_plant(PLANT)
    runner = Runner(target, now, plant.site.timezone)
    doc = dashboard_docs(plant)[0]
    title = "CO2 today (location-based)"
    (q,) = [q for q in queries(doc) if q.panel and q.panel["title"] == title]
    got = runner.query(doc, q, runner.variables(doc))["sum"].iloc[0]
    local_midnight = datetime.now(ZoneInfo(plant.site.timezone)).replace(hour=0, minute=0, second=0, microsecond=0)
    start_ms = int(local_midnight.timestamp() * 1000)
    mains = {d.id for d in plant.main_meters()}
    expected = sum(
        co2 for ts, dev, _, method, co2 in written.emissions if ts >= start_ms and dev in mains and method == "location"
    )
    assert expected > 0
    assert math.isclose(got, expected / 1000, rel_tol=1e-9)
    # Sub-meters and market-based rows are in the bucket too; the figure must not include them.
    everything = sum(co2 for ts, *_, co2 in written.emissions if ts >= start_ms)
    assert got < everything / 1000


def test_overview_counts_the_offline_device(filled: tuple[InfluxTarget, Written, datetime]) -> None:
    target, written, now = filled
    plant = load_plant(PLANT)
    runner = Runner(target, now, plant.site.timezone)
    doc = dashboard_docs(plant)[0]
    (q,) = [q for q in queries(doc) if q.panel and q.panel["title"] == "Devices offline"]
    df = runner.query(doc, q, runner.variables(doc))
    assert df["count"].iloc[0] == len(written.offline) == 1


def test_equipment_device_variable_narrows_to_the_kind(filled: tuple[InfluxTarget, Written, datetime]) -> None:
    target, _, now = filled
    plant = load_plant(PLANT)
    runner = Runner(target, now, plant.site.timezone)
    doc = next(d for d in dashboard_docs(plant) if d["uid"].endswith("eq-transformer"))
    variables = runner.variables(doc)
    assert variables["device"] == (["tr-01"], True)
    assert variables["area"] == (["substation"], True)
