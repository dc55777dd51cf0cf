"""Small process helpers shared by the service starters: clean stops; free ports and waiting re-exported.

`free_port`, `port_open` and `wait_until` live in `plantcarbon_core.ports`: the simulators'
Modbus servers need them at run time, and the harness is not in the runtime wheel.
"""

from __future__ import annotations

import subprocess

from plantcarbon_core.ports import free_port, port_open, wait_until

__all__ = ["ServiceProcess", "free_port", "port_open", "stop_process", "wait_until"]


def stop_process(proc: subprocess.Popen[bytes], timeout_s: float = 10.0) -> None:
    """SIGTERM, wait, then SIGKILL: services get the chance to flush and close."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=timeout_s)


class ServiceProcess:
    """Stop, kill and restart for a harness server that holds its process in `self.proc`."""

    proc: subprocess.Popen[bytes] | None
    stop_timeout_s: float = 10.0

    def start(self) -> ServiceProcess:
        raise NotImplementedError

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc, timeout_s=self.stop_timeout_s)
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

    def __enter__(self) -> ServiceProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
