"""Fixtures for the dashboard tests: one pair of buckets filled with plant data, shared read-only."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.harness.influxdb import InfluxDB
from core.influx import InfluxTarget
from core.plant import load_plant
from tests.dashboards.synthetic import Written, fill

PLANT = Path(__file__).resolve().parents[2] / "examples" / "plant-a.yaml"


@pytest.fixture(scope="module")
def filled(influxdb: InfluxDB) -> tuple[InfluxTarget, Written, datetime]:
    """Fresh buckets holding two days of plant-a; the tests only read them, so a module shares one."""
    target = influxdb.fresh_target()
    now = datetime.now(UTC)
    return target, fill(load_plant(PLANT), target, now), now
