"""The MQTT wire contract: reading-batch round trip, a corpus of bad payloads, topics."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from plantcarbon_core.wire import (
    ReadingBatch,
    Sample,
    WireError,
    data_subscription,
    data_topic,
    decode_batch,
    dlq_topic,
    edge_status_topic,
    encode_batch,
    parse_topic,
)

TS = 1763712000000  # 2025-11-21T08:00:00Z


def good() -> dict:
    return {
        "schema": "pc.readings/1",
        "edge": "edge-01",
        "device": "tr-01",
        "seq": 1234,
        "samples": [{"ts": TS, "values": {"p_kw": 812.4, "e_imp_kwh": 1234567.8}, "bad": {"pf": "timeout"}}],
    }


def test_design_example_decodes() -> None:
    b = decode_batch(json.dumps(good()).encode())
    assert b.device == "tr-01" and b.seq == 1234 and b.edge == "edge-01"
    assert b.samples == [Sample(TS, {"p_kw": 812.4, "e_imp_kwh": 1234567.8}, {"pf": "timeout"})]


def test_integers_become_floats() -> None:
    doc = good()
    doc["samples"][0]["values"] = {"p_kw": 812}
    v = decode_batch(json.dumps(doc)).samples[0].values["p_kw"]
    assert v == 812.0 and type(v) is float


values_st = st.dictionaries(
    st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True),
    st.floats(allow_nan=False, allow_infinity=False),
    min_size=1,
    max_size=5,
)


@given(
    seq=st.integers(0, 2**40),
    samples=st.lists(
        st.builds(Sample, ts=st.integers(946_684_800_000, 4_102_444_799_999), values=values_st),
        min_size=1,
        max_size=5,
    ),
)
def test_round_trip(seq: int, samples: list[Sample]) -> None:
    batch = ReadingBatch(edge="edge-01", device="kiln-2", seq=seq, samples=samples)
    assert decode_batch(encode_batch(batch)) == batch


def mutate(**changes):
    def f():
        d = good()
        for k, v in changes.items():
            if v is ...:
                d.pop(k)
            else:
                d[k] = v
        return json.dumps(d).encode()

    return f


def sample_with(**changes):
    def f():
        d = good()
        d["samples"][0].update(changes)
        return json.dumps(d).encode()

    return f


BAD = [
    ("not utf-8", lambda: b"\xff\xfe{}", "not_utf8"),
    ("not json", lambda: b"{schema:", "not_json"),
    ("json array", lambda: b"[1,2]", "bad_shape"),
    ("wrong schema", mutate(schema="pc.readings/2"), "bad_schema"),
    ("no schema", mutate(schema=...), "bad_schema"),
    ("bad device id", mutate(device="TR 01"), "bad_device"),
    ("missing edge", mutate(edge=...), "bad_edge"),
    ("negative seq", mutate(seq=-1), "bad_seq"),
    ("float seq", mutate(seq=1.5), "bad_seq"),
    ("bool seq", mutate(seq=True), "bad_seq"),
    ("samples not list", mutate(samples={}), "bad_shape"),
    ("empty samples", mutate(samples=[]), "no_samples"),
    ("extra top key", mutate(extra=1), "bad_shape"),
    ("ts in seconds", sample_with(ts=1763712000), "bad_ts"),
    ("ts as string", sample_with(ts="2025-11-21"), "bad_ts"),
    ("value as string", sample_with(values={"p_kw": "812"}), "bad_value"),
    ("value as bool", sample_with(values={"p_kw": True}), "bad_value"),
    ("value null", sample_with(values={"p_kw": None}), "bad_value"),
    ("NaN literal", lambda: json.dumps(good()).replace("812.4", "NaN").encode(), "bad_value"),
    ("Infinity literal", lambda: json.dumps(good()).replace("812.4", "Infinity").encode(), "bad_value"),
    ("bad quantity name", sample_with(values={"P kW": 1.0}), "bad_quantity"),
    ("value and bad at once", sample_with(bad={"p_kw": "timeout"}), "bad_shape"),
    ("empty sample", sample_with(values={}, bad={}), "no_values"),
    # Issue 16 finding 1: float(int) overflowed (400 digits) or hit Python's int-digit limit
    # (5,000 digits) outside the module's own error, killing ingest's worker thread.
    ("400-digit integer value", lambda: json.dumps(good()).replace("812.4", "9" * 400).encode(), "bad_value"),
    ("5000-digit integer value", lambda: json.dumps(good()).replace("812.4", "9" * 5000).encode(), "bad_value"),
    ("5000-digit seq", lambda: json.dumps(good()).replace("1234,", "1" * 5000 + ",").encode(), "bad_value"),
    ("seq beyond int64", mutate(seq=2**63), "bad_seq"),
    ("1e999 float value", lambda: json.dumps(good()).replace("812.4", "1e999").encode(), "bad_value"),
    ("deep nesting", lambda: b'{"schema":' + b"[" * 100_000, "not_json"),
    # Finding 4: a field named like a tag key hides the measurement from `WHERE site = …`.
    *[(f"quantity named {n}", sample_with(values={n: 1.0}), "bad_quantity") for n in ("site", "device", "edge")],
    *[(f"bad entry named {n}", sample_with(bad={n: "x"}), "bad_quantity") for n in ("area", "kind", "time")],
]


@pytest.mark.parametrize(("payload", "reason"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_payloads_rejected_with_reason(payload, reason: str) -> None:
    with pytest.raises(WireError) as info:
        decode_batch(payload())
    assert info.value.reason == reason
    assert str(info.value)  # a message naming the place


@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_crash(data: bytes) -> None:
    with contextlib.suppress(WireError):
        decode_batch(data)


def test_topics_build_and_parse() -> None:
    t = parse_topic(data_topic("plant-a", "tr-01"))
    assert (t.kind, t.site, t.device) == ("data", "plant-a", "tr-01")
    e = parse_topic(edge_status_topic("plant-a", "edge-01"))
    assert (e.kind, e.edge) == ("edge_status", "edge-01")
    assert parse_topic(dlq_topic("ingest")).component == "ingest"
    assert parse_topic("pc/plant-a/alerts/high-demand").rule == "high-demand"
    assert parse_topic("pc/plant-a/dr/events").kind == "dr_events"
    assert data_subscription(share_group="ingest") == "$share/ingest/pc/+/+/data"
    for bad in ["pc", "xx/plant-a/tr-01/data", "pc/plant-a/tr-01/other", "pc/Plant A/tr-01/data"]:
        with pytest.raises(WireError):
            parse_topic(bad)
