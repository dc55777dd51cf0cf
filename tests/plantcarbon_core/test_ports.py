"""Free ports under parallel test workers: one counter shared by every process, below the ephemeral range."""

from __future__ import annotations

import itertools
import socket
import tempfile
from pathlib import Path

import pytest

from plantcarbon_core import ports


@pytest.fixture
def counter_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The shared counter file in this test's own folder, as a worker would see it."""
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw0")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


def test_worker_ports_come_from_the_counter_in_turn_and_never_repeat(counter_in: Path) -> None:
    lo, hi = ports.SHARED_RANGE
    got = [ports.free_port() for _ in range(20)]
    assert len(set(got)) == 20
    assert all(lo <= p < hi for p in got)
    assert all(b > a for a, b in itertools.pairwise(got))  # in turn: no wrap in 20 of 22,000
    # The counter file is what another process reads next: it continues after the last port.
    assert int(next(counter_in.glob("plantcarbon-ports-*")).read_text()) == got[-1]


def test_a_port_someone_listens_on_is_passed_over(counter_in: Path) -> None:
    first = ports.free_port()
    with socket.socket() as held:
        taken = next(p for p in range(first + 1, first + 100) if ports._bindable("127.0.0.1", p))
        held.bind(("127.0.0.1", taken))
        held.listen()
        assert ports.free_port() > taken  # the counter's next number, `taken`, is passed over


def test_without_workers_the_os_picks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    port = ports.free_port()
    assert ports._bindable("127.0.0.1", port)
    assert not list(tmp_path.glob("plantcarbon-ports-*"))
