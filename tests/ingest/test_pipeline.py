"""Published reading batches are queryable through InfluxQL with exact values, tags and timestamps."""

from __future__ import annotations

import json
import time

import pytest

from plantcarbon_core.influx import influxql
from plantcarbon_core.wire import ReadingBatch, Sample, status_topic
from tests.ingest.conftest import TS0, count_points
from tests.support.waiting import wait_count

pytestmark = pytest.mark.integration


def test_batches_are_stored_exactly_with_plant_tags(mosquitto, influx_target, ingest_factory, publisher, plant_a):
    ingest_factory(mosquitto.url, influx_target, [plant_a])
    pub = publisher()
    pub.batch(
        "plant-a",
        ReadingBatch(
            "edge-01",
            "tr-01",
            1,
            [
                Sample(TS0, {"p_kw": 812.4, "e_imp_kwh": 1234567.8}),
                Sample(TS0 + 1000, {"p_kw": 812.0, "e_imp_kwh": 1234568.0}, {"pf": "timeout"}),
                Sample(TS0 + 2000, {}, {"p_kw": "timeout"}),  # only bad entries: nothing to store
            ],
        ),
    )
    pub.batch("plant-a", ReadingBatch("edge-02", "boiler-1", 9, [Sample(TS0, {"flow_nm3h": 55.5})]))
    # A device the plant file does not list: stored under `unregistered`, still exact.
    pub.batch("plant-a", ReadingBatch("edge-01", "mystery-7", 3, [Sample(TS0 + 5, {"p_kw": -1.25e-7})]))
    pub.flush()

    assert wait_count(lambda: count_points(influx_target, "electricity", "p_kw"), 2) == 2
    df = influxql(influx_target, 'SELECT * FROM "electricity" GROUP BY *')
    df = df.sort_values("time").reset_index(drop=True)
    assert [t.value // 10**6 for t in df["time"]] == [TS0, TS0 + 1000]
    assert list(df["p_kw"]) == [812.4, 812.0]
    assert list(df["e_imp_kwh"]) == [1234567.8, 1234568.0]
    assert set(df["site"]) == {"plant-a"} and set(df["area"]) == {"substation"}
    assert set(df["kind"]) == {"transformer"} and set(df["device"]) == {"tr-01"} and set(df["edge"]) == {"edge-01"}
    assert "pf" not in df.columns  # a bad entry is not a field

    assert wait_count(lambda: count_points(influx_target, "natural_gas", "flow_nm3h"), 1) == 1
    gas = influxql(influx_target, 'SELECT * FROM "natural_gas" GROUP BY *')
    assert gas["flow_nm3h"].tolist() == [55.5] and gas["area"].tolist() == ["utilities"]
    assert gas["kind"].tolist() == ["boiler"] and gas["edge"].tolist() == ["edge-02"]

    assert wait_count(lambda: count_points(influx_target, "unregistered", "p_kw"), 1) == 1
    un = influxql(influx_target, 'SELECT * FROM "unregistered" GROUP BY *')
    assert un["p_kw"].tolist() == [-1.25e-7] and un["device"].tolist() == ["mystery-7"]
    assert "area" not in un.columns and "kind" not in un.columns
    assert un["time"].iloc[0].value // 10**6 == TS0 + 5


def test_accounting_and_device_status(mosquitto, influx_target, ingest_factory, publisher, plant_a):
    svc = ingest_factory(mosquitto.url, influx_target, [plant_a])
    pub = publisher()
    # boiler-1 polls every 15 s: 60 samples expected per 15-minute interval.
    for seq, first in ((1, 0), (2, 10), (5, 20), (5, 20)):  # seqs 3 and 4 missing, seq 5 twice
        samples = [Sample(TS0 + (first + i) * 15_000, {"flow_nm3h": float(i)}) for i in range(10)]
        pub.batch("plant-a", ReadingBatch("edge-01", "boiler-1", seq, samples))
        pub.flush()
        time.sleep(0.3)  # in order: gaps are counted in arrival order
    pub.publish(status_topic("plant-a", "boiler-1"), json.dumps({"online": False, "ts": TS0, "error": "timeout"}))
    pub.flush()

    def quality_samples() -> int:
        df = influxql(influx_target, 'SELECT * FROM "ingest_quality"')
        return 0 if df.empty else int(df["samples"].max())

    assert wait_count(quality_samples, 30) == 30
    q = influxql(influx_target, 'SELECT * FROM "ingest_quality" GROUP BY *')
    row = q.iloc[0]
    assert int(row["time"].value // 10**6) == TS0
    assert (row["samples"], row["expected"], row["seq_gaps"], row["duplicates"]) == (30, 60, 2, 1)
    assert row["completeness_pct"] == 50.0
    assert row["device"] == "boiler-1" and row["ingest"] == svc.cfg.client_id

    assert wait_count(lambda: count_points(influx_target, "device_status", "online"), 1) == 1
    st = influxql(influx_target, 'SELECT * FROM "device_status" GROUP BY *')
    assert st["online"].tolist() == [False] and st["error"].tolist() == ["timeout"]
    assert svc.metrics.seq_gaps._value.get() == 2 and svc.metrics.duplicates._value.get() == 1


def test_mqtt_311_plain_subscription(mosquitto, influx_target, ingest_factory, publisher):
    ingest_factory(mosquitto.url, influx_target, protocol="3.1.1")
    pub = publisher()
    pub.batch("site-x", ReadingBatch("edge-01", "m-1", 1, [Sample(TS0, {"p_kw": 7.0})]))
    pub.flush()
    assert wait_count(lambda: count_points(influx_target, "unregistered", "p_kw"), 1, 30) == 1


def test_graceful_stop_acknowledges_everything_it_wrote(mosquitto, influx_target, ingest_factory, publisher):
    cid = "ingest-graceful-" + str(TS0)
    svc = ingest_factory(mosquitto.url, influx_target, client_id=cid, batch_max_age_s=30.0)
    pub = publisher()
    for seq in range(1, 21):
        pub.batch("s", ReadingBatch("edge-01", "m-1", seq, [Sample(TS0 + seq, {"p_kw": float(seq)})]))
    pub.flush()
    # All received, none acknowledged yet (the batch stays open for 30 s): stop() must flush it.
    assert wait_count(svc.pipeline_messages, 20, 10) == 20
    assert svc.handled == 0
    svc.stop()
    assert count_points(influx_target, "unregistered", "p_kw") == 20
    # The same session again: had any message been left unacknowledged, the broker would
    # redeliver it now.
    again = ingest_factory(mosquitto.url, influx_target, client_id=cid, share_group=svc.cfg.share_group)
    time.sleep(3)
    assert again.handled == 0
