"""MQTT intake of DR events: subscribe to `pc/+/dr/events`, validate, store; bad payloads are counted.

Bad input: any payload on the topic may be garbage. A bad one is counted by reason, logged
once per reason, and dropped; the intake never stops for it — nothing leaves `_on_message`
(paho would end its network thread), an unexpected error is logged with its traceback and
counted as `internal_error`. A redelivered identical event is stored once. `liveness`
reports the network thread for a health check.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter

import paho.mqtt.client as mqtt

from metering.dr.events import DrEvent, EventError, parse_event
from metering.dr.store import DuplicateEvent, EventStore
from plantcarbon_core.liveness import Liveness
from plantcarbon_core.mqtt import BrokerConfig, make_client
from plantcarbon_core.wire import DEFAULT_PREFIX, WireError, parse_topic

log = logging.getLogger(__name__)


def events_subscription(prefix: str = DEFAULT_PREFIX) -> str:
    return f"{prefix}/+/dr/events"


class DrIntake:
    """One paho client; `start()` connects and subscribes, `stop()` disconnects."""

    def __init__(
        self, store: EventStore, broker: BrokerConfig | str, prefix: str = DEFAULT_PREFIX, client_id: str = ""
    ):
        self.store = store
        self.prefix = prefix
        self.broker = BrokerConfig(url=broker) if isinstance(broker, str) else broker
        self.host, self.port = self.broker.host, self.broker.port
        self.accepted: list[DrEvent] = []
        self.rejected: Counter[str] = Counter()
        self._logged: set[str] = set()
        self._subscribed = threading.Event()
        self._arrived = threading.Condition()
        self.client = make_client(self.broker, client_id, v5=False)
        self._stopped = False
        self.liveness = Liveness()
        self.liveness.watch("mqtt", self._network_alive, stale_after_s=float("inf"))
        self.liveness.extra.update(connected=self.client.is_connected, rejected=lambda: dict(self.rejected))
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message

    def start(self, timeout_s: float = 10.0) -> None:
        self.client.connect(self.host, self.port)
        self.client.loop_start()
        if not self._subscribed.wait(timeout_s):
            raise TimeoutError(f"no SUBACK from {self.host}:{self.port} within {timeout_s} s")

    def stop(self) -> None:
        self._stopped = True
        self.client.disconnect()
        self.client.loop_stop()

    def wait_for(self, n: int, timeout_s: float = 10.0) -> bool:
        """Block until n messages (accepted + rejected) have been handled."""
        with self._arrived:
            return self._arrived.wait_for(lambda: len(self.accepted) + sum(self.rejected.values()) >= n, timeout_s)

    def _on_connect(
        self, client: mqtt.Client, userdata: object, flags: object, rc: object, props: object = None
    ) -> None:
        client.subscribe(events_subscription(self.prefix), qos=1)

    def _on_subscribe(self, client: mqtt.Client, userdata: object, mid: int, rcs: object, props: object = None) -> None:
        self._subscribed.set()

    def handle(self, topic: str, payload: bytes) -> DrEvent | None:
        """Validate and store one message; returns the event or None when it was rejected."""
        try:
            t = parse_topic(topic, self.prefix)
            if t.kind != "dr_events" or t.site is None:
                raise EventError("bad_topic", f"topic {topic!r} is not a DR events topic")
            ev = parse_event(payload, site=t.site, source="mqtt")
            self.store.add(ev)
        except (EventError, WireError, DuplicateEvent) as exc:
            self._reject(getattr(exc, "reason", "duplicate_id"), topic, str(exc))
            return None
        self.accepted.append(ev)
        return ev

    def _reject(self, reason: str, topic: str, message: str) -> None:
        self.rejected[reason] += 1
        if reason not in self._logged:
            self._logged.add(reason)
            log.warning("DR event rejected (%s) on %s: %s", reason, topic, message[:500])

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        self.liveness.beat("mqtt")
        try:
            self.handle(msg.topic, bytes(msg.payload))
        except Exception as exc:  # a bug (or a store that fails) must not end paho's network thread
            if "internal_error" not in self._logged:
                log.exception("DR intake: unexpected error on a message from %s", msg.topic)
            self._reject("internal_error", msg.topic, f"{type(exc).__name__}: {exc}")
        with self._arrived:
            self._arrived.notify_all()

    def _network_alive(self) -> bool:
        thread = getattr(self.client, "_thread", None)
        return self._stopped or (thread is not None and thread.is_alive())
