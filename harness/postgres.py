"""PostgreSQL for tests: Debian's server binaries, a throwaway cluster on a free loopback port.

Finds `initdb`/`pg_ctl` on PATH or under /usr/lib/postgresql/<major>/bin, installing the
`postgresql` package with apt when missing. PostgreSQL refuses to run as root, so when the
tests run as root the cluster is created and run as the `postgres` user (via `runuser`).
Trust authentication on 127.0.0.1 only: a test database, never a real one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from harness.once import apt_install
from harness.process import free_port, port_open, wait_until


def _bin(name: str) -> Path | None:
    found = shutil.which(name)
    if found:
        return Path(found)
    for d in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (d / name).exists():
            return d / name
    return None


def ensure_postgres() -> tuple[Path, Path]:
    """Paths to initdb and pg_ctl, installing Debian's postgresql when missing."""
    initdb, pg_ctl = _bin("initdb"), _bin("pg_ctl")
    if initdb and pg_ctl:
        return initdb, pg_ctl
    apt_install(["postgresql"])
    initdb, pg_ctl = _bin("initdb"), _bin("pg_ctl")
    if not (initdb and pg_ctl):
        raise RuntimeError("postgresql was installed but initdb/pg_ctl were not found")
    return initdb, pg_ctl


def _as_owner() -> list[str]:
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


@dataclass
class Postgres:
    port: int
    workdir: Path
    pg_ctl: Path

    @property
    def url(self) -> str:
        """SQLAlchemy URL (psycopg 3 driver) of the `postgres` database."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        subprocess.run(
            [*_as_owner(), str(self.pg_ctl), "-D", str(self.workdir / "data"), "-m", "fast", "stop"],
            check=False,
            capture_output=True,
        )


def start_postgres(workdir: Path | None = None) -> Postgres:
    initdb, pg_ctl = ensure_postgres()
    wd = workdir or Path(tempfile.mkdtemp(prefix="pc-postgres-"))
    wd.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(wd, "postgres", "postgres")
    port = free_port()
    log = wd / "postgres.log"
    subprocess.run(
        [*_as_owner(), str(initdb), "-D", str(wd / "data"), "-U", "postgres", "--auth=trust", "-E", "UTF8"],
        check=True,
        capture_output=True,
    )
    opts = f"-p {port} -c listen_addresses=127.0.0.1 -k {wd} -c fsync=off"
    subprocess.run(
        [*_as_owner(), str(pg_ctl), "-D", str(wd / "data"), "-l", str(log), "-o", opts, "-w", "start"],
        check=True,
        capture_output=True,
    )
    wait_until(lambda: port_open("127.0.0.1", port), 30, "postgres", None, log)
    return Postgres(port=port, workdir=wd, pg_ctl=pg_ctl)
