"""The publisher: drains the outbox to the broker (QoS 1), owns the MQTT session, status and will.

One paho client lives for the whole run, driven by the agent's own event loop through
paho's external-loop API (`loop_read` when the socket is readable, `loop_write` once per
loop turn for everything published in it, `loop_misc` every second for keep-alive): no
network thread, so a publish costs no wake-up byte, thread hand-over or lock contention. The
blocking TCP/TLS connect runs in the loop's executor; reconnects back off 1 → 5 s, and paho
resends unacknowledged QoS 1 messages on reconnect. Paho callbacks hop to the loop with
`call_soon` (their work runs after paho's own bookkeeping, outside its callback lock).

Live readings take one pass: the agent's group commit hands over the batches the outbox
gave a seq in that same transaction (`offer`), already encoded; they go out in the order
read. PUBACKs are collected and their rows deleted in one transaction per `ack_window_s`.

Failure model: while the broker is away nothing new is handed to paho (the outbox holds it);
on reconnect the backlog drains oldest first in batches of up to `batch_max_samples`, with
at most `max_inflight` batches unacknowledged; a batch is deleted from the outbox only on its
PUBACK. A PUBACK with an MQTT 5 failure reason leaves the batch stored and is counted. A
crash after a PUBACK but before its window's delete re-sends that batch with its seq
(at-least-once: ingest counts the duplicate).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from edge.metrics import Metrics
from edge.outbox import Outbox, PendingBatch
from plantcarbon_core.mqtt import BrokerConfig, make_client
from plantcarbon_core.wire import data_topic, edge_status_topic, status_payload, status_topic

log = logging.getLogger(__name__)


@dataclass
class _InFlight:
    device: str
    seq: int
    samples: int
    sent: float


@dataclass
class Publisher:
    cfg: BrokerConfig
    site: str
    edge: str
    outbox: Outbox
    metrics: Metrics
    prefix: str = "pc"
    version: str = "0.1.0"
    batch_max_samples: int = 500
    max_inflight: int = 100
    ack_window_s: float = 0.05  # PUBACKs are deleted from the outbox together, this often
    subscriptions: dict[str, Callable[[str, bytes, int], None]] = field(default_factory=dict)
    # Figures the edge status carries besides online/ts/version (drop counts, errors by kind).
    health: Callable[[], dict[str, Any]] = field(default=lambda: {})

    def __post_init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.client: mqtt.Client | None = None
        self.connected = False
        self.v5 = self.cfg.protocol != "3.1.1"
        self._wake = asyncio.Event()
        self._inflight: dict[int, _InFlight] = {}
        # Devices with unbatched samples, in round-robin order (a dict keeps insertion order).
        self._pending: dict[str, None] = dict.fromkeys(self.outbox.devices_pending())
        self._replay: list[PendingBatch] = list(self.outbox.unacked())
        # Live batches with a committed seq, waiting for room in the in-flight window.
        self._ready: deque[PendingBatch] = deque()
        self._acks: list[tuple[str, int]] = []
        self._acked_samples = 0
        self._ack_flush: asyncio.TimerHandle | None = None
        self._topics: dict[str, str] = {}
        # PUBACKs read in this loop turn: (mid, failure reason or None), taken in one pass.
        self._pubacks: deque[tuple[int, str | None]] = deque()
        self._pubacks_due = False
        self._device_status: dict[str, bytes] = {}
        self.last_error: str | None = None
        self._stopping = False
        self._loop_thread: int | None = None
        self._conn_task: asyncio.Task[None] | None = None
        self._opening: asyncio.Future[Any] | None = None
        self._fd: int | None = None  # the socket the loop watches
        self._writer = False  # a writer is registered (the socket buffer was full)
        self._flush_due = False

    # --- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._connect()
        self._conn_task = self.loop.create_task(self._keep_connected(), name="mqtt connection")

    def _connect(self) -> None:
        client = make_client(self.cfg, f"pc-edge-{self.site}-{self.edge}", self.v5)
        client.will_set(self._edge_topic(), self._edge_status(False), qos=1, retain=True)
        client.max_inflight_messages_set(self.max_inflight + 10)  # room for status messages
        client.max_queued_messages_set(0)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        client.on_socket_close = self._on_socket_close
        client.on_socket_register_write = self._on_register_write
        client.on_socket_unregister_write = self._on_unregister_write
        client.connect_async(self.cfg.host, self.cfg.port, keepalive=self.cfg.keepalive_s)
        self.client = client

    async def _keep_connected(self) -> None:
        """Open the connection (again) when there is none, backing off 1 → 5 s; keep-alive every second."""
        delay = 1.0
        while not self._stopping:
            client = self.client
            if client is None:
                return
            if client.socket() is None:
                self._unwatch()
                assert self.loop is not None
                # The TCP connect and TLS handshake block: in the executor, not on the loop.
                self._opening = self.loop.run_in_executor(None, client.reconnect)
                try:
                    await self._opening
                except Exception as exc:  # refused, unreachable, TLS refused: retry after the delay
                    self.last_error = f"{type(exc).__name__}: {exc}"
                    self._unreachable()
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 5.0)
                    continue
                finally:
                    self._opening = None
                if self._stopping or client is not self.client:
                    self._close(client)
                    return
                self._watch(client)
                delay = 1.0
            else:
                client.loop_misc()
            await asyncio.sleep(1.0)

    def _watch(self, client: mqtt.Client) -> None:
        """Read the new socket when it is readable; write what paho queued while connecting."""
        sock = client.socket()
        if sock is None or self.loop is None:
            return
        self._fd = sock.fileno()
        self.loop.add_reader(self._fd, self._readable, client)
        self._flush()

    def _unwatch(self) -> None:
        if self._fd is not None and self.loop is not None:
            self.loop.remove_reader(self._fd)
            self.loop.remove_writer(self._fd)
        self._fd = None
        self._writer = False

    def _readable(self, client: mqtt.Client) -> None:
        client.loop_read()
        sock = client.socket()
        # TLS may hold decrypted records the socket no longer signals: read them now.
        if isinstance(sock, ssl.SSLSocket) and sock.pending() and self.loop is not None:
            self.loop.call_soon(self._readable, client)

    def _on_socket_close(self, _c: mqtt.Client, _u: object, _sock: object) -> None:
        if threading.get_ident() == self._loop_thread:
            self._unwatch()
        elif self.loop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self._unwatch)

    def _on_register_write(self, _c: mqtt.Client, _u: object, _sock: object) -> None:
        # Everything published in this loop turn goes out in one `loop_write`, on the next turn.
        if not self._flush_due and threading.get_ident() == self._loop_thread and self.loop is not None:
            self._flush_due = True
            self.loop.call_soon(self._flush)

    def _on_unregister_write(self, _c: mqtt.Client, _u: object, _sock: object) -> None:
        if self._writer and self._fd is not None and self.loop is not None:
            self.loop.remove_writer(self._fd)
            self._writer = False

    def _flush(self) -> None:
        self._flush_due = False
        client = self.client
        if client is None or client.socket() is None or self._fd is None:
            return
        client.loop_write()
        if client.want_write() and not self._writer and self._fd is not None and self.loop is not None:
            # The socket buffer is full: write the rest when the socket says it has room.
            self.loop.add_writer(self._fd, self._flush)
            self._writer = True

    def _close(self, client: mqtt.Client) -> None:
        """Send DISCONNECT (if a socket is open) and close it; the will is not sent."""
        with contextlib.suppress(Exception):
            client.disconnect()
            client.loop_write()
        if client is self.client:
            self._unwatch()

    async def stop(self) -> None:
        """Say offline (retained) and disconnect cleanly; unacknowledged data stays in the outbox."""
        if self.client is None:
            return
        if self.connected:
            info = self.client.publish(self._edge_topic(), self._edge_status(False), qos=1, retain=True)
            deadline = time.monotonic() + 2
            while not info.is_published() and time.monotonic() < deadline and self.connected:
                await asyncio.sleep(0.02)
        self._stopping = True
        opening = self._opening
        if self._conn_task is not None:
            self._conn_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._conn_task
        if opening is not None:  # a connect under way in the executor: let it end, then close it
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(opening), 10)
        self._close(self.client)
        self.client = None
        self._flush_acks()

    # --- paho callbacks (inside loop_read/loop_write/loop_misc, on the loop) ---------------

    def _call(self, fn: Callable[..., None], *args: object) -> None:
        if self.loop is None or self.loop.is_closed():
            return
        if threading.get_ident() == self._loop_thread:
            self.loop.call_soon(fn, *args)
        else:  # a callback from the connect running in the executor
            self.loop.call_soon_threadsafe(fn, *args)

    def _on_connect(
        self, client: mqtt.Client, _u: object, _f: object, rc: ReasonCode, _p: Properties | None = None
    ) -> None:
        if rc.is_failure:
            self._call(self._connect_failed, str(rc), client)
            return
        client.publish(self._edge_topic(), self._edge_status(True), qos=1, retain=True)
        sent = dict(self._device_status)
        for topic, payload in sent.items():
            client.publish(topic, payload, qos=1, retain=True)
        for topic in self.subscriptions:
            client.subscribe(topic, qos=1)
        self._call(self._session_up, sent)

    def _unreachable(self) -> None:
        self.metrics.error(
            "mqtt_unreachable", f"broker {self.cfg.url} unreachable; retrying, readings kept in the outbox"
        )

    def _on_disconnect(self, _c: mqtt.Client, _u: object, _f: object, rc: ReasonCode, _p: object = None) -> None:
        self._call(self._set_connected, False, str(rc))

    def _on_publish(self, _c: mqtt.Client, _u: object, mid: int, rc: ReasonCode, _p: object = None) -> None:
        # PUBACKs hop to the loop in bunches: one wake-up for all that arrived meanwhile.
        self._pubacks.append((mid, str(rc) if rc.is_failure else None))
        if not self._pubacks_due:
            self._pubacks_due = True
            self._call(self._take_pubacks)

    def _on_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        arrival = int(time.time() * 1000)
        for topic, handler in self.subscriptions.items():
            if mqtt.topic_matches_sub(topic, msg.topic):
                self._call(handler, msg.topic, bytes(msg.payload), arrival)

    # --- event-loop side ----------------------------------------------------------------

    def _connect_failed(self, reason: str, client: mqtt.Client) -> None:
        self.last_error = reason
        self.metrics.error("mqtt_connect", f"broker refused the connection: {reason}")
        if self.cfg.protocol == "auto" and self.v5 and "protocol" in reason.lower():
            log.info("broker does not speak MQTT 5; using MQTT 3.1.1")
            self.v5 = False
            self._close(client)
            self._connect()  # the connection task opens the new client's socket

    def _session_up(self, sent: dict[str, bytes]) -> None:
        if self.connected:
            return
        self._set_connected(True, None)
        # A device status set between the CONNACK (when the stored ones were sent) and now was
        # sent neither then nor by `device_status` (not connected yet): send it now.
        for topic, payload in self._device_status.items():
            if sent.get(topic) != payload and self.client is not None:
                self.client.publish(topic, payload, qos=1, retain=True)

    def _set_connected(self, up: bool, reason: str | None) -> None:
        if up == self.connected:
            return
        self.connected = up
        self.metrics.connected.set(1 if up else 0)
        if up:
            log.info("connected to %s (MQTT %s)", self.cfg.url, "5" if self.v5 else "3.1.1")
            self.last_error = None
        elif not self._stopping:
            self.last_error = reason
            log.warning("lost the broker (%s); readings are kept in the outbox", reason)
        self._wake.set()

    def _take_pubacks(self) -> None:
        self._pubacks_due = False  # before draining: a PUBACK appended from now on schedules another turn
        while self._pubacks:
            mid, refused = self._pubacks.popleft()
            self._acked(mid, refused)
        self._wake.set()

    def _acked(self, mid: int, refused: str | None) -> None:
        f = self._inflight.pop(mid, None)
        if f is None:
            return  # a status message
        if refused is not None:
            # The broker refused this batch; it stays stored and is sent again on restart.
            self.metrics.error("puback_refused", f"broker refused batch {f.device}#{f.seq}: {refused}")
        else:
            self.metrics.publish_latency.observe(time.monotonic() - f.sent)
            self._acks.append((f.device, f.seq))
            self._acked_samples += f.samples
            if self._ack_flush is None and self.loop is not None:
                self._ack_flush = self.loop.call_later(self.ack_window_s, self._flush_acks)

    def _flush_acks(self) -> None:
        """Delete every batch acknowledged since the last flush, in one transaction."""
        self._ack_flush = None
        if not self._acks:
            return
        acks, samples = self._acks, self._acked_samples
        self._acks, self._acked_samples = [], 0
        try:
            self.outbox.ack_many(acks)
        except Exception as exc:  # a full disk: the rows stay and are sent again after a restart
            self.metrics.error(f"outbox_ack:{type(exc).__name__}", f"acknowledged batches not deleted: {exc!r}")
            return
        self.metrics.samples_published.inc(samples)
        self.metrics.batches_published.inc(len(acks))
        self.metrics.outbox_depth.set(self.outbox.depth)

    def live(self, device: str) -> bool:
        """May `device`'s new samples get their seq now and go out at once? Only while the broker
        is up and nothing older waits (a replay, rows of this device without a seq, a long queue)."""
        return (
            self.connected
            and not self._replay
            and device not in self._pending
            and len(self._ready) < 10 * self.max_inflight
        )

    def offer(self, batches: list[PendingBatch]) -> None:
        """Batches the outbox committed with their seq: send them in this pass if the window allows."""
        self._ready.extend(batches)
        if self.connected and len(self._inflight) < self.max_inflight:
            try:
                self._pump()
            except Exception as exc:  # as in run(): count, log once; the batches stay stored and queued
                self.metrics.error("publisher_crash", f"publisher: {exc!r}")
        if self._ready:
            self._wake.set()

    def notify(self, device: str) -> None:
        """A sample for `device` was committed to the outbox."""
        self._pending.setdefault(device)
        self._wake.set()

    def device_status(self, device: str, online: bool, error: str | None = None) -> None:
        topic = status_topic(self.site, device, self.prefix)
        payload = status_payload(online, int(time.time() * 1000), error)
        self._device_status[topic] = payload
        if self.client is not None and self.connected:
            self.client.publish(topic, payload, qos=1, retain=True)

    async def run(self) -> None:
        """Hand batches to paho whenever the broker is up and the in-flight window has room."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                more = self._pump()
            except Exception as exc:  # a bug must not stop publishing: count, log once, go on
                self.metrics.error("publisher_crash", f"publisher: {exc!r}")
                log.exception("publisher step failed")
                await asyncio.sleep(1)
                self._wake.set()
                continue
            if more:
                # A backlog drains in slices so live polls on the same loop stay on time.
                self._wake.set()
                await asyncio.sleep(0)

    def _pump(self, max_samples: int = 2000) -> bool:
        """Hand over batches until the window is full or `max_samples` went; True if more wait."""
        sent = 0
        while self.connected and len(self._inflight) < self.max_inflight:
            if sent >= max_samples:
                return True
            pending = self._next_batch()
            if pending is None:
                return False
            self._send(pending)
            sent += len(pending.bodies)
        return False

    def _next_batch(self) -> PendingBatch | None:
        if self._replay:
            return self._replay.pop(0)
        if self._ready:
            return self._ready.popleft()
        while self._pending:
            device = next(iter(self._pending))
            pending = self.outbox.take(device, self.batch_max_samples)
            # Round robin: a device with more to send goes to the back of the queue.
            del self._pending[device]
            if pending is None:
                continue
            if len(pending.bodies) == self.batch_max_samples:
                self._pending[device] = None
            return pending
        return None

    def _send(self, pending: PendingBatch) -> None:
        assert self.client is not None
        topic = self._topics.get(pending.device)
        if topic is None:
            topic = self._topics[pending.device] = data_topic(self.site, pending.device, self.prefix)
        info = self.client.publish(topic, pending.payload(self.edge), qos=1)
        self._inflight[info.mid] = _InFlight(pending.device, pending.seq, len(pending.bodies), time.monotonic())

    # --- topics -------------------------------------------------------------------------

    def _edge_topic(self) -> str:
        return edge_status_topic(self.site, self.edge, self.prefix)

    def _edge_status(self, online: bool) -> bytes:
        return status_payload(online, int(time.time() * 1000), version=self.version, **self.health())

    def refresh_edge_status(self) -> bool:
        """Publish the edge status again (retained) so it carries the latest health figures.
        False when the broker is away (the status sent on reconnect carries them)."""
        if self.client is None or not self.connected:
            return False
        self.client.publish(self._edge_topic(), self._edge_status(True), qos=1, retain=True)
        return True
