"""Fault run: the small plant through the real chain while parts fail in turn and hostile messages arrive.

Ingest frozen (SIGSTOP), ingest killed (SIGKILL), the edge killed and the broker restarted
while it is down, influxd killed — one after the other — while a sender publishes hostile
messages to a data topic. Afterwards:
every sample the edge published is stored once and matches the simulator's truth (the
checks of test_pipeline), `ingest_quality` counts exactly the samples stored,
`dead_letters` in InfluxDB equals the dead-letter file and every hostile message the broker
accepted is in it, and every process answered a green /healthz after each fault.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import signal
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.client as mqtt
import pandas as pd
import pytest

from harness.influxdb import start_influxdb
from harness.mosquitto import Mosquitto
from harness.process import wait_until
from harness.stack import part_health
from ingest.accounting import INTERVAL_MS
from plantcarbon_core.influx import influxql
from tests.e2e.test_pipeline import Pipeline, _check_chain

pytestmark = pytest.mark.integration

SETTLE_S = 12  # normal running between faults
DOWN_S = 8  # how long a part stays stopped or frozen


def hostile_payload(n: int) -> bytes:
    """Message n of the cycle: a huge integer, deep nesting, a sample from 2099, a tag-named field."""
    head = b'{"schema":"pc.readings/1","edge":"x","device":"tr-01","seq":%d,"samples":' % n
    kind = n % 4
    if kind == 0:
        return head + b'[{"ts":1763712000000,"values":{"p_kw":%s}}]}' % (b"9" * 400)
    if kind == 1:
        return b'{"n":%d,"a":' % n + b"[" * 50_000
    if kind == 2:
        return head + b'[{"ts":4070908800000,"values":{"p_kw":1.0}}]}'
    return head + b'[{"ts":1763712000000,"values":{"site":1.0}}]}'


class HostileSender:
    """Publishes a numbered hostile message every 0.25 s; counts the ones the broker acknowledged."""

    def __init__(self, broker: Mosquitto, topic: str):
        self.topic = topic
        self.acked: set[bytes] = set()
        self.paused = threading.Event()
        self._pending: dict[int, bytes] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="fault-run-hostile")
        self.c.reconnect_delay_set(0.2, 1)
        self.c.on_publish = self._on_publish
        self.c.connect(broker.host, broker.port)
        self.c.loop_start()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _on_publish(self, _c: object, _u: object, mid: int, _rc: object, _p: object = None) -> None:
        with self._lock:
            payload = self._pending.pop(mid, None)
            if payload is not None:
                self.acked.add(payload)

    def _run(self) -> None:
        n = 0
        while not self._stop.wait(0.25):
            if self.paused.is_set() or not self.c.is_connected():
                continue  # the broker is down: nothing is sent, nothing counted
            n += 1
            payload = hostile_payload(n)
            with self._lock:
                info = self.c.publish(self.topic, payload, qos=1)
                self._pending[info.mid] = payload

    def stop(self) -> None:
        if self._stop.is_set():
            return
        self._stop.set()
        self.thread.join(5)
        deadline = time.monotonic() + 10
        while self._pending and time.monotonic() < deadline:
            time.sleep(0.1)
        self.c.disconnect()
        self.c.loop_stop()


def _healthy_again(p: Pipeline, name: str) -> None:
    part = p.stack.parts[name]

    def green() -> bool:
        r = part_health(part)
        return r is not None and r.status_code == 200 and bool(r.json().get("connected", True))

    wait_until(green, 60, f"{name} healthy", part.proc, part.log)


def _log_count(p: Pipeline, name: str, text: str) -> int:
    return p.stack.parts[name].log_text().count(text)


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")


def _count_mismatches(q: pd.DataFrame, device: str, tapped: set[int]) -> list[str]:
    """The 15-min intervals whose `ingest_quality` (summed over `ingest`) differs from the wire
    tap: counted, tapped and the tapped sample times, to set beside the faults' times."""
    rows = q[q["device"] == device]
    counted: dict[int, int] = {}
    for t, n in zip(rows["time"], rows["samples"], strict=True):
        ms = int(t.value // 1_000_000)
        counted[ms] = counted.get(ms, 0) + int(n)
    tapped_in: dict[int, list[int]] = {}
    for ts in sorted(tapped):
        tapped_in.setdefault(ts - ts % INTERVAL_MS, []).append(ts)
    return [
        f"interval {_iso(start)}: counted {counted.get(start, 0)}, tapped {len(tapped_in.get(start, []))} "
        f"at {[_iso(ts) for ts in tapped_in.get(start, [])]}"
        for start in sorted(set(counted) | set(tapped_in))
        if counted.get(start, 0) != len(tapped_in.get(start, []))
    ]


def _respawn(p: Pipeline, name: str) -> None:
    """SIGKILL a part and start it again with the same command, as a supervisor would."""
    old = p.stack.parts[name]
    if old.proc.poll() is None:
        old.proc.kill()
        old.proc.wait()
    time.sleep(1)
    p.stack.spawn(name, list(old.proc.args[3:]), health_port=old.health_port)  # type: ignore[index]


def test_fault_run_loses_nothing_and_counts_every_sample_and_dead_letter(tmp_path: Path) -> None:
    influx = start_influxdb(tmp_path / "own-influxd")  # its own: this test kills it
    target = influx.fresh_target()
    p = Pipeline(tmp_path, influx, target)
    hostile = HostileSender(p.broker, f"pc/{p.plant.site.id}/tr-01/data")
    try:
        t0 = datetime.now(UTC)
        faults: dict[str, str] = {}  # when each fault began, for the failure messages

        def mark(fault: str) -> None:
            faults[fault] = _iso(int(time.time() * 1000))

        time.sleep(SETTLE_S)
        p.alive()
        # 1. Ingest frozen: its keep-alive lapses, the broker queues for its session.
        ingest_pid = p.stack.parts["ingest"].proc.pid
        mark("ingest SIGSTOP")
        os.kill(ingest_pid, signal.SIGSTOP)
        time.sleep(DOWN_S)
        os.kill(ingest_pid, signal.SIGCONT)
        _healthy_again(p, "ingest")
        time.sleep(SETTLE_S)
        p.alive()
        # 2. Ingest killed mid-interval, restarted with its client id (same session, same tags).
        mark("ingest SIGKILL")
        _respawn(p, "ingest")
        _healthy_again(p, "ingest")
        time.sleep(SETTLE_S)
        p.alive()
        # 3. The edge killed (its outbox keeps what it read) and, while it is down, the broker
        #    stopped and started (same port and persistence). Mosquitto 2.0.11 does not restore
        #    a shared subscription from persistence: what is published after its restart and
        #    before ingest has subscribed again reaches no one (docs/ingest.md). So the edge
        #    and the hostile sender come back once ingest has subscribed again.
        subscribed = _log_count(p, "ingest", "subscribed to")
        hostile.paused.set()
        mark("edge SIGKILL, broker restart")
        p.stack.parts["edge"].proc.kill()
        p.stack.parts["edge"].proc.wait()
        p.broker.stop()
        time.sleep(DOWN_S)
        p.broker.start()
        part = p.stack.parts["ingest"]
        wait_until(
            lambda: _log_count(p, "ingest", "subscribed to") > subscribed,
            60,
            "ingest resubscribed",
            part.proc,
            part.log,
        )
        _respawn(p, "edge")
        hostile.paused.clear()
        time.sleep(SETTLE_S)
        _healthy_again(p, "ingest")
        p.alive()
        # 4. InfluxDB killed: ingest retries and acknowledges nothing it could not write.
        mark("influxd SIGKILL")
        influx.kill()
        time.sleep(DOWN_S)
        influx.start()
        time.sleep(SETTLE_S)
        _healthy_again(p, "ingest")
        p.alive()
        hostile.stop()
        p.finish()
        t1 = datetime.now(UTC)

        _check_chain(p, t0, t1)

        # ingest_quality counts every stored sample once, across the restart (summed over
        # intervals and over the `ingest` tag).
        q = influxql(target, 'SELECT "samples" FROM "ingest_quality" GROUP BY "device", "ingest"', target.raw_bucket)
        wrong = {
            d.id: m
            for d in p.plant.devices
            if d.source is not None and (m := _count_mismatches(q, d.id, p.tap.samples[d.id]))
        }
        assert not wrong, f"ingest_quality differs from the samples on the wire: {wrong}; faults at {faults}"

        # Every hostile message the broker accepted was dead-lettered, and the stored counts
        # agree with the file.
        dlq = tmp_path / "data" / "ingest" / "dead-letters-ingest-e2e.jsonl"
        records = [json.loads(x) for x in dlq.read_text().splitlines()]
        filed = {base64.b64decode(r["payload_b64"]) for r in records if not r.get("payload_truncated")}
        filed |= {r["payload_sha256"] for r in records if r.get("payload_truncated")}
        missing = [x for x in hostile.acked if x not in filed and hashlib.sha256(x).hexdigest() not in filed]
        assert not missing, [m[:70] for m in missing]
        dl = influxql(target, 'SELECT "count" FROM "dead_letters"', target.raw_bucket)
        assert int(dl["count"].sum()) == len(records) >= len(hostile.acked) > 20
    finally:
        hostile.stop()
        p.close()
        influx.stop()
