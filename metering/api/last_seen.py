"""Newest reading time per (site, device) in memory: fed by the alert engine, seeded from InfluxDB.

The control room's device health needs "when did each device last report". Asking InfluxDB for the
newest point of every series costs most of a `live` call on a large plant, while the alert engine
in the same process already sees every reading batch. This tracker keeps the newest sample time per
device from those batches (one cheap call per message) and merges it with a seed read from InfluxDB
once, then again in a background thread at most every `refresh_s`: a device silent since before the
API started still shows since when.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

log = logging.getLogger(__name__)
# Sample times outside this range are not a reading time (a bad clock, a unit mix-up): ignored.
_MIN_MS = 946_684_800_000  # 2000-01-01
_MAX_MS = 32_503_680_000_000  # 3000-01-01

Seed = Callable[[], dict[str, datetime]]


class LastSeen:
    """Thread-safe; `note` is called from the MQTT thread, `get` from request threads."""

    def __init__(self, refresh_s: float = 180.0) -> None:
        self.refresh_s = refresh_s
        self._lock = threading.Lock()
        self._live: dict[tuple[str, str], int] = {}  # newest sample ts (ms) heard over MQTT
        self._seed: dict[str, tuple[float, dict[str, datetime]]] = {}  # site -> (monotonic read time, times)
        self._refreshing: set[str] = set()
        self.ignored = 0  # notes with no usable site, device or time

    def note(self, site: object, device: object, ts_ms: object) -> None:
        """One reading batch's newest sample time; anything odd is counted and ignored, never raised."""
        if not isinstance(site, str) or not isinstance(device, str) or not site or not device:
            self.ignored += 1
            return
        if isinstance(ts_ms, bool) or not isinstance(ts_ms, int | float) or not math.isfinite(ts_ms):
            self.ignored += 1
            return
        t = int(ts_ms)
        if not _MIN_MS <= t <= _MAX_MS:
            self.ignored += 1
            return
        key = (site, device)
        with self._lock:
            if t > self._live.get(key, -1):
                self._live[key] = t

    def live(self, site: str) -> dict[str, datetime]:
        """What MQTT delivered since start, per device of `site`."""
        with self._lock:
            items = [(d, t) for (s, d), t in self._live.items() if s == site]
        return {d: datetime.fromtimestamp(t / 1000, UTC) for d, t in items}

    def get(self, site: str, seed: Seed) -> dict[str, datetime]:
        """max(seed, live) per device. The first call reads the seed; later ones refresh it in the background."""
        with self._lock:
            hit = self._seed.get(site)
        if hit is None:
            seeded = self._read(site, seed)
        else:
            seeded = hit[1]
            if time.monotonic() - hit[0] >= self.refresh_s:
                self._refresh_later(site, seed)
        out = dict(seeded)
        for d, t in self.live(site).items():
            if d not in out or t > out[d]:
                out[d] = t
        return out

    def _read(self, site: str, seed: Seed) -> dict[str, datetime]:
        t = time.monotonic()
        value = seed()
        with self._lock:
            self._seed[site] = (t, value)
        return value

    def _refresh_later(self, site: str, seed: Seed) -> None:
        with self._lock:
            if site in self._refreshing:
                return
            self._refreshing.add(site)

        def run() -> None:
            try:
                self._read(site, seed)
            except Exception:  # the old seed stays; the next call after refresh_s tries again
                log.warning("last-seen: refreshing the seed of %s from InfluxDB failed", site, exc_info=True)
                with self._lock:
                    old = self._seed.get(site)
                    if old is not None:
                        self._seed[site] = (time.monotonic(), old[1])
            finally:
                with self._lock:
                    self._refreshing.discard(site)

        threading.Thread(target=run, name=f"last-seen-{site}", daemon=True).start()
