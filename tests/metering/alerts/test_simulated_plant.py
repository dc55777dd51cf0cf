"""End to end with the simulator: simulated meters → edge agent (Modbus) → Mosquitto → alert engine → MQTT + webhook."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from edge.agent import Agent, AgentOptions
from edge.publish import BrokerConfig
from harness.mosquitto import Mosquitto
from metering.alerts.notify import Webhook, webhook_name, webhook_sink
from metering.alerts.service import AlertService
from metering.state.store import Store
from simulators.plant import SimulatedPlant
from tests.metering.alerts.conftest import WebhookReceiver
from tests.support.mqtt import Collector
from tests.support.waiting import wait_until_async

pytestmark = pytest.mark.integration


async def test_simulated_plant_crosses_a_threshold_and_alerts_within_5_s(
    mosquitto: Mosquitto,
    tmp_path: Path,
    webhook_receiver: WebhookReceiver,
    collector: Callable[..., Collector],
) -> None:
    sim = SimulatedPlant("small", seed=1).start(mqtt_url=mosquitto.url)
    plant = sim.plant
    site = plant.site.id
    store = Store(f"sqlite:///{tmp_path / 'state.sqlite'}")
    hook = Webhook.model_validate({"url": webhook_receiver.url + "/wecom", "format": "wecom"})
    svc = AlertService(store, plant, mosquitto.url, extra_sinks=[(webhook_name(hook), webhook_sink(hook))]).start()
    agent = Agent(plant, BrokerConfig(url=mosquitto.url), AgentOptions(outbox=tmp_path / "outbox.sqlite", summary_s=0))
    alerts = collector(mosquitto, f"pc/{site}/alerts/#", skip_retained=True)  # retained: earlier news
    await agent.start()
    try:
        # The engine hears the simulated transformer through the edge agent.
        assert await wait_until_async(lambda: (site, "tr-01") in svc._power, 20), (
            "no tr-01 power reading reached the engine"
        )
        now_kw = svc._power[(site, "tr-01")]
        assert now_kw > 0
        # An energy manager sets the limit below the plant's present load: the next reading crosses it.
        store.create_threshold(
            {
                "id": "tr-01-load",
                "site": site,
                "device": "tr-01",
                "quantity": "p_kw",
                "threshold": round(now_kw * 0.5, 1),
                "severity": "warning",
            },
            "em",
        )
        svc.reload()
        set_at = time.monotonic()
        assert await wait_until_async(lambda: bool(alerts.messages) and bool(webhook_receiver.got), 5.0), (
            alerts.messages,
            webhook_receiver.got,
        )
        print(
            f"threshold set → MQTT alert {alerts.messages[0].at - set_at:.2f} s, webhook {webhook_receiver.got[0].at - set_at:.2f} s"
        )
        topic, payload = alerts.messages[0].topic, alerts.messages[0].json()
        assert topic == f"pc/{site}/alerts/tr-01-load" and payload["state"] == "firing"
        assert payload["value"] > payload["threshold"] == round(now_kw * 0.5, 1)
        assert "tr-01-load" in webhook_receiver.got[0].body["markdown"]["content"]
    finally:
        await agent.stop()
        svc.stop()
        sim.stop()
        store.close()
