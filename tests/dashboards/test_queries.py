"""Every query of every generated dashboard runs against a real InfluxDB 2.7 filled with plant data."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from dashboards.provision import dashboard_docs
from dashboards.validate import queries
from dashboards.verify import Check, Verifier, expected_columns, verify
from plantcarbon_core.influx import InfluxTarget
from plantcarbon_core.plant import load_plant
from tests.dashboards.synthetic import Written

pytestmark = pytest.mark.integration

PLANT = Path(__file__).resolve().parents[2] / "examples" / "plant-a.yaml"


def _panel_check(verifier: Verifier, doc: dict[str, Any], title: str) -> Check:
    variables, _ = verifier.variables(doc)
    (q,) = [q for q in queries(doc) if q.panel and q.panel["title"] == title]
    return verifier.query(doc, q, variables)


def test_every_query_returns_the_fields_its_panel_shows(filled: tuple[InfluxTarget, Written, datetime]) -> None:
    target, _, now = filled
    plant = load_plant(PLANT)
    docs = dashboard_docs(plant)  # the Chinese dashboards are run by the CLI test below
    checks = verify(docs, target, now, plant.site.timezone)
    failed = [f"{c.dashboard} {c.where}: {c.problem}\n  {c.query}" for c in checks if c.problem]
    assert failed == []
    # Every panel target, annotation and variable of every dashboard was run.
    assert len(checks) == sum(len(queries(d)) for d in docs) > 80
    assert all(c.rows > 0 for c in checks)


def test_an_empty_bucket_fails_verification(influx_target: InfluxTarget) -> None:
    plant = load_plant(PLANT)
    checks = verify(dashboard_docs(plant)[:1], influx_target, datetime.now(UTC), plant.site.timezone)
    assert checks
    # No alerts and no offline device are states, not failures: those may come back empty.
    allowed = {c.where for c in checks if not c.problem}
    assert allowed == {"annotation Alerts", "panel 4 'Devices offline' A"}, allowed


def test_overview_co2_today_equals_the_metering_bucket_sum(filled: tuple[InfluxTarget, Written, datetime]) -> None:
    target, written, now = filled
    plant = load_plant(PLANT)
    check = _panel_check(
        Verifier(target, now, plant.site.timezone), dashboard_docs(plant)[0], "CO2 today, scope 1 + 2 location-based"
    )
    assert check.problem is None and check.frame is not None
    got = check.frame["sum"].iloc[0]
    local_midnight = now.astimezone(ZoneInfo(plant.site.timezone)).replace(hour=0, minute=0, second=0, microsecond=0)
    start_ms = int(local_midnight.timestamp() * 1000)
    mains = {d.id for d in plant.main_meters()}
    expected = sum(
        co2 for ts, dev, _, method, co2 in written.emissions if ts >= start_ms and dev in mains and method != "market"
    )
    assert expected > 0
    assert math.isclose(got, expected / 1000, rel_tol=1e-9)
    # Sub-meter and market-based rows are in the bucket too; the figure must leave them out.
    everything = sum(co2 for ts, *_, co2 in written.emissions if ts >= start_ms)
    assert got < everything / 1000


def test_completeness_sums_the_ingest_instances(filled: tuple[InfluxTarget, Written, datetime]) -> None:
    # synthetic.py: two ingest instances each saw about half of 80..100 % of the expected samples;
    # a panel that averaged the instances instead of adding them would show 40..50 %.
    target, _, now = filled
    plant = load_plant(PLANT)
    doc = next(d for d in dashboard_docs(plant) if d["uid"] == "pc-plant-a-quality")
    check = _panel_check(Verifier(target, now, plant.site.timezone), doc, "Completeness by device")
    assert check.frame is not None and len(check.frame) == 4
    assert check.frame["completeness_pct"].between(75, 100).all(), check.frame


def test_overview_counts_the_offline_device(filled: tuple[InfluxTarget, Written, datetime]) -> None:
    target, written, now = filled
    plant = load_plant(PLANT)
    check = _panel_check(Verifier(target, now, plant.site.timezone), dashboard_docs(plant)[0], "Devices offline")
    assert check.frame is not None
    assert check.frame["count"].iloc[0] == len(written.offline) == 1


def test_equipment_variables_narrow_to_the_kind(filled: tuple[InfluxTarget, Written, datetime]) -> None:
    target, _, now = filled
    plant = load_plant(PLANT)
    doc = next(d for d in dashboard_docs(plant) if d["uid"].endswith("eq-transformer"))
    variables, checks = Verifier(target, now, plant.site.timezone).variables(doc)
    assert [c.problem for c in checks] == [None, None, None]
    assert variables == {"site": (["plant-a"], False), "area": (["substation"], True), "device": (["tr-01"], True)}


def test_expected_columns_reads_the_outer_select() -> None:
    assert expected_columns('SELECT sum("p") FROM (SELECT last("p_kw") AS "p" FROM "e")') == ["sum"]
    assert expected_columns('SELECT max("a") AS "demand", last("b") AS "limit" FROM "d"') == ["demand", "limit"]
    assert expected_columns('SELECT "message", "rule" FROM "alerts"') == ["message", "rule"]


def test_cli_verify_reports_every_query_passing(
    filled: tuple[InfluxTarget, Written, datetime], monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from plantcarbon.cli import app

    target, _, now = filled
    for name, value in (
        ("URL", target.url),
        ("ORG", target.org),
        ("TOKEN", target.token),
        ("RAW_BUCKET", target.raw_bucket),
        ("METERING_BUCKET", target.metering_bucket),
    ):
        monkeypatch.setenv(f"PLANTCARBON_INFLUX_{name}", value)
    args = ["dashboards", "verify", "--plant", str(PLANT), "--lang", "zh", "--at", now.isoformat()]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    n = sum(len(queries(d)) for d in dashboard_docs(load_plant(PLANT), ("zh",)))
    assert f"{n} of {n} queries return data" in result.output


def test_cli_verify_fails_on_empty_buckets(influx_target: InfluxTarget, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from plantcarbon.cli import app

    for name, value in (
        ("URL", influx_target.url),
        ("ORG", influx_target.org),
        ("TOKEN", influx_target.token),
        ("RAW_BUCKET", influx_target.raw_bucket),
        ("METERING_BUCKET", influx_target.metering_bucket),
    ):
        monkeypatch.setenv(f"PLANTCARBON_INFLUX_{name}", value)
    result = CliRunner().invoke(app, ["dashboards", "verify", "--plant", str(PLANT)])
    assert result.exit_code == 1
    assert "FAIL pc-plant-a-overview variable site: no values" in result.output
