"""Ingest over TLS with a client certificate and a password, against the secure Mosquitto."""

from __future__ import annotations

import uuid

import pytest

from ingest.service import IngestConfig, IngestService
from plantcarbon_core.wire import ReadingBatch, Sample
from tests.conftest import SECURE_USERS
from tests.ingest.conftest import TS0, count_points
from tests.support.mqtt import Publisher
from tests.support.waiting import wait_count

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
    pub = Publisher(secure_mosquitto, user="edge-01")  # TLS with the harness's client certificate
    try:
        pub.batch("plant-s", ReadingBatch("edge-01", "tr-01", 1, [Sample(TS0, {"p_kw": 42.5})]))
        pub.flush(30)
        assert wait_count(lambda: count_points(influx_target, "unregistered", "p_kw"), 1, 30) == 1
    finally:
        pub.close()


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
