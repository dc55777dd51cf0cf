"""Worker liveness: each long-running thread reports progress; a dead or stuck one turns /healthz red.

A service registers its workers (`watch`), each worker calls `beat` on every turn of its
loop (also when idle, so "no messages" is not "stuck"), and `report` says for each whether
its thread is alive and how long ago it last made progress. Health is red when any worker's
thread has ended or it made no progress for longer than its `stale_after_s`.

`serve` exposes `/metrics` (Prometheus, the service's registry plus `worker_alive` and
`worker_last_progress_seconds` per worker) and `/healthz` (JSON; 200 when healthy, 503 when
not) on one port, so an orchestrator's probe and the harness's process checks see a dead
worker in a process that is still running.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import MetricsHandler
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector


@dataclass
class _Worker:
    alive: Callable[[], bool]
    stale_after_s: float
    last_progress: float


class Liveness(Collector):
    """Workers of one service; thread-safe; also a Prometheus collector."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._workers: dict[str, _Worker] = {}
        self._lock = threading.Lock()
        self.extra: dict[str, Callable[[], object]] = {}  # more fields for /healthz (counters, connection)

    def watch(self, name: str, alive: threading.Thread | Callable[[], bool], stale_after_s: float = 60.0) -> None:
        """Track `name`: a thread (alive while it runs) or a callable saying whether it is alive."""
        check = alive.is_alive if isinstance(alive, threading.Thread) else alive
        with self._lock:
            self._workers[name] = _Worker(check, stale_after_s, self._clock())

    def beat(self, name: str) -> None:
        """`name` made progress (or went round its loop idle) just now."""
        with self._lock:
            w = self._workers.get(name)
            if w is not None:
                w.last_progress = self._clock()

    def report(self) -> dict[str, Any]:
        """{"ok": bool, "workers": {name: {"alive", "last_progress_s", "stale"}}, …extra}."""
        now = self._clock()
        workers: dict[str, dict[str, Any]] = {}
        with self._lock:
            items = list(self._workers.items())
        for name, w in items:
            alive = bool(w.alive())
            ago = max(0.0, now - w.last_progress)
            workers[name] = {"alive": alive, "last_progress_s": round(ago, 3), "stale": ago > w.stale_after_s}
        ok = all(v["alive"] and not v["stale"] for v in workers.values())
        out: dict[str, Any] = {"ok": ok, "workers": workers}
        for key, fn in self.extra.items():
            out[key] = fn()
        return out

    @property
    def ok(self) -> bool:
        return bool(self.report()["ok"])

    def collect(self) -> Iterable[Metric]:
        rep = self.report()["workers"]
        alive = GaugeMetricFamily("worker_alive", "1 while the worker's thread runs", labels=["worker"])
        ago = GaugeMetricFamily(
            "worker_last_progress_seconds", "Seconds since the worker last made progress", labels=["worker"]
        )
        for name, w in rep.items():
            alive.add_metric([name], 1.0 if w["alive"] else 0.0)
            ago.add_metric([name], w["last_progress_s"])
        yield alive
        yield ago


def serve(liveness: Liveness, registry: CollectorRegistry, port: int, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    """`/metrics` and `/healthz` on host:port (0: a free port) in a daemon thread; returns the server."""
    registry.register(liveness)
    base = MetricsHandler.factory(registry)

    class Handler(base):  # type: ignore[misc, valid-type]
        def do_GET(self) -> None:
            if self.path.split("?")[0] != "/healthz":
                super().do_GET()
                return
            rep = liveness.report()
            body = json.dumps(rep, default=str).encode()
            self.send_response(200 if rep["ok"] else 503)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:  # probes every few seconds must not fill the log
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, name="health-http", daemon=True).start()
    return server
