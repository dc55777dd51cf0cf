"""Dashboards of the simulator's `small` plant, proven on its history as ingest and metering wrote it."""

from __future__ import annotations

import math
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from dashboards.provision import dashboard_docs
from dashboards.validate import problems, queries
from dashboards.verify import Verifier, verify
from harness.influxdb import InfluxDB
from plantcarbon_core.influx import InfluxTarget, influxql
from tests.dashboards.conftest import data_now
from tests.dashboards.simulated import Simulated, fill_from_simulator

pytestmark = pytest.mark.integration

UIDS = {"plantcarbon-raw", "plantcarbon-metering"}


@pytest.fixture(scope="module")
def simulated(influxdb: InfluxDB) -> tuple[InfluxTarget, Simulated]:
    target = influxdb.fresh_target()
    return target, fill_from_simulator(target, data_now())


def test_every_query_of_the_simulated_plant_returns_data(simulated: tuple[InfluxTarget, Simulated]) -> None:
    target, sim = simulated
    docs = dashboard_docs(sim.plant)
    # 15 metered device kinds in the small scenario, each with its own equipment dashboard.
    assert sum("-eq-" in d["uid"] for d in docs) == 15
    for doc in docs:
        assert problems(doc, UIDS) == []
    # "now" is the end of the history: the live panels look at its last minutes.
    checks = verify(docs, target, sim.end.to_pydatetime(), sim.plant.site.timezone)
    failed = [f"{c.dashboard} {c.where}: {c.problem}\n  {c.query}" for c in checks if c.problem]
    assert failed == []
    assert len(checks) == sum(len(queries(d)) for d in docs)
    assert all(c.rows > 0 for c in checks)


def test_co2_today_equals_what_metering_computed(simulated: tuple[InfluxTarget, Simulated]) -> None:
    target, sim = simulated
    tz = sim.plant.site.timezone
    now = sim.end.to_pydatetime()
    doc = dashboard_docs(sim.plant)[0]
    v = Verifier(target, now, tz)
    variables, _ = v.variables(doc)
    (q,) = [q for q in queries(doc) if q.panel and q.panel["title"] == "CO2 today, scope 1 + 2 location-based"]
    check = v.query(doc, q, variables)
    assert check.frame is not None
    got = check.frame["sum"].iloc[0]
    midnight = pd.Timestamp(now.astimezone(ZoneInfo(tz)).replace(hour=0, minute=0, second=0, microsecond=0))
    e = sim.metering.emissions
    today = e[(e["interval_start"] >= midnight) & (e["role"] == "main") & (e["method"] != "market")]
    assert not today.empty
    assert math.isclose(got, today["co2_kg"].sum() / 1000, rel_tol=1e-9)
    # and not the sum of everything metering wrote today (sub-meters, market-based rows)
    assert got < e[e["interval_start"] >= midnight]["co2_kg"].sum() / 1000
    # The same figure from the bucket's rows themselves, summed here rather than by InfluxDB.
    rows = influxql(
        target,
        f'SELECT "co2_kg", "role", "method" FROM "emissions" WHERE time >= {int(midnight.timestamp() * 1000)}ms',
        target.metering_bucket,
    )
    mine = rows[(rows["role"] == "main") & (rows["method"].fillna("") != "market")]
    assert math.isclose(got, mine["co2_kg"].sum() / 1000, rel_tol=1e-9)


def test_offline_device_is_counted(simulated: tuple[InfluxTarget, Simulated]) -> None:
    target, sim = simulated
    doc = dashboard_docs(sim.plant)[0]
    v = Verifier(target, sim.end.to_pydatetime(), sim.plant.site.timezone)
    variables, _ = v.variables(doc)
    (q,) = [q for q in queries(doc) if q.panel and q.panel["title"] == "Devices offline"]
    check = v.query(doc, q, variables)
    assert check.frame is not None and check.frame["count"].iloc[0] == 1
