"""Live demand and the demand/dr CLIs against a real InfluxDB (settings from PLANTCARBON_* env)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from metering.demand import sliding_demand
from metering.demand.cli import app as demand_app
from metering.demand.io import read_power_1m
from metering.demand.live import SITE_DEVICE, live_step
from metering.dr.cli import app as dr_app
from plantcarbon_core.influx import InfluxTarget, influxql, line, write_lines
from plantcarbon_core.plant import load_plant
from tests.conftest import EXAMPLES
from tests.metering.dr.test_influx import SHED, write_site

pytestmark = pytest.mark.integration
TZ = "Asia/Shanghai"
PLANT = EXAMPLES / "plant-a.yaml"  # site plant-a, contract 4000 kW, margin 5 %, tr-01 the metered main meter


def use_target(monkeypatch: pytest.MonkeyPatch, t: InfluxTarget) -> None:
    for k, v in {"URL": t.url, "ORG": t.org, "TOKEN": t.token, "RAW_BUCKET": t.raw_bucket,
                 "METERING_BUCKET": t.metering_bucket}.items():  # fmt: skip
        monkeypatch.setenv(f"PLANTCARBON_INFLUX_{k}", v)


def write_ramp(target: InfluxTarget) -> pd.DatetimeIndex:
    # ~3600 kW, then from 10:33 a mill start ramps the load by 120 kW a minute to 4700 kW.
    rng = np.random.default_rng(3)
    minutes = pd.date_range("2025-07-15 10:00", periods=60, freq="1min", tz=TZ)
    p = 3600 + rng.normal(0, 15, 60) + np.clip((np.arange(60) - 32) * 120.0, 0, 1100)
    tags = {"site": "plant-a", "device": "tr-01"}
    write_lines(target, target.raw_bucket,
                [line("electricity", tags, {"p_kw": float(v)}, int(t.value // 1_000_000)) for v, t in zip(p, minutes, strict=True)])  # fmt: skip
    return minutes


def test_live_step_minute_by_minute_alarms_before_the_overshoot(influx_target: InfluxTarget) -> None:
    minutes = write_ramp(influx_target)
    plant = load_plant(PLANT)
    first_alarm = None
    for now in minutes[1:] + pd.Timedelta(seconds=5):  # just after each minute, as the CLI runs it
        site = next(d for d in live_step(influx_target, plant, now) if d.device == SITE_DEVICE)
        assert site.limit_kw == 4000
        if site.prealarm and first_alarm is None:
            first_alarm, shed = site.now, site.shed_kw
    sliding = sliding_demand(
        read_power_1m(influx_target, "plant-a", "tr-01", minutes[0], minutes[-1] + pd.Timedelta(minutes=1))
    )
    crossing = sliding[sliding["demand_kw"] > 4000].index[0]
    assert first_alarm is not None and first_alarm < crossing
    assert shed >= 0
    back = influxql(influx_target, f"SELECT demand_kw, forecast_kw, prealarm FROM demand WHERE device = '{SITE_DEVICE}'",
                    database=influx_target.metering_bucket)  # fmt: skip
    assert len(back) == 59
    # Finished blocks were written at their ends with their demand.
    blocks = back.dropna(subset=["demand_kw"])
    assert [t.tz_convert(TZ).strftime("%H:%M") for t in blocks["time"]] == ["10:15", "10:30", "10:45"]


def test_demand_cli_show_and_write(influx_target: InfluxTarget, monkeypatch: pytest.MonkeyPatch) -> None:
    use_target(monkeypatch, influx_target)
    write_ramp(influx_target)
    res = CliRunner().invoke(
        demand_app, ["show", str(PLANT), "--from", "2025-07-15 10:00", "--to", "2025-07-15 11:00", "--write"]
    )
    assert res.exit_code == 0, res.output
    assert "tr-01 2025-07 max block demand" in res.output and "max sliding demand" in res.output
    assert "blocks with a pre-alarm (limit 4000 kW, margin 5.0 %): " in res.output
    back = influxql(
        influx_target, "SELECT max(demand_kw), max(sliding_kw) FROM demand", database=influx_target.metering_bucket
    )
    assert back["max"].iloc[0] > 4000 and back["max_1"].iloc[0] >= back["max"].iloc[0]
    res = CliRunner().invoke(demand_app, ["charge", "--max-kw", "4500", "--price", "40", "--contract-kw", "4000"])
    assert res.exit_code == 0 and json.loads(res.output)["charge"] == 192000


def test_dr_cli_create_and_verify(influx_target: InfluxTarget, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    use_target(monkeypatch, influx_target)
    write_site(influx_target)
    db = str(tmp_path / "dr.sqlite")
    r = CliRunner()
    res = r.invoke(dr_app, ["create", "--site", "plant-a", "--start", "2025-07-15T14:00:00+08:00", "--end",
                            "2025-07-15T16:00:00+08:00", "--meter", "tr-01", "--meter", "tr-02", "--reduction-kw", "800",
                            "--payment-rate", "15", "--id", "ev-cli", "--db", db])  # fmt: skip
    assert res.exit_code == 0, res.output
    res = r.invoke(dr_app, ["verify", "ev-cli", "--plant", str(PLANT), "--out", str(tmp_path / "rep"), "--db", db])
    assert res.exit_code == 0, res.output
    doc = json.loads((tmp_path / "rep" / "ev-cli.json").read_text())
    assert doc["summary"]["avg_reduction_kw"] == pytest.approx(sum(SHED.values()), rel=0.02)
    assert (tmp_path / "rep" / "ev-cli.xlsx").exists() and (tmp_path / "rep" / "ev-cli.csv").exists()
    # An event without history is a clear error, not a crash.
    r.invoke(dr_app, ["create", "--site", "plant-a", "--start", "2025-06-30T14:00:00+08:00", "--end",
                      "2025-06-30T15:00:00+08:00", "--meter", "tr-01", "--reduction-kw", "100", "--id", "ev-early", "--db", db])  # fmt: skip
    res = r.invoke(dr_app, ["verify", "ev-early", "--plant", str(PLANT), "--out", str(tmp_path / "rep"), "--db", db])
    assert res.exit_code == 1 and "cannot compute the baseline: 10of10 needs 10 eligible weekdays" in res.output
