"""Fixtures for real services (Mosquitto, InfluxDB 2.7, PostgreSQL by the harness; pymodbus by simulators).

InfluxDB is session-scoped and each test gets fresh buckets; each test gets its own broker.
Tests never see each other's data. Under parallel workers (`pytest -n 3`, pytest-xdist) a session
fixture runs once per worker (each worker has its own InfluxDB), ports come from a counter
shared by every worker (plantcarbon_core/ports.py) and installs run under a lock (harness/once.py).
Nothing here mocks a broker, a database or a Modbus link.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol, TypeVar

import pytest

from harness.influxdb import InfluxDB, start_influxdb
from harness.mosquitto import Mosquitto, start_mosquitto
from harness.postgres import Postgres, start_postgres
from plantcarbon_core.influx import InfluxTarget
from simulators.modbus_server import Image, ModbusServer, start_modbus_server
from tests.support.mqtt import Broker, Collector, Publisher

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

if os.environ.get("PYTEST_XDIST_WORKER"):
    # An xdist worker starts with COLUMNS=80 and LINES=24 that one pytest process does not have;
    # a rich console made at import would fix its width from them for good, and a test could no
    # longer widen it (CliRunner(env={"COLUMNS": …})). Same environment as in one process.
    for _name in ("COLUMNS", "LINES"):
        os.environ.pop(_name, None)


@pytest.fixture
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    """A fresh broker per test: retained messages and persistent sessions (queues) left by
    one test must not reach the next. Mosquitto starts in milliseconds."""
    broker = start_mosquitto(tmp_path_factory.mktemp("mosquitto"))
    yield broker
    broker.stop()


@pytest.fixture(scope="session")
def influxdb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxDB]:
    server = start_influxdb(tmp_path_factory.mktemp("influxd"))
    yield server
    server.stop()


@pytest.fixture
def influx_target(influxdb: InfluxDB) -> InfluxTarget:
    """Fresh `raw_<id>` and `metering_<id>` buckets on the session's InfluxDB."""
    return influxdb.fresh_target()


@pytest.fixture
def modbus_server() -> Iterator[Callable[..., ModbusServer]]:
    """Factory: `modbus_server(image, framer="socket")` starts a real pymodbus server."""
    started: list[ModbusServer] = []

    def make(image: Image, **kw: object) -> ModbusServer:
        server = start_modbus_server(image, **kw)  # type: ignore[arg-type]
        started.append(server)
        return server

    yield make
    for s in started:
        s.stop()


SECURE_USERS = {"edge-01": "edge-secret", "reader": "reader-secret"}


@pytest.fixture(scope="session")
def secure_mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    """Mosquitto over TLS only (throwaway CA, client certificates required) with a password file.

    Users and passwords: `SECURE_USERS`; CA and client certificate: `.tls`.
    """
    broker = start_mosquitto(
        tmp_path_factory.mktemp("mosquitto-tls"), tls=True, require_certificate=True, passwords=SECURE_USERS
    )
    yield broker
    broker.stop()


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """A throwaway PostgreSQL cluster on a free loopback port (for state stores given by URL)."""
    server = start_postgres()
    yield server
    server.stop()


class _Closable(Protocol):
    def close(self) -> None: ...


C = TypeVar("C", bound=_Closable)


def _closed_after(make: Callable[..., C]) -> Iterator[Callable[..., C]]:
    """A factory fixture's body: what `make` made during the test is closed after it."""
    made: list[C] = []

    def factory(*args: Any, **kwargs: Any) -> C:
        made.append(make(*args, **kwargs))
        return made[-1]

    yield factory
    for x in reversed(made):
        x.close()


@pytest.fixture
def collector() -> Iterator[Callable[..., Collector]]:
    """Factory: `collector(broker, topic="pc/#", persistent=…, skip_retained=…)`, subscribed (SUBACK in)."""
    yield from _closed_after(Collector)


@pytest.fixture
def publisher(mosquitto: Mosquitto) -> Iterator[Callable[..., Publisher]]:
    """Factory: `publisher(broker=the test's broker)`, a QoS 1 publisher flushed and closed after the test."""

    def make(broker: Broker | None = None, **kwargs: Any) -> Publisher:
        return Publisher(broker or mosquitto, **kwargs)

    yield from _closed_after(make)
