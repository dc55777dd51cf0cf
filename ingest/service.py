"""The ingest service: MQTT shared subscription → validate → batch → InfluxDB → acknowledge.

Three threads: paho's network loop only queues incoming messages; the worker decodes,
validates and batches them (by line count and age) and dead-letters bad ones; the writer
writes each batch together with the `ingest_quality` points counting it, then acknowledges
its messages. A message is acknowledged only after all
of its points are written (or dead-lettered), and the session is persistent, so a crash at
any point means redelivery, never loss. Redelivered batches overwrite the same points
(measurement + tags + timestamp), so duplicates are harmless.
"""

from __future__ import annotations

import bisect
import contextlib
import json
import logging
import queue
import socket
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from ingest.accounting import COMPONENT, INTERVAL_MS, Accounting
from ingest.deadletters import MAX_LINES_LISTED, DeadLetterFile, dead_letter_record
from ingest.mapping import UNREGISTERED, Mapped, Rejected, TagBook, map_data, map_status
from ingest.metrics import IngestMetrics
from ingest.writer import InfluxWriter, RejectedLine, WriteAborted
from plantcarbon_core import schema as sc
from plantcarbon_core.influx import InfluxTarget, influxql, quote_ident, quote_literal
from plantcarbon_core.liveness import Liveness
from plantcarbon_core.mqtt import BrokerConfig, make_client
from plantcarbon_core.plant import Plant
from plantcarbon_core.settings import Settings
from plantcarbon_core.wire import data_subscription, dlq_topic

log = logging.getLogger(__name__)


@dataclass
class IngestConfig:
    mqtt_url: str
    target: InfluxTarget
    # Stable per instance: the broker keeps the session (and queues for it) under this id.
    client_id: str
    plants: list[Plant] = field(default_factory=list)
    prefix: str = "pc"
    share_group: str | None = "ingest"  # None: plain subscription (also forced on MQTT 3.1.1)
    protocol: Literal["5", "3.1.1"] = "5"
    username: str | None = None
    password: str | None = field(default=None, repr=False)  # never in logs or tracebacks
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    session_expiry_s: int = 7 * 86400
    # Unacknowledged messages the broker may have in flight to us (MQTT 5 Receive Maximum).
    # It must exceed what the pipeline holds (about 4 batches' worth of messages), or batches
    # are cut by age instead of size.
    receive_maximum: int = 20_000
    batch_max_lines: int = 5000
    batch_max_age_s: float = 1.0
    quality_every_s: float = 10.0
    dlq_file: Path | None = None
    # The dead-letter file rotates at this size, keeping `dlq_backups` older files.
    dlq_max_bytes: int = 64 * 1024 * 1024
    dlq_backups: int = 3
    # Samples stamped later than now + this are refused (dead letter `future_ts`): one point
    # from a clock set to 2099 would otherwise stand as every "latest" value for decades.
    max_clock_skew_s: float = 300.0
    stop_timeout_s: float = 15.0
    max_backoff_s: float = 5.0

    @classmethod
    def from_settings(cls, s: Settings, client_id: str, plants: list[Plant], **kw: Any) -> IngestConfig:
        return cls(
            mqtt_url=s.mqtt_url,
            target=InfluxTarget.from_settings(s),
            client_id=client_id,
            plants=plants,
            prefix=s.mqtt_prefix,
            username=s.mqtt_username,
            password=s.mqtt_password.get_secret_value() if s.mqtt_password else None,
            ca_file=s.mqtt_ca_file,
            cert_file=s.mqtt_cert_file,
            key_file=s.mqtt_key_file,
            dlq_file=s.data_dir / "ingest" / f"dead-letters-{client_id}.jsonl",
            **kw,
        )

    @property
    def broker(self) -> BrokerConfig:
        """The broker as the shared client factory takes it (ValueError for a bad URL)."""
        return BrokerConfig(
            url=self.mqtt_url,
            username=self.username,
            password=self.password,
            ca_file=str(self.ca_file) if self.ca_file else None,
            cert_file=str(self.cert_file) if self.cert_file else None,
            key_file=str(self.key_file) if self.key_file else None,
            protocol=self.protocol,
        )


@dataclass(slots=True)
class _Msg:
    mid: int
    qos: int
    topic: str
    payload: bytes
    gen: int  # connection generation: an ack is only valid on the connection that delivered it


@dataclass
class _Batch:
    lines: list[str] = field(default_factory=list)
    msgs: list[_Msg] = field(default_factory=list)
    mapped: list[tuple[_Msg, Mapped | None, int]] = field(default_factory=list)  # msg, data, first line
    values: int = 0
    started: float = field(default_factory=time.monotonic)
    # The batch's `ingest_quality` lines, written in the same request (None: not counted yet).
    quality: list[str] | None = None


_STOP = object()


def default_client_id() -> str:
    return f"ingest-{socket.gethostname()}"[:64]


def delete_session(cfg: IngestConfig, timeout_s: float = 15.0) -> None:
    """Make the broker forget the session of `cfg.client_id` (and anything still queued for it)."""
    broker = cfg.broker
    v5 = cfg.protocol == "5"
    c = make_client(broker, cfg.client_id, v5)
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 0
    done = threading.Event()
    c.on_connect = lambda *_: done.set()
    if v5:
        c.connect(broker.host, broker.port, clean_start=True, properties=props)
    else:
        c.connect(broker.host, broker.port)
    c.loop_start()
    try:
        if not done.wait(timeout_s):
            raise TimeoutError(f"broker {cfg.mqtt_url} did not answer")
    finally:
        c.disconnect()
        c.loop_stop()


@dataclass(frozen=True)
class StoredCounts:
    """The accounting's `Stored` port on InfluxDB: what earlier runs stored for an interval."""

    target: InfluxTarget
    book: TagBook
    dlq_file: Path | None = None
    started_ms: int = 0  # records filed from then on are this process's own (counted in memory)
    _filed_counts: dict[tuple[int, str], int] = field(default_factory=dict, compare=False)

    def _filed(self) -> dict[tuple[int, str], int]:
        """Dead letters on file (and its rotated copies) per (interval start, reason); read once."""
        if not self._filed_counts and self.dlq_file is not None:
            files = [self.dlq_file, *sorted(self.dlq_file.parent.glob(self.dlq_file.name + ".*"))]
            for f in files:
                with contextlib.suppress(OSError), f.open(encoding="utf-8", errors="replace") as fh:
                    for text in fh:
                        try:
                            rec = json.loads(text)
                            ms, reason = int(rec["received_ms"]), str(rec["reason"])
                        except (ValueError, KeyError, TypeError):
                            continue  # a torn last line after a crash
                        if ms >= self.started_ms:
                            continue
                        key = (ms - ms % INTERVAL_MS, reason)
                        self._filed_counts[key] = self._filed_counts.get(key, 0) + 1
        return self._filed_counts

    def _query(self, q: str) -> Any:
        return influxql(self.target, q, self.target.raw_bucket, timeout_s=30)

    def sample_times(self, site: str, device: str, start_ms: int, end_ms: int) -> set[int]:
        info = self.book.lookup(site, device)
        measurement = info.tags.carrier if info is not None else UNREGISTERED
        df = self._query(
            f'SELECT * FROM {quote_ident(measurement)} WHERE "site" = {quote_literal(site)} '
            f'AND "device" = {quote_literal(device)} AND time >= {start_ms}ms AND time < {end_ms}ms'
        )
        if df.empty:
            return set()
        return {int(t.value // 1_000_000) for t in df["time"]}

    def quality(self, site: str, device: str, start_ms: int) -> dict[str, tuple[float, float, float]]:
        df = self._query(
            'SELECT last("samples") AS "s", last("seq_gaps") AS "g", last("duplicates") AS "d" '
            f'FROM {quote_ident(sc.INGEST_QUALITY)} WHERE "site" = {quote_literal(site)} '
            f'AND "device" = {quote_literal(device)} AND time >= {start_ms}ms AND time < {start_ms + 1}ms '
            'GROUP BY "ingest"'
        )
        if df.empty:
            return {}
        return {str(r["ingest"]): (float(r["s"]), float(r["g"]), float(r["d"])) for _, r in df.iterrows()}

    def recent_filed(self) -> dict[tuple[int, str], int]:
        """Filed counts of the interval of the last record before this start and of the one
        before it: a process killed then may have counted them only in memory (its counts are
        written every `quality_every_s`, far less than an interval)."""
        filed = self._filed()
        if not filed:
            return {}
        last = max(start for start, _ in filed)
        return {k: n for k, n in filed.items() if k[0] >= last - INTERVAL_MS}

    def dead_letters(self, instance: str, start_ms: int, reason: str) -> float:
        if self.dlq_file is not None and self.dlq_file.exists():
            # The file is written before a dead letter is acknowledged, so it holds the ones
            # whose count never reached InfluxDB before a crash.
            return float(self._filed().get((start_ms - start_ms % INTERVAL_MS, reason), 0))
        df = self._query(
            f'SELECT last("count") AS "c" FROM {quote_ident(sc.DEAD_LETTERS)} '
            f'WHERE "ingest" = {quote_literal(instance)} AND "reason" = {quote_literal(reason)} '
            f"AND time >= {start_ms}ms AND time < {start_ms + 1}ms"
        )
        return 0.0 if df.empty else float(df["c"].iloc[0])


class IngestService:
    def __init__(self, cfg: IngestConfig, metrics: IngestMetrics | None = None):
        self.broker = cfg.broker  # a bad URL fails here, before anything is opened
        self.cfg = cfg
        self.metrics = metrics or IngestMetrics()
        self.book = TagBook.from_plants(cfg.plants)
        started_ms = int(time.time() * 1000)
        self.accounting = Accounting(
            cfg.client_id, stored=StoredCounts(cfg.target, self.book, cfg.dlq_file, started_ms), started_ms=started_ms
        )
        self._stopping = threading.Event()  # makes a failing write give up (nothing acked)
        self._inbox: queue.Queue[Any] = queue.Queue()
        self._writes: queue.Queue[Any] = queue.Queue(maxsize=2)
        self._gen = 0
        self._logged_reasons: set[str] = set()
        self._dlq = DeadLetterFile(cfg.dlq_file, cfg.dlq_max_bytes, cfg.dlq_backups) if cfg.dlq_file else None
        self.liveness = Liveness()
        self.liveness.extra.update(
            connected=self.connected_now, handled=self.handled_now, backlog=self.pipeline_messages
        )
        self._in_pipeline = 0
        self.handled = 0  # messages acknowledged (stored or dead-lettered) since start
        self._pipeline_lock = threading.Lock()
        self.writer = InfluxWriter(
            cfg.target,
            stopping=self._stopping,
            max_backoff_s=cfg.max_backoff_s,
            on_retry=lambda reason: self.metrics.retries.labels(reason).inc(),
            on_request=self.metrics.write_requests.inc,
        )
        self.client = self._make_client()
        self._threads: list[threading.Thread] = []
        self.connected = threading.Event()
        self._subscribed = threading.Event()
        self._retiring = False
        self._stopped = False

    # --- MQTT ----------------------------------------------------------------------------

    def _make_client(self) -> mqtt.Client:
        cfg, broker = self.cfg, self.broker
        self._host, self._port = broker.host, broker.port
        # A persistent session with manual acks: a message is acked only once it is stored.
        client = make_client(broker, cfg.client_id, cfg.protocol == "5", persistent=True, manual_ack=True)
        client.max_inflight_messages_set(1000)  # our own publishes (dead letters)
        client.max_queued_messages_set(0)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        return client

    def handled_now(self) -> int:
        return self.handled

    def connected_now(self) -> bool:
        return self.connected.is_set()

    def _subscriptions(self) -> list[str]:
        share = self.cfg.share_group if self.cfg.protocol == "5" else None
        data = data_subscription(self.cfg.prefix, share_group=share)
        status = f"{self.cfg.prefix}/+/+/status"
        return [data, f"$share/{share}/{status}" if share else status]

    def _on_connect(self, client: mqtt.Client, _u: Any, flags: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            log.warning("broker refused the connection: %s", reason)
            return
        self._gen += 1
        self.metrics.connected.set(1)
        log.info("connected to %s:%s (session present: %s)", self._host, self._port, flags.session_present)
        if self._retiring:
            self.connected.set()
            return
        if self.cfg.protocol == "5":
            client.subscribe([(t, SubscribeOptions(qos=1)) for t in self._subscriptions()])
        else:
            client.subscribe([(t, 1) for t in self._subscriptions()])
        self.connected.set()

    def _on_subscribe(self, *_: Any) -> None:
        log.info("subscribed to %s", ", ".join(self._subscriptions()))
        self._subscribed.set()

    def _on_disconnect(self, _c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        self.metrics.connected.set(0)
        self.connected.clear()
        if not self._stopping.is_set():
            log.warning("disconnected from the broker (%s); reconnecting", reason)

    def _on_message(self, _c: Any, _u: Any, m: mqtt.MQTTMessage) -> None:
        # Runs in paho's network thread: only hand over, so keep-alives never starve.
        self._inbox.put(_Msg(m.mid, m.qos, m.topic, bytes(m.payload), self._gen))

    def _ack(self, msgs: Iterable[_Msg]) -> None:
        gen = self._gen
        n = 0
        for m in msgs:
            n += 1
            if m.qos > 0 and m.gen == gen:
                self.client.ack(m.mid, m.qos)
            # A message from an earlier connection is not acked: the broker redelivers it
            # (its packet id may now belong to another message) and it is written again.
        with self._pipeline_lock:
            self.handled += n
            self._in_pipeline -= n
            self.metrics.backlog.set(self._in_pipeline + self._inbox.qsize())

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> IngestService:
        cfg = self.cfg
        props = None
        if cfg.protocol == "5":
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = cfg.session_expiry_s
            props.ReceiveMaximum = cfg.receive_maximum
            self.client.connect_async(self._host, self._port, keepalive=30, clean_start=False, properties=props)
        else:
            self.client.connect_async(self._host, self._port, keepalive=30)
        self._threads = [
            threading.Thread(target=self._work, name="ingest-worker", daemon=True),
            threading.Thread(target=self._write_loop, name="ingest-writer", daemon=True),
        ]
        for t in self._threads:
            t.start()
        self.client.loop_start()
        # The worker turns at least every 0.5 s; the writer every `quality_every_s`, or after a
        # write that may retry through an InfluxDB outage (stale after 2 minutes of it).
        self.liveness.watch("worker", self._threads[0], stale_after_s=30)
        self.liveness.watch("writer", self._threads[1], stale_after_s=max(120.0, 3 * cfg.quality_every_s))
        self.liveness.watch("mqtt", self._network_alive, stale_after_s=float("inf"))
        return self

    def _network_alive(self) -> bool:
        # paho's network thread; it ends only when a callback raises (ours never let anything out).
        thread = getattr(self.client, "_thread", None)
        return self._stopped or (thread is not None and thread.is_alive())

    def wait_subscribed(self, timeout_s: float = 15.0) -> bool:
        return self._subscribed.wait(timeout_s)

    def leave_group(self) -> None:
        """Unsubscribe, so the broker routes no new messages to this instance; what it has
        already queued for the session is still delivered (used to retire an instance)."""
        self._retiring = True
        self.client.unsubscribe(self._subscriptions())

    def pipeline_messages(self) -> int:
        """Messages received and not yet acknowledged (or dead-lettered)."""
        with self._pipeline_lock:
            return self._in_pipeline + self._inbox.qsize()

    def stop(self) -> None:
        """Flush and write what was received, acknowledge it, then disconnect. Messages that
        cannot be written within `stop_timeout_s` stay unacknowledged for the next start."""
        if self._stopped:
            return
        self._stopped = True
        self._inbox.put(_STOP)
        deadline = time.monotonic() + self.cfg.stop_timeout_s
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        if any(t.is_alive() for t in self._threads):
            self._stopping.set()
            for t in self._threads:
                t.join(10)
        self._stopping.set()
        # Keep the session: no unsubscribe, and the session expiry set at connect applies.
        self.client.disconnect()
        self.client.loop_stop()
        self.writer.close()
        if self._dlq is not None:
            self._dlq.close()

    # --- worker: decode, validate, batch --------------------------------------------------

    def _work(self) -> None:
        batch = _Batch()
        while True:
            self.liveness.beat("worker")
            timeout = max(0.0, self.cfg.batch_max_age_s - (time.monotonic() - batch.started)) if batch.msgs else 0.5
            try:
                item = self._inbox.get(timeout=timeout)
            except queue.Empty:
                item = None
            if item is _STOP:
                break
            if item is not None:
                with self._pipeline_lock:
                    self._in_pipeline += 1
                if not batch.msgs:
                    batch.started = time.monotonic()
                self._handle_guarded(item, batch)
            full = len(batch.lines) >= self.cfg.batch_max_lines
            old = bool(batch.msgs) and time.monotonic() - batch.started >= self.cfg.batch_max_age_s
            if full or old:
                self._writes.put(batch)
                batch = _Batch()
        if batch.msgs:
            self._writes.put(batch)
        self._writes.put(_STOP)

    def _handle_guarded(self, m: _Msg, batch: _Batch) -> None:
        """The one message path: whatever a message does, it is stored, dead-lettered or
        counted, and the worker goes on (a dead worker would leave every later message unacked)."""
        try:
            self._handle(m, batch)
        except Exception as exc:  # a bug, not bad input (that is `Rejected`): keep the evidence
            log.exception("ingest: unexpected error on a message from %s; dead-lettered", m.topic)
            self.metrics.worker_errors.inc()
            self._reject(m, "internal_error", f"{type(exc).__name__}: {exc}")

    def _reject(self, m: _Msg, reason: str, message: str) -> None:
        try:
            self._dead_letter(reason, message, m.topic, m.payload)
            self.metrics.messages.labels("dead_letter").inc()
        finally:
            self._ack([m])

    def _handle(self, m: _Msg, batch: _Batch) -> None:
        try:
            max_ts = int((time.time() + self.cfg.max_clock_skew_s) * 1000)
            if m.topic.endswith("/status"):
                status_line = map_status(m.topic, m.payload, self.cfg.prefix, max_ts_ms=max_ts)
                batch.mapped.append((m, None, len(batch.lines)))
                if status_line is not None:
                    batch.lines.append(status_line)
            else:
                mapped = map_data(m.topic, m.payload, self.book, self.cfg.prefix, max_ts_ms=max_ts)
                batch.mapped.append((m, mapped, len(batch.lines)))
                batch.lines.extend(mapped.lines)
                batch.values += mapped.values
        except Rejected as exc:
            self._reject(m, exc.reason, str(exc))
            return
        batch.msgs.append(m)

    # --- dead letters --------------------------------------------------------------------

    def _dead_letter(self, reason: str, message: str, topic: str, payload: bytes, **extra: Any) -> None:
        """Record one rejected message once: topic, reason, the payload (capped) and `extra`.

        Never raises: a dead letter that cannot be published or filed is counted and logged.
        """
        now_ms = int(time.time() * 1000)
        doc = dead_letter_record(reason, message, topic, payload, now_ms, **extra)
        self.metrics.dead_letters.labels(reason).inc()
        self.metrics.dead_letter_bytes.inc(len(doc) + 1)
        self.accounting.dead_letter(reason, now_ms)
        if reason not in self._logged_reasons:  # once per kind
            self._logged_reasons.add(reason)
            log.warning("dead letter (%s): %s — further ones of this kind are only counted", reason, message)
        try:
            self.client.publish(dlq_topic(COMPONENT, self.cfg.prefix), doc, qos=1)
        except Exception as exc:  # e.g. a payload above the broker's limit
            self.metrics.dead_letter_failures.labels("publish").inc()
            log.warning("dead letter not published: %s", exc)
        if self._dlq is not None and not self._dlq.append(doc):
            self.metrics.dead_letter_failures.labels("file").inc()

    # --- writer: write, account, acknowledge ----------------------------------------------

    def _write_loop(self) -> None:
        last_quality = time.monotonic()
        self._restore_dead_letter_counts()
        while True:
            self.liveness.beat("writer")
            try:
                item = self._writes.get(timeout=self.cfg.quality_every_s)
            except queue.Empty:
                item = None
            if item is _STOP:
                break
            try:
                if item is not None:
                    self._write_batch_guarded(item)
                if time.monotonic() - last_quality >= self.cfg.quality_every_s:
                    last_quality = time.monotonic()
                    self._write_quality()
            except WriteAborted:
                log.warning("stopping with unwritten batches; they stay unacknowledged for the next start")
                return
            except Exception:  # the quality write: the next round writes the counts again
                self.metrics.worker_errors.inc()
                log.exception("ingest: writing ingest_quality failed; retried next round")
        with contextlib.suppress(WriteAborted):
            self._write_quality()

    def _restore_dead_letter_counts(self) -> None:
        """Recount the dead letters an earlier run filed in its last intervals (written at the
        first round): an interval that ended while ingest was down gets no new dead letter to
        trigger the merge in `Accounting.dead_letter_lines`."""
        stored = self.accounting.stored
        if not isinstance(stored, StoredCounts) or stored.dlq_file is None or not stored.dlq_file.exists():
            return
        try:
            self.accounting.restore_dead(stored.recent_filed())
        except Exception:  # the file is evidence, not input we trust: a bad one must not stop ingest
            self.metrics.worker_errors.inc()
            log.exception("ingest: reading earlier dead-letter counts from %s failed", stored.dlq_file)

    def _write_batch_guarded(self, b: _Batch) -> None:
        """Write a batch until it is written; an unexpected error is retried, never skipped
        (its messages stay unacknowledged meanwhile, and health turns red if it lasts)."""
        attempt = 0
        while True:
            try:
                self._write_batch(b)
                return
            except WriteAborted:
                raise
            except Exception:
                self.metrics.worker_errors.inc()
                log.exception("ingest: writing a batch failed unexpectedly; retrying")
                attempt += 1
                if self._stopping.wait(min(30.0, 0.5 * 2**attempt)):
                    raise WriteAborted("stopping while a batch fails") from None

    def _write_batch(self, b: _Batch) -> None:
        if b.quality is None:  # once per batch: a retried write must not count it again
            b.quality = self._count(b)
        t0 = time.monotonic()
        # The counts travel with the samples they count: once the messages are acknowledged
        # both are stored, so a kill after the ack loses no count (docs/ingest.md, Accounting).
        rejected = self.writer.write(b.lines + b.quality)
        self.metrics.write_seconds.observe(time.monotonic() - t0)
        counts = set(b.quality)
        refused = [r for r in rejected if r.line not in counts]
        if refused:
            self._dead_letter_lines(b, refused)
        explained = {r.status for r in refused}
        for r in rejected:
            if r.line not in counts:
                continue
            if r.status in explained:
                # Refused like the samples it counts (e.g. beyond retention): their message is
                # dead-lettered already; one more record per batch would be noise.
                log.debug("ingest_quality line refused with its samples (%s): %s", r.reason, r.line[:200])
            else:
                self._dead_letter(r.reason, r.message, "", b"", line=r.line[:1000])
        now_ms = time.time() * 1000
        for _m, mapped, _ in b.mapped:
            if mapped is not None:
                self.metrics.latency_seconds.observe(max(0.0, (now_ms - mapped.batch.samples[-1].ts) / 1000))
        self.metrics.points.inc(len(b.lines) - len(refused))
        self.metrics.values.inc(b.values)
        self.metrics.messages.labels("stored").inc(len(b.msgs))
        self._ack(b.msgs)

    def _count(self, b: _Batch) -> list[str]:
        """Account the batch's samples and seqs; returns the `ingest_quality` lines it changes."""
        for _m, mapped, _ in b.mapped:
            if mapped is not None:  # before counting: what was stored before this process started
                self.accounting.prepare(mapped.site, mapped.batch.device, [s.ts for s in mapped.batch.samples])
        for _m, mapped, _ in b.mapped:
            if mapped is None:
                continue
            info = self.book.lookup(mapped.site, mapped.batch.device)
            v = self.accounting.observe(
                mapped.site,
                mapped.batch.device,
                mapped.batch.seq,
                [s.ts for s in mapped.batch.samples],
                info.interval_s if info else None,
            )
            if v.gaps > 0:
                self.metrics.seq_gaps.inc(v.gaps)
            if v.duplicate:
                self.metrics.duplicates.inc()
            if not mapped.registered:
                self.metrics.unregistered.inc(len(mapped.lines))
        return self.accounting.sample_lines()

    def _dead_letter_lines(self, b: _Batch, rejected: list[RejectedLine]) -> None:
        """One dead letter per message with refused lines, listing each line's reason."""
        starts = [first for _, _, first in b.mapped]
        index = {ln: i for i, ln in enumerate(b.lines)}
        per_msg: dict[int, list[RejectedLine]] = {}
        for r in rejected:
            pos = index.get(r.line, 0)
            per_msg.setdefault(max(0, bisect.bisect_right(starts, pos) - 1), []).append(r)
        for k, refused in per_msg.items():
            m, _, first = b.mapped[k]
            head = refused[0]
            # InfluxDB's message is given once; a line carries its own only when it differs.
            lines: list[dict[str, object]] = [
                {"line": index.get(r.line, first) - first}
                | (
                    {}
                    if (r.reason, r.message) == (head.reason, head.message)
                    else {"reason": r.reason, "message": r.message[:300]}
                )
                for r in refused[:MAX_LINES_LISTED]
            ]
            self._dead_letter(
                refused[0].reason,
                f"InfluxDB refused {len(refused)} line(s) of this message: {refused[0].message[:300]}",
                m.topic,
                m.payload,
                refused_lines=len(refused),
                lines=lines,
            )

    def _write_quality(self) -> None:
        # Dead-letter counts (sample counts went out with their batches; any left are rewritten).
        lines = self.accounting.quality_lines()
        if lines:
            rejected = self.writer.write(lines)
            for r in rejected:
                self._dead_letter(r.reason, r.message, "", b"", line=r.line[:1000])
