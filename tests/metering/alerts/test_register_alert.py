"""A lapsed calibration raises an alert through the engine's own path: its periodic check, MQTT and a webhook."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.mosquitto import Mosquitto
from metering.alerts.notify import Webhook, webhook_name, webhook_sink
from metering.alerts.service import AlertService
from metering.register.model import InstrumentEdit
from metering.register.service import run_check
from metering.register.store import RegisterStore
from metering.state.store import Store
from plantcarbon_core.plant import load_plant
from tests.metering.alerts.conftest import WebhookReceiver
from tests.support.mqtt import Collector
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

PLANT = Path(__file__).resolve().parents[3] / "examples" / "plant-a.yaml"
TODAY = dt.date(2026, 3, 10)  # the check's "today" is a parameter: a fixed day, never the real date


def test_lapsed_calibration_alerts_on_mqtt_and_webhook(
    tmp_path: Path, mosquitto: Mosquitto, webhook_receiver: WebhookReceiver, collector: Callable[..., Collector]
) -> None:
    plant = load_plant(PLANT)
    store = Store(f"sqlite:///{tmp_path / 'state.sqlite'}")
    reg = RegisterStore(store)
    reg.sync(plant)
    reg.update("plant-a", "kiln-1", InstrumentEdit(calibration_due=dt.date(2026, 2, 28)), "em-1")
    hook = Webhook.model_validate({"url": webhook_receiver.url + "/generic", "format": "generic"})
    svc = AlertService(store, plant, mosquitto.url, extra_sinks=[(webhook_name(hook), webhook_sink(hook))], tick_s=0.1)
    at = dt.datetime(2026, 3, 10, 1, tzinfo=dt.UTC)
    svc.checks.append(lambda: run_check(store, plant, svc.notify, TODAY, 30, at))
    alerts = collector(mosquitto, "pc/plant-a/alerts/#", skip_retained=True)
    svc.start()
    try:
        assert svc.wait_connected()
        topic = "pc/plant-a/alerts/reg-lapsed-kiln-1"

        def lapsed() -> list[dict[str, object]]:
            return [m.json() for m in alerts.messages if m.topic == topic]

        def hooked() -> list[object]:
            return [r.body for r in webhook_receiver.got if r.body["rule"] == "reg-lapsed-kiln-1"]

        # The engine runs its checks on its first tick: the lapsed calibration goes out on MQTT and the webhook.
        assert wait_until(lambda: len(lapsed()) >= 1 and len(hooked()) >= 1, 10)
        payload = lapsed()[0]
        assert payload["state"] == "firing" and payload["severity"] == "critical" and payload["value"] == -10
        assert "calibration lapsed on 2026-02-28" in str(payload["message"])
        assert hooked()[0] == payload
        # plant-a's tr-01 (class 1, a 5 000 kVA class-II user: table 3 asks 0.5) is below GB 17167 too.
        assert wait_until(lambda: any(m.topic.endswith("/reg-class-tr-01") for m in alerts.messages), 10)

        # Run again: still lapsed, already open — not notified twice. Calibrated: resolved, notified.
        svc.run_checks()
        reg.update(
            "plant-a", "kiln-1", InstrumentEdit(last_calibration=TODAY, calibration_due=dt.date(2027, 3, 10)), "em-1"
        )
        svc.run_checks()
        assert wait_until(lambda: len(lapsed()) >= 2, 10)
        assert [m["state"] for m in lapsed()] == ["firing", "resolved"]
        assert svc.dispatcher.errors == {}
    finally:
        svc.stop()
        store.close()
