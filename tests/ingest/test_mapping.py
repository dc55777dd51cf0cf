"""Message → line protocol mapping and its rejections (pure, no services)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.mapping import UNREGISTERED, Rejected, TagBook, map_data, map_status
from plantcarbon_core.wire import ReadingBatch, Sample, encode_batch

TS = 1_763_712_000_000
GOOD = encode_batch(ReadingBatch("edge-01", "tr-01", 1, [Sample(TS, {"p_kw": 1.5})]))


@pytest.fixture(scope="module")
def book(plant_a) -> TagBook:  # type: ignore[no-untyped-def]
    return TagBook.from_plants([plant_a])


def test_registered_device_gets_plant_tags(book: TagBook) -> None:
    m = map_data("pc/plant-a/tr-01/data", GOOD, book, "pc")
    assert m.registered and m.values == 1
    assert m.lines == [
        "electricity,area=substation,device=tr-01,edge=edge-01,kind=transformer,site=plant-a p_kw=1.5 1763712000000"
    ]


def test_unregistered_device_is_stored_under_its_own_measurement(book: TagBook) -> None:
    payload = encode_batch(ReadingBatch("edge-01", "ghost-1", 1, [Sample(TS, {"p_kw": 2.0})]))
    m = map_data("pc/plant-a/ghost-1/data", payload, book, "pc")
    assert not m.registered
    assert m.lines == [f"{UNREGISTERED},device=ghost-1,edge=edge-01,site=plant-a p_kw=2 1763712000000"]


def test_without_plant_files_every_site_is_accepted() -> None:
    m = map_data("pc/any-site/tr-01/data", GOOD, TagBook.from_plants([]), "pc")
    assert not m.registered and m.site == "any-site"


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        ("pc/plant-a/kiln-1/data", GOOD, "device_mismatch"),
        ("pc/plant-b/tr-01/data", GOOD, "site_mismatch"),
        ("pc/plant-a/tr-01/status", GOOD, "bad_topic"),
        ("other/plant-a/tr-01/data", GOOD, "bad_topic"),
        ("pc/plant-a/tr-01/data", b"\xff\xfe", "not_utf8"),
        ("pc/plant-a/tr-01/data", b"{", "not_json"),
        ("pc/plant-a/tr-01/data", b"[]", "bad_shape"),
        ("pc/plant-a/tr-01/data", GOOD.replace(b"pc.readings/1", b"pc.readings/2"), "bad_schema"),
        ("pc/plant-a/tr-01/data", GOOD.replace(b'"seq":1', b'"seq":-1'), "bad_seq"),
        ("pc/plant-a/tr-01/data", GOOD.replace(b"1.5", b"NaN"), "bad_value"),
        ("pc/plant-a/tr-01/data", GOOD.replace(b"1.5", b'"1.5"'), "bad_value"),
        ("pc/plant-a/tr-01/data", GOOD.replace(str(TS).encode(), b"12"), "bad_ts"),
    ],
)
def test_rejections_name_their_reason(book: TagBook, topic: str, payload: bytes, reason: str) -> None:
    with pytest.raises(Rejected) as exc:
        map_data(topic, payload, book, "pc")
    assert exc.value.reason == reason


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=10,
)


def _mutated_batch() -> st.SearchStrategy[bytes]:
    """Valid batches with one key replaced by an arbitrary JSON value: the near-misses."""
    keys = ["schema", "edge", "device", "seq", "samples", "extra"]
    return st.builds(lambda k, v: json.dumps({**json.loads(GOOD), k: v}).encode(), st.sampled_from(keys), json_values)


@settings(max_examples=400, deadline=None)
@given(payload=st.binary(max_size=64) | json_values.map(lambda v: json.dumps(v).encode()) | _mutated_batch())
def test_fuzz_any_payload_is_mapped_or_rejected_with_a_reason(book: TagBook, payload: bytes) -> None:
    try:
        m = map_data("pc/plant-a/tr-01/data", payload, book, "pc")
    except Rejected as exc:
        assert exc.reason and " " not in exc.reason
    else:
        assert m.batch.device == "tr-01" and all(line.startswith("electricity,") for line in m.lines)


def test_status_line() -> None:
    payload = json.dumps({"online": True, "ts": TS, "poll_ms": 12, "errors": 3}).encode()
    assert map_status("pc/plant-a/tr-01/status", payload, "pc") == (
        "device_status,device=tr-01,site=plant-a errors=3,online=true,poll_ms=12 1763712000000"
    )
    assert map_status("pc/plant-a/tr-01/status", b"", "pc") is None
    with pytest.raises(Rejected) as exc:
        map_status("pc/plant-a/tr-01/status", b'{"online": "yes", "ts": 1}', "pc")
    assert exc.value.reason == "bad_status"
