"""Broker stopped for 60 s mid-run, then restarted: every sample read meanwhile arrives, in order, no seq missing."""

from __future__ import annotations

import asyncio
import itertools
import time
from pathlib import Path

import pytest

from harness.mosquitto import start_mosquitto
from tests.edge.conftest import image_for, make_plant, modbus_device, running_agent, truth_for

pytestmark = pytest.mark.integration

INTERVAL = 0.5
OUTAGE_S = 60


async def test_broker_outage_of_60_s_loses_nothing(modbus_server, collector, tmp_path: Path, sdm630) -> None:
    broker = start_mosquitto(tmp_path / "broker")  # dedicated: this test stops it
    try:
        truth = truth_for(sdm630)
        server = modbus_server(
            {1: image_for(sdm630, truth, fill_gaps=True), 2: image_for(sdm630, truth, fill_gaps=True)}
        )
        plant = make_plant(
            [modbus_device(f"m-{u}", server.port, unit=u, interval_s=INTERVAL) for u in (1, 2)], site="out"
        )
        col = collector(broker, "pc/out/#", persistent=True)
        async with running_agent(plant, broker, tmp_path) as agent:
            await asyncio.sleep(3)
            broker.stop()
            down_ms = time.time() * 1000
            await asyncio.sleep(OUTAGE_S)
            depth_during = agent.outbox.depth
            up_ms = time.time() * 1000
            broker.start()
            await asyncio.sleep(3)
            deadline = time.monotonic() + 60
            while agent.outbox.depth and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
            assert agent.outbox.depth == 0
            stored = agent.metrics.value("pc_edge_samples_stored_total")
        assert col.wait(lambda: sum(len(col.samples(d)) for d in ("m-1", "m-2")) >= stored, 30)
    finally:
        broker.stop()

    assert depth_during >= 0.8 * 2 * OUTAGE_S / INTERVAL  # readings kept while the broker was away
    for dev in ("m-1", "m-2"):
        got = col.samples(dev)
        seqs = [seq for seq, _ in got]
        assert set(seqs) == set(range(max(seqs) + 1))  # no seq missing (a resend may duplicate one)
        first_seen: dict[int, object] = {}
        for ts_seq, s in got:
            first_seen.setdefault(s.ts, ts_seq)
        ts = list(first_seen)
        assert ts == sorted(ts)  # in order per device
        during = [t for t in ts if down_ms <= t <= up_ms]
        assert len(during) >= 0.8 * OUTAGE_S / INTERVAL  # sampled during the outage, original timestamps
        # No hole in the series: consecutive readings at most a little over one interval apart.
        assert max(b - a for a, b in itertools.pairwise(ts)) < (INTERVAL + 0.5) * 1000
        assert all(s.values == pytest.approx(truth, rel=1e-6) for _, s in got)
