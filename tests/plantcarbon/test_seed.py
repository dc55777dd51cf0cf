"""Demo history seeding on real InfluxDB: readings as ingest writes them, intervals by metering, demand; truth kept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from plantcarbon.seed import EDGE, SeedPlan, seed
from plantcarbon_core.influx import InfluxTarget, influxql
from plantcarbon_core.plant import parse_plant
from simulators.history import generate, history_plant_yaml
from simulators.scenario import load_scenario

pytestmark = pytest.mark.integration

ORIGIN = datetime(2023, 6, 1, tzinfo=UTC)
UNTIL = ORIGIN + timedelta(days=1)


def test_seeded_day_has_readings_intervals_and_demand_that_match_the_ground_truth(influx_target: InfluxTarget) -> None:
    scenario = load_scenario("small")
    plant = parse_plant(history_plant_yaml(scenario))
    plan = SeedPlan(ORIGIN, UNTIL, coarse_s=900, fine_s=60, fine_h=6)
    said: list[str] = []
    figures = seed(scenario, plant, influx_target, plan, said.append)
    assert any("metered intervals 96 / 96" in s for s in said), said
    assert figures["interval_points"] > 0 and figures["demand_points"] > 0

    # Raw rows carry ingest's tags and the history's edge: 15-minute samples, then 1-minute for the last 6 h.
    main = next(d for d in plant.devices if d.role == "main" and d.carrier == "electricity" and d.source)
    raw = influxql(
        influx_target,
        f'SELECT count("e_imp_kwh") FROM "electricity" WHERE "device" = \'{main.id}\' AND "edge" = \'{EDGE}\' '
        f"AND \"area\" = '{main.area}' AND \"kind\" = '{main.kind}' AND time >= '{ORIGIN.isoformat()}' "
        f"AND time < '{UNTIL.isoformat()}' GROUP BY time(1h)",
        influx_target.raw_bucket,
    )
    per_hour = raw.set_index("time")["count"]
    assert per_hour.iloc[0] == 4 and per_hour.iloc[-1] == 60

    # Interval energy of the main electricity meters over the day (last interval only partly sampled).
    mains = [d.id for d in plant.devices if d.role == "main" and d.carrier == "electricity" and d.source]
    last = UNTIL - timedelta(minutes=15)
    cond = " OR ".join(f"\"device\" = '{m}'" for m in mains)
    e = influxql(
        influx_target,
        f'SELECT sum("amount") FROM "energy" WHERE ({cond}) AND time >= \'{ORIGIN.isoformat()}\' '
        f"AND time < '{last.isoformat()}'",
        influx_target.metering_bucket,
    )
    truth = generate(scenario, ORIGIN, UNTIL, 900).truth
    t = truth[truth["device"].isin(mains) & (pd.to_datetime(truth["start"], utc=True) < pd.Timestamp(last))]
    assert float(e["sum"].iloc[0]) == pytest.approx(float(t["imp"].sum()), rel=0.005)
    co2 = influxql(
        influx_target,
        'SELECT count("co2_kg") FROM "emissions" WHERE "scope" = \'2\' GROUP BY "method"',
        influx_target.metering_bucket,
    )
    assert set(co2["method"]) == {"location", "market"}
