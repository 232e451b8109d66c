"""Retention on generated data (20,000 items over 200 days), on SQLite and
PostgreSQL: what is deleted, what survives, that an old article still dedupes
after its row is gone, and that a SQLite file stays bounded over many rounds."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.model import Hit, Item, TopicMatch
from bot.store import chats as chat_store
from bot.store.engine import create_engine, migrate
from bot.store.feeds import FeedState, FetchUpdate, feed_states, sync_feeds
from bot.store.ingest import IncomingItem, known_keys, save_poll
from bot.store.retention import prune, table_counts
from bot.store.schema import deliveries, items, seen_keys

NOW = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)
FEED = "http://127.0.0.1:1/feed.xml"
DAYS, PER_DAY = 200, 100
PENDING_DAY, LIVE_DAY, LIVE_AGAIN_DAY = 5, 10, 195
CHAT = 1


def day_at(day: int, start: datetime = NOW, days: int = DAYS) -> datetime:
    """Day 0 is `days` days before `start`; the last day is yesterday."""
    return start - timedelta(days=days - day)


def incoming(key: str, seen_at: datetime, *, matches: bool, story: str | None = None,
             summary: str = "Summary") -> IncomingItem:
    item = Item(key=key, feed_url=FEED, source="Example", title=f"Title {key}",
                summary=summary, url=f"https://example.org/{key}", published_at=seen_at,
                first_seen_at=seen_at, guid=key)
    topics = (TopicMatch("tariffs", 1.0, (Hit("tariff", "title", 0, 6),)),) if matches else ()
    return IncomingItem(item=item, canonical_url=f"https://example.org/{key}",
                        story_key=story or key, matches=topics, alertable=True)


def ok(at: datetime) -> FetchUpdate:
    return FetchUpdate(status="ok", success=True, etag=None, last_modified=None, error=None,
                       next_poll_at=at + timedelta(minutes=10))


async def feed(engine: AsyncEngine) -> FeedState:
    await sync_feeds(engine, [(FEED, "Example")])
    return (await feed_states(engine))[0]


async def fill(engine: AsyncEngine) -> None:
    """200 days x 100 items; every 10th matches and queues an alert for CHAT."""
    state = await feed(engine)
    await chat_store.ensure_chat(engine, CHAT, "private", "reader", day_at(0))
    await chat_store.subscribe(engine, CHAT, ["tariffs"], None, day_at(0))
    # Five days per transaction keeps the fill quick; alerts are created at the
    # block's first day, never after their items were seen.
    for block in range(0, DAYS, 5):
        batch = [incoming(f"d{day}-{i}", day_at(day), matches=i % 10 == 0,
                          story="live-story" if (day, i) in ((LIVE_DAY, 0), (LIVE_AGAIN_DAY, 0))
                          else None) for day in range(block, block + 5) for i in range(PER_DAY)]
        await save_poll(engine, state, ok(day_at(block)), batch, day_at(block))
    # Everything was delivered, except one old day still held (e.g. a paused chat).
    async with engine.begin() as conn:
        await conn.execute(update(deliveries).values(status="sent"))
        await conn.execute(update(deliveries).where(deliveries.c.item_id.in_(
            select(items.c.id).where(items.c.key.like(f"d{PENDING_DAY}-%"))))
            .values(status="pending"))


async def test_prune_generated_data(engine: AsyncEngine) -> None:
    await fill(engine)
    before = await table_counts(engine)
    assert before == {"items": 20_000, "topic_matches": 2_000, "deliveries": 1_999,
                      "seen_keys": 0}  # the second live-story item joined the first's alert

    report = await prune(engine, NOW)
    print(f"\n{engine.dialect.name}: {before} -> {await table_counts(engine)}; "
          f"{report.summary()}")

    old_items = 110 * PER_DAY  # days 0-109 are older than 90 days
    # Kept: the 10 items with pending alerts, and the first item of the story still
    # being reported (its alert is what stops a second alert for the story).
    kept_old = 10 + 1
    assert report.items_deleted == old_items - kept_old
    assert report.keys_archived == old_items - kept_old
    assert report.deliveries_deleted == 110 * 10 - 10 - 1
    assert await table_counts(engine) == {
        "items": 20_000 - report.items_deleted,
        "topic_matches": 2_000 - (1_100 - 11),
        "deliveries": 1_999 - report.deliveries_deleted,
        "seen_keys": report.items_deleted,
    }
    async with engine.connect() as conn:
        oldest = (await conn.execute(select(func.min(items.c.first_seen_at))
                                     .where(~items.c.key.in_(
                                         [f"d{PENDING_DAY}-{i}" for i in range(0, 100, 10)]
                                         + [f"d{LIVE_DAY}-0"])))).scalar_one()
        statuses = dict((await conn.execute(
            select(deliveries.c.status, func.count()).group_by(deliveries.c.status))).all())
    assert oldest >= NOW - timedelta(days=90)
    assert statuses["pending"] == 10

    # A second run finds nothing more to do.
    again = await prune(engine, NOW)
    assert (again.items_deleted, again.deliveries_deleted) == (0, 0)


async def test_an_old_article_that_reappears_is_not_new(engine: AsyncEngine) -> None:
    state = await feed(engine)
    await chat_store.ensure_chat(engine, CHAT, "private", "reader", NOW)
    await chat_store.subscribe(engine, CHAT, ["tariffs"], None, NOW)
    old = NOW - timedelta(days=120)
    await save_poll(engine, state, ok(old), [incoming("old-1", old, matches=True),
                                             incoming("old-2", old, matches=True)], old)
    async with engine.begin() as conn:
        await conn.execute(update(deliveries).values(status="sent", sent_at=old))
    report = await prune(engine, NOW)
    assert (report.items_deleted, report.deliveries_deleted) == (2, 2)
    assert await table_counts(engine) == {"items": 0, "topic_matches": 0, "deliveries": 0,
                                          "seen_keys": 2}

    # The feed still lists them (same key), and another feed carries old-2 under a
    # new GUID (same canonical URL): none of it is new, nothing alerts.
    assert await known_keys(engine, ["old-1", "old-2", "fresh"]) == {"old-1", "old-2"}
    again = incoming("old-1", NOW, matches=True)
    moved = IncomingItem(item=Item(key="other-guid", feed_url=FEED, source="Other",
                                   title="Title old-2", summary="", url=None, published_at=NOW,
                                   first_seen_at=NOW),
                         canonical_url="https://example.org/old-2", story_key="other-guid",
                         matches=again.matches, alertable=True)
    result = await save_poll(engine, state, ok(NOW), [again, moved,
                                                      incoming("fresh", NOW, matches=True)], NOW)
    assert (result.new_items, result.alerts_queued) == (1, 1)


async def test_keys_are_pruned_after_keep_keys(engine: AsyncEngine) -> None:
    state = await feed(engine)
    for age in (500, 300, 100):
        at = NOW - timedelta(days=age)
        await save_poll(engine, state, ok(at), [incoming(f"age-{age}", at, matches=False)], at)
    report = await prune(engine, NOW, keep_items=timedelta(days=90),
                         keep_keys=timedelta(days=400))
    # Archived and, for the 500-day-old one, expired in the same run.
    assert (report.items_deleted, report.keys_deleted) == (3, 1)
    async with engine.connect() as conn:
        keys = set((await conn.execute(select(seen_keys.c.key))).scalars())
    assert keys == {"age-300", "age-100"}
    with pytest.raises(ValueError, match="keep_keys"):
        await prune(engine, NOW, keep_items=timedelta(days=90), keep_keys=timedelta(days=30))


def file_size(path: Path) -> int:
    return sum(p.stat().st_size for p in (path, path.with_name(path.name + "-wal"))
               if p.exists())


async def test_sqlite_file_stays_bounded_over_many_rounds(tmp_path: Path) -> None:
    """Each round adds 30 days of items (~1.5 MB) and prunes to 60 days: after the
    first rounds fill the window, the file must stop growing."""
    path = tmp_path / "newsbot.db"
    engine = create_engine(f"sqlite:///{path}")
    await migrate(engine)
    try:
        state = await feed(engine)
        summary = "Tariffs on rare earths and chips. " * 30  # ~1 KB, a long feed summary
        sizes: list[tuple[int, int]] = []
        start = NOW
        for round_no in range(7):
            for day in range(0, 30, 3):
                batch = [incoming(f"r{round_no}-{day + d}-{i}", start + timedelta(days=day + d),
                                  matches=False, summary=summary)
                         for d in range(3) for i in range(50)]
                at = start + timedelta(days=day)
                await save_poll(engine, state, ok(at), batch, at)
            start += timedelta(days=30)
            filled = file_size(path)
            report = await prune(engine, start, keep_items=timedelta(days=60),
                                 keep_keys=timedelta(days=120))
            sizes.append((filled, file_size(path)))
            print(f"round {round_no}: {filled / 1e6:.2f} MB filled -> "
                  f"{sizes[-1][1] / 1e6:.2f} MB after prune ({report.compaction})")
        with sqlite3.connect(path) as conn:
            assert conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2  # incremental
            assert conn.execute("PRAGMA freelist_count").fetchone()[0] == 0
        steady = [after for _, after in sizes[3:]]
        assert max(steady) <= 1.15 * steady[0], sizes
        assert all(after < filled for filled, after in sizes[2:]), sizes  # space comes back
        assert (await table_counts(engine))["items"] == 60 * 50
    finally:
        await engine.dispose()
