"""DR events: parsing with clear errors, the SQLite store, the CLI, and the MQTT intake on a real Mosquitto."""

from __future__ import annotations

import json
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from typer.testing import CliRunner

from harness.mosquitto import Mosquitto
from metering.dr.cli import app
from metering.dr.events import EventError, parse_event
from metering.dr.intake import DrIntake
from metering.dr.store import DuplicateEvent, EventStore
from plantcarbon_core.wire import dr_events_topic

GOOD = {
    "id": "js-2025-07-15",
    "start": "2025-07-15T14:00:00+08:00",
    "end": "2025-07-15T16:00:00+08:00",
    "requested_reduction_kw": 500,
    "meters": ["tr-01"],
    "programme": {"baseline": "similar_day", "min_performance_pct": 80, "payment_rate": 15},
}


def test_parse_good_event_takes_site_from_topic() -> None:
    ev = parse_event(json.dumps(GOOD).encode(), site="plant-a")
    assert (ev.site, ev.source, ev.programme.baseline, ev.programme.payment_rate) == (
        "plant-a",
        "mqtt",
        "similar_day",
        15,
    )


@pytest.mark.parametrize(
    ("payload", "reason", "words"),
    [
        (b"\xff\xfe", "not_utf8", "not UTF-8"),
        (b"{not json", "not_json", "not JSON"),
        (b"[1, 2]", "bad_shape", "JSON object"),
        (json.dumps({**GOOD, "site": "plant-b"}).encode(), "site_mismatch", "does not match topic site 'plant-a'"),
        (json.dumps({**GOOD, "end": "2025-07-15T13:00:00+08:00"}).encode(), "invalid", "must be after start"),
        (
            json.dumps({**GOOD, "start": "2025-07-15T14:00:00"}).encode(),
            "invalid",
            "start: must carry a time zone offset",
        ),
        (
            json.dumps({**GOOD, "target_kw": 3000}).encode(),
            "invalid",
            "exactly one of requested_reduction_kw and target_kw",
        ),
        (json.dumps({**GOOD, "programme": {"baseline": "avg"}}).encode(), "invalid", "programme.baseline"),
        (json.dumps({**GOOD, "meterz": []}).encode(), "invalid", "meterz: unknown field"),
    ],
)
def test_bad_event_payloads(payload: bytes, reason: str, words: str) -> None:
    with pytest.raises(EventError) as exc:
        parse_event(payload, site="plant-a")
    assert exc.value.reason == reason
    assert words in str(exc.value)


def test_store_round_trip_idempotent_and_cancel(tmp_path: Path) -> None:
    store = EventStore(tmp_path / "dr.sqlite")
    ev = parse_event(GOOD, site="plant-a", source="api")
    assert store.add(ev) is True
    assert store.add(ev) is False  # a redelivery
    changed = ev.model_copy(update={"requested_reduction_kw": 600.0})
    with pytest.raises(DuplicateEvent):
        store.add(changed)
    assert store.get(ev.id) == ev
    assert EventStore(tmp_path / "dr.sqlite").list("plant-a") == [ev]  # persisted
    assert store.event_days("plant-a") == {ev.start.date()}
    store.set_status(ev.id, "cancelled")
    assert store.get(ev.id).status == "cancelled"
    assert store.event_days("plant-a") == set()


def test_cli_create_list_cancel(tmp_path: Path) -> None:
    db = str(tmp_path / "dr.sqlite")
    r = CliRunner()
    res = r.invoke(app, ["create", "--site", "plant-a", "--start", "2025-07-15T14:00:00+08:00",
                         "--end", "2025-07-15T16:00:00+08:00", "--meter", "tr-01", "--reduction-kw", "500",
                         "--baseline", "high4of5", "--id", "ev-1", "--db", db])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert res.output.strip() == "ev-1"
    res = r.invoke(app, ["list", "--db", db])
    assert "ev-1  plant-a" in res.output and "high4of5  scheduled  (cli)" in res.output
    res = r.invoke(app, ["create", "--site", "plant-a", "--start", "2025-07-15T14:00:00+08:00",
                         "--end", "2025-07-15T12:00:00+08:00", "--meter", "tr-01", "--reduction-kw", "5", "--db", db])  # fmt: skip
    assert res.exit_code == 2 and "must be after start" in res.output
    assert r.invoke(app, ["cancel", "ev-1", "--db", db]).exit_code == 0
    assert "cancelled" in r.invoke(app, ["list", "--db", db]).output


@pytest.mark.integration
def test_mqtt_intake_stores_good_events_and_counts_bad(mosquitto: Mosquitto, tmp_path: Path) -> None:
    store = EventStore(tmp_path / "dr.sqlite")
    intake = DrIntake(store, mosquitto.url, client_id="dr-intake-test")
    intake.start()
    try:
        pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        pub.connect(mosquitto.host, mosquitto.port)
        pub.loop_start()
        topic = dr_events_topic("plant-a")
        for payload in (json.dumps(GOOD), b"garbage", json.dumps({**GOOD, "site": "other"}), json.dumps(GOOD)):
            pub.publish(topic, payload, qos=1).wait_for_publish(5)
        assert intake.wait_for(4, timeout_s=10)
        pub.loop_stop()
        pub.disconnect()
    finally:
        intake.stop()
    assert [e.id for e in store.list("plant-a")] == ["js-2025-07-15"]
    assert store.get("js-2025-07-15").source == "mqtt"
    assert dict(intake.rejected) == {"not_json": 1, "site_mismatch": 1}
    assert len(intake.accepted) == 2  # the redelivered identical event is accepted once more, stored once


def test_event_from_the_api_store_maps_target_to_requested_reduction() -> None:
    import datetime as dt

    from metering.dr.events import from_api_event

    row = {"id": "api-1", "site": "plant-a", "start": dt.datetime(2025, 7, 15, 6, tzinfo=dt.UTC),
           "end": dt.datetime(2025, 7, 15, 8, tzinfo=dt.UTC), "target_kw": 600.0, "note": "", "created_by": "em"}  # fmt: skip
    ev = from_api_event(row, ["tr-01", "tr-02"])
    assert (ev.requested_reduction_kw, ev.target_kw, ev.source, ev.meters) == (600.0, None, "api", ["tr-01", "tr-02"])
