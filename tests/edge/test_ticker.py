"""The shared ticker wakes each waiter at its due time, in due order, and never early."""

from __future__ import annotations

import asyncio
import time

from edge.ticker import Ticker

RESOLUTION = time.get_clock_info("monotonic").resolution


def test_waiters_wake_in_due_order_and_not_before_due() -> None:
    async def main() -> list[tuple[str, float, float]]:
        loop = asyncio.get_running_loop()
        ticker = Ticker(loop)
        woke: list[tuple[str, float, float]] = []
        t0 = loop.time()

        async def wait(name: str, delay: float) -> None:
            due = t0 + delay
            await ticker.wait_until(due)
            woke.append((name, due, loop.time()))

        # Registered latest-first: each new, earlier due time re-arms the one loop timer.
        await asyncio.gather(wait("c", 0.06), wait("b", 0.03), wait("a", 0.01), wait("past", -1.0))
        ticker.close()
        return woke

    woke = asyncio.run(main())
    assert [name for name, _, _ in woke] == ["past", "a", "b", "c"]
    for name, due, at in woke:
        assert at >= due - RESOLUTION, f"{name} woke before it was due"


def test_a_cancelled_wait_is_skipped_and_the_others_still_wake() -> None:
    async def main() -> tuple[bool, bool]:
        loop = asyncio.get_running_loop()
        ticker = Ticker(loop)
        gone = ticker.wait_until(loop.time() + 0.01)
        kept = ticker.wait_until(loop.time() + 0.02)
        gone.cancel()
        await kept
        ticker.close()
        return gone.cancelled(), kept.done() and not kept.cancelled()

    assert asyncio.run(main()) == (True, True)


def test_close_cancels_pending_waits() -> None:
    async def main() -> bool:
        loop = asyncio.get_running_loop()
        ticker = Ticker(loop)
        fut = ticker.wait_until(loop.time() + 3600)
        ticker.close()
        return fut.cancelled()

    assert asyncio.run(main())
