"""When feeds are polled: a cycle never overlaps itself, a start after downtime catches up
in bounded batches (most overdue first), and feeds with one interval drift apart instead
of polling in lockstep. Real HTTP on 127.0.0.1 (the fake feed server's request log is
the witness), a real SQLite file."""

from __future__ import annotations

import asyncio
import gc
import time
import weakref
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import config as config_module
from bot.feeds.fetch import Fetcher, FetchLimits
from bot.pipeline import PipelineDeps, run_cycle
from bot.service import Service, Settings
from bot.store.engine import create_engine
from bot.store.feeds import feed_states, sync_feeds
from bot.stories import StoryGrouper
from tests.fakes.feed_server import Fault, FeedServer

NOW = datetime.now(UTC).replace(microsecond=0)
SLOW_SECONDS = 1.5


def config_for(server: FeedServer, paths: list[str], *, interval: str = "1h",
               max_per_cycle: int = 1000, path: Path | None = None) -> config_module.AppConfig:
    feeds = "".join(f'\n[[feeds]]\nurl = "{server.url(p)}"\nname = "Feed {p}"\n' for p in paths)
    text = f"""
[polling]
interval = "{interval}"
min_interval = "1m"
max_feeds_per_cycle = {max_per_cycle}
{feeds}
[topics.tariffs]
name = "Tariffs"
query = 'tariff OR tariffs'
"""
    if path is not None:
        path.write_text(text)
    return config_module.loads(text, path)


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as srv:
        yield srv


@pytest.fixture
async def fetcher() -> AsyncIterator[Fetcher]:
    async with Fetcher(FetchLimits(timeout=timedelta(seconds=10))) as f:
        yield f


def polled(server: FeedServer) -> list[str]:
    return sorted(r.path for r in server.requests())


# --------------------------------------------------------------------------- no overlap


async def test_a_poll_started_while_a_cycle_runs_polls_nothing(
        server: FeedServer, tmp_path: Path) -> None:
    paths = server.add_synthetic_feeds(3, items=5)
    server.set_fault(paths[0], Fault.slow_headers(SLOW_SECONDS))
    cfg = config_for(server, paths, path=tmp_path / "newsbot.toml")
    clock = [NOW]
    service = Service(cfg, Settings(database_url=f"sqlite:///{tmp_path / 'newsbot.db'}",
                                    telegram_token=None, telegram_api_url="http://127.0.0.1:9"),
                      clock=lambda: clock[0])
    await service.open()
    try:
        started = time.monotonic()
        first = asyncio.create_task(service.poll())
        await asyncio.sleep(0)  # the first cycle begins (and holds the cycle lock)
        second = await service.poll()
        assert second is None
        assert not first.done()  # the refusal came while the first cycle was running
        report = await first
        assert time.monotonic() - started >= SLOW_SECONDS  # it really waited on the slow feed
        assert report is not None and report.count("ok") == 3
        assert polled(server) == sorted(paths)  # each feed once: the second call polled none
        assert service.last_cycle is report

        # The guard is released afterwards: the next tick polls again (the feeds are due).
        server.set_fault(paths[0], None)
        clock[0] = NOW + timedelta(hours=2)
        again = await service.poll()
        assert again is not None and len(again.results) == 3
        assert polled(server) == sorted(paths * 2)
    finally:
        await service.close()


# --------------------------------------------------------------------------- catching up


async def test_after_downtime_a_cycle_polls_at_most_n_feeds_most_overdue_first(
        server: FeedServer, fetcher: Fetcher, sqlite_engine: AsyncEngine) -> None:
    paths = server.add_synthetic_feeds(6, items=3)
    full = config_for(server, paths, max_per_cycle=3)
    await sync_feeds(sqlite_engine, [(f.url, f.name) for f in full.feeds])
    deps = PipelineDeps(sqlite_engine, fetcher, full, StoryGrouper())
    # Feeds 0-3 were polled 20 minutes apart before the downtime (interval 1h +-10%, so
    # their next polls keep that order); feeds 4 and 5 were added and never polled.
    for i in range(4):
        deps.config = config_for(server, [paths[i]], max_per_cycle=3)
        assert len((await run_cycle(deps, NOW + timedelta(minutes=20 * i))).results) == 1
    deps.config = full
    states = {s.url: s for s in await feed_states(sqlite_engine)}
    due_at = [states[server.url(p)].next_poll_at for p in paths]
    assert due_at[4] is None and due_at[5] is None
    assert due_at[0] < due_at[1] < due_at[2] < due_at[3]  # type: ignore[operator]
    server.reset_log()

    back = NOW + timedelta(days=1)  # everything is overdue now
    first = await run_cycle(deps, back)
    assert [r.url for r in first.results] == [server.url(p) for p in (paths[4], paths[5],
                                                                       paths[0])]
    assert polled(server) == sorted([paths[4], paths[5], paths[0]])

    server.reset_log()
    second = await run_cycle(deps, back + timedelta(minutes=1))
    assert [r.url for r in second.results] == [server.url(p) for p in paths[1:4]]
    assert polled(server) == sorted(paths[1:4])

    server.reset_log()
    third = await run_cycle(deps, back + timedelta(minutes=2))
    assert third.results == [] and polled(server) == []


# --------------------------------------------------------------------------- spreading


async def test_feeds_with_one_interval_get_spread_next_polls(
        server: FeedServer, fetcher: Fetcher, sqlite_engine: AsyncEngine) -> None:
    paths = server.add_synthetic_feeds(20, items=3)
    cfg = config_for(server, paths, interval="10m")
    await sync_feeds(sqlite_engine, [(f.url, f.name) for f in cfg.feeds])
    deps = PipelineDeps(sqlite_engine, fetcher, cfg, StoryGrouper())
    report = await run_cycle(deps, NOW)
    assert report.count("ok") == 20
    next_polls = [s.next_poll_at for s in await feed_states(sqlite_engine)]
    assert all(p is not None for p in next_polls)
    offsets = sorted((p - NOW).total_seconds() for p in next_polls if p is not None)
    assert len(set(offsets)) == 20  # no two feeds in lockstep
    assert offsets[0] >= 540 and offsets[-1] <= 660  # 10 min +-10%
    assert offsets[-1] - offsets[0] >= 60  # really spread, not bunched at one end

    # Ten minutes later only the feeds whose jitter fell early are due, not all twenty.
    server.reset_log()
    t = NOW + timedelta(minutes=10)
    early = sorted(s.url for s in await feed_states(sqlite_engine)
                   if s.next_poll_at is not None and s.next_poll_at <= t)
    later = await run_cycle(deps, t)
    assert sorted(r.url for r in later.results) == early
    assert 0 < len(early) < 20
    assert len(server.requests()) == len(early)


class _Cycle:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the collector frees it


async def test_the_daily_sweep_waits_for_a_running_cycle_and_runs_even_if_pruning_fails(
        server: FeedServer, tmp_path: Path) -> None:
    paths = server.add_synthetic_feeds(2, items=3)
    server.set_fault(paths[0], Fault.slow_headers(SLOW_SECONDS))
    cfg = config_for(server, paths, path=tmp_path / "newsbot.toml")
    service = Service(cfg, Settings(database_url=f"sqlite:///{tmp_path / 'newsbot.db'}",
                                    telegram_token=None, telegram_api_url="http://127.0.0.1:9"),
                      clock=lambda: NOW)
    await service.open()
    try:
        dead = _Cycle()
        gone = weakref.ref(dead)
        gc.freeze()  # as if it had died after a cycle froze it
        del dead
        cycle = asyncio.create_task(service.poll())
        await asyncio.sleep(0)  # the cycle holds its lock
        sweep = asyncio.create_task(service.prune())
        await asyncio.sleep(0.2)
        assert gone() is not None and not cycle.done()  # the sweep waits for the cycle
        await cycle
        await sweep
        assert gone() is None
        # pruning that fails still sweeps
        again = _Cycle()
        gone = weakref.ref(again)
        gc.freeze()
        del again
        working = service.engine
        service.engine = create_engine("sqlite:////nonexistent-dir/forbidden.db")
        try:
            with pytest.raises(OperationalError):
                await service.prune()
        finally:
            await service.engine.dispose()
            service.engine = working
        assert gone() is None
    finally:
        await service.close()
