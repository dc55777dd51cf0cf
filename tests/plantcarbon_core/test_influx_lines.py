"""Line protocol built as text agrees with influxdb-client's own Point serializer."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from influxdb_client import Point, WritePrecision

from plantcarbon_core.influx import DeviceTags, batch_lines, line
from plantcarbon_core.wire import ReadingBatch, Sample

# Printable text including the characters line protocol escapes: , = space " \
text = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=0x2FF), min_size=1, max_size=12).filter(
    lambda s: s.strip() == s and s.strip() != "" and not s.startswith("#")
)


def reference(measurement: str, tags: dict[str, str], fields: dict[str, float], ts: int) -> str:
    p = Point(measurement)
    for k, v in sorted(tags.items()):
        p.tag(k, v)
    for k, v in fields.items():
        p.field(k, v)
    p.time(ts, WritePrecision.MS)
    return p.to_line_protocol()


@settings(max_examples=300)
@given(
    measurement=text,
    tags=st.dictionaries(text, text, max_size=4),
    fields=st.dictionaries(text, st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=4),
    ts=st.integers(946_684_800_000, 4_102_444_799_999),
)
def test_line_matches_influxdb_client(
    measurement: str, tags: dict[str, str], fields: dict[str, float], ts: int
) -> None:
    assert line(measurement, tags, fields, ts) == reference(measurement, tags, fields, ts)


def test_batch_lines_tags_and_float_fields() -> None:
    batch = ReadingBatch(
        "edge-01",
        "tr-01",
        7,
        [
            Sample(1763712000000, {"p_kw": 812.0, "e_imp_kwh": 1234567.8}),
            Sample(1763712001000, {}, {"pf": "timeout"}),  # only bad entries: no line
        ],
    )
    lines = batch_lines(batch, DeviceTags(site="plant-a", carrier="electricity", area="main sub", kind="transformer"))
    assert lines == [
        "electricity,area=main\\ sub,device=tr-01,edge=edge-01,kind=transformer,site=plant-a "
        "e_imp_kwh=1234567.8,p_kw=812 1763712000000"
    ]
    ref = reference(
        "electricity",
        {"area": "main sub", "device": "tr-01", "edge": "edge-01", "kind": "transformer", "site": "plant-a"},
        {"p_kw": 812.0, "e_imp_kwh": 1234567.8},
        1763712000000,
    )
    assert lines[0] == ref


quantity = st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True)


@settings(max_examples=200)
@given(
    samples=st.lists(
        st.dictionaries(
            quantity, st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(10**6), 10**6), max_size=5
        ),
        min_size=1,
        max_size=6,
    ),
    area=text,
    kind=text,
)
def test_batch_lines_match_influxdb_client(samples: list[dict[str, float]], area: str, kind: str) -> None:
    # Samples with the same and with different key sets: the per-batch name cache must not leak.
    batch = ReadingBatch("edge-01", "tr-01", 1, [Sample(1763712000000 + i, v) for i, v in enumerate(samples)])
    dev = DeviceTags(site="plant-a", carrier="electricity", area=area, kind=kind)
    tags = {"area": area, "device": "tr-01", "edge": "edge-01", "kind": kind, "site": "plant-a"}
    want = [
        reference("electricity", tags, {k: float(x) for k, x in v.items()}, 1763712000000 + i)
        for i, v in enumerate(samples)
        if v
    ]
    assert batch_lines(batch, dev) == want
