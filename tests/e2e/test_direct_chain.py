"""End to end: the kiln line's direct CO2 through BW500 weighers on Modbus → edge → Mosquitto → ingest → InfluxDB → `carbon recompute`.

Every part runs as in production (edge and ingest as their own processes, the recompute as
the `plantcarbon carbon recompute` command) against real pymodbus servers, a real Mosquitto
and a real InfluxDB 2.7. The simulated kiln line (simulators/scenarios/kiln.yaml) runs on a
compressed clock; its load model is the ground truth of the tonnes each weigher delivered,
and `simulators.kiln.period_truth` turns them into direct CO2 by hand.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from harness.influxdb import InfluxDB
from harness.mosquitto import start_mosquitto
from harness.process import free_port, wait_until
from harness.stack import Stack
from metering.direct.influx import read_direct
from metering.direct.lab import LAB_COLUMNS
from metering.io import read_raw
from plantcarbon_core.influx import InfluxTarget
from simulators.kiln import composite_lab, period_truth
from simulators.plant import SimulatedPlant
from simulators.scenario import load_scenario

pytestmark = pytest.mark.integration

SPEED = 180.0  # simulated seconds per wall second
SIM_S = 3 * 3600.0  # simulated seconds of kiln line measured: about a minute of wall time
WEIGHERS = ("cl-weigher", "rm-weigher", "coal-kiln", "coal-calc", "af-feeder")


def throttled(check: Callable[[], bool], every_s: float = 0.5) -> Callable[[], bool]:
    """`check` asked at most every `every_s` (InfluxDB queries, health requests), False in between."""
    last = [0.0]

    def ask() -> bool:
        if time.monotonic() - last[0] < every_s:
            return False
        last[0] = time.monotonic()
        return check()

    return ask


class KilnChain:
    def __init__(self, tmp: Path, influx: InfluxDB, target: InfluxTarget):
        self.tmp, self.target = tmp, target
        self.broker = start_mosquitto(tmp / "mosquitto")
        self.stack = Stack(tmp, self.broker, influx, target)
        self.sim = SimulatedPlant(load_scenario("kiln"), seed=17, update_s=0.2, speed=SPEED)

    def start(self) -> float:
        """Start ingest, then the simulator held still, then the edge; the simulated time the held images show."""
        self.sim.start()
        self.sim.pause()
        self.plant_file = self.sim.write_plant(self.tmp / "plant.yaml")
        self.plant = self.sim.plant
        health = free_port()
        ingest_args = ["--client-id", "ingest-kiln", "--metrics-port", str(health)]
        self.stack.spawn("ingest", ["ingest", "run", "--plant", str(self.plant_file), *ingest_args], health_port=health)
        self.stack.wait_log("ingest", "subscribed")
        edge_args = ["--outbox", str(self.tmp / "outbox.sqlite"), "--edge-id", "edge-kiln", "--metrics-port", "0"]
        self.stack.spawn("edge", ["edge", "run", "--plant", str(self.plant_file), *edge_args])
        return self.held()

    def held(self) -> float:
        return self.sim.shown[WEIGHERS[0]][0]

    def stored_after(self, wall: float) -> bool:
        """Every weigher has a stored mass_t reading stamped after `wall` (epoch seconds)."""
        self.stack.check()
        t0 = pd.Timestamp(wall, unit="s", tz="UTC")
        raw = read_raw(self.target, self.plant, t0, pd.Timestamp.now(tz="UTC") + pd.Timedelta(minutes=1))
        if raw.empty:
            return False
        got = set(raw.loc[(raw["quantity"] == "mass_t") & (raw["time"] > t0), "device"])
        return set(WEIGHERS) <= got

    def run_until(self, sim_ts: float) -> None:
        self.sim.resume()
        parts_ok = throttled(lambda: self.stack.check() or False)  # check() raises when a part died
        wait_until(lambda: parts_ok() or self.sim.clock() >= sim_ts, 300, "simulated time")
        self.sim.pause()

    def finish(self) -> None:
        """Stop the edge (it flushes its outbox), then ingest once the stored count stops growing."""
        self.stack.stop("edge")
        last, since = -1, time.monotonic()

        def settled() -> bool:
            nonlocal last, since
            n = len(read_raw(self.target, self.plant, pd.Timestamp(0, tz="UTC"), pd.Timestamp.now(tz="UTC")))
            if n != last:
                last, since = n, time.monotonic()
            return time.monotonic() - since > 5

        wait_until(throttled(settled), 120, "ingest storing the edge's last batches")
        self.stack.stop("ingest")

    def close(self) -> None:
        self.stack.stop_all()
        self.sim.stop()
        self.broker.stop()


@pytest.fixture
def chain(tmp_path: Path, influxdb: InfluxDB, influx_target: InfluxTarget) -> Iterator[KilnChain]:
    c = KilnChain(tmp_path, influxdb, influx_target)
    yield c
    c.close()


def test_direct_co2_of_simulated_hours_through_the_whole_chain_matches_truth(chain: KilnChain) -> None:
    """Three simulated hours of the line, from weigher registers to the stored `direct` points, within 0.1 % of truth.

    Why a few hours prove the month: the engine computes every figure per local day and a month
    is the sum of its days (tests/metering/direct/test_accounting.py checks that property on a
    simulated month); what the chain itself must get right is the weighers' counters, and the
    day's tonnes are the last stored counter minus the first, whatever the length of the
    period. The clock runs SPEED times faster so that the period holds enough tonnes
    (kiln coal: about 30 t) for the registers' 0.001 t resolution to be far below 0.1 %. The
    period is bounded by holding the simulator still: the first readings stored show the
    counters at `a`, the last ones at `b`, and the load model integrates [a, b] exactly.
    """
    wall0 = time.time()
    a = chain.start()
    wait_until(throttled(lambda: chain.stored_after(wall0)), 120, "first readings of every weigher in InfluxDB")
    chain.run_until(a + SIM_S)
    b = chain.held()
    paused = time.time()
    wait_until(throttled(lambda: chain.stored_after(paused + 0.5)), 120, "readings of the held counters in InfluxDB")
    chain.finish()
    wall1 = time.time()

    delivered = chain.sim.model.integrate(datetime.fromtimestamp(a, UTC), datetime.fromtimestamp(b, UTC))
    tonnes = {w: delivered[w]["mass_t"] for w in WEIGHERS}
    assert tonnes["coal-kiln"] > 20  # the resolution argument above holds

    # The lab book of the period: one composite per parameter for the local days the run touched
    # (two when it crosses midnight in Shanghai; the truth does not depend on the split).
    tz = chain.plant.site.timezone
    days = [pd.Timestamp(t, unit="s", tz="UTC").tz_convert(tz).date() for t in (wall0, wall1)]
    lab = composite_lab(days[0], days[1], seed=17)
    lab_csv = chain.tmp / "lab.csv"
    pd.DataFrame(lab, columns=LAB_COLUMNS).to_csv(lab_csv, index=False)
    truth = period_truth(tonnes, lab)

    out = chain.stack.run(
        ["carbon", "recompute", "--plant", str(chain.plant_file), "--from", str(days[0]), "--to", str(days[1]),
         "--lab", str(lab_csv)]
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    assert "incomplete" not in out.stderr

    start = pd.Timestamp(days[0]).tz_localize(tz)
    end = pd.Timestamp(days[1] + pd.Timedelta(days=1)).tz_localize(tz)
    stored = read_direct(chain.target, chain.plant.site.id, start, end)
    assert not stored.empty and stored["complete"].astype(bool).all()
    product = stored[stored["source"] == "product"]
    direct, clinker = float(product["co2_t"].sum()), float(product["activity_t"].sum())
    assert abs(direct / truth["direct_co2_t"] - 1) < 1e-3, (direct, truth)  # the bar: within 0.1 %
    assert abs(clinker / truth["clinker_t"] - 1) < 1e-3, (clinker, truth)

    def co2(*sources: str) -> float:
        return float(stored.loc[stored["source"].isin(sources), "co2_t"].sum())

    # Each part on its own, so that errors cannot cancel out between sources.
    assert abs(co2("fuel") / truth["fuel_co2_t"] - 1) < 1e-3
    assert abs(co2("process_clinker") / truth["process_clinker_co2_t"] - 1) < 1e-3
    assert abs(co2("process_toc") / truth["process_toc_co2_t"] - 1) < 1e-3
    assert abs(co2("biogenic") / truth["biogenic_t"] - 1) < 1e-3
    assert co2("fuel", "process_clinker", "process_dust", "process_toc") == pytest.approx(direct, rel=1e-9)
