"""One MQTT collector and one publisher for tests on a real broker, and `wait_subscribed` (SUBACK, not a sleep)."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from harness.mosquitto import Mosquitto
from plantcarbon_core.mqtt import parse_mqtt_url
from plantcarbon_core.wire import ReadingBatch, Sample, data_topic, decode_batch, encode_batch
from tests.support.waiting import wait_until

__all__ = ["Collector", "Message", "Publisher", "wait_subscribed"]


def wait_subscribed(
    client: mqtt.Client, topics: str | list[tuple[str, int]], qos: int = 1, timeout_s: float = 10
) -> None:
    """Subscribe `client` (connected, loop running) and return once the broker's SUBACK is in."""
    acked: set[int] = set()
    cond = threading.Condition()
    previous = client.on_subscribe

    def on_subscribe(c: mqtt.Client, userdata: Any, mid: int, *rest: Any) -> None:
        with cond:
            acked.add(mid)
            cond.notify_all()
        if previous is not None:
            previous(c, userdata, mid, *rest)

    client.on_subscribe = on_subscribe
    try:
        rc, mid = client.subscribe(topics, qos=qos) if isinstance(topics, str) else client.subscribe(topics)
        assert rc == mqtt.MQTT_ERR_SUCCESS, f"subscribe {topics!r} failed: rc={rc}"
        with cond:  # the SUBACK may be in before subscribe() returns: hence the set of acknowledged ids
            assert cond.wait_for(lambda: mid in acked, timeout_s), f"no SUBACK for {topics!r} within {timeout_s} s"
    finally:
        client.on_subscribe = previous


@dataclass(frozen=True)
class Message:
    topic: str
    payload: bytes
    retain: bool
    at: float  # time.monotonic() when it arrived

    def json(self) -> Any:
        return json.loads(self.payload)


Broker = Mosquitto | str  # a harness broker, or the URL of a plain one (mqtt://host:port)


def _client(
    broker: Broker,
    client_id: str | None,
    user: str | None,
    persistent: bool = False,
    publisher: bool = False,
    clean_start: bool | None = None,
    on_message: Callable[[mqtt.Client, Any, mqtt.MQTTMessage], None] | None = None,
) -> mqtt.Client:
    """A paho MQTT 5 client for `broker`, with the harness's TLS client certificate and a password where it has them."""
    c = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=client_id or f"test-{uuid.uuid4().hex[:8]}", protocol=mqtt.MQTTv5
    )
    if isinstance(broker, str):
        host, port, _ = parse_mqtt_url(broker)
    else:
        host, port = broker.host, broker.port
        if broker.tls is not None:
            c.tls_set(str(broker.tls.ca), str(broker.tls.client_cert), str(broker.tls.client_key))
        if broker.passwords is not None and user is not None:
            c.username_pw_set(user, broker.passwords[user])
    props = Properties(PacketTypes.CONNECT)
    if persistent:
        props.SessionExpiryInterval = 3600
    c.reconnect_delay_set(1, 2)
    c.on_message = on_message  # before connecting: a resumed session's backlog comes right after CONNACK
    if publisher:  # floods of QoS 1 messages: no client-side cap or queue limit in the way (set before connecting)
        c.max_inflight_messages_set(1000)
        c.max_queued_messages_set(0)
    c.connect(host, port, clean_start=not persistent if clean_start is None else clean_start, properties=props)
    c.loop_start()
    return c


class Collector:
    """Subscribes to `topic` on a real broker (waiting for the SUBACK) and keeps every message that arrives.

    `persistent`: a session the broker keeps (and queues for) across a disconnect or a broker
    restart; it resumes the session of `client_id` unless `clean_start`. `skip_retained`: retained messages from earlier tests on a shared broker are not
    news. On a broker with passwords it logs in as `user` (tests/conftest.py SECURE_USERS).
    """

    def __init__(
        self,
        broker: Broker,
        topic: str | list[tuple[str, int]] = "pc/#",
        *,
        client_id: str | None = None,
        persistent: bool = False,
        clean_start: bool | None = None,
        skip_retained: bool = False,
        user: str = "reader",
    ):
        self.messages: list[Message] = []
        self.cond = threading.Condition()
        self._skip_retained = skip_retained
        self.client = _client(broker, client_id, user, persistent, clean_start=clean_start, on_message=self._on_message)
        assert wait_until(self.client.is_connected, 10), f"collector could not connect to {broker}"
        wait_subscribed(self.client, topic)

    def _on_message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        if msg.retain and self._skip_retained:
            return
        with self.cond:
            self.messages.append(Message(msg.topic, bytes(msg.payload), bool(msg.retain), time.monotonic()))
            self.cond.notify_all()

    def snapshot(self) -> list[Message]:
        with self.cond:
            return list(self.messages)

    def payloads(self) -> list[bytes]:
        return [m.payload for m in self.snapshot()]

    def wait_count(self, n: int, timeout_s: float = 15) -> list[Message]:
        """The messages once there are at least `n` (or all there are after `timeout_s`)."""
        with self.cond:
            self.cond.wait_for(lambda: len(self.messages) >= n, timeout_s)
            return list(self.messages)

    def wait(self, check: Any, timeout_s: float = 20.0) -> bool:
        return wait_until(check, timeout_s, interval_s=0.05)

    def batches(self, device: str | None = None) -> list[ReadingBatch]:
        """Reading batches on `…/data` topics, in arrival order."""
        out = [decode_batch(m.payload) for m in self.snapshot() if m.topic.endswith("/data")]
        return [b for b in out if device is None or b.device == device]

    def samples(self, device: str) -> list[tuple[int, Any]]:
        """(seq, sample) in arrival order, duplicates (at-least-once) included."""
        return [(b.seq, s) for b in self.batches(device) for s in b.samples]

    def status(self, topic_suffix: str) -> list[dict[str, Any]]:
        return [m.json() for m in self.snapshot() if m.topic.endswith(topic_suffix)]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class Publisher:
    """Publishes at QoS 1 as an edge agent would, and can wait for every PUBACK."""

    def __init__(self, broker: Broker, *, client_id: str | None = None, user: str | None = None):
        self.client = _client(broker, client_id, user, publisher=True)
        self._pending: list[mqtt.MQTTMessageInfo] = []
        self.seq = 0

    def publish(self, topic: str, payload: bytes | str, qos: int = 1) -> mqtt.MQTTMessageInfo:
        info = self.client.publish(topic, payload, qos=qos)
        self._pending.append(info)
        return info

    def batch(self, site: str, batch: ReadingBatch) -> None:
        self.publish(data_topic(site, batch.device), encode_batch(batch))

    def send(self, device: str, values: dict[str, float], site: str = "plant-a", edge: str = "edge-01") -> float:
        """One reading now, as the next batch of `device`; returns time.monotonic() once the broker has it."""
        self.seq += 1
        batch = ReadingBatch(edge, device, self.seq, [Sample(int(time.time() * 1000), values)])
        self.publish(data_topic(site, device), encode_batch(batch)).wait_for_publish(5)
        return time.monotonic()

    def flush(self, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        for info in self._pending:
            info.wait_for_publish(max(0.1, deadline - time.monotonic()))
        self._pending.clear()

    def close(self) -> None:
        self.flush()
        self.client.disconnect()
        self.client.loop_stop()
