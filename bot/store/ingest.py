"""Writing one feed's poll result: items, matches, outbox rows and feed state,
all in ONE transaction, so a crash never leaves an item seen-but-not-queued.

Dedupe is enforced by the database (unique item key; unique (chat, story) in
the outbox), not by in-memory state, so restarts and overlapping writers are safe.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.model import Item, TopicMatch
from bot.store.dialect import insert_ignore
from bot.store.feeds import FeedState, FetchUpdate, apply_fetch_update, apply_fetch_updates
from bot.store.schema import chats, deliveries, items, seen_keys, subscriptions, topic_matches
from bot.store.story_updates import enqueue_story_updates

INSTANT_MODES = ("instant", "both")


@dataclass(frozen=True, slots=True)
class IncomingItem:
    item: Item
    # The article's identity across keys: its canonical URL, or for an item without a
    # link its text identity (bot.stories.keys.text_identity). A second item with the
    # same identity under another key is the same article (`_without_known_urls`).
    canonical_url: str | None
    story_key: str
    matches: tuple[TopicMatch, ...]
    alertable: bool  # False while seeding a new feed or when the item is too old


@dataclass(frozen=True, slots=True)
class IngestResult:
    new_items: int
    matched_items: int
    alerts_queued: int


async def known_keys(engine: AsyncEngine, keys: Sequence[str]) -> set[str]:
    """Which of these item keys are already stored (to skip matching known items),
    including items retention deleted but whose keys it kept in `seen_keys`."""
    if not keys:
        return set()
    found: set[str] = set()
    async with engine.connect() as conn:
        for start in range(0, len(keys), 500):
            chunk = list(keys[start:start + 500])
            # One round trip for both tables: each statement costs the event loop a
            # hand-off to the driver's thread and back.
            rows = await conn.execute(union_all(
                select(items.c.key).where(items.c.key.in_(chunk)),
                select(seen_keys.c.key).where(seen_keys.c.key.in_(chunk))))
            found.update(r[0] for r in rows)
    return found


@dataclass(frozen=True, slots=True)
class Notice:
    """A message for an operator (feed failing, recovered, gone), queued like any other."""

    chat_id: int
    dedupe_key: str
    text: str  # Telegram HTML, already escaped


async def save_poll(engine: AsyncEngine, state: FeedState, update: FetchUpdate | None,
                    incoming: Sequence[IncomingItem], now: datetime, *,
                    notices: Sequence[Notice] = ()) -> IngestResult:
    """The items (and their alerts) and, unless `update` is None (the caller writes it
    later with `save_feed_updates`), the feed's row, in one transaction."""
    async with engine.begin() as conn:
        fresh = await _without_known_urls(conn, incoming)
        inserted = await _insert_items(conn, state.id, fresh)
        new = [i for i in fresh if i.item.key in inserted]
        await _insert_matches(conn, new, inserted)
        queued = await _enqueue_alerts(conn, [i for i in new if i.alertable and i.matches],
                                       inserted, now)
        if update is not None:
            await apply_fetch_update(conn, state, update, len(new), now)
        await enqueue_notices(conn, notices, now)
    return IngestResult(new_items=len(new), matched_items=sum(1 for i in new if i.matches),
                        alerts_queued=queued)


@dataclass(frozen=True, slots=True)
class FeedUpdate:
    """A feed row's update written later, with many others (`save_feed_updates`)."""

    state: FeedState
    update: FetchUpdate
    new_items: int = 0
    notices: Sequence[Notice] = ()


async def save_feed_updates(engine: AsyncEngine, updates: Sequence[FeedUpdate],
                            now: datetime) -> None:
    """Many feeds' row updates in ONE transaction: 304s, and polls whose items were
    already saved. Nothing here must be atomic with items: if this is lost, those feeds
    are simply due again and polled (conditionally) once more; their items are known.
    A transaction (or a statement) per feed was most of a steady cycle's database time."""
    if not updates:
        return
    async with engine.begin() as conn:
        await apply_fetch_updates(conn, [(u.state, u.update, u.new_items) for u in updates],
                                  now)
        await enqueue_notices(conn, [n for u in updates for n in u.notices], now)


async def _without_known_urls(conn: AsyncConnection,
                              incoming: Sequence[IncomingItem]) -> list[IncomingItem]:
    """Drop items whose canonical URL is stored under another key (a GUID that
    changed, or the same article in a second feed): same article, not new. Also
    drop items whose key or URL only `seen_keys` still knows (retention deleted
    the item row): without this an old article would insert and alert again."""
    urls = [i.canonical_url for i in incoming if i.canonical_url]
    keys = [i.item.key for i in incoming]
    known: set[str] = set()  # canonical URLs already stored
    archived: set[str] = set()  # keys only seen_keys still knows
    for start in range(0, max(len(urls), len(keys)), 500):
        url_chunk, key_chunk = urls[start:start + 500], keys[start:start + 500]
        rows = await conn.execute(union_all(
            select(literal("url"), items.c.canonical_url)
            .where(items.c.canonical_url.in_(url_chunk)),
            select(literal("url"), seen_keys.c.canonical_url)
            .where(seen_keys.c.canonical_url.in_(url_chunk)),
            select(literal("key"), seen_keys.c.key).where(seen_keys.c.key.in_(key_chunk))))
        for kind, value in rows:
            (known if kind == "url" else archived).add(value)
    seen_in_batch: set[str] = set()
    kept = []
    for inc in incoming:
        url = inc.canonical_url
        if inc.item.key in archived or (url and (url in known or url in seen_in_batch)):
            continue
        if url:
            seen_in_batch.add(url)
        kept.append(inc)
    return kept


async def _insert_items(conn: AsyncConnection, feed_id: int,
                        incoming: Sequence[IncomingItem]) -> dict[str, int]:
    if not incoming:
        return {}
    rows = [{
        "key": i.item.key, "feed_id": feed_id, "guid": i.item.guid, "url": i.item.url,
        "canonical_url": i.canonical_url, "title": i.item.title, "summary": i.item.summary,
        "source": i.item.source, "published_at": i.item.published_at,
        "first_seen_at": i.item.first_seen_at, "story_key": i.story_key,
    } for i in incoming]
    # Conflicting rows return nothing, so RETURNING tells exactly which keys are new.
    result = await conn.execute(
        insert_ignore(conn, items).returning(items.c.id, items.c.key), rows)
    return {key: item_id for item_id, key in result.all()}


async def _insert_matches(conn: AsyncConnection, new: Sequence[IncomingItem],
                          ids: dict[str, int]) -> None:
    rows = [{"item_id": ids[i.item.key], "topic": m.slug, "score": m.score,
             "hits": json.dumps(sorted({h.term for h in m.hits}), ensure_ascii=False)}
            for i in new for m in i.matches]
    if rows:
        await conn.execute(insert_ignore(conn, topic_matches), rows)


async def _enqueue_alerts(conn: AsyncConnection, alertable: Sequence[IncomingItem],
                          ids: dict[str, int], now: datetime) -> int:
    if not alertable:
        return 0
    slugs = sorted({m.slug for i in alertable for m in i.matches})
    subs = await conn.execute(
        select(subscriptions.c.chat_id, subscriptions.c.topic, subscriptions.c.thread_id)
        .join(chats, chats.c.id == subscriptions.c.chat_id)
        .where(subscriptions.c.topic.in_(slugs), chats.c.active.is_(True),
               chats.c.mode.in_(INSTANT_MODES)))
    by_topic: dict[str, list[tuple[int, int | None]]] = defaultdict(list)
    for chat_id, topic, thread_id in subs:
        by_topic[topic].append((chat_id, thread_id))
    rows: list[dict[str, object]] = []
    for inc in alertable:
        per_chat: dict[int, tuple[list[str], int | None]] = {}
        for match in inc.matches:
            for chat_id, thread_id in by_topic.get(match.slug, []):
                topics, _ = per_chat.setdefault(chat_id, ([], thread_id))
                topics.append(match.slug)
        rows.extend({
            "chat_id": chat_id, "dedupe_key": f"story:{inc.story_key}", "kind": "alert",
            "item_id": ids[inc.item.key], "topics": ",".join(topics), "thread_id": thread_id,
            "status": "pending", "attempts": 0, "next_attempt_at": now, "created_at": now,
        } for chat_id, (topics, thread_id) in per_chat.items())
    if not rows:
        return 0
    result = await conn.execute(
        insert_ignore(conn, deliveries).returning(deliveries.c.id), rows)
    inserted = {row_id for (row_id,) in result.all()}
    await enqueue_story_updates(conn, rows, inserted, now)
    return len(inserted)


async def enqueue_notices(conn: AsyncConnection, notices: Sequence[Notice],
                          now: datetime) -> None:
    if notices:
        await conn.execute(insert_ignore(conn, deliveries), [{
            "chat_id": n.chat_id, "dedupe_key": n.dedupe_key, "kind": "notice",
            "item_id": None, "topics": "", "thread_id": None, "payload": n.text,
            "status": "pending", "attempts": 0, "next_attempt_at": now, "created_at": now,
        } for n in notices])
