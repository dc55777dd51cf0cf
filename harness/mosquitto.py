"""Mosquitto on a free loopback port: install with apt if missing, generated config, clean stop.

Optionally with TLS (a throwaway CA, a server certificate for 127.0.0.1 and a client
certificate, made with `openssl`) and a password file (made with `mosquitto_passwd`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from harness.once import apt_install
from harness.process import ServiceProcess, free_port, port_open, wait_until

# Mosquitto's default max_queued_messages is 1000 per client: a persistent session that falls
# further behind loses the excess silently. Raise both limits far above any backlog we expect.
QUEUE_LIMITS = "max_queued_messages 10000000\nmax_queued_bytes 0\nmax_inflight_messages 1000\n"


def ensure_mosquitto() -> Path:
    """Path to the mosquitto binary, installing Debian's package when it is missing."""
    return ensure_apt_tool("mosquitto", "mosquitto")


def ensure_apt_tool(binary: str, package: str) -> Path:
    """Path to `binary`, installing Debian's `package` with apt-get when it is missing."""

    def find() -> str | None:
        return shutil.which(binary) or next(
            (p for p in (f"/usr/sbin/{binary}", f"/usr/bin/{binary}") if Path(p).exists()), None
        )

    found = find()
    if found:
        return Path(found)
    apt_install([package])
    found = find()
    if not found:
        raise RuntimeError(f"{package} was installed but {binary} was not found")
    return Path(found)


@dataclass(frozen=True)
class TlsFiles:
    """PEM files of a throwaway CA, the broker's certificate and a client certificate."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def make_tls_files(workdir: Path, host: str = "127.0.0.1") -> TlsFiles:
    """A self-signed CA and two certificates it signs (server: SAN IP host; client: CN edge)."""
    d = workdir / "tls"
    d.mkdir(parents=True, exist_ok=True)
    files = TlsFiles(d / "ca.crt", d / "server.crt", d / "server.key", d / "client.crt", d / "client.key")

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=d)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=plantcarbon test CA",
        "-keyout", "ca.key", "-out", "ca.crt")  # fmt: skip
    for name, subject, ext in (
        ("server", f"/CN={host}", f"subjectAltName=IP:{host}\nextendedKeyUsage=serverAuth"),
        ("client", "/CN=edge", "extendedKeyUsage=clientAuth"),
    ):
        (d / f"{name}.ext").write_text(ext + "\n")
        run("req", "-newkey", "rsa:2048", "-nodes", "-subj", subject, "-keyout", f"{name}.key", "-out", f"{name}.csr")
        run("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-days", "2", "-extfile", f"{name}.ext", "-out", f"{name}.crt")  # fmt: skip
    return files


def make_password_file(path: Path, passwords: dict[str, str]) -> Path:
    path.write_text("")
    for user, password in passwords.items():
        subprocess.run(["mosquitto_passwd", "-b", str(path), user, password], check=True, capture_output=True)
    return path


@dataclass
class Mosquitto(ServiceProcess):
    """A running broker. `url` is mqtt://127.0.0.1:PORT (or mqtts:// with TLS)."""

    host: str
    port: int
    workdir: Path
    proc: subprocess.Popen[bytes] | None = None
    extra_config: str = ""
    tls_port: int | None = None
    # With TLS the one listener speaks TLS only; `require_certificate` asks clients for theirs.
    tls: TlsFiles | None = None
    require_certificate: bool = False
    # user → password; when given, anonymous clients are refused.
    passwords: dict[str, str] | None = field(default=None, repr=False)
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.workdir / "mosquitto.log"

    @property
    def url(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"

    def _security_config(self) -> str:
        text = ""
        if self.tls is not None:
            text += (
                f"cafile {self.tls.ca}\ncertfile {self.tls.server_cert}\nkeyfile {self.tls.server_key}\n"
                f"require_certificate {'true' if self.require_certificate else 'false'}\n"
            )
        if self.passwords is not None:
            pw = make_password_file(self.workdir / "passwd", self.passwords)
            text += f"password_file {pw}\nallow_anonymous false\n"
        else:
            text += "allow_anonymous true\n"
        return text

    def config_text(self) -> str:
        return (
            f"listener {self.port} {self.host}\n"
            # Started as root, mosquitto would switch to user 'mosquitto', which cannot write
            # the temp dir; stay as the user that started it.
            + ("user root\n" if os.geteuid() == 0 else "")
            + self._security_config()
            + "persistence true\n"
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


def start_mosquitto(
    workdir: Path | None = None,
    port: int | None = None,
    host: str = "127.0.0.1",
    extra_config: str = "",
    *,
    tls: bool = False,
    require_certificate: bool = False,
    passwords: dict[str, str] | None = None,
) -> Mosquitto:
    """Start a broker with persistence in `workdir` (a new temp dir by default).

    `tls=True` makes a throwaway CA and certificates in `workdir/tls` (see `.tls`) and serves
    MQTT over TLS only; `passwords` (user → password) turns on a password file and refuses
    anonymous clients.
    """
    wd = workdir or Path(tempfile.mkdtemp(prefix="pc-mosquitto-"))
    wd.mkdir(parents=True, exist_ok=True)
    return Mosquitto(
        host=host,
        port=port or free_port(host),
        workdir=wd,
        extra_config=extra_config,
        tls=make_tls_files(wd, host) if tls else None,
        require_certificate=require_certificate,
        passwords=passwords,
    ).start()
