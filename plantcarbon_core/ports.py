"""Loopback ports and waiting for a condition: a free port, is a port open, wait until something holds."""

from __future__ import annotations

import fcntl
import os
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

# Under parallel test workers (pytest-xdist sets PYTEST_XDIST_WORKER, inherited by every process a
# test starts) ports come from one machine-wide counter in this range instead of the OS. The OS's
# "bind port 0, close, hand the number on" races: another worker, or the outgoing connection of
# any process, may take the number before the server binds it. The range lies below Linux's
# ephemeral range (32768–60999), so no outgoing connection takes these numbers, and the counter,
# locked across processes, never hands out the same number twice until it wraps.
SHARED_RANGE = (10000, 32000)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago: the OS picks it, or the shared counter under test workers."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return _counted_port(host)
    return _os_port(host)


def _os_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _bindable(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def _counted_port(host: str) -> int:
    """The next bindable port of `SHARED_RANGE` after the last one any process took (a locked counter file)."""
    lo, hi = SHARED_RANGE
    path = Path(tempfile.gettempdir()) / f"plantcarbon-ports-{os.getuid()}"
    with path.open("a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)  # released when the file closes
        f.seek(0)
        text = f.read().strip()
        last = int(text) if text.isdigit() else lo - 1
        for step in range(1, hi - lo + 1):
            port = lo + (last - lo + step) % (hi - lo)
            if _bindable(host, port):
                f.seek(0)
                f.truncate()
                f.write(str(port))
                return port
    raise OSError(f"no free port in {lo}–{hi} on {host}")


def port_open(host: str, port: int, timeout: float = 0.2) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_until(
    check: Callable[[], bool],
    timeout_s: float,
    what: str,
    proc: subprocess.Popen[bytes] | None = None,
    log: Path | None = None,
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what}: process exited with {proc.returncode}{_tail(log)}")
        time.sleep(0.05)
    raise TimeoutError(f"{what}: not ready after {timeout_s:.0f} s{_tail(log)}")


def _tail(log: Path | None, lines: int = 30) -> str:
    if log is None or not log.exists():
        return ""
    text = log.read_text("utf-8", errors="replace").splitlines()[-lines:]
    return "\n--- last lines of " + str(log) + " ---\n" + "\n".join(text)
