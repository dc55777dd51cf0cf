"""Alert-test helpers: a real local HTTP webhook receiver and an MQTT collector."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from harness.mosquitto import Mosquitto


@dataclass
class Received:
    path: str
    body: Any
    at: float


@dataclass
class WebhookReceiver:
    url: str
    got: list[Received] = field(default_factory=list)


@pytest.fixture
def webhook_receiver() -> Iterator[WebhookReceiver]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    recv = WebhookReceiver(url=f"http://127.0.0.1:{server.server_address[1]}")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            recv.got.append(Received(self.path, json.loads(body), time.monotonic()))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b'{"errcode":0}')

        def log_message(self, *args: object) -> None:
            pass

    server.RequestHandlerClass = Handler
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield recv
    server.shutdown()
    server.server_close()


@dataclass
class Collector:
    client: mqtt.Client
    got: list[tuple[str, dict[str, Any], float]] = field(default_factory=list)


@pytest.fixture
def mqtt_collector(mosquitto: Mosquitto) -> Iterator[Callable[[str], Collector]]:
    clients: list[mqtt.Client] = []

    def make(topic: str) -> Collector:
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        col = Collector(c)
        ready = threading.Event()
        # Retained alert states from earlier tests on the shared broker are not news: skip them.
        c.on_message = lambda _c, _u, m: (
            None if m.retain else col.got.append((m.topic, json.loads(m.payload), time.monotonic()))
        )
        c.on_subscribe = lambda *_a: ready.set()
        c.on_connect = lambda cl, *_a: cl.subscribe(topic, qos=1)
        c.connect(mosquitto.host, mosquitto.port)
        c.loop_start()
        assert ready.wait(10), "collector did not subscribe"
        clients.append(c)
        return col

    yield make
    for c in clients:
        c.loop_stop()
        c.disconnect()


def wait_for(check: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return check()
