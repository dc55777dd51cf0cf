"""Malformed payloads and refused lines go to the dead-letter topic and file with their reason; ingest goes on."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest

from ingest.mapping import Rejected, TagBook, map_data
from ingest.writer import InfluxWriter
from plantcarbon_core.influx import influxql, write_lines
from plantcarbon_core.wire import ReadingBatch, Sample, dlq_topic, encode_batch
from tests.ingest.conftest import TS0, count_points
from tests.support.fuzz import byte_mutations
from tests.support.mqtt import Collector
from tests.support.waiting import wait_count

pytestmark = pytest.mark.integration

GOOD = encode_batch(ReadingBatch("edge-01", "tr-01", 1, [Sample(TS0, {"p_kw": 1.5})]))
CORPUS: list[tuple[str, bytes, str]] = [
    ("pc/plant-a/tr-01/data", b"\xc3\x28garbage", "not_utf8"),
    ("pc/plant-a/tr-01/data", b"not json at all", "not_json"),
    ("pc/plant-a/tr-01/data", b"", "not_json"),
    ("pc/plant-a/tr-01/data", b"[1,2,3]", "bad_shape"),
    ("pc/plant-a/tr-01/data", b"[" * 100_000, "not_json"),  # recursion bomb
    ("pc/plant-a/tr-01/data", GOOD.replace(b"pc.readings/1", b"v0"), "bad_schema"),
    ("pc/plant-a/tr-01/data", GOOD.replace(b'"edge-01"', b'"EDGE 01"'), "bad_edge"),
    ("pc/plant-a/tr-01/data", GOOD.replace(b'"seq":1', b'"seq":1.5'), "bad_seq"),
    ("pc/plant-a/tr-01/data", GOOD.replace(b"1.5", b"Infinity"), "bad_value"),
    ("pc/plant-a/tr-01/data", GOOD.replace(b"1.5", b"true"), "bad_value"),
    ("pc/plant-a/tr-01/data", GOOD.replace(b'"p_kw"', b'"P KW"'), "bad_quantity"),
    ("pc/plant-a/tr-01/data", GOOD.replace(str(TS0).encode(), b"-5"), "bad_ts"),
    ("pc/plant-a/tr-01/data", GOOD.replace(b'"samples":[', b'"samples":[]]+['), "not_json"),
    ("pc/plant-a/kiln-1/data", GOOD, "device_mismatch"),
    ("pc/plant-z/tr-01/data", GOOD, "site_mismatch"),
    ("pc/plant-a/tr-01/status", b"{online}", "bad_status"),
]


def payload_digest(rec: dict[str, object]) -> str:
    """SHA-256 of the dead-lettered payload: of its bytes, or as recorded when it was capped."""
    kept = base64.b64decode(str(rec["payload_b64"]))
    assert rec["payload_bytes"] == len(kept) or rec.get("payload_truncated") is True
    return str(rec["payload_sha256"]) if rec.get("payload_truncated") else hashlib.sha256(kept).hexdigest()


def test_malformed_corpus_and_fuzz_flood_are_dead_lettered_and_ingest_goes_on(
    mosquitto, influx_target, ingest_factory, publisher, plant_a
):
    svc = ingest_factory(mosquitto.url, influx_target, [plant_a])
    listener = Collector(mosquitto, dlq_topic("ingest"))
    pub = publisher()
    try:
        for topic, payload, _ in CORPUS:
            pub.publish(topic, payload)
        # A seeded flood of byte-level mutations of a valid batch; the pure mapper is the oracle
        # for which of them are bad (its own fuzzing is in test_mapping.py).
        book = TagBook.from_plants([plant_a])
        expected_bad = 0
        for b in byte_mutations(GOOD, 300, seed=5):
            try:
                map_data("pc/plant-a/tr-01/data", b, book, "pc")
            except Rejected:
                expected_bad += 1
            pub.publish("pc/plant-a/tr-01/data", b)
        pub.flush()
        records = [m.json() for m in listener.wait_count(len(CORPUS) + expected_bad, 60)]
        assert len(records) == len(CORPUS) + expected_bad
        by_payload = {(r["topic"], payload_digest(r)): r for r in records}
        for topic, payload, reason in CORPUS:
            rec = by_payload[(topic, hashlib.sha256(payload).hexdigest())]  # the bytes travel with the reason
            assert rec["reason"] == reason, (payload[:40], rec)
            assert rec["component"] == "ingest" and rec["message"]
        file_lines = [json.loads(x) for x in svc.cfg.dlq_file.read_text().splitlines()]  # type: ignore[union-attr]
        assert len(file_lines) == len(records)
        counted = sum(s.value for s in svc.metrics.dead_letters.collect()[0].samples if s.name.endswith("_total"))
        assert counted == len(records)

        # The counts reach InfluxDB too (the data-quality dashboard reads them), per reason.
        def stored_dead_letters() -> int:
            df = influxql(influx_target, 'SELECT sum("count") FROM "dead_letters"', influx_target.raw_bucket)
            return 0 if df.empty else int(df["sum"].sum())

        assert wait_count(stored_dead_letters, len(records)) == len(records)

        # Ingest is still alive and storing.
        pub.batch("plant-a", ReadingBatch("edge-01", "tr-01", 2, [Sample(TS0 + 999, {"q_kvar": 3.25})]))
        pub.flush()
        assert wait_count(lambda: count_points(influx_target, "electricity", "q_kvar"), 1) == 1
    finally:
        listener.close()


def test_field_type_conflict_isolates_only_the_offending_lines(
    mosquitto, influx_target, ingest_factory, publisher, plant_a
):
    # An integer p_kw already in the shard: later float p_kw lines conflict (HTTP 422).
    write_lines(influx_target, influx_target.raw_bucket, [f"electricity,device=old p_kw=5i {TS0 - 60_000}"])
    svc = ingest_factory(mosquitto.url, influx_target, [plant_a], batch_max_age_s=1.0)
    listener = Collector(mosquitto, dlq_topic("ingest"))
    pub = publisher()
    try:
        samples = [
            Sample(TS0 + i * 1000, {"p_kw": 1.0 + i} if i % 10 == 3 else {"q_kvar": float(i)}) for i in range(100)
        ]
        pub.batch("plant-a", ReadingBatch("edge-01", "tr-01", 1, samples))
        pub.flush()
        assert wait_count(lambda: count_points(influx_target, "electricity", "q_kvar"), 90) == 90
        # One dead letter for the message (issue 16 finding 6: it was one per refused line,
        # each with the whole payload again), listing the refused lines by index.
        records = [m.json() for m in listener.wait_count(1, 60)]
        assert len(records) == 1
        rec = records[0]
        assert rec["reason"] == "influx_422" and rec["refused_lines"] == 10
        assert [x["line"] for x in rec["lines"]] == list(range(3, 100, 10))  # type: ignore[index, union-attr]
        assert base64.b64decode(str(rec["payload_b64"])) == encode_batch(ReadingBatch("edge-01", "tr-01", 1, samples))
        df = influxql(influx_target, 'SELECT "p_kw" FROM "electricity"')
        assert len(df) == 1  # only the pre-existing integer point
        # The message was acknowledged once its good lines were written and bad ones dead-lettered.
        assert wait_count(lambda: int(svc.metrics.messages.labels("stored")._value.get()), 1) == 1
    finally:
        listener.close()


def test_a_message_whose_every_line_is_refused_costs_one_write(influx_target):
    # Issue 16 finding 6: 500 lines InfluxDB refuses one by one took 999 HTTP writes (bisection).
    write_lines(influx_target, influx_target.raw_bucket, [f"electricity,device=old p_kw=5i {TS0 - 60_000}"])
    requests: list[int] = []
    writer = InfluxWriter(influx_target, on_request=lambda: requests.append(1))
    try:
        lines = [f"electricity,device=tr-01,site=plant-a p_kw={i}.5 {TS0 + i * 1000}" for i in range(500)]
        refused = writer.write(lines)
    finally:
        writer.close()
    assert [r.line for r in refused] == lines and {r.status for r in refused} == {422}
    assert len(requests) == 1


def test_unparsable_lines_are_named_by_influxdb_and_the_rest_written_in_one_more_write(influx_target):
    requests: list[int] = []
    writer = InfluxWriter(influx_target, on_request=lambda: requests.append(1))
    try:
        good = [f"electricity,device=tr-01 q_kvar={i}.5 {TS0 + i * 1000}" for i in range(200)]
        bad = ["electricity,device=tr-01 q_kvar= 1", "electricity,device=tr-01 q_kvar=1.2.3 2"]
        refused = writer.write(good[:100] + bad + good[100:])
    finally:
        writer.close()
    assert sorted(r.line for r in refused) == sorted(bad) and {r.status for r in refused} == {400}
    assert len(requests) == 2  # the refused request, then the good lines once
    assert count_points(influx_target, "electricity", "q_kvar") == 200
