"""One event-loop timer for every link's schedule: a link awaits its next due time here.

A link that slept with `asyncio.sleep` put one `TimerHandle` per poll into the event loop's
timer heap, where every push compares handles in Python (`TimerHandle.__lt__`); with a
thousand links that heap also holds the Modbus client's cancelled request timeouts. The
ticker keeps the due times in its own heap of plain tuples (compared in C) and arms one
loop timer, for the earliest; when it fires, every link due by then is woken in one pass.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
import time

# asyncio runs a timer up to the clock's resolution early (its own `_clock_resolution`).
_RESOLUTION = time.get_clock_info("monotonic").resolution


class Ticker:
    def __init__(self, loop: asyncio.AbstractEventLoop):
        self._loop = loop
        self._heap: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()  # ties keep their arrival order; futures are never compared
        self._timer: asyncio.TimerHandle | None = None
        self._armed_at = math.inf

    def wait_until(self, when: float) -> asyncio.Future[None]:
        """A future done at loop time `when` (at once if it is past); cancel it to stop waiting."""
        fut: asyncio.Future[None] = self._loop.create_future()
        heapq.heappush(self._heap, (when, next(self._order), fut))
        if when < self._armed_at:
            self._arm(when)
        return fut

    def _arm(self, when: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._armed_at = when
        self._timer = self._loop.call_at(when, self._fire)

    def _fire(self) -> None:
        self._timer, self._armed_at = None, math.inf
        now = self._loop.time() + _RESOLUTION  # what the loop counts as due
        heap = self._heap
        while heap and heap[0][0] <= now:
            fut = heapq.heappop(heap)[2]
            if not fut.done():  # a cancelled wait (the link stopped)
                fut.set_result(None)
        if heap:
            self._arm(heap[0][0])

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        for _, _, fut in self._heap:
            fut.cancel()
        self._heap.clear()
