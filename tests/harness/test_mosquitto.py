"""Real Mosquitto: QoS 1 publish/subscribe, and a persistent session's backlog kept while offline."""

from __future__ import annotations

import threading
import time

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from harness.mosquitto import Mosquitto

pytestmark = pytest.mark.integration


class Collector:
    def __init__(self, broker: Mosquitto, client_id: str, topic: str, clean_start: bool):
        self.got: list[bytes] = []
        self.cond = threading.Condition()
        self.c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        self.c.on_message = self._on_message
        subscribed = threading.Event()
        self.c.on_subscribe = lambda *a: subscribed.set()
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 3600
        self.c.connect(broker.host, broker.port, clean_start=clean_start, properties=props)
        self.c.loop_start()
        self.c.subscribe(topic, qos=1)
        assert subscribed.wait(5)

    def _on_message(self, client, userdata, msg) -> None:
        with self.cond:
            self.got.append(msg.payload)
            self.cond.notify_all()

    def wait_for(self, n: int, timeout: float = 15) -> list[bytes]:
        with self.cond:
            self.cond.wait_for(lambda: len(self.got) >= n, timeout)
            return list(self.got)

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


def publisher(broker: Mosquitto) -> mqtt.Client:
    p = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="pub", protocol=mqtt.MQTTv5)
    p.connect(broker.host, broker.port)
    p.loop_start()
    return p


def test_qos1_publish_subscribe(mosquitto: Mosquitto) -> None:
    sub = Collector(mosquitto, "sub-live", "t/live", clean_start=True)
    pub = publisher(mosquitto)
    infos = [pub.publish("t/live", f"m{i}".encode(), qos=1) for i in range(20)]
    for info in infos:
        info.wait_for_publish(5)
    assert sub.wait_for(20) == [f"m{i}".encode() for i in range(20)]
    sub.close()
    pub.disconnect()
    pub.loop_stop()


def test_persistent_session_backlog_beyond_default_queue_limit(mosquitto: Mosquitto) -> None:
    # Mosquitto's default max_queued_messages is 1000: the harness raises it, so all 3000 arrive.
    sub = Collector(mosquitto, "sub-persistent", "t/backlog", clean_start=True)
    sub.close()  # offline, session kept (expiry 3600 s)
    pub = publisher(mosquitto)
    for i in range(3000):
        pub.publish("t/backlog", f"{i}".encode(), qos=1)
    deadline = time.monotonic() + 20
    while pub.want_write() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    sub2 = Collector(mosquitto, "sub-persistent", "t/backlog", clean_start=False)
    got = sub2.wait_for(3000, timeout=30)
    assert sorted(int(x) for x in got) == list(range(3000))
    sub2.close()
    pub.disconnect()
    pub.loop_stop()
