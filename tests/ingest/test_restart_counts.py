"""Quality and dead-letter counts survive an ingest restart (issue 16 finding 8), on the real broker and InfluxDB."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from ingest.deadletters import dead_letter_record
from plantcarbon_core.influx import influxql
from plantcarbon_core.wire import ReadingBatch, Sample
from tests.ingest.conftest import TS0
from tests.support.waiting import wait_count, wait_until

pytestmark = pytest.mark.integration


def stored_quality(target, client_id: str) -> int:
    df = influxql(
        target,
        f'SELECT "samples" FROM "ingest_quality" WHERE "ingest" = \'{client_id}\' AND "device" = \'tr-01\'',
        target.raw_bucket,
    )
    return 0 if df.empty else int(df["samples"].sum())


def stored_dead_letters(target, client_id: str) -> int:
    df = influxql(target, f'SELECT "count" FROM "dead_letters" WHERE "ingest" = \'{client_id}\'', target.raw_bucket)
    return 0 if df.empty else int(df["count"].sum())


def batch(seq: int, first: int, n: int) -> ReadingBatch:
    return ReadingBatch("edge-01", "tr-01", seq, [Sample(TS0 + (first + i) * 1000, {"p_kw": 1.0}) for i in range(n)])


def test_a_restarted_instance_adds_to_its_stored_counts(mosquitto, influx_target, ingest_factory, publisher, plant_a):
    cid = f"ingest-restart-{uuid.uuid4().hex[:6]}"
    pub = publisher()
    first = ingest_factory(mosquitto.url, influx_target, [plant_a], client_id=cid)
    pub.batch("plant-a", batch(1, 0, 100))
    for _ in range(3):
        pub.publish("pc/plant-a/tr-01/data", b"not json")
    pub.flush()
    assert wait_count(lambda: stored_quality(influx_target, cid), 100, 30) == 100
    assert wait_count(lambda: stored_dead_letters(influx_target, cid), 3, 30) == 3
    first.stop()

    # The same instance again (same client id, so the same tags): 20 samples it had stored
    # come again (a redelivery), 50 are new, 2 more dead letters.
    second = ingest_factory(mosquitto.url, influx_target, [plant_a], client_id=cid)
    pub.batch("plant-a", batch(1, 80, 20))
    pub.batch("plant-a", batch(2, 100, 50))
    for _ in range(2):
        pub.publish("pc/plant-a/tr-01/data", b"[]")
    pub.flush()
    assert wait_count(lambda: stored_quality(influx_target, cid), 150, 30) == 150
    assert wait_count(lambda: stored_dead_letters(influx_target, cid), 5, 30) == 5
    second.stop()
    # Stable: a final write did not overwrite with a smaller count.
    assert stored_quality(influx_target, cid) == 150 and stored_dead_letters(influx_target, cid) == 5


def test_a_sample_is_counted_in_influxdb_when_it_is_acknowledged(
    mosquitto, influx_target, ingest_factory, publisher, plant_a
):
    # The fault run once found 16 counted for 17 stored: ingest killed just after acking the
    # last sample of an interval, before its 10-s round wrote the count, and restarted in the
    # next interval (nothing redelivered, so nothing merged the old one again). The count now
    # goes out in the sample's own write: with no round at all, it is stored once acked.
    cid = f"ingest-acked-{uuid.uuid4().hex[:6]}"
    svc = ingest_factory(mosquitto.url, influx_target, [plant_a], client_id=cid, quality_every_s=3600)
    pub = publisher()
    pub.batch("plant-a", batch(1, 0, 30))
    pub.flush()
    assert wait_until(lambda: svc.handled >= 1, 30), "the message was not acknowledged"
    assert stored_quality(influx_target, cid) == 30  # no waiting: a kill now would lose nothing


def test_dead_letters_a_killed_run_filed_are_counted_at_the_next_start(
    mosquitto, influx_target, ingest_factory, publisher, plant_a, tmp_path: Path
):
    # The run before was killed after filing 3 dead letters and before its round wrote their
    # count; their interval may have ended since, so no new dead letter would merge it.
    cid = f"ingest-dlq-{uuid.uuid4().hex[:6]}"
    earlier = int(time.time() * 1000) - 1000
    records = [dead_letter_record("not_json", "not JSON", "pc/plant-a/tr-01/data", b"x", earlier) for _ in range(3)]
    (tmp_path / f"dlq-{cid}.jsonl").write_text("".join(r + "\n" for r in records))
    ingest_factory(mosquitto.url, influx_target, [plant_a], client_id=cid)
    assert wait_count(lambda: stored_dead_letters(influx_target, cid), 3, 30) == 3
    pub = publisher()
    for _ in range(2):
        pub.publish("pc/plant-a/tr-01/data", b"not json")
    pub.flush()
    assert wait_count(lambda: stored_dead_letters(influx_target, cid), 5, 30) == 5
