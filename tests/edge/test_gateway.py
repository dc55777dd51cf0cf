"""A dead meter behind a shared RTU-over-TCP gateway: neighbours keep their interval, it comes back."""

from __future__ import annotations

import asyncio
import itertools
import time
from pathlib import Path

import pytest

from tests.edge.conftest import image_for, make_plant, modbus_device, running_agent, truth_for

pytestmark = pytest.mark.integration

INTERVAL = 0.5
TIMEOUT = 0.3


async def test_dead_device_behind_gateway_does_not_stall_neighbours(
    mosquitto, modbus_server, collector, tmp_path: Path, sdm630
) -> None:
    dead = {"on": False}
    asked: dict[int, int] = {1: 0, 2: 0, 3: 0}

    async def hook(unit: int, fc: int, address: int, count: int):
        asked[unit] += 1
        if unit == 2 and dead["on"]:
            await asyncio.sleep(TIMEOUT * 3)  # answers long after the agent gave up
        return None

    image = image_for(sdm630, truth_for(sdm630), fill_gaps=True)
    server = modbus_server({u: image for u in (1, 2, 3)}, framer="rtu", hook=hook)
    plant = make_plant(
        [
            modbus_device(f"m-{u}", server.port, unit=u, framer="rtu", interval_s=INTERVAL, timeout_s=TIMEOUT)
            for u in (1, 2, 3)
        ],
        site="gw",
    )
    col = collector(mosquitto, "pc/gw/#")
    async with running_agent(plant, mosquitto, tmp_path, max_backoff_s=2.0) as agent:
        await asyncio.sleep(1.5)
        dead["on"] = True
        asked_before = asked[2]
        await asyncio.sleep(6)
        dead_requests = asked[2] - asked_before
        dead["on"] = False
        back_ms = time.time() * 1000
        await asyncio.sleep(3)  # the back-off (<= 2 s) ends and it is read again
        assert agent.metrics.value("pc_edge_errors_total", kind="modbus_timeout") >= 1

    # The dead device cost at most one timeout per back-off period (1, 2, 2, 2 s …) in 6 s.
    assert 1 <= dead_requests <= 6
    for dev in ("m-1", "m-3"):
        ts = [s.ts for b in col.batches(dev) for s in b.samples]
        gaps = [(b - a) / 1000 for a, b in itertools.pairwise(ts)]
        assert len(ts) >= 0.8 * 10.5 / INTERVAL, (dev, len(ts))
        # One timeout of a neighbour may delay a poll; it never costs a whole interval of polls.
        assert max(gaps) < INTERVAL + TIMEOUT + 0.35, (dev, max(gaps))
        assert [b.seq for b in col.batches(dev)] == list(range(len(col.batches(dev))))
    statuses = [s["online"] for s in col.status("/m-2/status")]
    assert statuses[:3] == [True, False, True]  # online, offline while dead, back online
    m2 = [s.ts for b in col.batches("m-2") for s in b.samples]
    assert any(ts > back_ms for ts in m2)  # readings again after it came back
    assert server.writes == 0
