"""End to end: the small scenario live through simulators → edge → Mosquitto → ingest → InfluxDB → metering.

Every part runs as in production: the edge agent and ingest as their own processes wired by
PLANTCARBON_* settings, against a real Mosquitto, a real InfluxDB 2.7 and real pymodbus
servers. The simulator is the ground truth: what it delivered is integrated from its load
model, never from the readings.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.client as mqtt
import pandas as pd
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from harness.influxdb import InfluxDB
from harness.mosquitto import Mosquitto, start_mosquitto
from harness.process import free_port
from harness.stack import Stack
from metering.carbon.factor_registry import load_registry
from metering.carbon.intervals import compute_intervals
from metering.io import read_raw
from plantcarbon_core.influx import InfluxTarget, influxql
from plantcarbon_core.plant import Device, ModbusTcpSource, Plant
from plantcarbon_core.profile import load_profile, register_step
from plantcarbon_core.quantities import is_counter
from plantcarbon_core.wire import WireError, decode_batch
from simulators.plant import SimulatedPlant
from simulators.scenario import load_scenario

pytestmark = pytest.mark.integration

RUN_S = 100  # live seconds of plant per run
RESTART_DOWN_S = 10  # broker down for this long in the restart variant


class WireTap:
    """A second, non-shared subscriber with a persistent session: every batch the edge publishes."""

    def __init__(self, broker: Mosquitto):
        self.seqs: dict[str, list[int]] = defaultdict(list)
        self.samples: dict[str, set[int]] = defaultdict(set)
        self.lock = threading.Lock()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="e2e-tap", protocol=mqtt.MQTTv5)
        self.client.on_message = self._on_message
        self.client.on_connect = lambda c, *_: c.subscribe("pc/+/+/data", qos=1)
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 3600
        self.client.reconnect_delay_set(0.2, 2)
        self.client.connect(broker.host, broker.port, clean_start=False, properties=props)
        self.client.loop_start()

    def _on_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        try:
            batch = decode_batch(msg.payload)
        except WireError:  # hostile messages of the fault run: not the edge's
            return
        if batch.edge != "edge-e2e":
            return  # valid on the wire, but not from the edge under test (the fault run's sender)
        with self.lock:
            self.seqs[batch.device].append(batch.seq)
            # A sample whose every value was bad (a fault) has no field to store, by design.
            self.samples[batch.device].update(s.ts for s in batch.samples if s.values)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class Pipeline:
    def __init__(self, tmp: Path, influx: InfluxDB, target: InfluxTarget):
        self.tmp = tmp
        self.target = target
        self.broker = start_mosquitto(tmp / "mosquitto")
        # Images refreshed every 0.2 s: a read is at most 0.2 s of consumption stale.
        self.sim = SimulatedPlant(load_scenario("small"), seed=7, update_s=0.2).start(mqtt_url=self.broker.url)
        self.plant_file = self.sim.write_plant(tmp / "plant.yaml")
        self.plant: Plant = self.sim.plant
        self.tap = WireTap(self.broker)
        self.stack = Stack(tmp, self.broker, influx, target)
        self.env = self.stack.env()
        health = free_port()
        self.stack.spawn(
            "ingest",
            [
                "ingest",
                "run",
                "--plant",
                str(self.plant_file),
                "--client-id",
                "ingest-e2e",
                "--metrics-port",
                str(health),
            ],
            health_port=health,
        )
        # Ingest's persistent session must exist before the first batch: in production it
        # does long before; here both start together.
        self.stack.wait_log("ingest", "subscribed")
        edge_args = ["--outbox", str(tmp / "outbox.sqlite"), "--edge-id", "edge-e2e", "--metrics-port", "0"]
        self.stack.spawn("edge", ["edge", "run", "--plant", str(self.plant_file), *edge_args])

    def alive(self) -> None:
        self.stack.check()

    def stored_samples(self) -> int:
        df = influxql(self.target, 'SELECT count("e_imp_kwh") FROM "electricity"', self.target.raw_bucket)
        return 0 if df.empty else int(df["count"].sum())

    def finish(self) -> None:
        """Stop the edge (it flushes its outbox), then wait until ingest has stored every sample."""
        self.stack.stop("edge")
        deadline, last, stable_since = time.monotonic() + 120, -1, time.monotonic()
        while time.monotonic() < deadline:
            n = self.stored_samples()
            if n != last:
                last, stable_since = n, time.monotonic()
            elif time.monotonic() - stable_since > 6:
                break
            time.sleep(1)
        self.stack.stop("ingest")

    def close(self) -> None:
        self.stack.stop_all()
        self.tap.close()
        self.sim.stop()
        self.broker.stop()


@pytest.fixture
def pipeline(tmp_path: Path, influxdb: InfluxDB, influx_target: InfluxTarget) -> Iterator[Pipeline]:
    p = Pipeline(tmp_path, influxdb, influx_target)
    yield p
    p.close()


def _run(p: Pipeline, restart_broker: bool) -> tuple[datetime, datetime]:
    t0 = datetime.now(UTC)
    half = RUN_S / 2
    time.sleep(half)
    p.alive()
    if restart_broker:
        p.broker.stop()
        time.sleep(RESTART_DOWN_S)
        p.broker.start()  # same port, same persistence: ingest's session and its queue survive
    time.sleep(half)
    p.alive()
    p.finish()
    return t0, datetime.now(UTC)


def _resolution(p: Pipeline, device: Device, counter: float, quantity: str = "e_imp_kwh") -> float:
    """Smallest step of a device's counter as the edge sees it (primary units), from its profile."""
    src = device.source
    if not isinstance(src, ModbusTcpSource):
        return 0.001  # device-native JSON carries Wh or 3-decimal kWh
    row = load_profile(src.profile).by_name(quantity)
    # A SunSpec-style meter scales by the exponent its helper register holds (TotWh_SF).
    exp = p.sim.images[device.id].exps.get(row.scale_factor, 0) if row.scale_factor else 0
    r = device.ratios
    return register_step(row, scale_exp=exp, ct=r.ct_factor, pt=r.pt_factor, value=counter)


def _check_chain(p: Pipeline, t0: datetime, t1: datetime) -> None:
    raw = read_raw(p.target, p.plant, pd.Timestamp(t0) - pd.Timedelta(minutes=1), pd.Timestamp(t1), all_fields=True)
    assert not raw.empty
    metered = [d for d in p.plant.devices if d.source is not None]

    # 1. Nothing lost, nothing out of order: every batch seq per device is there once the edge
    #    drained, and every sample the edge published is stored in InfluxDB.
    for d in metered:
        seqs = sorted(set(p.tap.seqs[d.id]))
        assert seqs, f"{d.id}: no batch published"
        assert seqs == list(range(seqs[0], seqs[-1] + 1)), (
            f"{d.id}: seq gaps {set(range(seqs[0], seqs[-1] + 1)) - set(seqs)}"
        )
        stored = {int(t) for t in raw.loc[raw["device"] == d.id, "time"].dt.as_unit("ms").astype("int64")}
        missing = p.tap.samples[d.id] - stored
        assert not missing, f"{d.id}: {len(missing)} published samples not stored"

    # 2. Stored readings match the simulator: each counter value lies on the simulator's own
    #    counter between the read time and the image refresh before it.
    checked = 0
    for (device, quantity), rows in raw.groupby(["device", "quantity"]):
        if not is_counter(str(quantity)):
            continue
        for ts, value in zip(rows["time"], rows["value"], strict=True):
            t = ts.timestamp()
            now, before = p.sim.values(str(device), t)[str(quantity)], p.sim.values(str(device), t - 1.0)[str(quantity)]
            lo, hi = min(now, before), max(now, before)
            # One register step (e.g. 0.1 kWh on an EM340, rounded to nearest) and float rounding.
            step = _resolution(p, p.plant.device(str(device)), now, str(quantity))
            slack = 1e-6 * abs(now) + max(0.011, step)
            assert lo - slack <= float(value) <= hi + slack, (
                f"{device}.{quantity} @ {ts}: stored {value}, truth {before}..{now}"
            )
            checked += 1
    assert checked > 100

    # 3. Interval energy from the metering engine matches the ground truth within 0.5 %.
    intervals = compute_intervals(raw, p.plant)
    for d in metered:
        if d.carrier != "electricity":
            continue
        rows = raw[(raw["device"] == d.id) & (raw["quantity"] == "e_imp_kwh")]
        if len(rows) < 2:
            continue
        first, last = rows["time"].min().to_pydatetime(), rows["time"].max().to_pydatetime()
        truth = p.sim.model.integrate(first, last)[d.id]["e_imp_kwh"]
        got = intervals.loc[(intervals["device"] == d.id) & (intervals["quantity"] == "e_imp_kwh"), "amount"].sum()
        # 0.5 % plus what the meter itself cannot resolve: two steps of its counter register.
        tolerance = 0.005 * abs(truth) + 2 * _resolution(p, d, float(rows["value"].max()))
        assert abs(got - truth) <= tolerance, f"{d.id}: metered {got} kWh, truth {truth} kWh (±{tolerance:.4f})"

    # 4. CO2 is exact for the factors: the recompute path stores emissions = energy × factor.
    local = p.plant.site.tz
    quarter = pd.Timedelta(minutes=15)
    window = [t.astimezone(local).strftime("%Y-%m-%dT%H:%M:%S") for t in (t0 - quarter, t1 + quarter)]
    out = p.stack.run(["metering", "recompute", "--plant", str(p.plant_file), "--from", window[0], "--to", window[1]])
    assert out.returncode == 0, out.stdout + out.stderr
    energy = influxql(
        p.target, """SELECT "amount" FROM "energy" WHERE "carrier" = 'electricity' AND "role" = 'main' GROUP BY "device" """,
        p.target.metering_bucket,
    )  # fmt: skip
    co2 = influxql(
        p.target,
        """SELECT "co2_kg", "factor" FROM "emissions" WHERE "carrier" = 'electricity' AND "method" = 'location' GROUP BY "device" """,
        p.target.metering_bucket,
    )
    both = energy.merge(co2, on=["time", "device"])
    assert len(both) >= 1
    registry = load_registry()
    for row in both.itertuples():
        kg_per_kwh = registry.get(str(row.factor)).kg_per("kWh")
        assert row.co2_kg == pytest.approx(row.amount * kg_per_kwh, rel=1e-12), row


def test_small_plant_live_through_the_whole_chain(pipeline: Pipeline) -> None:
    t0, t1 = _run(pipeline, restart_broker=False)
    _check_chain(pipeline, t0, t1)


def test_same_with_a_broker_restart_in_the_middle(pipeline: Pipeline) -> None:
    t0, t1 = _run(pipeline, restart_broker=True)
    _check_chain(pipeline, t0, t1)
