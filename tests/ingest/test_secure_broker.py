"""Ingest over TLS with a client certificate and a password, against the secure Mosquitto."""

from __future__ import annotations

import ssl
import uuid

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from ingest.service import IngestConfig, IngestService
from plantcarbon_core.mqtt import parse_mqtt_url
from plantcarbon_core.wire import ReadingBatch, Sample, data_topic, encode_batch
from tests.conftest import SECURE_USERS
from tests.ingest.conftest import TS0, count_points, wait_for

pytestmark = pytest.mark.integration


def test_ingest_reads_from_a_tls_broker_with_credentials(secure_mosquitto, influx_target, ingest_factory):
    tls = secure_mosquitto.tls
    assert tls is not None and secure_mosquitto.url.startswith("mqtts://")
    ingest_factory(
        secure_mosquitto.url,
        influx_target,
        username="reader",
        password=SECURE_USERS["reader"],
        ca_file=tls.ca,
        cert_file=tls.client_cert,
        key_file=tls.client_key,
    )
    host, port, _ = parse_mqtt_url(secure_mosquitto.url)
    pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4().hex[:6]}", protocol=mqtt.MQTTv5)
    pub.username_pw_set("edge-01", SECURE_USERS["edge-01"])
    pub.tls_set(
        ca_certs=str(tls.ca), certfile=str(tls.client_cert), keyfile=str(tls.client_key), cert_reqs=ssl.CERT_REQUIRED
    )
    pub.connect(host, port)
    pub.loop_start()
    try:
        batch = ReadingBatch("edge-01", "tr-01", 1, [Sample(TS0, {"p_kw": 42.5})])
        pub.publish(data_topic("plant-s", "tr-01"), encode_batch(batch), qos=1).wait_for_publish(30)
        assert wait_for(lambda: count_points(influx_target, "unregistered", "p_kw"), 1, 30) == 1
    finally:
        pub.disconnect()
        pub.loop_stop()


def test_wrong_password_is_refused_and_nothing_is_read(secure_mosquitto, influx_target):
    tls = secure_mosquitto.tls
    svc = IngestService(
        IngestConfig(
            secure_mosquitto.url,
            influx_target,
            f"ingest-bad-{uuid.uuid4().hex[:6]}",
            username="reader",
            password="wrong",
            ca_file=tls.ca,
            cert_file=tls.client_cert,
            key_file=tls.client_key,
        )
    ).start()
    try:
        assert not svc.wait_subscribed(3)
        assert not svc.connected.is_set()
    finally:
        svc.stop()
