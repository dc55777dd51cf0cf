"""Real InfluxDB 2.7: writes through influxdb-client come back exactly through InfluxQL /query."""

from __future__ import annotations

import pytest

from harness.influxdb import INFLUXDB_VERSION, InfluxDB
from plantcarbon_core.influx import DeviceTags, InfluxQLError, InfluxTarget, batch_lines, influxql, write_lines
from plantcarbon_core.wire import ReadingBatch, Sample

pytestmark = pytest.mark.integration
T0 = 1763712000000


def test_reports_pinned_version(influxdb: InfluxDB) -> None:
    assert influxdb.version == f"v{INFLUXDB_VERSION}"


def test_batch_written_and_read_back_exactly(influx_target: InfluxTarget) -> None:
    batch = ReadingBatch(
        "edge-01",
        "tr-01",
        1,
        [
            Sample(T0, {"p_kw": 812.4, "e_imp_kwh": 1234567.8}),
            Sample(T0 + 1000, {"p_kw": 813.0, "e_imp_kwh": 1234568.05}),
        ],
    )
    tags = DeviceTags(site="plant-a", carrier="electricity", area="sub station", kind="transformer")
    write_lines(influx_target, influx_target.raw_bucket, batch_lines(batch, tags))
    df = influxql(
        influx_target,
        'SELECT "p_kw", "e_imp_kwh", "area", "edge" FROM "electricity" WHERE "device" = \'tr-01\'',
        influx_target.raw_bucket,
    )
    assert list(df["p_kw"]) == [812.4, 813.0]
    assert list(df["e_imp_kwh"]) == [1234567.8, 1234568.05]
    assert [int(t.timestamp() * 1000) for t in df["time"]] == [T0, T0 + 1000]
    assert set(df["area"]) == {"sub station"} and set(df["edge"]) == {"edge-01"}


def test_group_by_tags_become_columns(influx_target: InfluxTarget) -> None:
    write_lines(
        influx_target,
        influx_target.metering_bucket,
        [
            f"energy,device=a,site=s amount=1.5 {T0}",
            f"energy,device=b,site=s amount=2.5 {T0}",
            f"energy,device=b,site=s amount=3 {T0 + 900_000}",
        ],
    )
    df = influxql(influx_target, 'SELECT sum("amount") FROM "energy" GROUP BY "device"', influx_target.metering_bucket)
    assert dict(zip(df["device"], df["sum"], strict=True)) == {"a": 1.5, "b": 5.5}


def test_buckets_are_isolated(influxdb: InfluxDB) -> None:
    a, b = influxdb.fresh_target(), influxdb.fresh_target()
    write_lines(a, a.raw_bucket, [f"electricity,device=x p_kw=1 {T0}"])
    assert influxql(b, 'SELECT * FROM "electricity"', b.raw_bucket).empty
    assert len(influxql(a, 'SELECT * FROM "electricity"', a.raw_bucket)) == 1


def test_bad_query_raises_with_server_message(influx_target: InfluxTarget) -> None:
    with pytest.raises(InfluxQLError, match="failed to parse query: found SELEC"):
        influxql(influx_target, "SELEC nonsense", influx_target.raw_bucket)
