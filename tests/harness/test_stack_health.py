"""The harness's process checks read /healthz: a part whose process runs but whose worker died fails `check`."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry

from harness.process import free_port, stop_process, wait_until
from harness.stack import Part, Stack, part_health
from plantcarbon_core.liveness import Liveness, serve


@pytest.mark.integration
def test_check_fails_on_a_red_health_while_the_process_runs(tmp_path: Path, mosquitto, influxdb) -> None:
    stack = Stack(tmp_path, mosquitto, influxdb, influxdb.fresh_target())
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    live = Liveness()
    gone = threading.Thread(target=lambda: None)
    gone.start()
    gone.join()
    live.watch("worker", gone)
    server = serve(live, CollectorRegistry(), 0)
    try:
        stack.parts["svc"] = Part("svc", proc, tmp_path / "svc.log", server.server_address[1])
        with pytest.raises(RuntimeError, match="svc is unhealthy"):
            stack.check()
    finally:
        server.shutdown()
        stop_process(proc)  # type: ignore[arg-type]


@pytest.mark.integration
def test_a_running_ingest_process_reports_its_workers(tmp_path: Path, mosquitto, influxdb) -> None:
    stack = Stack(tmp_path, mosquitto, influxdb, influxdb.fresh_target())
    port = free_port()
    part = stack.spawn("ingest", ["ingest", "run", "--client-id", "ingest-health", "--metrics-port", str(port)], port)
    try:
        wait_until(lambda: part_health(part) is not None, 60, "ingest /healthz", part.proc, part.log)
        wait_until(lambda: bool(httpx.get(f"http://127.0.0.1:{port}/healthz").json()["connected"]), 30, "connected")
        rep = httpx.get(f"http://127.0.0.1:{port}/healthz").json()
        assert rep["ok"] and set(rep["workers"]) == {"worker", "writer", "mqtt"}
        assert all(w["alive"] for w in rep["workers"].values())
        stack.check()
        assert 'worker_alive{worker="writer"} 1.0' in httpx.get(f"http://127.0.0.1:{port}/metrics").text
    finally:
        stack.stop_all()
