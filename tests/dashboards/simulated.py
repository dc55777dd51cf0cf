"""Fill InfluxDB from simulator history through the real producers, for the dashboard tests.

Raw: the simulator's history mode (issue 3) for the `small` scenario, turned into line
protocol exactly as ingest does (`plantcarbon_core.influx.batch_lines`) with ingest's own data-quality
accounting (`ingest.accounting.Accounting`). Metering: the metering engine computes energy and
emissions from the raw bucket and writes them (`metering.service.compute_period`,
`metering.io.write_results`); demand is computed from the raw power (`metering.demand`).
Device status, dead letters, a DR event's rows and alert events are written as their
producers format them (`metering.alerts.notify.alert_line`) because no history mode makes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd

from dashboards.generate import site_demand_device
from ingest.accounting import Accounting
from metering.alerts.notify import AlertEvent, alert_line
from metering.carbon.emissions import Result
from metering.demand.calc import block_demand, live_forecast, sliding_demand
from metering.demand.io import demand_lines, read_site_power_1m, write_demand
from metering.io import read_raw, write_results
from metering.service import Context, compute_period
from metering.tariffs import interval_cost, load_tariff
from plantcarbon_core import schema as sc
from plantcarbon_core.influx import DeviceTags, InfluxTarget, batch_lines, line, write_lines
from plantcarbon_core.plant import Plant, parse_plant
from simulators.history import generate, history_plant_yaml
from simulators.scenario import load_scenario

STEP_S = 60.0


@dataclass
class Simulated:
    plant: Plant
    metering: Result
    start: pd.Timestamp
    end: pd.Timestamp
    offline: str


def fill_from_simulator(target: InfluxTarget, now: datetime, hours: int = 26) -> Simulated:
    scenario = load_scenario("small")
    plant = parse_plant(history_plant_yaml(scenario))
    site = plant.site.id
    end = pd.Timestamp(now).floor("15min")
    start = end - pd.Timedelta(hours=hours)
    history = generate(scenario, start.to_pydatetime(), end.to_pydatetime(), step_s=STEP_S)
    devices = {d.id: d for d in plant.devices}
    raw: list[str] = []
    accounting = Accounting("ingest-test")
    for batch in history.batches():
        d = devices[batch.device]
        raw += batch_lines(batch, DeviceTags(site, d.carrier, d.area, d.kind))
        accounting.observe(site, batch.device, batch.seq, [s.ts for s in batch.samples], STEP_S)
        raw += accounting.quality_lines()
    metered = [d.id for d in plant.devices if d.source is not None]
    offline = metered[-1]
    end_ms = int(end.timestamp() * 1000)
    for i, dev in enumerate(metered):
        for ts in range(int(start.timestamp() * 1000), end_ms + 1, 5 * 60_000):
            online = not (dev == offline and ts >= end_ms - 5 * 60_000)
            raw.append(
                line(
                    sc.DEVICE_STATUS,
                    {"site": site, "device": dev, "edge": "edge-01"},
                    {"online": online, "poll_ms": 20.0 + i, "errors": 0.0 if online else 5.0},
                    ts,
                )
            )
    for ts in range(int(start.timestamp() * 1000), end_ms, 15 * 60_000):
        raw.append(line(sc.DEAD_LETTERS, {"component": "ingest", "reason": "bad_json"}, {"count": 1.0}, ts))
    write_lines(target, target.raw_bucket, raw)

    pad = pd.Timedelta(minutes=30)
    readings = read_raw(target, plant, start - pad, end + pad)
    result = compute_period(Context.load(plant), readings, start, end)
    # The interval engine does not call the tariff engine yet (interval_cost's docstring says it
    # should fill `tou` and `cost`); do that step here with the real tariff file.
    if plant.contract.tariff:
        elec = result.energy["carrier"] == "electricity"
        priced = interval_cost(
            load_tariff(plant.contract.tariff),
            result.energy[elec],
            plant.site.timezone,
            time_col="interval_start",
            kwh_col="amount",
        )
        result.energy["tou"] = result.energy["tou"].astype(object)  # metering keeps tags categorical
        result.energy.loc[elec, "tou"] = priced["tou"].to_numpy()
        result.energy.loc[elec, "cost"] = priced["cost"].to_numpy()
    write_results(target, result.energy, result.emissions)

    mains = [d.id for d in plant.main_meters() if d.carrier == "electricity"]
    power = read_site_power_1m(target, site, mains, start, end)
    limit = plant.contract.demand_limit_kw
    forecast = live_forecast(power, limit_kw=limit, margin_pct=plant.contract.prealarm_margin_pct) if limit else None
    write_demand(
        target,
        demand_lines(
            site,
            site_demand_device(plant),
            block=block_demand(power),
            sliding=sliding_demand(power),
            forecast=forecast,
            limit_kw=limit,
        ),
    )
    metering: list[str] = []
    event_start = end - pd.Timedelta(hours=5)
    for k in range(8):
        ts = int((event_start + pd.Timedelta(minutes=15 * k)).timestamp() * 1000)
        metering.append(
            line(
                sc.DR,
                {"site": site, "event": "dr-test"},
                {"baseline_kw": 2000.0, "actual_kw": 1700.0, "reduction_kw": 300.0},
                ts,
            )
        )
    for k, state in enumerate(("firing", "acknowledged", "resolved")):
        ts = end - timedelta(hours=4 - k)
        metering.append(
            alert_line(
                AlertEvent(
                    site=site,
                    rule="site-demand-high",
                    alert_id=1,
                    state=state,
                    severity="critical",
                    value=3100.0 - 100 * k,
                    threshold=3000.0,
                    message=f"site demand against 3000 kW ({state})",
                    ts_ms=int(ts.timestamp() * 1000),
                )
            )
        )
    write_lines(target, target.metering_bucket, metering)
    return Simulated(plant, result, start, end, offline)
