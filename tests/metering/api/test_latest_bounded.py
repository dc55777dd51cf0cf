""" "Latest" queries are bounded by now: a point stamped in the future cannot pin the control room's kW (issue 16 finding 5)."""

from __future__ import annotations

import time

import pytest

from metering.api.queries import latest_demand, live_power
from plantcarbon_core.influx import InfluxTarget, write_lines

pytestmark = pytest.mark.integration


def test_live_power_and_demand_ignore_a_point_from_2099(influx_target: InfluxTarget) -> None:
    now_ms = int(time.time() * 1000)
    future_ms = 4_070_908_800_000  # 2099-01-01
    write_lines(
        influx_target,
        influx_target.raw_bucket,
        [
            f"electricity,site=plant-a,device=tr-01 p_kw=812.5 {now_ms - 10_000}",
            f"electricity,site=plant-a,device=tr-01 p_kw=99999.0 {future_ms}",
        ],
    )
    write_lines(
        influx_target,
        influx_target.metering_bucket,
        [
            f"demand,site=plant-a,device=_site demand_kw=700.0,forecast_kw=750.0,limit_kw=1000.0 {now_ms - 60_000}",
            f"demand,site=plant-a,device=_site demand_kw=1.0,forecast_kw=1.0,limit_kw=1.0 {future_ms}",
        ],
    )
    power = live_power(influx_target, "plant-a")
    assert power["p_kw"].tolist() == [812.5]
    demand = latest_demand(influx_target, "plant-a")
    assert demand["demand_kw"].tolist() == [700.0]
