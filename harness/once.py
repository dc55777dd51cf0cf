"""Set-up done once across parallel test workers: a file lock around each install or build, and apt-get under it."""

from __future__ import annotations

import fcntl
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CACHE_DIR = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "plantcarbon"


@contextmanager
def locked(name: str) -> Iterator[None]:
    """Hold the machine-wide lock `name` (a file under the cache): parallel workers that all find
    something missing install it one at a time, and the later ones find it there when they re-check."""
    path = CACHE_DIR / "locks" / f"{name}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield  # the lock goes with the file's close


def apt_install(packages: list[str]) -> None:
    """`apt-get install` the packages (sudo -n unless root); one apt-get at a time (apt locks its own state)."""
    with locked("apt"):
        print(f"plantcarbon: installing {' '.join(packages)} with apt-get …", flush=True)
        sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run([*sudo, "apt-get", "update", "-q"], check=True, env=env)
        subprocess.run([*sudo, "apt-get", "install", "-y", "-q", *packages], check=True, env=env)
