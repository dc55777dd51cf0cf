"""The platform's parts as separate processes wired only by PLANTCARBON_* settings.

The demo, the end-to-end tests and the pipeline benchmarks all run edge, ingest, metering and
the API this way, as production would: one `plantcarbon …` process per part, each with its
own log, pointed at a broker and an InfluxDB by environment.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from harness.influxdb import InfluxDB
from harness.mosquitto import Mosquitto
from harness.process import stop_process, wait_until
from plantcarbon_core.influx import InfluxTarget


def scrape_metrics(port: int, host: str = "127.0.0.1") -> dict[str, float]:
    """A part's Prometheus metrics as {"name|label=value…": value}; empty while it is not up."""
    try:
        text = httpx.get(f"http://{host}:{port}/metrics", timeout=5).text
    except httpx.HTTPError:
        return {}
    out: dict[str, float] = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            key = s.name + "".join(f"|{k}={v}" for k, v in sorted(s.labels.items()))
            out[key] = float(s.value)
    return out


def part_health(part: Part) -> httpx.Response | None:
    """The part's /healthz answer; None when it serves none or does not answer (yet)."""
    if part.health_port is None:
        return None
    try:
        return httpx.get(f"http://127.0.0.1:{part.health_port}/healthz", timeout=5)
    except httpx.HTTPError:
        return None


@dataclass
class Part:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path
    health_port: int | None = None  # the part serves GET /healthz here (200 healthy, 503 not)

    def log_text(self) -> str:
        return self.log.read_text("utf-8", errors="replace") if self.log.exists() else ""

    def tail(self, lines: int = 20) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])


@dataclass
class Stack:
    """Parts started against one broker and one InfluxDB target (raw and metering buckets)."""

    workdir: Path
    broker: Mosquitto
    influx: InfluxDB
    target: InfluxTarget
    extra_env: dict[str, str] = field(default_factory=dict)
    parts: dict[str, Part] = field(default_factory=dict)

    def env(self, **extra: str) -> dict[str, str]:
        return {
            **os.environ,
            "PLANTCARBON_MQTT_URL": self.broker.url,
            "PLANTCARBON_INFLUX_URL": self.influx.url,
            "PLANTCARBON_INFLUX_ORG": self.influx.org,
            "PLANTCARBON_INFLUX_TOKEN": self.target.token,
            "PLANTCARBON_INFLUX_RAW_BUCKET": self.target.raw_bucket,
            "PLANTCARBON_INFLUX_METERING_BUCKET": self.target.metering_bucket,
            "PLANTCARBON_DATA_DIR": str(self.workdir / "data"),
            **self.extra_env,
            **extra,
        }

    def command(self, args: list[str]) -> list[str]:
        return [sys.executable, "-m", "plantcarbon", *args]

    def spawn(self, name: str, args: list[str], health_port: int | None = None, **env: str) -> Part:
        """Start `plantcarbon <args>` as part `name`, logging to <workdir>/logs/<name>.log.

        `health_port`: where the part serves /healthz; `check` then also fails on a red one."""
        log = self.workdir / "logs" / f"{name}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as out:
            # A new session: Ctrl-C in a terminal reaches the caller, which stops parts in order.
            proc = subprocess.Popen(
                self.command(args), stdout=out, stderr=subprocess.STDOUT, env=self.env(**env), start_new_session=True
            )
        part = Part(name, proc, log, health_port)
        self.parts[name] = part
        return part

    def run(self, args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
        """Run `plantcarbon <args>` to completion (e.g. a recompute or a dashboards build)."""
        return subprocess.run(self.command(args), env=self.env(**env), capture_output=True, text=True)

    def wait_log(self, name: str, text: str, timeout_s: float = 60) -> None:
        part = self.parts[name]
        wait_until(lambda: text in part.log_text(), timeout_s, f"{name}: {text!r} in its log", part.proc, part.log)

    def check(self) -> None:
        """Raise if a part has exited, or if its /healthz says a worker died or is stuck.

        A process can stay up with a dead worker thread (issue 16): only its health says so.
        A part not answering yet (starting) is not a failure here; its exit would be.
        """
        for p in self.parts.values():
            code = p.proc.poll()
            if code is not None:
                raise RuntimeError(f"{p.name} exited with {code}; last lines of {p.log}:\n{p.tail()}")
            health = part_health(p)
            if health is not None and health.status_code != 200:
                raise RuntimeError(f"{p.name} is unhealthy: {health.text[:1000]}; last lines of {p.log}:\n{p.tail()}")

    def stop(self, name: str, timeout_s: float = 30) -> None:
        stop_process(self.parts[name].proc, timeout_s=timeout_s)

    def stop_all(self) -> None:
        for name in reversed(list(self.parts)):
            self.stop(name)
