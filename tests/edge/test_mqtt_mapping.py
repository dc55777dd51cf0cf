"""Device-native MQTT JSON → samples, and a corpus of malformed payloads that must be dropped by kind."""

from __future__ import annotations

import pytest

from edge.mqtt_source import PayloadError, map_payload
from plantcarbon_core.plant import MqttSource

ARRIVAL = 1_763_712_000_123
TASMOTA = MqttSource.model_validate(
    {
        "protocol": "mqtt",
        "topic": "tele/pv-01/SENSOR",
        "timestamp": "Time",
        "timestamp_format": "iso8601",
        "fields": {
            "p_kw": {"path": "ENERGY.Power", "scale": 0.001},
            "e_exp_kwh": {"path": "ENERGY.Total"},
            "temp_c": {"path": "Temps.1", "scale": 1.8, "offset": -57.6},
        },
    }
)


def test_mapping_with_scale_offset_list_index_and_iso_time() -> None:
    payload = b'{"Time":"2025-11-21T08:00:00+08:00","ENERGY":{"Power":1520,"Total":1234.5},"Temps":[20,40]}'
    s = map_payload(TASMOTA, payload, ARRIVAL)
    assert s.ts == 1_763_683_200_000  # 2025-11-21T00:00:00Z
    assert s.values == pytest.approx({"p_kw": 1.52, "e_exp_kwh": 1234.5, "temp_c": 40 * 1.8 - 57.6})
    assert s.bad == {}


def test_arrival_time_and_epoch_formats() -> None:
    src = MqttSource.model_validate({"protocol": "mqtt", "topic": "x", "fields": {"p_kw": {"path": "p"}}})
    assert map_payload(src, b'{"p": 3}', ARRIVAL).ts == ARRIVAL
    s_src = src.model_copy(update={"timestamp": "t", "timestamp_format": "epoch_s"})
    assert map_payload(s_src, b'{"p": 3, "t": 1763712000.5}', ARRIVAL).ts == 1_763_712_000_500
    ms_src = src.model_copy(update={"timestamp": "t", "timestamp_format": "epoch_ms"})
    assert map_payload(ms_src, b'{"p": 3, "t": 1763712000123}', ARRIVAL).ts == 1_763_712_000_123


# (payload, kind): each is dropped as a whole and counted under its kind.
CORPUS = [
    (b"\xff\xfe\x00", "not_utf8"),
    (b"", "not_json"),
    (b"{", "not_json"),
    (b"ON", "not_json"),
    (b"[1, 2]", "not_object"),
    (b"42", "not_object"),
    (b"null", "not_object"),
    (b'"text"', "not_object"),
    (b"[" * 100_000 + b"]" * 100_000, "not_json"),
    (b'{"Time":"2025-11-21T08:00:00+08:00","Other":{"x":1}}', "no_fields"),
    (b'{"ENERGY":{"Power":5}}', "no_timestamp"),
    (b'{"Time":"yesterday","ENERGY":{"Power":5}}', "bad_timestamp"),
    (b'{"Time":"2025-11-21T08:00:00","ENERGY":{"Power":5}}', "bad_timestamp"),  # no UTC offset
    (b'{"Time":"1970-01-01T00:00:00Z","ENERGY":{"Power":5}}', "bad_timestamp"),
    (b'{"Time":12,"ENERGY":{"Power":5}}', "bad_timestamp"),
    (b'{"Time":"2025-11-21T08:00:00Z","ENERGY":"Power"}', "no_fields"),
]


@pytest.mark.parametrize(("payload", "kind"), CORPUS, ids=[k + str(i) for i, (_, k) in enumerate(CORPUS)])
def test_malformed_payload_corpus_is_dropped_by_kind(payload: bytes, kind: str) -> None:
    with pytest.raises(PayloadError) as exc:
        map_payload(TASMOTA, payload, ARRIVAL)
    assert exc.value.kind == kind


def test_hostile_values_become_bad_entries_and_messages_stay_short() -> None:
    epoch = MqttSource.model_validate(
        {
            "protocol": "mqtt",
            "topic": "t",
            "timestamp": "t",
            "timestamp_format": "epoch_ms",
            "fields": {"p_kw": {"path": "p"}},
        }
    )
    big = b"1" + b"0" * 400
    for payload, reason in [
        (b'{"t":1763712000000,"p":' + big + b"}", "not finite"),
        (b'{"t":1763712000000,"p":-' + big + b"}", "not finite"),
        (b'{"t":1763712000000,"p":NaN}', "not finite"),
        (b'{"t":1763712000000,"p":-Infinity}', "not finite"),
        (b'{"t":1763712000000,"p":' + b"[" * 900 + b"]" * 900 + b"}", "not a number: a JSON list"),
        (b'{"t":1763712000000,"p":"' + b"x" * 100_000 + b'"}', 'not a number: "' + "x" * 39),
    ]:
        s = map_payload(epoch, payload, ARRIVAL)
        assert s.values == {} and s.bad == {"p_kw": reason}
    for payload in (b'{"t":' + big + b',"p":1}', b'{"t":1e400,"p":1}', b'{"t":"' + b"7" * 100_000 + b'","p":1}'):
        with pytest.raises(PayloadError) as exc:
            map_payload(epoch, payload, ARRIVAL)
        assert exc.value.kind == "bad_timestamp" and len(str(exc.value)) < 200


def test_bad_fields_become_bad_entries_not_numbers() -> None:
    payload = b'{"Time":"2025-11-21T00:00:00Z","ENERGY":{"Power":"n/a","Total":true},"Temps":[1, NaN]}'
    s = map_payload(TASMOTA, payload, ARRIVAL)
    assert s.values == {}
    assert s.bad == {"p_kw": 'not a number: "n/a"', "e_exp_kwh": "not a number: true", "temp_c": "not finite"}
    partial = map_payload(TASMOTA, b'{"Time":"2025-11-21T00:00:00Z","ENERGY":{"Power":10}}', ARRIVAL)
    assert partial.values == {"p_kw": pytest.approx(0.01)}
    assert partial.bad == {"e_exp_kwh": "missing in payload (ENERGY.Total)", "temp_c": "missing in payload (Temps.1)"}
    huge = map_payload(TASMOTA, b'{"Time":"2025-11-21T00:00:00Z","ENERGY":{"Power":1' + b"0" * 400 + b"}}", ARRIVAL)
    assert huge.bad["p_kw"] == "not finite"
