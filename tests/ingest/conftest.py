"""Helpers for ingest tests: an in-process ingest service, an MQTT publisher, waiting on InfluxQL."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ingest.service import IngestConfig, IngestService, delete_session
from plantcarbon_core.influx import InfluxTarget, influxql
from plantcarbon_core.plant import Plant, load_plant
from plantcarbon_core.wire import ReadingBatch, Sample
from tests.support.mqtt import Publisher

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TS0 = 1_763_712_000_000  # 2025-11-21T08:00:00Z, on a 15-minute boundary


@pytest.fixture(scope="session")
def plant_a() -> Plant:
    return load_plant(EXAMPLES / "plant-a.yaml")


@pytest.fixture
def ingest_factory(tmp_path: Path) -> Iterator[Callable[..., IngestService]]:
    """Factory for in-process ingest services; each gets a unique client id and its own DLQ file."""
    started: list[IngestService] = []
    # Each test has its own share group: a stopped service's persistent session still holds
    # its share of the group's messages (the broker queues them for it), see docs/ingest.md.
    group = f"ingest-{uuid.uuid4().hex[:8]}"

    def make(mqtt_url: str, target: InfluxTarget, plants: list[Plant] | None = None, **kw: object) -> IngestService:
        cid = str(kw.pop("client_id", f"ingest-test-{uuid.uuid4().hex[:8]}"))
        cfg = IngestConfig(
            mqtt_url=mqtt_url,
            target=target,
            client_id=cid,
            plants=plants or [],
            dlq_file=tmp_path / f"dlq-{cid}.jsonl",
            quality_every_s=float(kw.pop("quality_every_s", 0.5)),
            batch_max_age_s=float(kw.pop("batch_max_age_s", 0.2)),
            share_group=str(kw.pop("share_group", group)),
            **kw,  # type: ignore[arg-type]
        )
        svc = IngestService(cfg).start()
        assert svc.wait_subscribed(20), "ingest did not subscribe"
        started.append(svc)
        return svc

    yield make
    for s in started:
        s.stop()
    # Leave no persistent sessions behind on the shared broker: they would queue every later
    # test's messages.
    for svc in {s.cfg.client_id: s for s in started}.values():
        # A dedicated broker the test already stopped cannot be reached: nothing to clean.
        with contextlib.suppress(OSError, TimeoutError):
            delete_session(svc.cfg, timeout_s=5)


def count_points(target: InfluxTarget, measurement: str, field: str, where: str = "") -> int:
    df = influxql(target, f'SELECT count("{field}") FROM "{measurement}"{" WHERE " + where if where else ""}')
    return 0 if df.empty else int(df["count"].iloc[0])


def make_batch(device: str, seq: int, n: int, ts0: int = TS0, step_ms: int = 1000, fields: int = 3) -> ReadingBatch:
    samples = [
        Sample(ts0 + i * step_ms, {f"v{k}_kw": float(seq * 1000 + i) + k / 8 for k in range(fields)}) for i in range(n)
    ]
    return ReadingBatch("edge-01", device, seq, samples)


class LoadPublisher:
    """Publishes batches for `devices` unregistered devices at `rate_hz` batches/s each, in a thread.

    Every sample has its own timestamp, so the number of stored points must equal `samples_sent`.
    """

    def __init__(self, url: str, devices: int, rate_hz: float, samples: int = 5, fields: int = 8, site: str = "load"):
        self.pub = Publisher(url)
        self.devices = [f"m-{i:03d}" for i in range(devices)]
        self.rate_hz, self.samples, self.fields, self.site = rate_hz, samples, fields, site
        self.samples_sent = 0
        self._seq = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> LoadPublisher:
        self._thread.start()
        return self

    def _run(self) -> None:
        next_t = time.monotonic()
        while not self._stop.is_set():
            self._seq += 1
            ts0 = TS0 + self._seq * self.samples * 1000
            for d in self.devices:
                self.pub.batch(self.site, make_batch(d, self._seq, self.samples, ts0, fields=self.fields))
                self.samples_sent += self.samples
            self.pub.flush()
            next_t += 1 / self.rate_hz
            self._stop.wait(max(0.0, next_t - time.monotonic()))

    def stop(self) -> int:
        self._stop.set()
        self._thread.join(30)
        self.pub.close()
        return self.samples_sent


def ingest_process(
    mqtt_url: str, target: InfluxTarget, client_id: str, share_group: str, workdir: Path, log_name: str = ""
) -> subprocess.Popen[bytes]:
    """`plantcarbon ingest run` as a real process; returns once it has subscribed."""
    env = {
        **os.environ,
        "PLANTCARBON_MQTT_URL": mqtt_url,
        "PLANTCARBON_INFLUX_URL": target.url,
        "PLANTCARBON_INFLUX_ORG": target.org,
        "PLANTCARBON_INFLUX_TOKEN": target.token,
        "PLANTCARBON_INFLUX_RAW_BUCKET": target.raw_bucket,
        "PLANTCARBON_DATA_DIR": str(workdir),
    }
    log = workdir / f"{log_name or client_id}.log"
    cmd = [sys.executable, "-m", "plantcarbon", "ingest", "run", "--client-id", client_id]
    cmd += ["--share-group", share_group, "--metrics-port", "0", "--batch-age", "0.3"]
    start = log.stat().st_size if log.exists() else 0
    with log.open("ab") as f:
        proc = subprocess.Popen(cmd, env=env, stdout=f, stderr=subprocess.STDOUT, cwd=Path(__file__).parents[2])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        text = log.read_bytes()[start:].decode(errors="replace") if log.exists() else ""
        if "subscribed to" in text:
            return proc
        if proc.poll() is not None:
            raise RuntimeError(f"ingest exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        time.sleep(0.1)
    proc.kill()
    raise TimeoutError(f"ingest did not subscribe:\n{log.read_text()[-3000:]}")
