"""Prometheus metrics of one ingest service (own registry, so several services can share a process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class IngestMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.messages = Counter(
            "ingest_messages", "MQTT messages handled, by result (stored|dead_letter)", ["result"], registry=r
        )
        self.points = Counter("ingest_points", "Line-protocol points written to InfluxDB", registry=r)
        self.values = Counter("ingest_values", "Field values written to InfluxDB", registry=r)
        self.unregistered = Counter(
            "ingest_unregistered_points",
            "Points of devices not in the plant file (measurement 'unregistered')",
            registry=r,
        )
        self.dead_letters = Counter("ingest_dead_letters", "Dead letters by reason", ["reason"], registry=r)
        self.retries = Counter("ingest_write_retries", "InfluxDB write retries by cause", ["reason"], registry=r)
        self.write_seconds = Histogram(
            "ingest_write_seconds",
            "Duration of one batch write including retries",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
            registry=r,
        )
        self.latency_seconds = Histogram(
            "ingest_sample_latency_seconds",
            "From a batch's newest sample timestamp to written",
            buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 3600),
            registry=r,
        )
        self.backlog = Gauge("ingest_backlog_messages", "Messages received but not yet acknowledged", registry=r)
        self.seq_gaps = Counter("ingest_seq_gaps", "Missing batch seqs seen, all devices", registry=r)
        self.duplicates = Counter("ingest_duplicates", "Duplicate batches seen (redeliveries included)", registry=r)
        self.dead_letter_bytes = Counter(
            "ingest_dead_letter_bytes", "Bytes of dead-letter records written (file and topic each)", registry=r
        )
        self.dead_letter_failures = Counter(
            "ingest_dead_letter_failures", "Dead letters that could not be filed or published", ["where"], registry=r
        )
        self.worker_errors = Counter(
            "ingest_worker_errors", "Unexpected errors the worker and writer caught and survived", registry=r
        )
        self.write_requests = Counter("ingest_write_requests", "HTTP write requests sent to InfluxDB", registry=r)
        self.connected = Gauge("ingest_mqtt_connected", "1 while connected to the broker", registry=r)
