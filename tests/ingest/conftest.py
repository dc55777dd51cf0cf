"""Helpers for ingest tests: an in-process ingest service, an MQTT publisher, waiting on InfluxQL."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from core.influx import InfluxTarget, influxql
from core.plant import Plant, load_plant
from core.wire import ReadingBatch, Sample, data_topic, encode_batch
from ingest.service import IngestConfig, IngestService, parse_mqtt_url

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TS0 = 1_763_712_000_000  # 2025-11-21T08:00:00Z, on a 15-minute boundary


@pytest.fixture(scope="session")
def plant_a() -> Plant:
    return load_plant(EXAMPLES / "plant-a.yaml")


class Publisher:
    """A plain paho client publishing QoS 1 and waiting for every PUBACK."""

    def __init__(self, url: str, client_id: str | None = None):
        host, port, _ = parse_mqtt_url(url)
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id or f"pub-{uuid.uuid4().hex[:8]}",
            protocol=mqtt.MQTTv5,
        )
        self.client.max_inflight_messages_set(1000)
        self.client.max_queued_messages_set(0)
        self.client.connect(host, port)
        self.client.loop_start()
        self._pending: list[mqtt.MQTTMessageInfo] = []

    def publish(self, topic: str, payload: bytes | str, qos: int = 1) -> None:
        self._pending.append(self.client.publish(topic, payload, qos=qos))

    def batch(self, site: str, batch: ReadingBatch) -> None:
        self.publish(data_topic(site, batch.device), encode_batch(batch))

    def flush(self, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        for info in self._pending:
            info.wait_for_publish(max(0.1, deadline - time.monotonic()))
        self._pending.clear()

    def close(self) -> None:
        self.flush()
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def publisher(mosquitto) -> Iterator[Callable[..., Publisher]]:  # type: ignore[no-untyped-def]
    made: list[Publisher] = []

    def make(url: str | None = None) -> Publisher:
        p = Publisher(url or mosquitto.url)
        made.append(p)
        return p

    yield make
    for p in made:
        p.close()


@pytest.fixture
def ingest_factory(tmp_path: Path) -> Iterator[Callable[..., IngestService]]:
    """Factory for in-process ingest services; each gets a unique client id and its own DLQ file."""
    started: list[IngestService] = []
    # Each test has its own share group: a stopped service's persistent session still holds
    # its share of the group's messages (the broker queues them for it), see docs/ingest.md.
    group = f"ingest-{uuid.uuid4().hex[:8]}"

    def make(mqtt_url: str, target: InfluxTarget, plants: list[Plant] | None = None, **kw: object) -> IngestService:
        cid = str(kw.pop("client_id", f"ingest-test-{uuid.uuid4().hex[:8]}"))
        cfg = IngestConfig(
            mqtt_url=mqtt_url,
            target=target,
            client_id=cid,
            plants=plants or [],
            dlq_file=tmp_path / f"dlq-{cid}.jsonl",
            quality_every_s=float(kw.pop("quality_every_s", 0.5)),
            batch_max_age_s=float(kw.pop("batch_max_age_s", 0.2)),
            share_group=str(kw.pop("share_group", group)),
            **kw,  # type: ignore[arg-type]
        )
        svc = IngestService(cfg).start()
        assert svc.wait_subscribed(20), "ingest did not subscribe"
        started.append(svc)
        return svc

    yield make
    for s in started:
        s.stop()


def wait_for(query: Callable[[], int], want: int, timeout_s: float = 60, what: str = "rows") -> int:
    """Poll `query` until it returns `want` (or more); returns the last value."""
    deadline = time.monotonic() + timeout_s
    got = -1
    while time.monotonic() < deadline:
        got = query()
        if got >= want:
            return got
        time.sleep(0.3)
    return got


def count_points(target: InfluxTarget, measurement: str, field: str, where: str = "") -> int:
    df = influxql(target, f'SELECT count("{field}") FROM "{measurement}"{" WHERE " + where if where else ""}')
    return 0 if df.empty else int(df["count"].iloc[0])


def make_batch(device: str, seq: int, n: int, ts0: int = TS0, step_ms: int = 1000, fields: int = 3) -> ReadingBatch:
    samples = [
        Sample(ts0 + i * step_ms, {f"v{k}_kw": float(seq * 1000 + i) + k / 8 for k in range(fields)}) for i in range(n)
    ]
    return ReadingBatch("edge-01", device, seq, samples)
