"""Publishing over TLS with a client certificate and a password, against a Mosquitto that requires both."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from edge.publish import BrokerConfig
from harness.mosquitto import Mosquitto
from tests.conftest import SECURE_USERS
from tests.edge.conftest import image_for, make_plant, modbus_device, running_agent, truth_for
from tests.support.waiting import wait_until_async

pytestmark = pytest.mark.integration


def config(broker: Mosquitto, password: str) -> BrokerConfig:
    assert broker.tls is not None
    return BrokerConfig(
        url=broker.url,
        username="edge-01",
        password=password,
        ca_file=str(broker.tls.ca),
        cert_file=str(broker.tls.client_cert),
        key_file=str(broker.tls.client_key),
    )


async def test_tls_password_and_client_certificate(
    secure_mosquitto, modbus_server, collector, tmp_path: Path, sdm630
) -> None:
    assert secure_mosquitto.url.startswith("mqtts://")
    truth = truth_for(sdm630)
    server = modbus_server({1: image_for(sdm630, truth, fill_gaps=True)})
    plant = make_plant([modbus_device("m-1", server.port, interval_s=0.3)], site="tls")
    col = collector(secure_mosquitto, "pc/tls/#")
    async with running_agent(plant, config(secure_mosquitto, SECURE_USERS["edge-01"]), tmp_path) as agent:
        assert await wait_until_async(lambda: len(col.batches("m-1")) >= 2, 10)
        assert agent.publisher.v5  # Mosquitto offers MQTT 5, so the agent speaks it
    assert col.batches("m-1")[0].samples[0].values == pytest.approx(truth, rel=1e-6)
    assert col.status("/_edge/edge-01/status")[0]["online"] is True


async def test_wrong_password_is_refused_counted_and_readings_kept(
    secure_mosquitto, modbus_server, tmp_path: Path, sdm630
) -> None:
    server = modbus_server({1: image_for(sdm630, truth_for(sdm630), fill_gaps=True)})
    plant = make_plant([modbus_device("m-1", server.port, interval_s=0.2)], site="tls-bad")
    async with running_agent(plant, config(secure_mosquitto, "wrong"), tmp_path) as agent:
        await asyncio.sleep(2)
        assert not agent.publisher.connected
        assert agent.metrics.value("pc_edge_errors_total", kind="mqtt_connect") >= 1
        assert "Not authorized" in (agent.publisher.last_error or "") or "Bad user name" in (
            agent.publisher.last_error or ""
        )
        stored = agent.metrics.value("pc_edge_samples_stored_total")
        assert stored >= 5 and agent.outbox.depth == stored  # nothing published, nothing lost
