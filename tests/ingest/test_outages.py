"""No loss across outages: InfluxDB stopped 2 minutes, ingest kill -9, broker restarts, two processes, retiring one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid

import pytest

from harness.influxdb import start_influxdb
from harness.mosquitto import start_mosquitto
from plantcarbon_core.influx import influxql
from plantcarbon_core.wire import ReadingBatch, Sample
from tests.ingest.conftest import TS0, LoadPublisher, count_points, ingest_process, make_batch
from tests.support.mqtt import Publisher
from tests.support.waiting import wait_count

pytestmark = pytest.mark.integration


def stored_samples(target, measurement: str = "unregistered") -> int:  # type: ignore[no-untyped-def]
    return count_points(target, measurement, "v0_kw")


def test_influxdb_stopped_two_minutes_under_load_loses_nothing(mosquitto, ingest_factory, tmp_path):
    influx = start_influxdb(tmp_path / "influxd")  # dedicated: this test stops it
    try:
        target = influx.fresh_target()
        # A small Receive Maximum makes the broker, not ingest's memory, hold most of the backlog.
        svc = ingest_factory(mosquitto.url, target, receive_maximum=200, max_backoff_s=2.0)
        load = LoadPublisher(mosquitto.url, devices=40, rate_hz=1.0).start()
        # Flowing: a precondition, so generous on a loaded machine.
        assert wait_count(lambda: stored_samples(target), 200, 90) >= 200
        influx.stop()
        time.sleep(120)
        influx.start()  # same port, same data
        time.sleep(5)
        sent = load.stop()
        assert sent >= 40 * 5 * 120
        assert wait_count(lambda: stored_samples(target), sent, 180) == sent
        retries = sum(s.value for s in svc.metrics.retries.collect()[0].samples if s.name.endswith("_total"))
        assert retries > 0  # it really did fail and retry
        assert sum(s.value for s in svc.metrics.dead_letters.collect()[0].samples if s.name.endswith("_total")) == 0
    finally:
        influx.stop()


def test_ingest_killed_with_sigkill_under_load_loses_nothing(mosquitto, influx_target, tmp_path):
    cid, group = f"ingest-k9-{uuid.uuid4().hex[:6]}", f"g-{uuid.uuid4().hex[:6]}"
    proc = ingest_process(mosquitto.url, influx_target, cid, group, tmp_path)
    load = LoadPublisher(mosquitto.url, devices=40, rate_hz=2.0).start()
    try:
        # Flowing: a precondition, so generous on a loaded machine.
        assert wait_count(lambda: stored_samples(influx_target), 400, 90) >= 400
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        time.sleep(5)  # published meanwhile: queued by the broker for the session
        proc = ingest_process(mosquitto.url, influx_target, cid, group, tmp_path)
        time.sleep(3)
        sent = load.stop()
        assert wait_count(lambda: stored_samples(influx_target), sent, 120) == sent
    finally:
        load.stop()
        proc.terminate()
        proc.wait(30)
    assert proc.returncode == 0  # SIGTERM: flushed and stopped cleanly


def test_two_processes_on_the_shared_subscription_store_every_point_once(mosquitto, influx_target, tmp_path):
    group = f"g-{uuid.uuid4().hex[:6]}"
    procs = [
        ingest_process(mosquitto.url, influx_target, f"ingest-{n}-{uuid.uuid4().hex[:6]}", group, tmp_path)
        for n in (1, 2)
    ]
    try:
        load = LoadPublisher(mosquitto.url, devices=30, rate_hz=2.0)
        load.start()
        time.sleep(8)
        sent = load.stop()
        assert wait_count(lambda: stored_samples(influx_target), sent, 90) == sent

        # Both processes took part: each wrote its own accounting points.
        def instances() -> int:
            q = influxql(influx_target, 'SHOW TAG VALUES FROM "ingest_quality" WITH KEY = "ingest"')
            return 0 if q.empty else len(q)

        assert wait_count(instances, 2, 30) == 2
        # Values are exact, not just counted: spot-check one batch.
        df = influxql(
            influx_target,
            f"SELECT * FROM \"unregistered\" WHERE device = 'm-007' AND time = {TS0 + 3 * 5 * 1000 + 2000}ms",
        )
        expected = ReadingBatch("edge-01", "m-007", 3, [Sample(0, {f"v{k}_kw": 3002.0 + k / 8 for k in range(8)})])
        assert {k: df[k].iloc[0] for k in expected.samples[0].values} == expected.samples[0].values
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(30)
    assert [p.returncode for p in procs] == [0, 0]


def test_retire_writes_what_the_broker_queued_for_a_stopped_instance(
    mosquitto, influx_target, ingest_factory, tmp_path
):
    group = f"g-{uuid.uuid4().hex[:6]}"
    a_id = f"ingest-a-{uuid.uuid4().hex[:6]}"
    a = ingest_factory(mosquitto.url, influx_target, client_id=a_id, share_group=group)
    ingest_factory(mosquitto.url, influx_target, share_group=group)
    a.stop()  # its session stays in the group: the broker queues a share for it
    load = LoadPublisher(mosquitto.url, devices=20, rate_hz=4.0, samples=1).start()
    time.sleep(3)
    sent = load.stop()
    time.sleep(3)
    assert 0 < stored_samples(influx_target) < sent  # a's share waits at the broker
    env_target = influx_target
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "plantcarbon",
            "ingest",
            "retire",
            "--client-id",
            a_id,
            "--share-group",
            group,
            "--idle",
            "2",
        ],
        env={
            **os.environ,
            "PLANTCARBON_MQTT_URL": mosquitto.url,
            "PLANTCARBON_INFLUX_URL": env_target.url,
            "PLANTCARBON_INFLUX_ORG": env_target.org,
            "PLANTCARBON_INFLUX_TOKEN": env_target.token,
            "PLANTCARBON_INFLUX_RAW_BUCKET": env_target.raw_bucket,
            "PLANTCARBON_DATA_DIR": str(tmp_path),
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"{a_id}: drained" in proc.stdout
    assert wait_count(lambda: stored_samples(influx_target), sent, 30) == sent
    # The group no longer sends anything to the retired instance: all later batches land.
    load = LoadPublisher(mosquitto.url, devices=20, rate_hz=4.0, samples=1, site="load2").start()
    time.sleep(2)
    sent2 = load.stop()
    assert (
        wait_count(lambda: count_points(influx_target, "unregistered", "v0_kw", "site = 'load2'"), sent2, 30) == sent2
    )


def test_broker_restarts_with_ingest_running_and_with_a_queue_for_it(influx_target, ingest_factory, tmp_path):
    broker = start_mosquitto(tmp_path / "mosquitto")  # dedicated: this test restarts it
    try:
        cid = f"ingest-b-{uuid.uuid4().hex[:6]}"
        svc = ingest_factory(broker.url, influx_target, client_id=cid)

        def publish(first_seq: int, n: int) -> None:
            pub = Publisher(broker.url)
            for seq in range(first_seq, first_seq + n):
                pub.batch("b", make_batch("m-001", seq, 5, TS0 + seq * 5000))
            pub.close()

        publish(1, 50)
        assert wait_count(lambda: stored_samples(influx_target), 250, 30) == 250
        broker.stop()
        time.sleep(2)
        broker.start()  # same port, persisted sessions
        assert svc.connected.wait(30)  # ingest reconnected by itself
        publish(51, 50)
        assert wait_count(lambda: stored_samples(influx_target), 500, 30) == 500

        svc.stop()  # the broker now queues for the session …
        publish(101, 50)
        broker.stop()  # … and keeps that queue across its own restart
        broker.start()
        ingest_factory(broker.url, influx_target, client_id=cid, share_group=svc.cfg.share_group)
        assert wait_count(lambda: stored_samples(influx_target), 750, 30) == 750
    finally:
        broker.stop()
