"""`plantcarbon edge run --processes N`: links dealt to N agent processes, one outbox and edge id each."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from edge.cli import share_of, worker_id
from tests.edge.conftest import image_for, make_plant, modbus_device, truth_for

pytestmark = pytest.mark.integration


def test_shares_are_whole_links_dealt_round_robin_and_mqtt_devices_go_to_share_0() -> None:
    mqtt = {
        "id": "pv",
        "name": "pv",
        "kind": "pv",
        "carrier": "electricity",
        "source": {"protocol": "mqtt", "topic": "t/pv", "fields": {"p_kw": {"path": "p"}}},
    }
    devices = [modbus_device("a1", 5020, unit=1), modbus_device("a2", 5020, unit=2), modbus_device("b", 5021)]
    plant = make_plant([*devices, modbus_device("c", 5022), mqtt])
    shares = [[d.id for d in share_of(plant, f"{i}/2").devices] for i in range(2)]
    assert shares == [["a1", "a2", "c", "pv"], ["b"]]  # a gateway's units stay together
    assert sorted(x for s in shares for x in s) == sorted(d.id for d in plant.devices)
    assert worker_id("gw-01", 1) == "gw-01-p1"


def test_two_processes_publish_every_device_and_stop_together(
    modbus_server, mosquitto, collector, tmp_path: Path, sdm630
) -> None:
    servers = [modbus_server({1: image_for(sdm630, truth_for(sdm630), fill_gaps=True)}) for _ in range(2)]
    plant = tmp_path / "plant.yaml"
    devices = [modbus_device(f"m-{i}", s.port, interval_s=0.2) for i, s in enumerate(servers)]
    plant.write_text(yaml.safe_dump({"site": {"id": "procs", "name": "Procs"}, "devices": devices}))
    col = collector(mosquitto, "pc/procs/#")
    env = {**os.environ, "PLANTCARBON_MQTT_URL": mosquitto.url}
    cmd = [sys.executable, "-m", "plantcarbon", "edge", "run", "--plant", str(plant), "--edge-id", "gw"]
    cmd += ["--outbox", str(tmp_path / "o.sqlite"), "--metrics-port", "0", "--processes", "2"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        ok = col.wait(lambda: all(len(col.batches(f"m-{i}")) >= 3 for i in range(2)), 60)
        assert ok, proc.stdout.read1().decode() if proc.poll() is not None and proc.stdout else "no batches"
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(30)
    assert code == 0
    assert {b.edge for b in col.batches()} == {"gw-p0", "gw-p1"}
    for i in range(2):
        assert [b.seq for b in col.batches(f"m-{i}")][:3] == [0, 1, 2]
    assert {p.name for p in tmp_path.glob("o.sqlite.p*") if p.suffix in (".p0", ".p1")} == {
        "o.sqlite.p0",
        "o.sqlite.p1",
    }
    # Stopped cleanly: each process said offline on its own status topic.
    assert col.wait(lambda: all(col.status(f"/_edge/gw-p{i}/status")[-1]["online"] is False for i in range(2)), 10)
