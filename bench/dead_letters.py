"""Dead-letter cost per rejected message: bytes filed and published, MQTT publishes, InfluxDB writes.

Three rejected messages through a real Mosquitto, InfluxDB 2.7 and an in-process ingest:

- `clock-2000`: a 500-sample batch (≈20 kB) from a device whose clock read 2000-01-01, into
  a bucket with a 30-day retention (InfluxDB refuses every line: 422 beyond retention);
- `type-conflict`: a 500-sample batch whose field InfluxDB already holds as an integer (422);
- `1MB-junk`: a 1 MB payload that is not a batch.

Runs on any version of ingest (it counts writes by wrapping `InfluxWriter._post_until_done`),
so the figures before and after a change come from the same script:

    PYTHONPATH=. .venv/bin/python bench/dead_letters.py
    git archive <before> | tar -x -C /tmp/before && PYTHONPATH=/tmp/before .venv/bin/python bench/dead_letters.py
"""

from __future__ import annotations

import shutil
import tempfile
import time
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt

from harness.influxdb import start_influxdb
from harness.mosquitto import start_mosquitto
from ingest import writer as ingest_writer
from ingest.service import IngestConfig, IngestService
from plantcarbon_core.influx import InfluxTarget, write_lines
from plantcarbon_core.wire import ReadingBatch, Sample, data_topic, dlq_topic, encode_batch

TS_2000 = 946_684_800_000 + 3_600_000  # 2000-01-01T01:00Z
TS_NOW = int(time.time() * 1000) - 3_600_000


class Topic:
    def __init__(self, host: str, port: int, topic: str):
        self.records: list[bytes] = []
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"dlq-{uuid.uuid4().hex[:6]}")
        self.c.on_message = lambda _c, _u, m: self.records.append(bytes(m.payload))
        self.c.connect(host, port)
        self.c.subscribe(topic, qos=1)
        self.c.loop_start()


def batch(device: str, ts0: int, n: int, name: str = "p_kw") -> bytes:
    return encode_batch(
        ReadingBatch("edge-01", device, 1, [Sample(ts0 + i * 1000, {name: float(i) + 0.5}) for i in range(n)])
    )


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="dlq-bench-"))
    broker = start_mosquitto(work / "mosquitto")
    influx = start_influxdb(work / "influxd")
    writes = [0]
    real = ingest_writer.InfluxWriter._post_until_done

    def counted(self, lines):  # type: ignore[no-untyped-def]
        writes[0] += 1
        return real(self, lines)

    ingest_writer.InfluxWriter._post_until_done = counted  # type: ignore[method-assign]
    try:
        base = influx.fresh_target()
        raw = f"raw30d_{uuid.uuid4().hex[:6]}"
        influx.create_bucket(raw, retention_s=30 * 86400)
        target = InfluxTarget(base.url, base.org, base.token, raw, base.metering_bucket)
        write_lines(target, raw, [f"unregistered,site=plant-a,device=old flow_nm3h=5i {TS_NOW - 60_000}"])
        cases = [
            ("clock-2000", data_topic("plant-a", "tr-01"), batch("tr-01", TS_2000, 500)),
            ("type-conflict", data_topic("plant-a", "gas-01"), batch("gas-01", TS_NOW, 500, "flow_nm3h")),
            ("1MB-junk", data_topic("plant-a", "tr-01"), b"{" + b" " * 1_000_000 + b"}"),
        ]
        print(f"{'case':14s} {'payload B':>10s} {'file B':>10s} {'topic B':>10s} {'publishes':>9s} {'writes':>7s}")
        for name, topic, payload in cases:
            dlq = work / f"dlq-{name}.jsonl"
            cfg = IngestConfig(
                mqtt_url=broker.url,
                target=target,
                client_id=f"bench-{uuid.uuid4().hex[:6]}",
                dlq_file=dlq,
                share_group=None,
                batch_max_age_s=0.2,
                quality_every_s=3600,
            )
            svc = IngestService(cfg).start()
            svc.wait_subscribed(20)
            listener = Topic(broker.host, broker.port, dlq_topic("ingest"))
            time.sleep(0.5)  # the listener's SUBACK (a bench, not a test)
            writes[0] = 0
            pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
            pub.connect(broker.host, broker.port)
            pub.loop_start()
            pub.publish(topic, payload, qos=1).wait_for_publish(30)
            deadline = time.monotonic() + 120
            while svc.handled < 1 and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(1.0)  # dead-letter publishes in flight
            file_b = dlq.stat().st_size if dlq.exists() else 0
            topic_b = sum(len(r) for r in listener.records)
            n = len(listener.records)
            print(f"{name:14s} {len(payload):>10,d} {file_b:>10,d} {topic_b:>10,d} {n:>9d} {writes[0]:>7d}")
            pub.loop_stop()
            pub.disconnect()
            listener.c.loop_stop()
            listener.c.disconnect()
            svc.stop()
    finally:
        ingest_writer.InfluxWriter._post_until_done = real  # type: ignore[method-assign]
        influx.stop()
        broker.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
