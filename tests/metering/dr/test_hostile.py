"""Hostile DR events through the real Mosquitto: each is refused and counted once, the listener stays up.

Issue 16 finding 2: deeply nested JSON or a huge number escaped `parse_event` (RecursionError,
ValueError past Python's int-digit limit), paho re-raised it and the listener's network
thread ended.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.mosquitto import Mosquitto
from metering.dr.events import EventError, parse_event
from metering.dr.intake import DrIntake
from metering.dr.store import EventStore
from plantcarbon_core.wire import dr_events_topic
from tests.metering.dr.test_events import GOOD
from tests.support.fuzz import byte_mutations
from tests.support.mqtt import Publisher

TOPIC = dr_events_topic("plant-a")


def with_(**changes: object) -> bytes:
    return json.dumps({**GOOD, **changes}).encode()


HOSTILE = [
    ("deep nesting", b'{"id":' + b"[" * 200_000, "not_json"),
    ("5000-digit integer", json.dumps(GOOD).replace("500", "5" * 5000).encode(), "not_json"),
    ("400-digit integer", json.dumps(GOOD).replace("500", "5" * 400).encode(), "invalid"),
    ("NaN reduction", json.dumps(GOOD).replace("500", "NaN").encode(), "invalid"),
    ("nested params", with_(programme={"baseline_params": json.loads("[" * 500 + "]" * 500)}), "invalid"),
    ("1 MB note", with_(note="x" * 1_000_000), "invalid"),
    ("wrong types", with_(meters="tr-01", start=5), "invalid"),
    ("not UTF-8", b"\xff\xfe", "not_utf8"),
    ("array", b"[]", "bad_shape"),
]


@settings(max_examples=1000, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    )
)
def test_parse_event_returns_an_event_or_raises_event_error(doc: object) -> None:
    for payload in (doc, {**GOOD, "programme": doc}, {**GOOD, "requested_reduction_kw": doc}):
        try:
            parse_event(json.dumps(payload).encode(), site="plant-a")
        except EventError as exc:
            assert exc.reason and str(exc)


@pytest.mark.integration
def test_hostile_events_and_a_seeded_flood_leave_the_listener_alive(mosquitto: Mosquitto, tmp_path: Path) -> None:
    store = EventStore(tmp_path / "dr.sqlite")
    intake = DrIntake(store, mosquitto.url, client_id="dr-hostile")
    intake.start()
    pub = Publisher(mosquitto)
    try:
        for n, (case, payload, reason) in enumerate(HOSTILE, start=1):
            before = intake.rejected[reason]
            pub.publish(TOPIC, payload).wait_for_publish(10)
            assert intake.wait_for(n, 10), case
            assert intake.rejected[reason] == before + 1, (case, dict(intake.rejected))
            assert intake.liveness.report()["ok"], case
        flood = 1000
        for b in byte_mutations(json.dumps({**GOOD, "id": "ev-x"}).encode(), flood, seed=16):
            pub.publish(TOPIC, b)
        assert intake.wait_for(len(HOSTILE) + flood, 60)
        assert intake.rejected["internal_error"] == 0
        # Still taking events.
        pub.publish(TOPIC, with_(id="after-the-flood")).wait_for_publish(10)
        assert intake.wait_for(len(HOSTILE) + flood + 1, 10)
        assert "after-the-flood" in [e.id for e in store.list("plant-a")]
        assert intake.liveness.report()["workers"]["mqtt"]["alive"]
    finally:
        pub.close()
        intake.stop()
