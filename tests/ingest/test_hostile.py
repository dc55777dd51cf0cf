"""Hostile input through the real Mosquitto: after each bad message ingest is alive, the message is
dead-lettered exactly once, and a good message sent next is stored (issue 16 findings 1, 4, 5, 6)."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from ingest import service as ingest_service
from plantcarbon_core.liveness import serve
from plantcarbon_core.wire import ReadingBatch, Sample, dlq_topic
from tests.ingest.conftest import TS0, count_points
from tests.support.mqtt import Collector
from tests.support.waiting import wait_count

pytestmark = pytest.mark.integration

TOPIC = "pc/plant-a/tr-01/data"


def doc(values: object = None, ts: object = TS0, seq: object = 1, device: str = "tr-01") -> bytes:
    sample = {"ts": ts, "values": {"p_kw": 1.5} if values is None else values}
    return json.dumps(
        {"schema": "pc.readings/1", "edge": "edge-01", "device": device, "seq": seq, "samples": [sample]}
    ).encode()


def future_ts() -> int:
    return int((time.time() + 3600) * 1000)  # an hour ahead: beyond the 5-minute skew allowed


HOSTILE: list[tuple[str, str, bytes | None, str]] = [
    # (case, topic, payload — None: built when sent, reason)
    (
        "400-digit integer",
        TOPIC,
        b'{"schema":"pc.readings/1","edge":"e","device":"tr-01","seq":1,'
        b'"samples":[{"ts":%d,"values":{"p_kw":%s}}]}' % (TS0, b"9" * 400),
        "bad_value",
    ),
    ("5000-digit integer", TOPIC, doc().replace(b'"seq": 1', b'"seq": ' + b"7" * 5000), "bad_value"),
    ("deep nesting", TOPIC, b'{"schema":"pc.readings/1","samples":' + b"[" * 200_000, "not_json"),
    ("NaN", TOPIC, doc().replace(b"1.5", b"NaN"), "bad_value"),
    ("1e999", TOPIC, doc().replace(b"1.5", b"1e999"), "bad_value"),
    ("string value", TOPIC, doc({"p_kw": "1.5"}), "bad_value"),
    ("object value", TOPIC, doc({"p_kw": {"v": 1}}), "bad_value"),
    ("seq as list", TOPIC, doc(seq=[1]), "bad_seq"),
    ("field named site", TOPIC, doc({"site": 1.0}), "bad_quantity"),
    ("field named time", TOPIC, doc({"time": 1.0}), "bad_quantity"),
    ("far past", TOPIC, doc(ts=1), "bad_ts"),
    ("year 2099", TOPIC, doc(ts=4_070_908_800_000), "future_ts"),
    ("an hour ahead", TOPIC, None, "future_ts"),
    ("status from 2099", "pc/plant-a/tr-01/status", b'{"online":true,"ts":4070908800000}', "future_ts"),
    ("1 MB of junk", TOPIC, b"{" + b" " * 1_000_000 + b"}", "bad_schema"),
    ("1 MB of samples", TOPIC, None, "bad_quantity"),
    ("device of another topic", "pc/plant-a/kiln-1/data", doc(), "device_mismatch"),
    ("unknown site", "pc/plant-x/tr-01/data", doc(), "site_mismatch"),
]


def build(case: str, payload: bytes | None) -> bytes:
    if payload is not None:
        return payload
    if case == "an hour ahead":
        return doc(ts=future_ts())
    # ~1 MB of valid samples, the last one carrying a reserved name.
    samples = [{"ts": TS0 + i, "values": {"p_kw": float(i)}} for i in range(30_000)]
    samples[-1]["values"] = {"edge": 1.0}
    return json.dumps(
        {"schema": "pc.readings/1", "edge": "edge-01", "device": "tr-01", "seq": 1, "samples": samples}
    ).encode()


def test_each_hostile_message_is_dead_lettered_once_and_ingest_stores_the_next(
    mosquitto, influx_target, ingest_factory, publisher, plant_a
):
    svc = ingest_factory(mosquitto.url, influx_target, [plant_a])
    server = serve(svc.liveness, svc.metrics.registry, 0)
    health = f"http://127.0.0.1:{server.server_address[1]}/healthz"
    listener = Collector(mosquitto, dlq_topic("ingest"))
    pub = publisher()
    try:
        for n, (case, topic, payload, reason) in enumerate(HOSTILE, start=1):
            pub.publish(topic, build(case, payload))
            pub.flush()
            records = [m.json() for m in listener.wait_count(n, 60)]
            assert len(records) == n, case
            assert records[-1]["reason"] == reason and records[-1]["topic"] == topic, (case, records[-1]["message"])
            # A good message right after is stored: the worker and writer are alive.
            good = ReadingBatch("edge-01", "tr-01", 100 + n, [Sample(TS0 + n * 1000, {"q_kvar": float(n)})])
            pub.batch("plant-a", good)
            pub.flush()
            assert wait_count(lambda n=n: count_points(influx_target, "electricity", "q_kvar"), n, 30) == n, case
            rep = httpx.get(health, timeout=5)
            assert rep.status_code == 200 and rep.json()["ok"], (case, rep.text)
        # Exactly once each, in the file as on the topic; none counted twice.
        lines = svc.cfg.dlq_file.read_text().splitlines()  # type: ignore[union-attr]
        assert len(lines) == len(HOSTILE) == len(listener.messages)
        counted = sum(s.value for s in svc.metrics.dead_letters.collect()[0].samples if s.name.endswith("_total"))
        assert counted == len(HOSTILE)
        # A 1 MB payload costs a capped record, not another megabyte.
        assert max(len(x) for x in lines) < 100_000
        assert svc.metrics.worker_errors._value.get() == 0
    finally:
        listener.close()
        server.shutdown()


def test_a_bug_on_one_message_dead_letters_it_and_the_worker_goes_on(
    mosquitto, influx_target, ingest_factory, publisher, plant_a, monkeypatch
):
    real = ingest_service.map_data

    def buggy(topic: str, payload: bytes, *a: object, **kw: object) -> object:
        if b"trigger-bug" in payload:
            raise KeyError("a bug")
        return real(topic, payload, *a, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(ingest_service, "map_data", buggy)
    svc = ingest_factory(mosquitto.url, influx_target, [plant_a])
    listener = Collector(mosquitto, dlq_topic("ingest"))
    pub = publisher()
    try:
        pub.publish(TOPIC, doc({"p_kw": 1.0}).replace(b"edge-01", b"trigger-bug"))
        pub.batch("plant-a", ReadingBatch("edge-01", "tr-01", 2, [Sample(TS0, {"q_kvar": 2.0})]))
        pub.flush()
        assert [m.json()["reason"] for m in listener.wait_count(1, 60)] == ["internal_error"]
        assert wait_count(lambda: count_points(influx_target, "electricity", "q_kvar"), 1, 30) == 1
        assert svc.metrics.worker_errors._value.get() == 1
        assert svc.liveness.report()["workers"]["worker"]["alive"]
    finally:
        listener.close()


def test_health_turns_red_when_a_worker_thread_is_gone(mosquitto, influx_target, ingest_factory, plant_a):
    svc = ingest_factory(mosquitto.url, influx_target, [plant_a])
    server = serve(svc.liveness, svc.metrics.registry, 0)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        assert httpx.get(f"{base}/healthz", timeout=5).status_code == 200
        svc._inbox.put(ingest_service._STOP)  # the worker ends, as an escaped exception used to end it
        svc._threads[0].join(10)
        rep = httpx.get(f"{base}/healthz", timeout=5)
        assert rep.status_code == 503
        assert rep.json()["workers"]["worker"]["alive"] is False
        assert 'worker_alive{worker="worker"} 0.0' in httpx.get(f"{base}/metrics", timeout=5).text
    finally:
        server.shutdown()
