"""Hostile flood: N seeded bad messages per consumer through a real Mosquitto; counts worker deaths.

Each consumer — ingest (with InfluxDB 2.7), the alert engine, the DR listener — gets the same
seeded mix: byte-level mutations of a valid message, and structured hostile documents (huge
integers, deep nesting, NaN, wrong types, reserved quantity names, far-future and far-past
timestamps, large payloads). Then one good message. Printed per consumer: messages sent,
handled (stored, dead-lettered or counted), internal errors, whether every worker is alive,
and whether the good message after the flood was taken.

    PYTHONPATH=. .venv/bin/python bench/hostile_flood.py --messages 5000
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as mqtt

from harness.influxdb import start_influxdb
from harness.mosquitto import start_mosquitto
from ingest.service import IngestConfig, IngestService
from metering.alerts.service import AlertService
from metering.dr.intake import DrIntake
from metering.dr.store import EventStore
from metering.state.store import Store
from plantcarbon_core.influx import influxql
from plantcarbon_core.wire import ReadingBatch, Sample, data_topic, dr_events_topic, encode_batch

TS = int(time.time() * 1000) - 60_000


def good_batch(seq: int) -> bytes:
    return encode_batch(ReadingBatch("edge-01", "tr-01", seq, [Sample(TS + seq, {"p_kw": 1.5, "e_imp_kwh": 10.0})]))


GOOD_EVENT = {
    "id": "ev-flood",
    "start": "2025-07-15T14:00:00+08:00",
    "end": "2025-07-15T16:00:00+08:00",
    "requested_reduction_kw": 500,
    "meters": ["tr-01"],
}


def structured(rng: random.Random, base: dict[str, object]) -> bytes:
    """One hostile document built from a valid one."""
    doc = json.loads(json.dumps(base))
    kind = rng.randrange(9)
    text = json.dumps(doc)
    if kind == 0:
        return text.replace("1.5", "9" * rng.choice([400, 5000])).replace("500", "7" * rng.choice([400, 5000])).encode()
    if kind == 1:
        return ('{"a":' * rng.randint(1000, 100_000)).encode()
    if kind == 2:
        return text.replace("1.5", rng.choice(["NaN", "Infinity", "1e999", "-1e999"])).replace("500", "NaN").encode()
    if kind == 3:
        key = rng.choice(list(doc))
        doc[key] = rng.choice([None, True, [], {}, "x" * 70, -1, 2**70])
        return json.dumps(doc).encode()
    if kind == 4:
        return text.replace(
            '"p_kw"', json.dumps(rng.choice(["site", "device", "edge", "time", "kind", "area"]))
        ).encode()
    if kind == 5:
        ts = rng.choice([0, 1, 946_684_799_999, 4_070_908_800_000, int(time.time() * 1000) + 86_400_000])
        return text.replace(str(TS), str(ts)).encode()
    if kind == 6:
        return b"[" + b"1," * rng.randint(10_000, 300_000) + b"1]"
    if kind == 7:
        return bytes(rng.randrange(256) for _ in range(rng.randint(0, 200)))
    return json.dumps({**doc, "extra": "y" * rng.randint(1, 100_000)}).encode()


def mutated(rng: random.Random, good: bytes) -> bytes:
    b = bytearray(good)
    for _ in range(rng.randint(1, 6)):
        b[rng.randrange(len(b))] = rng.randrange(256)
    return bytes(b)


def flood(
    name: str,
    host: str,
    port: int,
    topic: str,
    good: bytes,
    base: dict[str, object],
    n: int,
    handled: Callable[[], int],
    after: Callable[[], bool] | None,
    internal: Callable[[], int],
    alive: Callable[[], bool],
    last: bytes,
) -> None:
    rng = random.Random(16)
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"flood-{uuid.uuid4().hex[:6]}")
    pub.max_inflight_messages_set(200)
    pub.connect(host, port)
    pub.loop_start()
    h0 = handled()
    infos = []
    for _ in range(n):
        payload = mutated(rng, good) if rng.random() < 0.5 else structured(rng, base)
        infos.append(pub.publish(topic, payload, qos=1))
    for info in infos:
        info.wait_for_publish(60)
    deadline = time.monotonic() + 300
    while handled() - h0 < n and time.monotonic() < deadline:
        time.sleep(0.2)
    mark = handled()
    if after is None:  # taken = handled once more

        def after() -> bool:
            return handled() > mark

    pub.publish(topic, last, qos=1).wait_for_publish(30)
    deadline = time.monotonic() + 60
    while not after() and time.monotonic() < deadline:
        time.sleep(0.2)
    print(
        f"{name:13s} sent {n:>6,d}  handled {mark - h0:>6,d}  internal errors {internal():>3d}  "
        f"workers alive {alive()!s:5s}  good message after taken {after()!s:5s}",
        flush=True,
    )
    pub.loop_stop()
    pub.disconnect()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=5000)
    n = ap.parse_args().messages
    work = Path(tempfile.mkdtemp(prefix="flood-bench-"))
    broker = start_mosquitto(work / "mosquitto")
    influx = start_influxdb(work / "influxd")
    try:
        target = influx.fresh_target()
        batch_doc = json.loads(good_batch(1))
        ing = IngestService(
            IngestConfig(broker.url, target, f"flood-{uuid.uuid4().hex[:6]}", dlq_file=work / "dlq.jsonl")
        ).start()
        ing.wait_subscribed(20)

        def stored_marker() -> bool:
            df = influxql(target, 'SELECT count("q_kvar") FROM "unregistered"', target.raw_bucket)
            return not df.empty and int(df["count"].iloc[0]) == 1

        marker = encode_batch(ReadingBatch("edge-01", "tr-01", 999_999, [Sample(TS, {"q_kvar": 1.0})]))
        flood(
            "ingest", broker.host, broker.port, data_topic("plant-a", "tr-01"), good_batch(2), batch_doc, n,
            lambda: ing.handled, stored_marker, lambda: int(ing.metrics.worker_errors._value.get()),
            lambda: bool(ing.liveness.report()["ok"]), marker,
        )  # fmt: skip
        ing.stop()

        store = Store(f"sqlite:///{work / 'state.sqlite'}")
        alerts = AlertService(store, None, broker.url, tick_s=1.0).start()
        alerts.wait_connected(10)
        time.sleep(0.5)  # its SUBACK (a bench, not a test)

        def alert_handled() -> int:
            return alerts.readings + sum(alerts.bad_payloads.values())

        flood(
            "alert engine", broker.host, broker.port, data_topic("plant-a", "tr-01"), good_batch(3), batch_doc, n,
            alert_handled, None, lambda: alerts.bad_payloads["internal_error"],
            lambda: bool(alerts.liveness.report()["ok"]), good_batch(4),
        )  # fmt: skip
        alerts.stop()

        events = EventStore(work / "dr.sqlite")
        dr = DrIntake(events, broker.url, client_id=f"dr-{uuid.uuid4().hex[:6]}")
        dr.start()
        good_event = json.dumps(GOOD_EVENT).encode()
        flood(
            "DR listener", broker.host, broker.port, dr_events_topic("plant-a"), good_event, GOOD_EVENT, n,
            lambda: len(dr.accepted) + sum(dr.rejected.values()),
            lambda: any(e.id == "ev-after" for e in events.list("plant-a")), lambda: dr.rejected["internal_error"],
            lambda: bool(dr.liveness.report()["ok"]), json.dumps({**GOOD_EVENT, "id": "ev-after"}).encode(),
        )  # fmt: skip
        dr.stop()
    finally:
        influx.stop()
        broker.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
