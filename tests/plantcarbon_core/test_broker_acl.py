"""Broker ACLs on a real Mosquitto (issue 16, finding 10): an edge may publish only its own site's
device data and status and its own edge status; services only what their code uses."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from harness.mosquitto import Mosquitto, start_mosquitto
from plantcarbon_core.broker_acl import acl_text, edge_user
from plantcarbon_core.plant import load_plant

PLANT = Path(__file__).resolve().parents[2] / "examples" / "plant-a.yaml"
USERS = ["ingest", "alerts", "dr-listener", "dr-publisher", "edge-1", "edge-2", "spy"]


class Client:
    """An MQTT 5 client that waits for each QoS 1 PUBACK and keeps its reason code."""

    def __init__(self, broker: Mosquitto, user: str, topic: str | None = None):
        self.acks: dict[int, ReasonCode] = {}
        self.received: list[str] = []
        self.cond = threading.Condition()
        self.c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"t-{user}", protocol=mqtt.MQTTv5)
        self.c.username_pw_set(user, f"{user}-pw")
        self.c.on_publish = self._on_publish
        self.c.on_message = self._on_message
        subscribed = threading.Event()
        self.c.on_subscribe = lambda *_a: subscribed.set()
        connected = threading.Event()
        self.c.on_connect = lambda _c, _u, _f, rc, _p: connected.set() if not rc.is_failure else None
        self.c.connect(broker.host, broker.port)
        self.c.loop_start()
        assert connected.wait(10), f"{user} could not connect"
        if topic is not None:
            self.c.subscribe(topic, qos=1)
            assert subscribed.wait(10)

    def _on_publish(self, _c: Any, _u: Any, mid: int, rc: ReasonCode, _p: Properties) -> None:
        with self.cond:
            self.acks[mid] = rc
            self.cond.notify_all()

    def _on_message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        with self.cond:
            self.received.append(msg.topic)
            self.cond.notify_all()

    def publish(self, topic: str) -> bool:
        """True when the broker accepted the message, False when it refused it (Not authorized)."""
        info = self.c.publish(topic, b'{"v":1}', qos=1)
        with self.cond:
            assert self.cond.wait_for(lambda: info.mid in self.acks, 10), f"no PUBACK for {topic}"
            rc = self.acks[info.mid]
        # Accepted: 0, or 16 (No matching subscribers); refused: 135 (Not authorized) only.
        assert rc.value in (0, 16, 135), f"{topic}: unexpected reason {rc}"
        return rc.value != 135

    def wait_for(self, topic: str) -> list[str]:
        with self.cond:
            assert self.cond.wait_for(lambda: topic in self.received, 10), f"{topic} never arrived"
            return list(self.received)

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    acl = tmp_path / "acl"
    # The generated file, plus a test-only user that reads everything to see what got through.
    acl.write_text(acl_text(load_plant(PLANT), ["edge-1", "edge-2"]) + "\nuser spy\ntopic read #\n")
    b = start_mosquitto(tmp_path / "broker", passwords={u: f"{u}-pw" for u in USERS}, extra_config=f"acl_file {acl}\n")
    yield b
    b.stop()


@pytest.mark.integration
def test_an_edge_cannot_publish_outside_its_acl(broker: Mosquitto) -> None:
    spy = Client(broker, "spy", "#")
    edge = Client(broker, "edge-1")
    forged = [
        "pc/plant-a/alerts/tr-01-power",  # an alert
        "pc/plant-a/dr/events",  # a DR event
        "pc/plant-b/tr-01/data",  # another site's readings
        "pc/plant-a/not-in-plant/data",  # a device the plant file does not list
        "pc/plant-a/_edge/edge-2/status",  # another edge's status
        "pc/_dlq/ingest",  # ingest's dead letters
        "tele/pv-01/SENSOR",  # the MQTT device's own topic (read only for the edge)
    ]
    for topic in forged:
        assert not edge.publish(topic), f"edge-1 could publish on {topic}"
    allowed = ["pc/plant-a/tr-01/data", "pc/plant-a/kiln-1/status", "pc/plant-a/_edge/edge-1/status"]
    for topic in allowed:
        assert edge.publish(topic), f"edge-1 was refused {topic}"
    # In order from one client: once the last allowed message is in, nothing forged came before.
    assert spy.wait_for(allowed[-1]) == allowed
    edge.close()
    spy.close()


@pytest.mark.integration
def test_services_use_only_their_own_topics(broker: Mosquitto) -> None:
    # Ingest reads data through an MQTT 5 shared subscription, as ingest/service.py does.
    ingest = Client(broker, "ingest", "$share/ingest/pc/+/+/data")
    listener = Client(broker, "dr-listener", "pc/+/dr/events")
    alerts = Client(broker, "alerts")
    assert not alerts.publish("pc/plant-a/tr-01/data")  # the alert engine cannot forge readings
    assert alerts.publish("pc/plant-a/alerts/tr-01-power")
    assert not ingest.publish("pc/plant-a/tr-01/data")
    assert ingest.publish("pc/_dlq/ingest")
    assert not listener.publish("pc/plant-a/dr/events")  # listening is not announcing
    publisher = Client(broker, "dr-publisher")
    assert publisher.publish("pc/plant-a/dr/events")
    assert listener.wait_for("pc/plant-a/dr/events") == ["pc/plant-a/dr/events"]
    edge = Client(broker, "edge-1")
    assert edge.publish("pc/plant-a/tr-01/data")
    assert ingest.wait_for("pc/plant-a/tr-01/data") == ["pc/plant-a/tr-01/data"]
    for c in (ingest, listener, alerts, publisher, edge):
        c.close()


def test_edge_ids_that_are_not_topic_levels_or_clash_with_services_are_refused() -> None:
    assert edge_user("edge-1") == "edge-1"
    for bad in ("Edge-1", "edge/1", "+", "#", "ingest", "", "e" * 65):
        with pytest.raises(ValueError, match="edge id"):
            edge_user(bad)


@pytest.mark.integration
async def test_a_real_edge_agent_works_under_its_acl(tmp_path: Path, modbus_server: Any) -> None:
    """The generated ACL lets the edge do all it does: readings, retained device and edge status,
    its offline status at stop; a pymodbus meter behind it, a Mosquitto that enforces the ACL.

    The edge id (the agent's default, edge-01) must be the edge's user: with another id its
    status topic is refused (as a first version of this test showed, readings still passing).
    """
    import asyncio

    from edge.publish import BrokerConfig
    from plantcarbon_core.profile import load_profile
    from tests.edge.conftest import image_for, make_plant, modbus_device, running_agent, truth_for

    sdm630 = load_profile("eastron-sdm630")
    server = modbus_server({1: image_for(sdm630, truth_for(sdm630), fill_gaps=True)})
    plant = make_plant([modbus_device("m-1", server.port, interval_s=0.3)], site="acl")
    acl = tmp_path / "acl"
    acl.write_text(acl_text(plant, ["edge-01"]) + "\nuser spy\ntopic read #\n")
    broker = start_mosquitto(
        tmp_path / "broker", passwords={"edge-01": "edge-01-pw", "spy": "spy-pw"}, extra_config=f"acl_file {acl}\n"
    )
    try:
        spy = Client(broker, "spy", "#")
        cfg = BrokerConfig(url=broker.url, username="edge-01", password="edge-01-pw")
        async with running_agent(plant, cfg, tmp_path) as agent:
            for _ in range(300):
                if agent.publisher.connected and agent.outbox.depth == 0 and "pc/acl/m-1/data" in spy.received:
                    break
                await asyncio.sleep(0.05)
            assert "pc/acl/m-1/data" in spy.received and agent.outbox.depth == 0  # every batch acknowledged
        # At stop the edge says it is offline: allowed too, so it arrives after the readings.
        with spy.cond:
            assert spy.cond.wait_for(lambda: spy.received.count("pc/acl/_edge/edge-01/status") >= 2, 10)
        assert set(spy.received) == {"pc/acl/m-1/data", "pc/acl/m-1/status", "pc/acl/_edge/edge-01/status"}
        spy.close()
    finally:
        broker.stop()


def test_cli_writes_the_acl_and_refuses_a_bad_edge_id(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from plantcarbon.cli import app

    out = tmp_path / "acl"
    run = CliRunner()
    ok = run.invoke(app, ["broker", "acl", "--plant", str(PLANT), "--edge", "edge-1", "--out", str(out)])
    assert ok.exit_code == 0, ok.output
    assert out.read_text() == acl_text(load_plant(PLANT), ["edge-1"])
    assert out.stat().st_mode & 0o777 == 0o644
    bad = run.invoke(app, ["broker", "acl", "--plant", str(PLANT), "--edge", "Edge-1", "--out", str(tmp_path / "b")])
    assert bad.exit_code == 2 and "edge id 'Edge-1'" in bad.output and not (tmp_path / "b").exists()
    fmt = run.invoke(
        app, ["broker", "acl", "--plant", str(PLANT), "--edge", "e1", "--format", "nginx", "--out", str(out)]
    )
    assert fmt.exit_code == 2 and "--format must be mosquitto or emqx" in fmt.output
