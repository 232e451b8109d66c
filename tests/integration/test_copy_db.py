"""`newsbot migrate-db`: a SQLite deployment built through the store functions is
copied to PostgreSQL and to another SQLite file, row for row, and the copy is
a working database (new rows get new ids, search finds copied items)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.errors import AlreadyRunningError, StoreError
from bot.model import Hit, Item, TopicMatch
from bot.store import chats as chat_store
from bot.store import lease, outbox
from bot.store.copy import COPIED_TABLES, copy_database
from bot.store.engine import create_engine, migrate
from bot.store.feeds import FetchUpdate, feed_states, sync_feeds
from bot.store.ingest import IncomingItem, Notice, enqueue_notices, save_poll
from bot.store.retention import prune
from bot.store.schema import deliveries, feeds, items
from bot.store.search import search

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
FEEDS = [("http://127.0.0.1:1/a.xml", "Alpha"), ("http://127.0.0.1:1/b.xml", "Beta")]


def incoming(key: str, at: datetime, topics: tuple[str, ...]) -> IncomingItem:
    item = Item(key=key, feed_url=FEEDS[0][0], source="Alpha",
                title=f"Tariffs on rare earths {key}", summary=f"Export controls, part {key}",
                url=f"https://example.org/{key}", published_at=at - timedelta(minutes=3),
                first_seen_at=at, guid=key)
    matches = tuple(TopicMatch(t, 0.8, (Hit("tariff", "title", 0, 7),)) for t in topics)
    return IncomingItem(item=item, canonical_url=item.url, story_key=key, matches=matches,
                        alertable=True)


def update(at: datetime, *, success: bool = True) -> FetchUpdate:
    return FetchUpdate(status="ok" if success else "failed", success=success,
                       etag='"v1"' if success else None, last_modified=None,
                       error=None if success else "timeout",
                       next_poll_at=at + timedelta(minutes=10),
                       interval=timedelta(minutes=10))


async def build_deployment(engine: AsyncEngine) -> None:
    """A few weeks of use: feeds in several states, chats with settings, mutes,
    subscriptions, an outbox in every state, and keys kept by retention."""
    await sync_feeds(engine, FEEDS)
    alpha, beta = await feed_states(engine)
    await chat_store.ensure_chat(engine, 1, "private", "Ana", NOW - timedelta(days=120))
    await chat_store.ensure_chat(engine, -1001, "supergroup", "Traders", NOW)
    await chat_store.subscribe(engine, 1, ["tariffs", "rare-earths"], None, NOW)
    await chat_store.subscribe(engine, -1001, ["tariffs"], 77, NOW)
    await chat_store.update_settings(engine, 1, NOW, timezone="Asia/Shanghai",
                                     quiet_hours="23:00-07:00", link_preview=True,
                                     paused_until=NOW + timedelta(days=1))
    await chat_store.add_mute(engine, 1, "soybeans", 20)
    old = NOW - timedelta(days=120)
    await save_poll(engine, alpha, update(old), [incoming(f"old-{i}", old, ())
                                                 for i in range(5)], old)
    for day in range(3):
        at = NOW - timedelta(days=day)
        await save_poll(engine, alpha, update(at), [
            incoming(f"d{day}-{i}", at, ("tariffs",) if i % 2 else ()) for i in range(10)], at)
    await save_poll(engine, beta, update(NOW, success=False), [], NOW)
    claimed = await outbox.claim_due(engine, NOW, 3)
    await outbox.mark_sent(engine, claimed[0].id, 1001, NOW)
    await outbox.mark_failed(engine, claimed[1].id, "chat not found")
    await outbox.mark_retry(engine, claimed[2].id, NOW + timedelta(minutes=1), "timeout")
    async with engine.begin() as conn:
        await enqueue_notices(conn, [Notice(1, "feed-failing:2", "⚠️ Feed <b>Beta</b>")], NOW)
    report = await prune(engine, NOW)  # the 5 old items move to seen_keys
    assert report.items_deleted == 5


async def dump(engine: AsyncEngine) -> dict[str, list[dict[str, Any]]]:
    async with engine.connect() as conn:
        return {t.name: [dict(r._mapping) for r in await conn.execute(
            select(t).order_by(*t.primary_key.columns))] for t in COPIED_TABLES}


@pytest.fixture
async def source(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'source.db'}"
    engine = create_engine(url)
    await migrate(engine)
    await build_deployment(engine)
    await engine.dispose()
    return url


async def test_copy_is_row_for_row_and_the_copy_works(source: str, db_url: str) -> None:
    report = await copy_database(source, db_url, batch_size=7)  # several batches per table
    src, dst = create_engine(source), create_engine(db_url)
    try:
        before, after = await dump(src), await dump(dst)
        assert after == before
        assert report.rows == {name: len(rows) for name, rows in before.items()}
        assert report.rows["items"] == 30 and report.rows["seen_keys"] == 5
        assert report.rows["deliveries"] >= 5 and report.rows["chat_mutes"] == 1
        assert report.revision == await migrate(dst)

        # Ids continue after the copied ones (PostgreSQL sequences were moved on).
        states = await feed_states(dst)
        result = await save_poll(dst, states[0], update(NOW), [
            incoming("new-1", NOW, ("tariffs",))], NOW)
        assert (result.new_items, result.alerts_queued) == (1, 2)  # both chats follow tariffs
        await sync_feeds(dst, [("http://127.0.0.1:1/c.xml", "Gamma")])
        async with dst.connect() as conn:
            new_item = (await conn.execute(select(items.c.id).where(items.c.key == "new-1"))
                        ).scalar_one()
            new_feed = (await conn.execute(select(feeds.c.id).where(feeds.c.name == "Gamma"))
                        ).scalar_one()
            max_delivery = (await conn.execute(select(deliveries.c.id)
                                               .order_by(deliveries.c.id.desc()))).first()
        assert new_item > max(r["id"] for r in before["items"])
        assert new_feed > max(r["id"] for r in before["feeds"])
        assert max_delivery is not None
        assert max_delivery[0] > max(r["id"] for r in before["deliveries"])
        # The copied items are searchable (SQLite FTS via trigger, PostgreSQL GIN index).
        assert any("d1-3" in s.title for s in await search(dst, "rare earths d1"))
        # Old keys still dedupe on the new database.
        again = await save_poll(dst, states[0], update(NOW), [incoming("old-2", NOW, ())], NOW)
        assert again.new_items == 0
    finally:
        await src.dispose()
        await dst.dispose()


async def test_refuses_a_target_with_data(source: str, db_url: str) -> None:
    await copy_database(source, db_url)
    with pytest.raises(StoreError, match=r"is not empty: .*feeds \(2 rows\)"):
        await copy_database(source, db_url)


async def test_refuses_while_newsbot_runs_on_the_source(source: str, db_url: str) -> None:
    engine = create_engine(source)
    holder = lease.new_holder()
    await lease.acquire(engine, holder, NOW)
    try:
        with pytest.raises(AlreadyRunningError, match=r"source\.db: another newsbot"):
            await copy_database(source, db_url, now=NOW)
    finally:
        await lease.release(engine, holder)
        await engine.dispose()
    target = create_engine(db_url)
    try:
        assert not any((await dump(target)).values())  # nothing was copied
    finally:
        await target.dispose()
    await copy_database(source, db_url, now=NOW)  # and it works once newsbot stopped


async def test_refuses_a_missing_source_and_the_same_database(tmp_path: Path,
                                                              source: str) -> None:
    missing = tmp_path / "nope.db"
    with pytest.raises(StoreError, match="does not exist"):
        await copy_database(f"sqlite:///{missing}", f"sqlite:///{tmp_path / 'target.db'}")
    assert not missing.exists()
    with pytest.raises(StoreError, match="same database"):
        await copy_database(source, source.replace("source.db", "./source.db"))
    with pytest.raises(StoreError, match="unsupported database"):
        await copy_database(source, "mysql://127.0.0.1/newsbot")
