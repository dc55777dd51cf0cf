"""Waiting for a condition instead of sleeping: poll until true or the time is up."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


def wait_until(check: Callable[[], object], timeout_s: float = 20.0, interval_s: float = 0.02) -> bool:
    """True as soon as `check()` is truthy; after `timeout_s` the last check's truth (never raises on timeout)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(interval_s)
    return bool(check())


def wait_count(read: Callable[[], int], want: int, timeout_s: float = 60.0, interval_s: float = 0.3) -> int:
    """Poll `read()` until it returns `want` or more; returns the last value read (the caller asserts on it)."""
    deadline = time.monotonic() + timeout_s
    got = read()
    while got < want and time.monotonic() < deadline:
        time.sleep(interval_s)
        got = read()
    return got


async def wait_until_async(check: Callable[[], object], timeout_s: float = 20.0, interval_s: float = 0.02) -> bool:
    """`wait_until` for a test running in an event loop: polls without blocking the loop."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        await asyncio.sleep(interval_s)
    return bool(check())
