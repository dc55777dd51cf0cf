"""The control room's pre-aggregation: today's rows re-read in the background, the month to date every 5 min.

Kept apart from the queries (controlroom_queries.py) because these hold state across requests and
threads; the queries and shaping stay stateless.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

import pandas as pd

from metering.api.controlroom_queries import read_emissions, read_energy
from plantcarbon_core.influx import InfluxTarget

log = logging.getLogger(__name__)


class _Background:
    """One background read per key at a time, and a way for tests to wait until none runs."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reading: set[object] = set()

    def _later(self, key: object, read: Callable[[], object], what: str) -> None:
        with self._lock:
            if key in self._reading:
                return
            self._reading.add(key)

        def run() -> None:
            try:
                read()
            except Exception:  # InfluxDB away: the page keeps what it has; a later call tries again
                log.warning("control room: reading %s failed", what, exc_info=True)
            finally:
                with self._lock:
                    self._reading.discard(key)

        threading.Thread(target=run, name="controlroom-read", daemon=True).start()

    def wait_idle(self, timeout_s: float = 30.0) -> bool:
        """True once no background read runs (tests and the bench wait for the condition)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                if not self._reading:
                    return True
            time.sleep(0.01)
        return False


class TodayCache(_Background):
    """Today's interval rows for every caller (live, breakdown, device pages): read once, then kept fresh
    in the background.

    Metering writes intervals every 15 s at most (its poll) and closes one every 15 minutes, so a few
    seconds of age change nothing on the page. A call finding rows older than `ttl_s` gets them at once
    and starts one background read (stale-while-revalidate). Only the day's first call, or one after
    nobody asked for `max_stale_s`, waits for the read (a few hundred ms on a large plant): a page that
    refreshes every few seconds never does.
    """

    def __init__(self, ttl_s: float = 10.0, max_stale_s: float = 60.0) -> None:
        super().__init__()
        self.ttl_s = ttl_s
        self.max_stale_s = max_stale_s
        self._data: dict[str, tuple[float, pd.DataFrame, pd.DataFrame]] = {}

    def get(
        self, target: InfluxTarget, site: str, midnight: datetime, now: datetime
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        # Per database too: one process may serve (or test) several.
        key = f"{target.url}/{target.metering_bucket}/{site}@{midnight.isoformat()}"
        with self._lock:
            hit = self._data.get(key)
        age = None if hit is None else time.monotonic() - hit[0]
        if hit is None or age is None or age >= self.max_stale_s:
            # A new day, the first call, or nobody asked for a while: read now rather than show old rows.
            return self._read(key, target, site, midnight, now)
        if age >= self.ttl_s:
            self._read_later(key, target, site, midnight, now)
        return hit[1], hit[2]

    def _read(
        self, key: str, target: InfluxTarget, site: str, midnight: datetime, now: datetime
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        t = time.monotonic()
        e, c = read_energy(target, site, midnight, now), read_emissions(target, site, midnight, now)
        with self._lock:
            self._data = {k: v for k, v in self._data.items() if k.split("@")[0] != key.split("@")[0]}
            self._data[key] = (t, e, c)
        return e, c

    def _read_later(self, key: str, target: InfluxTarget, site: str, midnight: datetime, now: datetime) -> None:
        # As of the asking call's "now": the same rows a read in that call would give.
        self._later(key, lambda: self._read(key, target, site, midnight, now), f"today's intervals of {site}")

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


class DayCache(_Background):
    """Month-to-date sums up to local midnight change rarely: computed once, then reused all day.

    This is the pre-aggregation that keeps "this month" fast on a year of data: only today's
    rows are read on every refresh. Past days can still change during the day — the demo seeds
    its last 7 days while the API already serves, a recompute rewrites old intervals — so a value
    older than `ttl_s` is re-read in the background (the call still gets the value it has).
    `clear()` drops everything at once.
    """

    def __init__(self, ttl_s: float = 300.0) -> None:
        super().__init__()
        self.ttl_s = ttl_s
        self._data: dict[tuple[str, str, str], tuple[float, pd.DataFrame, pd.DataFrame]] = {}

    def get(
        self, target: InfluxTarget, site: str, month_start: datetime, midnight: datetime
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        key = (f"{target.url}/{target.metering_bucket}", site, midnight.isoformat())
        with self._lock:
            hit = self._data.get(key)
        if hit is None:
            return self._read(key, target, site, month_start, midnight)
        if time.monotonic() - hit[0] >= self.ttl_s:
            self._read_later(key, target, site, month_start, midnight)
        return hit[1], hit[2]

    def _read(
        self, key: tuple[str, str, str], target: InfluxTarget, site: str, month_start: datetime, midnight: datetime
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        t = time.monotonic()
        if midnight <= month_start:
            e, c = pd.DataFrame(), pd.DataFrame()
        else:
            e, c = read_energy(target, site, month_start, midnight), read_emissions(target, site, month_start, midnight)
        with self._lock:
            self._data = {k: v for k, v in self._data.items() if k[:2] != key[:2]}
            self._data[key] = (t, e, c)
        return e, c

    def _read_later(
        self, key: tuple[str, str, str], target: InfluxTarget, site: str, month_start: datetime, midnight: datetime
    ) -> None:
        self._later(key, lambda: self._read(key, target, site, month_start, midnight), f"the month to date of {site}")

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


def concat_sum(a: pd.DataFrame, b: pd.DataFrame, keys: list[str], values: list[str]) -> pd.DataFrame:
    """Two grouped-sum frames added row by row on their keys (month to yesterday + today)."""
    frames = [f for f in (a, b) if not f.empty]
    if not frames:
        return pd.DataFrame(columns=[*keys, *values])
    df = pd.concat(frames, ignore_index=True)
    for k in keys:
        if k not in df.columns:
            df[k] = ""
        df[k] = df[k].fillna("")
    present = [v for v in values if v in df.columns]
    for v in present:
        df[v] = pd.to_numeric(df[v], errors="coerce")
    return df.groupby(keys, as_index=False)[present].sum(min_count=1)


def month_start_of(local_midnight: datetime) -> datetime:
    return local_midnight.replace(day=1)


def window(now: datetime, hours: float) -> datetime:
    return now - timedelta(hours=hours)
