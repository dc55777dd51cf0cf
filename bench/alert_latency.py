"""Alert latency: from a reading batch published on MQTT to the alert on MQTT and at a webhook.

Starts its own Mosquitto and a local HTTP receiver, runs the alert engine with a SQLite state
store, then alternates readings above and below a threshold (with a clear level), so every
second batch fires and every other resolves. Prints p50/p95/max latencies.

    .venv/bin/python bench/alert_latency.py [--alerts 200]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import paho.mqtt.client as mqtt

from harness.mosquitto import start_mosquitto
from metering.alerts.notify import Webhook, webhook_name, webhook_sink
from metering.alerts.service import AlertService
from metering.state.store import Store
from plantcarbon_core.wire import ReadingBatch, Sample, data_topic, encode_batch


def pct(xs: list[float], p: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(p * len(s)))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--alerts", type=int, default=200, help="state changes to measure")
    n = ap.parse_args().alerts
    work = Path(tempfile.mkdtemp(prefix="pc-bench-alerts-"))
    broker = start_mosquitto(work / "mq")
    hook_times: dict[int, float] = {}
    mqtt_times: dict[int, float] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            hook_times[int(body["value"])] = time.perf_counter()
            self.send_response(200)
            self.end_headers()

        def log_message(self, *a: object) -> None:
            pass

    http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    store = Store(f"sqlite:///{work / 'state.sqlite'}")
    store.create_threshold(
        {"id": "bench", "site": "plant-a", "device": "tr-01", "quantity": "p_kw", "threshold": 4000.0, "clear": 3800.0},
        "bench",
    )
    hook = Webhook.model_validate({"url": f"http://127.0.0.1:{http.server_address[1]}/hook"})
    svc = AlertService(store, None, broker.url, extra_sinks=[(webhook_name(hook), webhook_sink(hook))]).start()
    svc.wait_connected()
    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    sub.on_message = lambda _c, _u, m: (
        None if m.retain else mqtt_times.__setitem__(int(json.loads(m.payload)["value"]), time.perf_counter())
    )
    sub.connect(broker.host, broker.port)
    sub.subscribe("pc/plant-a/alerts/#", qos=1)
    sub.loop_start()
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    pub.connect(broker.host, broker.port)
    pub.loop_start()
    time.sleep(1.0)
    sent: dict[int, float] = {}
    try:
        for i in range(n):
            # A distinct value per change identifies it in both notifications.
            value = 4100 + i if i % 2 == 0 else 3000 + i
            batch = ReadingBatch("edge-01", "tr-01", i + 1, [Sample(int(time.time() * 1000), {"p_kw": float(value)})])
            sent[value] = time.perf_counter()
            pub.publish(data_topic("plant-a", "tr-01"), encode_batch(batch), qos=1)
            deadline = time.monotonic() + 10
            while (value not in mqtt_times or value not in hook_times) and time.monotonic() < deadline:
                time.sleep(0.001)
        to_mqtt = [1000 * (mqtt_times[v] - t) for v, t in sent.items() if v in mqtt_times]
        to_hook = [1000 * (hook_times[v] - t) for v, t in sent.items() if v in hook_times]
        print(f"alert state changes: {n} sent, {len(to_mqtt)} on MQTT, {len(to_hook)} at the webhook")
        for name, xs in (("reading → MQTT alert", to_mqtt), ("reading → webhook", to_hook)):
            print(
                f"{name:<22} p50 {statistics.median(xs):7.1f} ms   p95 {pct(xs, 0.95):7.1f} ms   max {max(xs):7.1f} ms"
            )
    finally:
        pub.loop_stop()
        sub.loop_stop()
        svc.stop()
        http.shutdown()
        broker.stop()
        store.close()


if __name__ == "__main__":
    main()
