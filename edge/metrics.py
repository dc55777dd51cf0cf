"""Agent statistics: Prometheus metrics on a local port, errors counted by kind and logged once each."""

from __future__ import annotations

import logging
import time
from bisect import bisect_left
from collections import deque
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.utils import floatToGoString

log = logging.getLogger("edge")

_LATENESS_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class _Count:
    """A counter updated on every poll: a plain number, exposed when scraped (a prometheus_client
    counter takes a lock per update; the agent updates from its event loop only)."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0.0

    def inc(self, amount: float = 1.0) -> None:
        self.value += amount


class _Histogram:
    """A histogram observed on every poll or PUBACK, kept as bucket counts and exposed when scraped."""

    def __init__(self, bounds: tuple[float, ...]):
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)  # the last one: above every bound
        self.sum = 0.0

    def observe(self, amount: float) -> None:
        # Prometheus buckets are "less or equal": the first bound >= amount.
        self.counts[bisect_left(self.bounds, amount)] += 1
        self.sum += amount

    def family(self, name: str, doc: str) -> HistogramMetricFamily:
        buckets, total = [], 0
        for bound, n in zip((*self.bounds, float("inf")), self.counts, strict=True):
            total += n
            buckets.append((floatToGoString(bound), total))
        return HistogramMetricFamily(name, doc, buckets=buckets, sum_value=self.sum)


class _PollFigures:
    """The per-poll and per-PUBACK figures as Prometheus metric families, built at scrape time."""

    def __init__(self, m: Metrics):
        self.m = m

    def collect(self) -> Iterator[Metric]:
        m = self.m
        polls = CounterMetricFamily("pc_edge_polls", "Device polls by result (ok, partial, failed).", labels=["result"])
        for result, count in m.polls_by_result.items():
            polls.add_metric([result], count.value)
        yield polls
        yield CounterMetricFamily("pc_edge_modbus_requests", "Modbus read requests sent.", value=m.requests.value)
        yield m.lateness.family("pc_edge_poll_lateness_seconds", "Poll start minus its scheduled time.")
        yield m.publish_latency.family("pc_edge_publish_latency_seconds", "Publish to PUBACK per batch.")


class Metrics:
    """One registry per agent, so tests can run agents side by side."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        # Updated on every poll or PUBACK: plain numbers, exposed by `_PollFigures` when scraped.
        self.polls_by_result = {r: _Count() for r in ("ok", "partial", "failed")}
        self.requests = _Count()
        self.lateness = _Histogram(_LATENESS_BUCKETS)
        self.publish_latency = _Histogram(_LATENESS_BUCKETS)
        r.register(_PollFigures(self))
        self.errors = Counter("pc_edge_errors", "Errors by kind.", ["kind"], registry=r)
        self.missed = Counter("pc_edge_missed_polls", "Scheduled polls skipped because the link was busy.", registry=r)
        self.outbox_depth = Gauge("pc_edge_outbox_samples", "Samples stored and not yet acknowledged.", registry=r)
        self.outbox_dropped = Counter("pc_edge_outbox_dropped_samples", "Samples dropped by the disk cap.", registry=r)
        self.outbox_lost = Counter(
            "pc_edge_outbox_unstored_samples", "Samples read but not stored (the outbox write failed).", registry=r
        )
        self.samples_published = Counter("pc_edge_samples_published", "Samples acknowledged by the broker.", registry=r)
        self.batches_published = Counter("pc_edge_batches_published", "Batches acknowledged by the broker.", registry=r)
        self.samples_stored = Counter("pc_edge_samples_stored", "Samples committed to the outbox.", registry=r)
        self.connected = Gauge("pc_edge_broker_connected", "1 while the broker connection is up.", registry=r)
        self.mqtt_messages = Counter(
            "pc_edge_mqtt_source_messages", "Device MQTT payloads by result.", ["result"], registry=r
        )
        self._seen: set[str] = set()
        # Recent lateness values (seconds) for the log summary and the bench's percentiles.
        self.recent_lateness: deque[float] = deque(maxlen=100_000)
        self._last: dict[str, float] = {}
        self._last_t = time.monotonic()

    def error(self, kind: str, message: str) -> None:
        """Count an error; log it the first time its kind is seen, then only count."""
        self.errors.labels(kind).inc()
        if kind not in self._seen:
            self._seen.add(kind)
            log.warning("%s (first of kind %r; further ones are counted in pc_edge_errors)", message, kind)

    def observe_lateness(self, seconds: float) -> None:
        self.lateness.observe(seconds)
        self.recent_lateness.append(seconds)

    def serve(self, port: int, host: str = "127.0.0.1") -> int:
        """Expose /metrics on host:port (0 = a free port); returns the port."""
        server, _thread = start_http_server(port, addr=host, registry=self.registry)
        return int(server.server_port)

    def value(self, name: str, **labels: str) -> float:
        v = self.registry.get_sample_value(name, labels or None)
        return 0.0 if v is None else v

    def error_counts(self) -> dict[str, int]:
        """Errors so far by kind (for the edge status message)."""
        return {
            s.labels["kind"]: int(s.value)
            for m in self.registry.collect()
            if m.name == "pc_edge_errors"
            for s in m.samples
            if s.name.endswith("_total")
        }

    def summary(self) -> str:
        """One log line: rates since the last summary, errors by kind, outbox depth."""
        now = time.monotonic()
        dt = max(now - self._last_t, 1e-9)
        polls = sum(self.value("pc_edge_polls_total", result=r) for r in ("ok", "partial", "failed"))
        published = self.value("pc_edge_samples_published_total")
        rate = (polls - self._last.get("polls", 0)) / dt
        prate = (published - self._last.get("published", 0)) / dt
        self._last, self._last_t = {"polls": polls, "published": published}, now
        errors = self.error_counts()
        lat = sorted(self.recent_lateness)
        p99 = lat[int(0.99 * (len(lat) - 1))] * 1000 if lat else 0.0
        return (
            f"polls/s {rate:.1f}, published samples/s {prate:.1f}, outbox {int(self.value('pc_edge_outbox_samples'))}, "
            f"lateness p99 {p99:.0f} ms, errors {errors or 'none'}"
        )
