"""InfluxDB 2.7 for tests and the demo: find or build `influxd`, start it on loopback, onboard it.

The binary comes from `$PLANTCARBON_INFLUXD`, an `influxd` 2.7 on PATH, or the cache at
~/.cache/plantcarbon/bin/influxd-<version>. Failing those it is built from the Go module
`github.com/influxdata/influxdb/v2` with this machine's Go and cargo (flux's Rust `libflux` is
compiled through `github.com/influxdata/pkg-config`). A failed build fails loudly with the
tool output; there is no fallback.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from harness.once import CACHE_DIR, locked
from harness.process import ServiceProcess, free_port, wait_until
from plantcarbon_core.influx import InfluxTarget

INFLUXDB_VERSION = "2.7.12"
MODULE = "github.com/influxdata/influxdb/v2"
ORG = "plantcarbon"
TOKEN = "plantcarbon-test-token"


def cached_binary() -> Path:
    return CACHE_DIR / "bin" / f"influxd-{INFLUXDB_VERSION}"


def find_influxd() -> Path | None:
    env = os.environ.get("PLANTCARBON_INFLUXD")
    if env:
        p = Path(env)
        if not p.exists():
            raise FileNotFoundError(f"PLANTCARBON_INFLUXD={env} does not exist")
        return p
    on_path = shutil.which("influxd")
    if on_path and _version_of(Path(on_path)).startswith("2.7"):
        return Path(on_path)
    cached = cached_binary()
    return cached if cached.exists() else None


def ensure_influxd(log: bool = True) -> Path:
    """Path to influxd 2.7; builds and caches it the first time (takes minutes)."""
    found = find_influxd()
    if found:
        return found
    with locked("influxd"):  # parallel test workers: one build, the others wait and find it
        return find_influxd() or build_influxd(verbose=log)


def _version_of(binary: Path) -> str:
    try:
        out = subprocess.run([str(binary), "version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ""
    # "InfluxDB v2.7.12 (git: ...) build_date: ..."
    parts = out.split()
    return parts[1].lstrip("v") if len(parts) > 1 else ""


def _run(cmd: list[str], cwd: Path, env: dict[str, str], what: str) -> str:
    print(f"plantcarbon: {what}: {' '.join(cmd)}", flush=True)
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    lines: list[str] = []
    last_print = 0.0
    for text_line in proc.stdout:
        lines.append(text_line)
        # Progress without flooding: one line every few seconds.
        if time.monotonic() - last_print > 5:
            print(f"  … {text_line.rstrip()[:160]}", flush=True)
            last_print = time.monotonic()
    rc = proc.wait()
    output = "".join(lines)
    if rc != 0:
        sys.stderr.write(output[-20000:])
        raise RuntimeError(f"{what} failed with exit code {rc} (output above)")
    return output


def _rust_toolchain() -> str | None:
    """The installed default toolchain: flux pins an old one in rust-toolchain.toml that this
    machine does not have and cannot download."""
    rustup = shutil.which("rustup")
    if not rustup:
        return None
    out = subprocess.run([rustup, "show", "active-toolchain"], capture_output=True, text=True, cwd=Path.home())
    name = out.stdout.split()
    return name[0] if name else None


def build_influxd(verbose: bool = True) -> Path:
    """Build influxd from the Go module source; returns the cached binary path."""
    for tool in ("go", "cargo"):
        if not shutil.which(tool):
            raise RuntimeError(f"building influxd needs {tool!r} on PATH")
    started = time.monotonic()
    build = CACHE_DIR / "build"
    build.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "GOFLAGS": "-mod=mod", "GOTOOLCHAIN": "local"}
    info = json.loads(
        _run(
            ["go", "mod", "download", "-json", f"{MODULE}@v{INFLUXDB_VERSION}"], build, env, "download influxdb module"
        )
    )
    src = build / f"influxdb-{INFLUXDB_VERSION}"
    if not (src / "go.mod").exists():
        tmp = build / f"influxdb-{INFLUXDB_VERSION}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(info["Dir"], tmp)
        for root, dirs, files in os.walk(tmp):  # the module cache is read-only
            for name in dirs + files:
                os.chmod(Path(root) / name, 0o755 if name in dirs else 0o644)
        tmp.rename(src)
    pkg_config = build / "pkg-config"
    if not pkg_config.exists():
        _run(["go", "build", "-o", str(pkg_config), "github.com/influxdata/pkg-config"], src, env, "build pkg-config")
    # flux denies warnings; a newer rustc warns about more than the pinned one did. RUSTFLAGS
    # does not reach the host build of flux-core (a build-dependency when --target is given),
    # so a rustc wrapper caps lints for every crate.
    wrapper = build / "rustc-cap-lints"
    wrapper.write_text('#!/bin/sh\nexec "$@" --cap-lints warn\n')
    wrapper.chmod(0o755)
    env.update({"PKG_CONFIG": str(pkg_config), "RUSTC_WRAPPER": str(wrapper)})
    toolchain = _rust_toolchain()
    if toolchain:
        env["RUSTUP_TOOLCHAIN"] = toolchain
    out = build / "influxd"
    ldflags = f"-checklinkname=0 -X main.version=v{INFLUXDB_VERSION} -X main.commit=module-build"
    _run(
        ["go", "build", "-ldflags", ldflags, "-o", str(out), "./cmd/influxd"],
        src,
        env,
        "build influxd (first time: several minutes)",
    )
    target = cached_binary()
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    shutil.copy2(out, partial)
    partial.rename(target)  # atomic: a process that checks for the binary never finds half of one
    if verbose:
        print(
            f"plantcarbon: influxd {INFLUXDB_VERSION} built in {time.monotonic() - started:.0f} s → {target}",
            flush=True,
        )
    return target


@dataclass
class InfluxDB(ServiceProcess):
    """A running influxd, onboarded with org, buckets raw and metering and an all-access token."""

    stop_timeout_s = 20.0  # influxd flushes its write-ahead log on SIGTERM

    host: str
    port: int
    workdir: Path
    org: str = ORG
    token: str = field(default=TOKEN, repr=False)
    proc: subprocess.Popen[bytes] | None = None
    version: str = ""
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.workdir / "influxd.log"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def target(self, raw_bucket: str = "raw", metering_bucket: str = "metering") -> InfluxTarget:
        return InfluxTarget(self.url, self.org, self.token, raw_bucket, metering_bucket)

    def start(self) -> InfluxDB:
        binary = ensure_influxd()
        args = [
            str(binary),
            f"--http-bind-address={self.host}:{self.port}",
            f"--bolt-path={self.workdir / 'influxd.bolt'}",
            f"--engine-path={self.workdir / 'engine'}",
            f"--sqlite-path={self.workdir / 'influxd.sqlite'}",
            "--reporting-disabled",
            "--log-level=warn",
        ]
        with self.log.open("ab") as logf:
            self.proc = subprocess.Popen(args, stdout=logf, stderr=subprocess.STDOUT, start_new_session=True)
        wait_until(self._healthy, 60, "influxd", self.proc, self.log)
        self._onboard()
        return self

    def _healthy(self) -> bool:
        try:
            r = httpx.get(f"{self.url}/health", timeout=1)
        except httpx.HTTPError:
            return False
        if r.status_code == 200:
            self.version = str(r.json().get("version", ""))
            return True
        return False

    def _api(self, method: str, path: str, **kw: object) -> httpx.Response:
        headers = {"Authorization": f"Token {self.token}"}
        r = httpx.request(method, f"{self.url}{path}", headers=headers, timeout=30, **kw)  # type: ignore[arg-type]
        if r.status_code >= 400:
            raise RuntimeError(f"InfluxDB {method} {path}: HTTP {r.status_code}: {r.text[:300]}")
        return r

    def _onboard(self) -> None:
        allowed = httpx.get(f"{self.url}/api/v2/setup", timeout=10).json().get("allowed", False)
        if not allowed:
            return  # a restart of an already set-up instance
        httpx.post(
            f"{self.url}/api/v2/setup",
            json={
                "username": "plantcarbon",
                "password": "plantcarbon-pass",
                "org": self.org,
                "bucket": "raw",
                "token": self.token,
            },
            timeout=30,
        ).raise_for_status()
        self.create_bucket("metering")

    def org_id(self) -> str:
        orgs = self._api("GET", "/api/v2/orgs", params={"org": self.org}).json()["orgs"]
        return str(orgs[0]["id"])

    def create_bucket(self, name: str, retention_s: int = 0) -> str:
        body = {
            "orgID": self.org_id(),
            "name": name,
            "retentionRules": ([{"type": "expire", "everySeconds": retention_s}] if retention_s else []),
        }
        return str(self._api("POST", "/api/v2/buckets", json=body).json()["id"])

    def fresh_target(self) -> InfluxTarget:
        """New raw and metering buckets with unique names, so tests never see each other's data."""
        tag = uuid.uuid4().hex[:10]
        raw, metering = f"raw_{tag}", f"metering_{tag}"
        self.create_bucket(raw)
        self.create_bucket(metering)
        return self.target(raw, metering)


def start_influxdb(
    workdir: Path | None = None, port: int | None = None, host: str = "127.0.0.1", token: str = TOKEN
) -> InfluxDB:
    wd = workdir or Path(tempfile.mkdtemp(prefix="pc-influxd-"))
    wd.mkdir(parents=True, exist_ok=True)
    return InfluxDB(host=host, port=port or free_port(host), workdir=wd, token=token).start()
