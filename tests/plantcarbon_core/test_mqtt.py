"""The one MQTT client factory: URLs mean the same in every part; the DR listener reaches a TLS broker."""

from __future__ import annotations

import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from metering.dr.events import DrEvent
from metering.dr.intake import DrIntake
from metering.dr.store import EventStore
from plantcarbon_core.mqtt import BrokerConfig, make_client, parse_mqtt_url
from tests.conftest import SECURE_USERS


@pytest.mark.parametrize(
    ("url", "want"),
    [
        ("mqtt://broker", ("broker", 1883, False)),
        ("mqtts://broker", ("broker", 8883, True)),
        ("ssl://broker:9999", ("broker", 9999, True)),
        ("tcp://10.0.0.5:1884", ("10.0.0.5", 1884, False)),
    ],
)
def test_url_gives_host_port_and_tls(url: str, want: tuple[str, int, bool]) -> None:
    assert parse_mqtt_url(url) == want
    cfg = BrokerConfig(url=url)
    assert (cfg.host, cfg.port, cfg.tls) == want


@pytest.mark.parametrize(
    "url", ["http://broker:1883", "mqtt://", "broker:1883", "mqtt://broker:port", "mqtt://h:99999"]
)
def test_bad_url_is_refused_with_the_url(url: str) -> None:
    with pytest.raises(ValueError, match="MQTT URL"):
        BrokerConfig(url=url)


def test_a_ca_file_means_tls_on_the_tls_port() -> None:
    cfg = BrokerConfig(url="mqtt://broker", ca_file="/etc/ca.pem")
    assert cfg.tls and cfg.port == 8883
    assert BrokerConfig(url="mqtt://broker:1884", ca_file="/etc/ca.pem").port == 1884


def test_key_without_certificate_is_refused() -> None:
    with pytest.raises(ValueError, match="without a client certificate"):
        BrokerConfig(url="mqtts://broker", key_file="/k.pem")


def test_password_stays_out_of_repr() -> None:
    assert "s3cret" not in repr(BrokerConfig(url="mqtt://b", username="u", password="s3cret"))


def test_client_protocol_and_session() -> None:
    v311 = make_client(BrokerConfig(protocol="3.1.1"), "c1", persistent=True)
    assert v311._protocol == mqtt.MQTTv311 and v311._clean_session is False
    v5 = make_client(BrokerConfig(), "c2")
    assert v5._protocol == mqtt.MQTTv5


def _secure(broker: object, user: str) -> BrokerConfig:
    tls = broker.tls  # type: ignore[attr-defined]
    return BrokerConfig(
        url=broker.url,  # type: ignore[attr-defined]
        username=user,
        password=SECURE_USERS[user],
        ca_file=str(tls.ca),
        cert_file=str(tls.client_cert),
        key_file=str(tls.client_key),
    )


@pytest.mark.integration
def test_dr_listener_takes_an_event_from_a_tls_broker_with_a_password(secure_mosquitto, tmp_path: Path) -> None:
    # It used to connect in plain text to port 1883 for an mqtts:// URL, without credentials.
    store = EventStore(tmp_path / "dr.sqlite")
    intake = DrIntake(store, _secure(secure_mosquitto, "reader"), client_id=f"dr-{uuid.uuid4().hex[:6]}")
    intake.start(timeout_s=20)
    pub = make_client(_secure(secure_mosquitto, "edge-01"), f"pub-{uuid.uuid4().hex[:6]}")
    pub.connect(secure_mosquitto.host, secure_mosquitto.port)
    pub.loop_start()
    try:
        doc = (
            '{"id": "ev-tls", "start": "2025-07-15T14:00:00+08:00", "end": "2025-07-15T15:00:00+08:00",'
            ' "requested_reduction_kw": 500, "meters": ["tr-01"]}'
        )
        pub.publish("pc/plant-a/dr/events", doc, qos=1).wait_for_publish(20)
        assert intake.wait_for(1, 20)
        assert [e.id for e in intake.accepted] == ["ev-tls"]
        assert isinstance(intake.accepted[0], DrEvent)
    finally:
        pub.disconnect()
        pub.loop_stop()
        intake.stop()
