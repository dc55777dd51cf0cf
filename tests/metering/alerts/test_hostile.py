"""Hostile input on data topics through the real Mosquitto: the alert engine counts it and keeps evaluating.

Issue 16 finding 2: a 400-digit integer escaped `_on_message`, paho re-raised it and its
network thread ended — no more alerts, no reconnects, while the API still answered.
"""

from __future__ import annotations

import time

import pytest

from harness.mosquitto import Mosquitto
from metering.alerts.service import AlertService
from metering.state.store import Store
from plantcarbon_core.wire import ReadingBatch, Sample, data_topic, encode_batch
from tests.metering.alerts.test_service import RULE, plant, store  # noqa: F401  (fixtures)
from tests.support.fuzz import byte_mutations
from tests.support.mqtt import Publisher
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

TOPIC = data_topic("plant-a", "tr-01")


def good(seq: int, p_kw: float) -> bytes:
    return encode_batch(ReadingBatch("edge-01", "tr-01", seq, [Sample(int(time.time() * 1000), {"p_kw": p_kw})]))


HOSTILE = [
    ("400-digit integer", good(1, 812.5).replace(b"812.5", b"9" * 400), "bad_value"),
    ("5000-digit integer", good(1, 812.5).replace(b"812.5", b"9" * 5000), "bad_value"),
    ("deep nesting", b'{"schema":"pc.readings/1","samples":' + b"[" * 200_000, "not_json"),
    ("NaN", good(1, 812.5).replace(b"812.5", b"NaN"), "bad_value"),
    ("string value", good(1, 812.5).replace(b"812.5", b'"812"'), "bad_value"),
    ("field named site", good(1, 812.5).replace(b'"p_kw"', b'"site"'), "bad_quantity"),
    ("1 MB", b"[" + b"0," * 500_000 + b"0]", "bad_shape"),
    ("not UTF-8", b"\xff\xfe", "not_utf8"),
]


def test_hostile_messages_and_a_seeded_flood_leave_the_engine_alive_and_alerting(
    mosquitto: Mosquitto,
    plant,  # noqa: F811
    store: Store,  # noqa: F811
) -> None:
    store.create_threshold(RULE, "em-1")
    fired: list[str] = []
    svc = AlertService(store, plant, mosquitto.url, extra_sinks=[("list", lambda ev: fired.append(ev.state))])
    svc.start()
    pub = Publisher(mosquitto)
    try:
        assert svc.wait_subscribed()
        for case, payload, reason in HOSTILE:
            before = svc.bad_payloads[reason]
            pub.publish(TOPIC, payload).wait_for_publish(10)
            assert wait_until(lambda r=reason, b=before: svc.bad_payloads[r] == b + 1, 10), (case, svc.bad_payloads)
            assert svc.liveness.report()["ok"], case
        # A seeded flood of byte-level mutations of a valid batch: every one is handled.
        n = 1000
        # No mutation of "1.0" reaches the 4000 kW threshold.
        for b in byte_mutations(good(2, 1.0), n, seed=16):
            pub.publish(TOPIC, b)
        handled0 = len(HOSTILE)

        def handled() -> int:
            return svc.readings + sum(svc.bad_payloads.values()) - handled0

        assert wait_until(lambda: handled() == n, 60), (handled(), svc.bad_payloads)
        assert svc.bad_payloads["internal_error"] == 0
        # Still evaluating: a reading above the threshold fires the rule.
        pub.publish(TOPIC, good(3, 4500.0)).wait_for_publish(10)
        assert wait_until(lambda: "firing" in fired, 10)
        rep = svc.liveness.report()
        assert rep["ok"] and rep["workers"]["mqtt"]["alive"] and rep["workers"]["tick"]["alive"]
    finally:
        pub.close()
        svc.stop()
