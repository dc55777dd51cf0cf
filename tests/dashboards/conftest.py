"""Fixtures for the dashboard tests: one pair of buckets filled with plant data, shared read-only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from harness.influxdb import InfluxDB
from plantcarbon_core.influx import InfluxTarget
from plantcarbon_core.plant import load_plant
from tests.dashboards.synthetic import Written, fill

PLANT = Path(__file__).resolve().parents[2] / "examples" / "plant-a.yaml"


def data_now(timezone: str = "Asia/Shanghai") -> datetime:
    """The latest local noon that has passed: the tests' "now". "Today" panels (now/d) then hold
    half a day of data whatever the wall clock says; just after local midnight they would hold
    none."""
    local = datetime.now(UTC).astimezone(ZoneInfo(timezone))
    noon = local.replace(hour=12, minute=0, second=0, microsecond=0)
    if noon > local:
        noon -= timedelta(days=1)
    return noon.astimezone(UTC)


@pytest.fixture(scope="module")
def filled(influxdb: InfluxDB) -> tuple[InfluxTarget, Written, datetime]:
    """Fresh buckets holding two days of plant-a; the tests only read them, so a module shares one."""
    target = influxdb.fresh_target()
    now = data_now()
    return target, fill(load_plant(PLANT), target, now), now
