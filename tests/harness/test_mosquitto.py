"""Real Mosquitto: QoS 1 publish/subscribe, and a persistent session's backlog kept while offline."""

from __future__ import annotations

import pytest

from harness.mosquitto import Mosquitto
from tests.support.mqtt import Collector, Publisher

pytestmark = pytest.mark.integration


def test_qos1_publish_subscribe(mosquitto: Mosquitto) -> None:
    sub = Collector(mosquitto, "t/live", client_id="sub-live")
    pub = Publisher(mosquitto, client_id="pub")
    for i in range(20):
        pub.publish("t/live", f"m{i}".encode())
    pub.flush(5)
    assert [m.payload for m in sub.wait_count(20, 15)] == [f"m{i}".encode() for i in range(20)]
    sub.close()
    pub.close()


def test_persistent_session_backlog_beyond_default_queue_limit(mosquitto: Mosquitto) -> None:
    # Mosquitto's default max_queued_messages is 1000: the harness raises it, so all 3000 arrive.
    sub = Collector(mosquitto, "t/backlog", client_id="sub-persistent", persistent=True, clean_start=True)
    sub.close()  # offline, session kept (expiry 3600 s)
    pub = Publisher(mosquitto, client_id="pub")
    for i in range(3000):
        pub.publish("t/backlog", f"{i}".encode())
    pub.flush(20)  # every PUBACK in: the broker holds all 3000 for the offline session
    sub2 = Collector(mosquitto, "t/backlog", client_id="sub-persistent", persistent=True)
    got = sub2.wait_count(3000, 30)
    assert sorted(int(m.payload) for m in got) == list(range(3000))
    sub2.close()
    pub.close()
