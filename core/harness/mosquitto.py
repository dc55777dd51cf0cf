"""Mosquitto on a free loopback port: install with apt if missing, generated config, clean stop."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from core.harness.process import free_port, port_open, stop_process, wait_until

# Mosquitto's default max_queued_messages is 1000 per client: a persistent session that falls
# further behind loses the excess silently. Raise both limits far above any backlog we expect.
QUEUE_LIMITS = "max_queued_messages 10000000\nmax_queued_bytes 0\nmax_inflight_messages 1000\n"


def ensure_mosquitto() -> Path:
    """Path to the mosquitto binary, installing Debian's package when it is missing."""
    found = shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/bin/mosquitto") if Path(p).exists()), None
    )
    if found:
        return Path(found)
    print("plantcarbon: installing mosquitto with apt-get …", flush=True)
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run([*sudo, "apt-get", "update", "-q"], check=True, env=env)
    subprocess.run([*sudo, "apt-get", "install", "-y", "-q", "mosquitto"], check=True, env=env)
    for p in ("/usr/sbin/mosquitto", "/usr/bin/mosquitto"):
        if Path(p).exists():
            return Path(p)
    raise RuntimeError("mosquitto was installed but its binary was not found")


@dataclass
class Mosquitto:
    """A running broker. `url` is mqtt://127.0.0.1:PORT (or mqtts:// with TLS)."""

    host: str
    port: int
    workdir: Path
    proc: subprocess.Popen[bytes] | None = None
    extra_config: str = ""
    tls_port: int | None = None
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.workdir / "mosquitto.log"

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def config_text(self) -> str:
        return (
            f"listener {self.port} {self.host}\n"
            # Started as root, mosquitto would switch to user 'mosquitto', which cannot write
            # the temp dir; stay as the user that started it.
            + ("user root\n" if os.geteuid() == 0 else "")
            + "allow_anonymous true\n"
            "persistence true\n"
            f"persistence_location {self.workdir}/\n"
            "autosave_interval 1\n"
            f"log_dest file {self.log}\n"
            "log_type error\nlog_type warning\nlog_type notice\n" + QUEUE_LIMITS + self.extra_config
        )

    def start(self) -> Mosquitto:
        conf = self.workdir / "mosquitto.conf"
        conf.write_text(self.config_text())
        self.proc = subprocess.Popen(
            [str(ensure_mosquitto()), "-c", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_until(lambda: port_open(self.host, self.port), 15, "mosquitto", self.proc, self.log)
        return self

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
            self.proc = None

    def kill(self) -> None:
        """Stop without a clean shutdown (SIGKILL), as a crash would."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def __enter__(self) -> Mosquitto:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_mosquitto(
    workdir: Path | None = None, port: int | None = None, host: str = "127.0.0.1", extra_config: str = ""
) -> Mosquitto:
    """Start a broker with persistence in `workdir` (a new temp dir by default)."""
    wd = workdir or Path(tempfile.mkdtemp(prefix="pc-mosquitto-"))
    wd.mkdir(parents=True, exist_ok=True)
    return Mosquitto(host=host, port=port or free_port(host), workdir=wd, extra_config=extra_config).start()
