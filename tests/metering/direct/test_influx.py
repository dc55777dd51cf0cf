"""Direct emissions through a real InfluxDB 2.7: weigher readings in `raw`, the month's figures in `direct`."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from core.influx import InfluxTarget, write_lines
from core.plant import load_plant
from metering.direct.accounting import Dataset
from metering.direct.influx import read_direct
from metering.direct.service import recompute_direct
from metering.io import read_readings_csv
from tests.metering.direct.case import Case

pytestmark = pytest.mark.integration


def raw_lines(case: Case) -> list[str]:
    plant = load_plant(case.plant)
    tags = {
        d.id: f"{d.carrier},area={d.area},kind={d.kind},device={d.id},edge=e1,site={plant.site.id}"
        for d in plant.devices
    }
    r = read_readings_csv(case.readings)
    ms = [int(t.timestamp() * 1000) for t in r["time"]]
    return [f"{tags[d]} {q}={v!r} {t}" for d, q, v, t in zip(r["device"], r["quantity"], r["value"], ms, strict=True)]


def test_a_month_from_influxdb_matches_truth_and_rewrites_idempotently(
    influx_target: InfluxTarget, case: Case, ds: Dataset
) -> None:
    lines = raw_lines(case)
    for i in range(0, len(lines), 20_000):
        write_lines(influx_target, influx_target.raw_bucket, lines[i : i + 20_000])
    offline = dataclasses.replace(ds, readings=None)
    acc, n = recompute_direct(offline, influx_target, case.days[0], case.days[-1])
    truth = case.truth()
    u = acc.units[0]
    assert abs(u.direct_co2_t / truth["direct_co2_t"] - 1) < 1e-3  # the bar: within 0.1 %
    assert u.direct_co2_t == pytest.approx(truth["direct_co2_t"], rel=1e-9)  # and in fact exact
    tz = ds.plant.site.timezone
    t0 = pd.Timestamp(case.days[0]).tz_localize(tz)
    t1 = pd.Timestamp(case.days[-1] + pd.Timedelta(days=1)).tz_localize(tz)
    stored = read_direct(influx_target, "cem-t", t0, t1)
    assert len(stored) == n
    product = stored[stored["source"] == "product"]
    assert len(product) == len(case.days)
    assert product["co2_t"].sum() == pytest.approx(truth["direct_co2_t"], rel=1e-9)
    assert product["activity_t"].sum() == pytest.approx(truth["clinker_t"], rel=1e-9)
    assert set(stored["method"]) == {"cn-cement-clinker-2025@2025.1"}
    assert stored["complete"].all()
    bio = stored[stored["source"] == "biogenic"]
    counted = stored[stored["source"].isin(["fuel", "process_clinker", "process_dust", "process_toc"])]
    assert counted["co2_t"].sum() == pytest.approx(truth["direct_co2_t"], rel=1e-9)
    assert bio["co2_t"].sum() == pytest.approx(truth["biogenic_t"], rel=1e-9)
    # a second run writes the same points: nothing doubles
    _, n2 = recompute_direct(offline, influx_target, case.days[0], case.days[-1])
    again = read_direct(influx_target, "cem-t", t0, t1)
    assert n2 == n and len(again) == n
    assert again["co2_t"].sum() == pytest.approx(stored["co2_t"].sum(), rel=1e-12)
