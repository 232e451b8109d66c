"""Store tests on a real SQLite file and a real PostgreSQL database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.model import Hit, Item, TopicMatch
from bot.store import chats as chat_store
from bot.store import outbox
from bot.store.engine import migrate
from bot.store.feeds import FeedState, FetchUpdate, due_feeds, feed_states, sync_feeds
from bot.store.ingest import IncomingItem, known_keys, save_poll
from bot.store.schema import chats, deliveries, metadata


def _script_config() -> Config:
    config = Config()
    config.set_main_option("script_location", "bot.store:migrations")
    return config


NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
FEED = "http://127.0.0.1:1/feed.xml"


def incoming(key: str, *, topics: tuple[str, ...] = ("tariffs",), alertable: bool = True,
             url: str | None = None, story: str | None = None) -> IncomingItem:
    item = Item(key=key, feed_url=FEED, source="Example", title=f"Title {key}",
                summary="Summary", url=url, published_at=NOW - timedelta(minutes=5),
                first_seen_at=NOW, guid=key)
    matches = tuple(TopicMatch(slug=t, score=1.0, hits=(Hit("tariff", "title", 0, 6),))
                    for t in topics)
    return IncomingItem(item=item, canonical_url=url, story_key=story or key, matches=matches,
                        alertable=alertable)


def ok_update(etag: str | None = None) -> FetchUpdate:
    return FetchUpdate(status="ok", success=True, etag=etag, last_modified=None, error=None,
                       next_poll_at=NOW + timedelta(minutes=10))


async def feed_id(engine: AsyncEngine) -> FeedState:
    await sync_feeds(engine, [(FEED, "Example")])
    return (await feed_states(engine))[0]


async def subscribed_chat(engine: AsyncEngine, chat_id: int, topics: list[str],
                          mode: str = "instant") -> None:
    await chat_store.ensure_chat(engine, chat_id, "private", "someone", NOW)
    await chat_store.subscribe(engine, chat_id, topics, None, NOW)
    async with engine.begin() as conn:
        await conn.execute(chats.update().where(chats.c.id == chat_id).values(mode=mode))


async def test_migrations_create_the_schema_the_code_queries(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        tables = await conn.run_sync(
            lambda c: {t: {col["name"] for col in inspect(c).get_columns(t)}
                       for t in inspect(c).get_table_names()})
    for table in metadata.sorted_tables:
        assert table.name in tables
        assert {c.name for c in table.columns} == tables[table.name], table.name
    head = ScriptDirectory.from_config(_script_config()).get_current_head()
    assert await migrate(engine) == head  # idempotent: a second start changes nothing


async def test_sync_feeds_is_idempotent_and_follows_renames(engine: AsyncEngine) -> None:
    await sync_feeds(engine, [(FEED, "Old name")])
    await sync_feeds(engine, [(FEED, "New name")])
    states = await feed_states(engine)
    assert [(s.url, s.name) for s in states] == [(FEED, "New name")]
    assert await due_feeds(engine, [FEED], NOW) == states  # never polled: due


async def test_new_items_alert_subscribers_once(engine: AsyncEngine) -> None:
    fid = await feed_id(engine)
    await subscribed_chat(engine, 1, ["tariffs"])
    await subscribed_chat(engine, 2, ["rare-earths"])
    await subscribed_chat(engine, 3, ["tariffs"], mode="digest")

    first = await save_poll(engine, fid, ok_update("e1"), [incoming("a"), incoming("b")], NOW)
    assert (first.new_items, first.alerts_queued) == (2, 2)  # chat 1 only, two items
    again = await save_poll(engine, fid, ok_update("e2"), [incoming("a"), incoming("b")], NOW)
    assert (again.new_items, again.alerts_queued) == (0, 0)

    async with engine.connect() as conn:
        rows = (await conn.execute(select(deliveries.c.chat_id, deliveries.c.dedupe_key)
                                   .order_by(deliveries.c.id))).all()
    assert [tuple(r) for r in rows] == [(1, "story:a"), (1, "story:b")]
    state = (await feed_states(engine))[0]
    assert state.etag == "e2" and state.seeded and state.item_count == 2
    assert state.last_success_at == NOW and state.last_success_at.tzinfo is not None
    assert await known_keys(engine, ["a", "b", "c"]) == {"a", "b"}


async def test_same_story_is_one_delivery_per_chat(engine: AsyncEngine) -> None:
    fid = await feed_id(engine)
    await subscribed_chat(engine, 1, ["tariffs", "rare-earths"])
    result = await save_poll(engine, fid, ok_update(), [
        incoming("a", topics=("tariffs", "rare-earths")),
        incoming("b", story="a"),  # another outlet, same story
    ], NOW)
    assert result.new_items == 2
    assert result.alerts_queued == 1
    due = await outbox.claim_due(engine, NOW, 10)
    assert [d.topics for d in due] == [("tariffs", "rare-earths")]
    assert due[0].highlight_terms == ("tariff",)


async def test_seeding_and_old_items_store_without_alerting(engine: AsyncEngine) -> None:
    fid = await feed_id(engine)
    await subscribed_chat(engine, 1, ["tariffs"])
    result = await save_poll(engine, fid, ok_update(), [incoming("a", alertable=False)], NOW)
    assert (result.new_items, result.matched_items, result.alerts_queued) == (1, 1, 0)


async def test_same_canonical_url_under_a_new_guid_is_not_new(engine: AsyncEngine) -> None:
    fid = await feed_id(engine)
    await subscribed_chat(engine, 1, ["tariffs"])
    url = "https://example.org/story"
    await save_poll(engine, fid, ok_update(), [incoming("guid-1", url=url)], NOW)
    result = await save_poll(engine, fid, ok_update(), [
        incoming("guid-2", url=url), incoming("guid-3", url="https://example.org/other"),
        incoming("guid-4", url="https://example.org/other")], NOW)
    assert result.new_items == 1


async def test_failures_count_and_keep_validators(engine: AsyncEngine) -> None:
    fid = await feed_id(engine)
    await save_poll(engine, fid, ok_update("etag-1"), [], NOW)
    failed = FetchUpdate(status="failed", success=False, etag="ignored", last_modified=None,
                         error="timeout", next_poll_at=NOW + timedelta(hours=1))
    await save_poll(engine, fid, failed, [], NOW)
    fid = (await feed_states(engine))[0]
    assert fid.failing_since == NOW
    await save_poll(engine, fid, failed, [], NOW + timedelta(minutes=1))
    state = (await feed_states(engine))[0]
    assert (state.consecutive_failures, state.etag, state.last_status) == (2, "etag-1", "failed")
    assert state.failing_since == NOW  # the first failure of the run, not the latest
    assert await due_feeds(engine, [FEED], NOW) == []
    await save_poll(engine, fid, ok_update("etag-2"), [], NOW)
    state = (await feed_states(engine))[0]
    assert (state.consecutive_failures, state.failing_since, state.polls) == (0, None, 4)


async def test_outbox_claim_mark_and_crash_recovery(engine: AsyncEngine) -> None:
    fid = await feed_id(engine)
    await subscribed_chat(engine, 1, ["tariffs"])
    await save_poll(engine, fid, ok_update(), [incoming("a"), incoming("b"), incoming("c")], NOW)

    claimed = await outbox.claim_due(engine, NOW, 2)
    assert [d.item.key for d in claimed if d.item] == ["a", "b"]
    assert all(d.attempts == 1 for d in claimed)
    assert await outbox.claim_due(engine, NOW, 2) != []  # "c" is still due
    await outbox.mark_sent(engine, claimed[0].id, 42, NOW)
    # crash: "b" and "c" were in flight; the next start releases them
    assert await outbox.release_in_flight(engine) == 2
    again = await outbox.claim_due(engine, NOW, 10)
    assert [d.item.key for d in again if d.item] == ["b", "c"]
    assert [d.attempts for d in again] == [2, 2]
    await outbox.mark_retry(engine, again[0].id, NOW + timedelta(minutes=1), "timeout")
    await outbox.mark_failed(engine, again[1].id, "bad request")
    assert await outbox.claim_due(engine, NOW, 10) == []
    later = await outbox.claim_due(engine, NOW + timedelta(minutes=2), 10)
    assert [d.item.key for d in later if d.item] == ["b"]
    counts = await outbox.counts_by_status(engine)
    assert counts == {"sent": 1, "sending": 1, "failed": 1}


async def test_flood_control_defers_the_whole_chat(engine: AsyncEngine) -> None:
    fid = await feed_id(engine)
    await subscribed_chat(engine, 1, ["tariffs"])
    await subscribed_chat(engine, 2, ["tariffs"])
    await save_poll(engine, fid, ok_update(), [incoming("a"), incoming("b")], NOW)
    await outbox.defer_chat(engine, 1, NOW + timedelta(seconds=30), "429")
    due = await outbox.claim_due(engine, NOW, 10)
    assert {d.chat_id for d in due} == {2}
    assert len(await outbox.claim_due(engine, NOW + timedelta(seconds=31), 10)) == 2


async def test_blocked_chat_keeps_subscriptions_and_comes_back(engine: AsyncEngine) -> None:
    await subscribed_chat(engine, 1, ["tariffs"])
    await chat_store.deactivate_chat(engine, 1, NOW)
    settings = await chat_store.chat_settings(engine, 1)
    assert settings is not None and not settings.active and settings.topics == ("tariffs",)
    await chat_store.ensure_chat(engine, 1, "private", "someone", NOW)
    settings = await chat_store.chat_settings(engine, 1)
    assert settings is not None and settings.active


async def test_unsubscribe_some_and_all(engine: AsyncEngine) -> None:
    await subscribed_chat(engine, 1, ["tariffs", "rare-earths", "export-controls"])
    assert await chat_store.subscribe(engine, 1, ["tariffs"], None, NOW) == []
    assert await chat_store.unsubscribe(engine, 1, ["tariffs", "nope"]) == ["tariffs"]
    assert await chat_store.unsubscribe(engine, 1, None) == ["export-controls", "rare-earths"]
    assert await chat_store.unsubscribe(engine, 1, None) == []


async def test_group_migration_moves_settings_and_queue(engine: AsyncEngine) -> None:
    fid = await feed_id(engine)
    await chat_store.ensure_chat(engine, -100, "group", "Traders", NOW)
    await chat_store.subscribe(engine, -100, ["tariffs"], None, NOW)
    await save_poll(engine, fid, ok_update(), [incoming("a")], NOW)
    await chat_store.migrate_chat(engine, -100, -1001234, NOW)
    new = await chat_store.chat_settings(engine, -1001234)
    old = await chat_store.chat_settings(engine, -100)
    assert new is not None and new.topics == ("tariffs",) and new.type == "supergroup"
    assert old is not None and not old.active and old.topics == ()
    due = await outbox.claim_due(engine, NOW, 10)
    assert [d.chat_id for d in due] == [-1001234]


async def test_naive_datetimes_are_refused(engine: AsyncEngine) -> None:
    with pytest.raises(Exception, match="naive datetime"):
        await chat_store.ensure_chat(engine, 1, "private", "x", datetime(2026, 1, 1))


async def test_a_batch_of_many_feeds_rows_is_written_and_read_whole(engine: AsyncEngine) -> None:
    """More rows than one turn of the event loop handles (ROWS_PER_TURN): every one is
    written by the batched update and read back, in order."""
    from bot.store.feeds import ROWS_PER_TURN, apply_fetch_updates

    count = ROWS_PER_TURN * 2 + 7
    urls = [f"http://127.0.0.1:1/{n}.xml" for n in range(count)]
    await sync_feeds(engine, [(u, f"Feed {n}") for n, u in enumerate(urls)])
    states = await feed_states(engine)
    assert [s.url for s in states] == urls
    async with engine.begin() as conn:
        await apply_fetch_updates(conn, [(s, ok_update(etag=f'"{s.id}"'), 0) for s in states],
                                  NOW)
    after = await feed_states(engine)
    assert [(s.polls, s.last_status, s.etag) for s in after] == [
        (1, "ok", f'"{s.id}"') for s in states]
