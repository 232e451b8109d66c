"""How a cycle starts its feeds' polls: all concurrently, in order, a batch at a time
with the event loop getting turns, and nothing left running (or never awaited) when
the cycle is cancelled part-way."""

from __future__ import annotations

import asyncio
import gc
import warnings

import pytest

from bot.pipeline import LAUNCH_BATCH, FeedResult, _poll_all

FEEDS = LAUNCH_BATCH * 2 + 10


async def test_outcomes_come_back_in_order_with_exceptions_as_values() -> None:
    async def poll(n: int) -> FeedResult:
        await asyncio.sleep(0.001 * (n % 3))
        if n == 5:
            raise ValueError("a bug in one feed")
        return FeedResult(f"http://127.0.0.1/{n}.xml", "ok")

    results = await _poll_all([poll(n) for n in range(FEEDS)])
    assert isinstance(results[5], ValueError)
    assert [r.url for r in results if isinstance(r, FeedResult)] == [
        f"http://127.0.0.1/{n}.xml" for n in range(FEEDS) if n != 5]


async def test_the_loop_gets_turns_while_polls_start() -> None:
    started: list[int] = []
    seen_by_others: list[int] = []
    release = asyncio.Event()

    async def poll(n: int) -> FeedResult:
        started.append(n)
        await release.wait()
        return FeedResult(str(n), "ok")

    async def other_work() -> None:  # a Telegram update, say
        while len(started) < FEEDS:
            seen_by_others.append(len(started))
            await asyncio.sleep(0)
        release.set()

    other = asyncio.create_task(other_work())
    await _poll_all([poll(n) for n in range(FEEDS)])
    await other
    # other work ran between batches, not only before the first or after the last start
    assert any(0 < n < FEEDS for n in seen_by_others), seen_by_others


async def test_a_cycle_cancelled_while_starting_leaves_nothing_behind() -> None:
    entered: list[int] = []
    cancelled: list[int] = []
    first_batch_running = asyncio.Event()

    async def poll(n: int) -> FeedResult:
        entered.append(n)
        if len(entered) == LAUNCH_BATCH:
            first_batch_running.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(n)
            raise
        return FeedResult(str(n), "ok")

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cycle = asyncio.create_task(_poll_all([poll(n) for n in range(FEEDS)]))
        await first_batch_running.wait()
        cycle.cancel()
        with pytest.raises(asyncio.CancelledError):
            await cycle
        gc.collect()
    assert 0 < len(entered) < FEEDS
    assert sorted(cancelled) == sorted(entered)  # every started poll was stopped
    assert not [w for w in caught if "never awaited" in str(w.message)]
