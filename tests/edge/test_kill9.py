"""`kill -9` of a real `plantcarbon edge run` with a non-empty outbox, then a restart: nothing lost."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from harness.mosquitto import Mosquitto, start_mosquitto
from tests.edge.conftest import image_for, modbus_device, truth_for
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

PLANTCARBON = str(Path(sys.executable).with_name("plantcarbon"))


def start_agent(plant: Path, outbox: Path, broker: Mosquitto, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PLANTCARBON_MQTT_URL": broker.url, "PLANTCARBON_EDGE_METRICS_PORT": "0"}
    with log.open("ab") as out:
        return subprocess.Popen(
            [PLANTCARBON, "edge", "run", "--plant", str(plant), "--outbox", str(outbox), "--edge-id", "k9"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def outbox_rows(path: Path) -> set[tuple[str, int]]:
    db = sqlite3.connect(path)
    try:
        return {(d, ts) for d, ts in db.execute("SELECT device, ts FROM samples")}
    finally:
        db.close()


def test_kill_9_with_a_full_outbox_then_restart_loses_nothing(modbus_server, collector, tmp_path: Path, sdm630) -> None:
    image = image_for(sdm630, truth_for(sdm630), fill_gaps=True)
    server = modbus_server({1: image, 2: image})
    plant = tmp_path / "plant.yaml"
    devices = [modbus_device(f"m-{u}", server.port, unit=u, interval_s=0.2) for u in (1, 2)]
    plant.write_text(yaml.safe_dump({"site": {"id": "k9", "name": "Kill nine"}, "devices": devices}))
    outbox, log = tmp_path / "outbox.sqlite", tmp_path / "agent.log"
    broker = start_mosquitto(tmp_path / "broker")
    try:
        col = collector(broker, "pc/k9/#", persistent=True)
        agent = start_agent(plant, outbox, broker, log)
        assert wait_until(lambda: len(col.batches()) >= 4, 30, 0.1), f"first batches; log:\n{log.read_text()[-3000:]}"
        broker.stop()  # the agent keeps reading into its outbox
        time.sleep(3)
        agent.send_signal(signal.SIGKILL)
        agent.wait(10)
        pending = outbox_rows(outbox)
        assert len(pending) >= 10, "the outbox should hold the readings taken while the broker was away"

        broker.start()
        agent = start_agent(plant, outbox, broker, log)

        def arrived() -> set[tuple[str, int]]:
            return {(b.device, s.ts) for b in col.batches() for s in b.samples}

        assert wait_until(lambda: pending <= arrived(), 60, 0.1), (
            f"pending samples never arrived; log:\n{log.read_text()[-3000:]}"
        )
        # The will: killed with the broker up, the broker says the edge is offline (retained).
        time.sleep(0.5)
        agent.send_signal(signal.SIGKILL)
        agent.wait(10)
        assert wait_until(lambda: col.status("/_edge/k9/status")[-1]["online"] is False, 10, 0.1), "last will not seen"
    finally:
        broker.stop()
    for dev in ("m-1", "m-2"):
        seqs = {b.seq for b in col.batches(dev)}
        assert seqs == set(range(max(seqs) + 1)), f"{dev}: seq gap across the kill"
    assert server.writes == 0
    assert json.loads(json.dumps(col.status("/_edge/k9/status")[0]))["online"] is True
