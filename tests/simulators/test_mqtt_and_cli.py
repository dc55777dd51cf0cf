"""Device-native MQTT payloads map to the model's values through the plant file; the CLI writes and publishes history."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from plantcarbon.cli import app
from plantcarbon_core.plant import MqttSource, load_plant
from plantcarbon_core.wire import decode_batch
from simulators.plant import SimulatedPlant
from simulators.scenario import load_scenario
from tests.support.mqtt import Collector

pytestmark = pytest.mark.integration
runner = CliRunner()


def _path(doc: Any, path: str) -> Any:
    for part in path.split("."):
        doc = doc[int(part)] if isinstance(doc, list) else doc[part]
    return doc


def _sample_time(doc: dict[str, Any], src: MqttSource) -> float:
    raw = _path(doc, src.timestamp)
    if src.timestamp_format == "iso8601":
        return datetime.fromisoformat(raw).timestamp()
    return float(raw) / (1000.0 if src.timestamp_format == "epoch_ms" else 1.0)


def test_native_payloads_map_to_model_values(mosquitto, tmp_path: Path) -> None:
    # Subscribed (SUBACK in) before the devices send their first message.
    sub = Collector(mosquitto, [("tele/+/SENSOR", 1), ("acme-gw/+/up", 1)], client_id="t-native")
    sim = SimulatedPlant(load_scenario("small"), seed=3).start(mqtt_url=mosquitto.url)
    plant = load_plant(sim.write_plant(tmp_path / "plant.yaml"))
    sources = {d.source.topic: (d, d.source) for d in plant.devices if isinstance(d.source, MqttSource)}
    assert {d.id for d, _ in sources.values()} == {"office-1", "pv-1", "steam-2", "prod-1"}
    try:
        sub.wait(lambda: len({m.topic for m in sub.snapshot()}) >= len(sources), 25)
    finally:
        sub.close()
        sim.stop()
    got: dict[str, dict[str, Any]] = {}
    for m in sub.snapshot():
        got.setdefault(m.topic, m.json())
    assert set(got) == set(sources)
    assert "ENERGY" in got["tele/office-1/SENSOR"]  # Tasmota style, not our reading batch
    assert "schema" not in got["acme-gw/pv-1/up"]
    for topic, doc in got.items():
        dev, src = sources[topic]
        ts = _sample_time(doc, src)
        truth = sim.values(dev.id, ts)
        for q, f in src.fields.items():
            v = float(_path(doc, f.path)) * f.scale + f.offset
            # The payload's own rounding: Tasmota sends whole volts and a two-decimal power factor.
            tol = {"v_l1_v": 0.51, "pf": 0.0051}.get(q, 2e-3)
            assert v == pytest.approx(truth[q], rel=1e-4, abs=tol), (dev.id, q)


def test_history_cli_csv_wire_and_plant(tmp_path: Path) -> None:
    out = tmp_path / "h"
    args = [
        "simulate",
        "history",
        "-s",
        "small",
        "--from",
        "2026-03-02T08:00:00+08:00",
        "--to",
        "2026-03-02T09:00:00+08:00",
        "--step",
        "1m",
        "--out",
        str(out),
    ]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    readings = pd.read_csv(out / "readings.csv")
    truth = pd.read_csv(out / "truth.csv")
    assert set(readings.device) == {d.id for d in load_scenario("small").metered}
    assert len(truth) == 19 * 4 and set(truth.columns) >= {"device", "start", "net", "loss", "shed"}
    check = runner.invoke(app, ["check", str(out / "plant.yaml")])
    assert check.exit_code == 0 and "19 devices" in check.output
    res = runner.invoke(app, [*args[:-2], "--out", str(tmp_path / "w"), "--format", "wire"])
    assert res.exit_code == 0, res.output
    lines = (tmp_path / "w" / "readings.jsonl").read_bytes().splitlines()
    batches = [decode_batch(line) for line in lines]
    kiln = [b for b in batches if b.device == "kiln-1"]
    assert [b.seq for b in kiln] == [1] and len(kiln[0].samples) == 60
    bad = runner.invoke(app, [*args[:4], "--from", "yesterday", "--to", "2026-03-02T09:00:00"])
    assert bad.exit_code == 2 and "--from: not an ISO 8601 date/time: 'yesterday'" in bad.output


def test_history_published_as_mqtt_batches(mosquitto, tmp_path: Path) -> None:
    sub = Collector(mosquitto, "pc/sim-small/+/data", client_id="t-hist")
    res = runner.invoke(
        app,
        [
            "simulate",
            "history",
            "-s",
            "small",
            "--from",
            "2026-03-02T08:00:00+08:00",
            "--to",
            "2026-03-02T08:30:00+08:00",
            "--format",
            "mqtt",
            "--mqtt-url",
            mosquitto.url,
            "--out",
            str(tmp_path),
        ],
    )
    assert res.exit_code == 0, res.output
    received = [m.payload for m in sub.wait_count(19, 10)]
    sub.close()
    batches = [decode_batch(p) for p in received]
    assert len({b.device for b in batches}) == 19
    first = min(s.ts for b in batches for s in b.samples)
    assert first == int(datetime.fromisoformat("2026-03-02T08:00:00+08:00").timestamp() * 1000)


def test_simulate_run_serves_prints_endpoints_and_stops_on_sigint(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys

    plant_file = tmp_path / "plant.yaml"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "plantcarbon",
            "simulate",
            "run",
            "-s",
            "small",
            "--no-mqtt",
            "--plant-out",
            str(plant_file),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line)
        if line.startswith("plant file:"):
            break
    modbus = [x for x in lines if x.startswith("modbus")]
    assert len(modbus) == 5, lines  # 3 gateways + 2 stand-alone meters
    plant = load_plant(plant_file)
    kiln = plant.device("kiln-1").source
    assert kiln is not None and kiln.protocol == "modbus-tcp"
    from pymodbus.client import ModbusTcpClient

    client = ModbusTcpClient(kiln.host, port=kiln.port)
    assert client.connect()
    rr = client.read_input_registers(52, count=2, device_id=kiln.unit)
    assert not rr.isError() and client.convert_from_registers(rr.registers, client.DATATYPE.FLOAT32) > 0
    client.close()
    proc.send_signal(signal.SIGINT)
    rest, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0 and "stopped" in rest
