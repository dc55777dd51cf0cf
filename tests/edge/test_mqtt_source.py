"""MQTT-source devices end to end: native JSON in, reading batches out; malformed payloads counted, dropped."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edge.agent import Agent
from harness.mosquitto import Mosquitto
from plantcarbon_core.plant import Plant
from tests.edge.conftest import make_plant, running_agent
from tests.edge.test_mqtt_mapping import CORPUS

pytestmark = pytest.mark.integration


@asynccontextmanager
async def agent_and_device(plant: Plant, broker: Mosquitto, tmp_path: Path) -> AsyncIterator[tuple[Agent, mqtt.Client]]:
    """A running agent, connected and subscribed, and an MQTT client standing for the device."""
    device = mqtt.Client(CallbackAPIVersion.VERSION2)
    device.connect(broker.host, broker.port)
    device.loop_start()
    try:
        async with running_agent(plant, broker, tmp_path) as agent:
            for _ in range(100):
                if agent.publisher.connected:
                    break
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.3)  # the subscription is in place
            yield agent, device
    finally:
        device.loop_stop()
        device.disconnect()


async def test_native_json_is_mapped_and_malformed_payloads_do_not_stop_the_agent(
    mosquitto, collector, tmp_path: Path
) -> None:
    pv = {
        "id": "pv-01",
        "name": "PV",
        "kind": "pv",
        "carrier": "electricity",
        "source": {
            "protocol": "mqtt",
            "topic": "tele/pv-01/SENSOR",
            "timestamp": "Time",
            "timestamp_format": "iso8601",
            "fields": {"p_kw": {"path": "ENERGY.Power", "scale": 0.001}, "e_exp_kwh": {"path": "ENERGY.Total"}},
        },
    }
    plant = make_plant([pv], site="mq")
    col = collector(mosquitto, "pc/mq/#")
    async with agent_and_device(plant, mosquitto, tmp_path) as (agent, device):
        good = b'{"Time":"2025-11-21T08:00:0%d+08:00","ENERGY":{"Power":1520,"Total":1234.5}}'
        device.publish("tele/pv-01/SENSOR", good % 0, qos=1).wait_for_publish(5)
        for payload, _ in CORPUS:
            device.publish("tele/pv-01/SENSOR", payload, qos=1).wait_for_publish(5)
        device.publish("tele/pv-01/SENSOR", good % 1, qos=1).wait_for_publish(5)
        for _ in range(200):
            if len(col.batches("pv-01")) >= 2:
                break
            await asyncio.sleep(0.05)
        dropped = agent.metrics.value("pc_edge_mqtt_source_messages_total", result="dropped")
        kinds = {k for _, k in CORPUS}
        counted = {k: agent.metrics.value("pc_edge_errors_total", kind=f"mqtt_payload:{k}") for k in kinds}
    samples = [s for b in col.batches("pv-01") for s in b.samples]
    assert [s.ts for s in samples] == [1_763_683_200_000, 1_763_683_201_000]
    assert samples[0].values == pytest.approx({"p_kw": 1.52, "e_exp_kwh": 1234.5})
    assert dropped == len(CORPUS)
    assert all(v >= 1 for v in counted.values()), counted


async def test_mqtt_device_goes_online_with_messages_and_offline_when_silent(
    mosquitto, collector, tmp_path: Path
) -> None:
    # An MQTT device has no poll that can fail: it is online while its messages come and
    # offline after three publish intervals (at least 10 s) without one (edge.agent.mqtt_silence_s).
    meter = {
        "id": "tasmota-1",
        "name": "Plug meter",
        "kind": "other",
        "carrier": "electricity",
        "source": {
            "protocol": "mqtt",
            "topic": "tele/tasmota-1/SENSOR",
            "interval_s": 2,
            "fields": {"p_kw": {"path": "P"}},
        },
    }
    plant = make_plant([meter], site="mq")
    col = collector(mosquitto, "pc/mq/tasmota-1/status")
    async with agent_and_device(plant, mosquitto, tmp_path) as (_, device):
        for i in range(3):
            device.publish("tele/tasmota-1/SENSOR", b'{"P": %d}' % (10 + i), qos=1).wait_for_publish(5)
            await asyncio.sleep(1.0)
        online = [s["online"] for s in col.status("/tasmota-1/status")]
        # Silent now: offline within 10 s of the last message (+ the watch's period).
        for _ in range(150):
            if col.status("/tasmota-1/status")[-1:] and col.status("/tasmota-1/status")[-1]["online"] is False:
                break
            await asyncio.sleep(0.1)
        after_silence = col.status("/tasmota-1/status")
        device.publish("tele/tasmota-1/SENSOR", b'{"P": 20}', qos=1).wait_for_publish(5)
        for _ in range(50):
            if col.status("/tasmota-1/status")[-1]["online"] is True:
                break
            await asyncio.sleep(0.1)
        back = col.status("/tasmota-1/status")
    assert online == [True]  # one status on the first message, not one per message
    assert after_silence[-1]["online"] is False
    assert "no message on tele/tasmota-1/SENSOR for 10 s" in after_silence[-1]["error"]
    assert back[-1]["online"] is True
