"""The edge agent: the composition root wiring sources, scheduler, outbox, publisher and metrics.

Scheduling: one task per link (TCP endpoint or serial port) polls that link's devices in
turn, each at its own interval; different links run concurrently. Links wait for their next
due time on one shared `Ticker` (one loop timer for all of them). A device that does not
answer is backed off (its interval doubled per failure, up to `max_backoff_s`), so it costs
its link at most one timeout per back-off period and its neighbours keep their interval.
Each poll's lateness (start minus its scheduled time) is recorded. A link that falls behind
skips the missed slots (counted) instead of bursting to catch up.

Failure model: nothing a device, a payload or the disk does stops a link's loop. A poll
that raises, or a sample the outbox cannot store (a value JSON cannot hold, a full disk:
`sqlite3.OperationalError`), is counted by kind in `pc_edge_errors_total`, logged once per
kind, and polling goes on; an unstored sample also counts in
`pc_edge_outbox_unstored_samples_total` and consumes its seq (ingest sees the gap). The
retained edge status carries these counts (`outbox_dropped`, `outbox_unstored`, `errors`)
and is re-sent when they change, at most every `status_s`.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge.config import find_profile
from edge.metrics import Metrics
from edge.modbus import Link, LinkKey, ModbusDevice, link_key, make_client
from edge.mqtt_source import PayloadError, map_payload
from edge.outbox import Outbox
from edge.publish import BrokerConfig, Publisher
from edge.ticker import Ticker
from plantcarbon_core.plant import Device, ModbusRtuSource, ModbusTcpSource, MqttSource, Plant
from plantcarbon_core.wire import Sample

log = logging.getLogger("edge")


@dataclass
class AgentOptions:
    edge_id: str = "edge-01"
    outbox: Path = Path("outbox.sqlite")
    outbox_max_bytes: int = 1 << 30
    durable: bool = False
    prefix: str = "pc"
    metrics_port: int | None = None  # None: no HTTP endpoint; 0: a free port
    summary_s: float = 60.0
    max_backoff_s: float = 60.0
    batch_max_samples: int = 500
    max_inflight: int = 100
    profile_dirs: Sequence[Path] = ()
    status_s: float = 10.0  # how often the edge status is re-sent when its figures changed
    # Group commit: samples read within this window are stored in one transaction (and only
    # then published); a window also closes early at `commit_max_samples`.
    commit_window_s: float = 0.02
    commit_max_samples: int = 1000


@dataclass
class _Slot:
    dev: ModbusDevice
    failures: int = 0
    online: bool | None = None


@dataclass
class Agent:
    plant: Plant
    broker: BrokerConfig
    options: AgentOptions = field(default_factory=AgentOptions)

    def __post_init__(self) -> None:
        self.metrics = Metrics()
        self.outbox = Outbox(self.options.outbox, max_bytes=self.options.outbox_max_bytes, durable=self.options.durable)
        self.publisher = Publisher(
            self.broker,
            self.plant.site.id,
            self.options.edge_id,
            self.outbox,
            self.metrics,
            prefix=self.options.prefix,
            batch_max_samples=self.options.batch_max_samples,
            max_inflight=self.options.max_inflight,
            health=self.health,
        )
        self.links: dict[LinkKey, tuple[Link, list[_Slot]]] = {}
        self.mqtt_devices: list[Device] = []
        # MQTT devices push: online while messages come, offline after `mqtt_silence_s(device)`
        # without one (loop time of the last good message; None: never heard from).
        self._mqtt_seen: dict[str, float | None] = {}
        self._mqtt_online: dict[str, bool | None] = {}
        self.metrics_port: int | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self._dropped_seen = 0
        self._to_store: list[tuple[str, Sample]] = []
        self._commit_at: asyncio.TimerHandle | None = None
        self._ticker: Ticker | None = None
        # A link's client waits as long as its slowest device may take.
        link_timeout: dict[LinkKey, float] = {}
        for d in self.plant.devices:
            if isinstance(s := d.source, ModbusTcpSource | ModbusRtuSource):
                key = link_key(s)
                link_timeout[key] = max(link_timeout.get(key, 0.0), s.timeout_s)
        for d in self.plant.devices:
            src = d.source
            if isinstance(src, ModbusTcpSource | ModbusRtuSource):
                key = link_key(src)
                if key not in self.links:
                    self.links[key] = (Link(key, make_client(src, link_timeout[key])), [])
                dev = ModbusDevice.build(d, find_profile(src.profile, self.options.profile_dirs))
                self.links[key][1].append(_Slot(dev))
            elif isinstance(src, MqttSource):
                self.mqtt_devices.append(d)
                self._mqtt_seen[d.id] = None
                self._mqtt_online[d.id] = None
                self.publisher.subscriptions[src.topic] = self._mqtt_handler(d, src)
        self.metrics.outbox_depth.set(self.outbox.depth)

    # --- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        self._ticker = Ticker(asyncio.get_running_loop())
        if self.options.metrics_port is not None:
            self.metrics_port = self.metrics.serve(self.options.metrics_port)
            log.info("metrics on http://127.0.0.1:%d/metrics", self.metrics_port)
        self.publisher.start()
        self._tasks.append(asyncio.create_task(self.publisher.run(), name="publisher"))
        for link, slots in self.links.values():
            self._tasks.append(asyncio.create_task(self._run_link(link, slots), name=f"link {link.name}"))
        if self.mqtt_devices:
            self._tasks.append(asyncio.create_task(self._mqtt_watch(), name="mqtt watch"))
        if self.options.summary_s > 0:
            self._tasks.append(asyncio.create_task(self._summaries(), name="summary"))
        self._tasks.append(asyncio.create_task(self._status_updates(), name="status"))
        log.info(
            "edge %s: site %s, %d Modbus devices on %d links, %d MQTT devices, outbox %s (%d samples pending)",
            self.options.edge_id,
            self.plant.site.id,
            sum(len(s) for _, s in self.links.values()),
            len(self.links),
            len(self.mqtt_devices),
            self.options.outbox,
            self.outbox.depth,
        )

    async def stop(self) -> None:
        # Python 3.11's wait_for can swallow a cancel that lands as its inner read completes,
        # so cancel until every task is done; the loops also check `_stopping` each turn.
        self._stopping = True
        pending = {t for t in self._tasks if not t.done()}
        while pending:
            for t in pending:
                t.cancel()
            _, pending = await asyncio.wait(pending, timeout=1)
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                t.result()
        self._tasks.clear()
        if self._ticker is not None:
            self._ticker.close()
        self._commit()  # what was read is stored before the agent stops
        await self.publisher.stop()
        for link, _ in self.links.values():
            link.close()
        self.outbox.close()

    async def run_forever(self) -> None:
        await self.start()
        try:
            await asyncio.Event().wait()
        finally:
            await self.stop()

    # --- Modbus scheduling --------------------------------------------------------------

    async def _run_link(self, link: Link, slots: list[_Slot]) -> None:
        loop = asyncio.get_running_loop()
        ticker = self._ticker
        assert ticker is not None, "links run only after start()"
        now = loop.time()
        # (due, order, slot): the order breaks ties so devices keep their plant-file order.
        heap = [(now + i * 0.001, i, s) for i, s in enumerate(slots)]
        heapq.heapify(heap)
        while not self._stopping:
            due, order, slot = heapq.heappop(heap)
            if due > loop.time():
                await ticker.wait_until(due)
            started = loop.time()
            self.metrics.observe_lateness(max(0.0, started - due))
            try:
                await self._poll(link, slot)
            except Exception as exc:  # whatever it was, the other devices on this link keep polling
                self.metrics.error("poll_crash", f"device {slot.dev.device.id}: poll step failed: {exc!r}")
            interval = slot.dev.source.interval_s
            end = loop.time()
            if slot.failures:
                backoff = min(interval * 2 ** min(slot.failures, 16), max(self.options.max_backoff_s, interval))
                nxt = end + backoff
            else:
                nxt = due + interval
                if nxt < end:
                    missed = math.ceil((end - nxt) / interval)
                    self.metrics.missed.inc(missed)
                    nxt += missed * interval
            heapq.heappush(heap, (nxt, order, slot))

    async def _poll(self, link: Link, slot: _Slot) -> None:
        dev = slot.dev
        try:
            result = await dev.poll(link)
        except Exception as exc:  # a bug must not stop the link: count it, log once, go on
            self.metrics.error("poll_crash", f"device {dev.device.id}: poll failed unexpectedly: {exc!r}")
            slot.failures += 1
            return
        self.metrics.requests.inc(result.requests)
        if result.sample is None:
            slot.failures += 1
            self.metrics.polls_by_result["failed"].inc()
            self.metrics.error(
                f"modbus_{(result.error or '').replace(' ', '_')}",
                f"device {dev.device.id} on {link.name}: {result.error}",
            )
            if slot.online is not False:
                slot.online = False
                log.warning("device %s offline: %s (backing off)", dev.device.id, result.error)
                self.publisher.device_status(dev.device.id, False, result.error)
            return
        slot.failures = 0
        self.metrics.polls_by_result["partial" if result.sample.bad else "ok"].inc()
        for reason in result.reasons:
            kind = reason.split(":")[0].split("(")[0].strip()
            self.metrics.error(f"bad_value:{kind}", f"device {dev.device.id}: bad value: {reason}")
        if slot.online is not True:
            if slot.online is False:
                log.info("device %s back online", dev.device.id)
            slot.online = True
            self.publisher.device_status(dev.device.id, True)
        self.store(dev.device.id, result.sample)

    def store(self, device: str, sample: Sample) -> None:
        """Queue a sample for the window's group commit; it is published only once committed."""
        self._to_store.append((device, sample))
        if len(self._to_store) >= self.options.commit_max_samples:
            self._commit()
        elif self._commit_at is None:
            self._commit_at = asyncio.get_running_loop().call_later(self.options.commit_window_s, self._commit)

    def _commit(self) -> None:
        """Store the window's samples in one transaction; hand the live batches to the publisher."""
        if self._commit_at is not None:
            self._commit_at.cancel()
            self._commit_at = None
        items, self._to_store = self._to_store, []
        if not items:
            return
        try:
            batches, refused = self.outbox.add_batch(items, self.publisher.live)
        except Exception as exc:  # a full disk: count, report, keep polling (the seqs are skipped)
            for device, _ in items:
                self.outbox.not_stored(device)
            self.metrics.outbox_lost.inc(len(items))
            self.metrics.error(f"outbox_write:{type(exc).__name__}", f"{len(items)} samples not stored: {exc!r}")
            return
        for device, err in refused:  # a value JSON cannot hold
            self.metrics.outbox_lost.inc()
            self.metrics.error(f"outbox_write:{type(err).__name__}", f"device {device}: sample not stored: {err!r}")
        self.metrics.samples_stored.inc(len(items) - len(refused))
        if self.outbox.dropped != self._dropped_seen:
            self.metrics.outbox_dropped.inc(self.outbox.dropped - self._dropped_seen)
            self._dropped_seen = self.outbox.dropped
        self.metrics.outbox_depth.set(self.outbox.depth)
        if batches:
            self.publisher.offer(batches)
        if len(batches) < len(items) - len(refused):
            live = {b.device for b in batches}
            for device, _ in items:
                if device not in live:
                    self.publisher.notify(device)

    # --- MQTT sources -------------------------------------------------------------------

    def _mqtt_handler(self, device: Device, src: MqttSource):  # type: ignore[no-untyped-def]
        def handle(topic: str, payload: bytes, arrival_ms: int) -> None:
            try:
                sample = map_payload(src, payload, arrival_ms)
            except PayloadError as exc:
                self.metrics.mqtt_messages.labels("dropped").inc()
                self.metrics.error(f"mqtt_payload:{exc.kind}", f"device {device.id} on {topic}: {exc} (dropped)")
                return
            except Exception as exc:  # a mapping bug must not reach the event loop: count and drop
                self.metrics.mqtt_messages.labels("dropped").inc()
                self.metrics.error("mqtt_payload:crash", f"device {device.id} on {topic}: {exc!r} (dropped)")
                return
            self.metrics.mqtt_messages.labels("partial" if sample.bad else "ok").inc()
            self._mqtt_seen[device.id] = asyncio.get_running_loop().time()
            if self._mqtt_online.get(device.id) is not True:
                if self._mqtt_online.get(device.id) is False:
                    log.info("device %s back online", device.id)
                self._mqtt_online[device.id] = True
                self.publisher.device_status(device.id, True)
            self.store(device.id, sample)

        return handle

    async def _mqtt_watch(self) -> None:
        """Mark MQTT devices offline once they have been silent too long (they have no poll to fail)."""
        started = asyncio.get_running_loop().time()
        while not self._stopping:
            now = asyncio.get_running_loop().time()
            for d in self.mqtt_devices:
                silence = mqtt_silence_s(d)
                seen = self._mqtt_seen[d.id]
                if now - (seen if seen is not None else started) > silence and self._mqtt_online[d.id] is not False:
                    self._mqtt_online[d.id] = False
                    error = f"no message on {getattr(d.source, 'topic', '?')} for {silence:g} s"
                    log.warning("device %s offline: %s", d.id, error)
                    self.publisher.device_status(d.id, False, error)
            await asyncio.sleep(min(1.0, min(mqtt_silence_s(d) for d in self.mqtt_devices) / 4))

    def health(self) -> dict[str, Any]:
        """What the edge status carries besides online/ts/version: every loss and error, counted."""
        return {
            "outbox_dropped": self.outbox.dropped_total,
            "outbox_unstored": self.outbox.lost,
            "errors": self.metrics.error_counts(),
        }

    async def _status_updates(self) -> None:
        last = self.health()
        while not self._stopping:
            await asyncio.sleep(self.options.status_s)
            now = self.health()
            if now != last and self.publisher.refresh_edge_status():
                last = now

    async def _summaries(self) -> None:
        while not self._stopping:
            await asyncio.sleep(self.options.summary_s)
            log.info("edge summary: %s", self.metrics.summary())


def mqtt_silence_s(device: Device) -> float:
    """How long an MQTT device may stay silent before it counts as offline: three of its
    publish intervals (`source.interval_s`, e.g. a Tasmota TelePeriod), and at least 10 s."""
    return max(3.0 * (device.source.interval_s if device.source is not None else 5.0), 10.0)


def now_ms() -> int:
    return int(time.time() * 1000)
