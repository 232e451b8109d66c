"""The outbox's rows: claim what is due, then mark it sent, retried, or given up.

States: pending -> sending -> sent | pending (retry) | failed | dropped.
A row left in `sending` by a crash goes back to `pending` on start
(`release_in_flight`): at-least-once, at most one duplicate per message.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, case, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.model import Item
from bot.store.schema import chat_mutes, chats, deliveries, feeds, items, topic_matches


@dataclass(frozen=True, slots=True)
class ChatView:
    """The chat settings a send needs (defaults when the chat row is missing)."""

    type: str = "private"
    timezone: str | None = None
    link_preview: bool = False
    paused_until: datetime | None = None
    quiet_hours: str | None = None
    mutes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DueDelivery:
    id: int
    chat_id: int
    thread_id: int | None
    kind: str
    attempts: int  # including this one
    created_at: datetime
    topics: tuple[str, ...]
    item: Item | None
    highlight_terms: tuple[str, ...]
    payload: str | None
    item_id: int | None = None
    chat: ChatView = ChatView()
    also_reported_by: tuple[str, ...] = ()  # the story's other outlets, first seen first


async def release_in_flight(engine: AsyncEngine) -> int:
    async with engine.begin() as conn:
        result = await conn.execute(update(deliveries).where(deliveries.c.status == "sending")
                                    .values(status="pending"))
        return result.rowcount


async def claim_due(engine: AsyncEngine, now: datetime, limit: int) -> list[DueDelivery]:
    """Mark up to `limit` due rows `sending` (oldest first) and return them with their items."""
    async with engine.begin() as conn:
        # Alerts and notices before digests: an urgent alert never waits behind a batch
        # of daily digests.
        urgency = case((deliveries.c.kind == "digest", 1), else_=0)
        ids = [r[0] for r in await conn.execute(
            select(deliveries.c.id)
            .where(deliveries.c.status == "pending", deliveries.c.next_attempt_at <= now)
            .order_by(urgency, deliveries.c.next_attempt_at, deliveries.c.id).limit(limit))]
        if not ids:
            return []
        await conn.execute(update(deliveries).where(deliveries.c.id.in_(ids))
                           .values(status="sending", attempts=deliveries.c.attempts + 1))
        rows = (await conn.execute(
            select(deliveries, items.c.key, items.c.story_key, items.c.title, items.c.summary,
                   items.c.url, items.c.source, items.c.published_at, items.c.first_seen_at,
                   items.c.guid,
                   feeds.c.url.label("feed_url"), chats.c.type.label("chat_type"),
                   chats.c.timezone, chats.c.link_preview, chats.c.paused_until,
                   chats.c.quiet_hours)
            .select_from(deliveries.outerjoin(items, items.c.id == deliveries.c.item_id)
                         .outerjoin(feeds, feeds.c.id == items.c.feed_id)
                         .outerjoin(chats, chats.c.id == deliveries.c.chat_id))
            .where(deliveries.c.id.in_(ids)).order_by(deliveries.c.id))).all()
        outlets: dict[str, list[str]] = {}
        story_keys = sorted({r.story_key for r in rows if r.story_key})
        for start in range(0, len(story_keys), 500):
            for story, source in await conn.execute(
                    select(items.c.story_key, items.c.source)
                    .where(items.c.story_key.in_(story_keys[start:start + 500]))
                    .order_by(items.c.first_seen_at, items.c.id)):
                names = outlets.setdefault(story, [])
                if source not in names:
                    names.append(source)
        mutes: dict[int, list[str]] = {}
        for chat_id, term in await conn.execute(
                select(chat_mutes.c.chat_id, chat_mutes.c.term)
                .where(chat_mutes.c.chat_id.in_({r.chat_id for r in rows}))):
            mutes.setdefault(chat_id, []).append(term)
        hits: dict[tuple[int, str], list[str]] = {}
        item_ids = [r.item_id for r in rows if r.item_id is not None]
        if item_ids:
            for item_id, topic, terms in await conn.execute(
                    select(topic_matches.c.item_id, topic_matches.c.topic, topic_matches.c.hits)
                    .where(topic_matches.c.item_id.in_(item_ids))):
                hits[(item_id, topic)] = json.loads(terms)
    out = []
    for r in rows:
        topics = tuple(t for t in r.topics.split(",") if t)
        item = None
        if r.item_id is not None:
            item = Item(key=r.key, feed_url=r.feed_url, source=r.source, title=r.title,
                        summary=r.summary, url=r.url, published_at=r.published_at,
                        first_seen_at=r.first_seen_at, guid=r.guid)
        terms = tuple(dict.fromkeys(t for topic in topics
                                    for t in hits.get((r.item_id, topic), [])))
        chat = ChatView(type=r.chat_type or "private", timezone=r.timezone,
                        link_preview=bool(r.link_preview), paused_until=r.paused_until,
                        quiet_hours=r.quiet_hours, mutes=tuple(sorted(mutes.get(r.chat_id, []))))
        out.append(DueDelivery(id=r.id, chat_id=r.chat_id, thread_id=r.thread_id, kind=r.kind,
                               attempts=r.attempts, created_at=r.created_at, topics=topics,
                               item=item, highlight_terms=terms, payload=r.payload,
                               item_id=r.item_id, chat=chat,
                               also_reported_by=tuple(
                                   s for s in outlets.get(r.story_key or "", [])
                                   if s != r.source)))
    return out


async def mark_sent(engine: AsyncEngine, delivery_id: int, message_id: int | None,
                    now: datetime) -> None:
    await _set(engine, [delivery_id], status="sent", sent_at=now, message_id=message_id,
               last_error=None)


async def mark_retry(engine: AsyncEngine, delivery_id: int, next_attempt_at: datetime,
                     error: str) -> None:
    await _set(engine, [delivery_id], status="pending", next_attempt_at=next_attempt_at,
               last_error=error[:1000])


async def mark_failed(engine: AsyncEngine, delivery_id: int, error: str,
                      status: str = "failed") -> None:
    await _set(engine, [delivery_id], status=status, last_error=error[:1000])


async def defer_chat(engine: AsyncEngine, chat_id: int, until: datetime, error: str) -> None:
    """A 429 for one chat: push all of that chat's pending rows back, drop none. Being
    held is not a failed attempt: rows claimed for this drain get their attempt back, so
    a chat under flood control does not use up its rows' retry budget."""
    async with engine.begin() as conn:
        await conn.execute(update(deliveries).where(and_(
            deliveries.c.chat_id == chat_id, deliveries.c.status.in_(("pending", "sending")),
            deliveries.c.next_attempt_at < until)).values(
                status="pending", next_attempt_at=until, last_error=error[:1000],
                attempts=case((deliveries.c.status == "sending", deliveries.c.attempts - 1),
                              else_=deliveries.c.attempts)))


async def fail_chat(engine: AsyncEngine, chat_id: int, error: str) -> int:
    """The chat is gone (blocked, kicked, not found): settle its queue as failed."""
    async with engine.begin() as conn:
        result = await conn.execute(update(deliveries).where(
            deliveries.c.chat_id == chat_id, deliveries.c.status.in_(("pending", "sending")))
            .values(status="failed", last_error=error[:1000]))
        return result.rowcount


async def counts_by_status(engine: AsyncEngine) -> dict[str, int]:
    async with engine.connect() as conn:
        rows = await conn.execute(select(deliveries.c.status, func.count())
                                  .group_by(deliveries.c.status))
        return {status: int(n) for status, n in rows}


async def _set(engine: AsyncEngine, ids: Sequence[int], **values: object) -> None:
    async with engine.begin() as conn:
        await conn.execute(update(deliveries).where(deliveries.c.id.in_(list(ids)))
                           .values(**values))


async def mark_many(engine: AsyncEngine, ids: Sequence[int], status: str, now: datetime,
                    *, message_id: int | None = None, error: str | None = None) -> None:
    """Settle several rows at once (a batch message, or alerts skipped by a setting)."""
    values: dict[str, object] = {"status": status, "last_error": error[:1000] if error else None}
    if status == "sent":
        values |= {"sent_at": now, "message_id": message_id}
    await _set(engine, ids, **values)


async def defer_rows(engine: AsyncEngine, ids: Sequence[int], until: datetime,
                     reason: str) -> None:
    """Hold claimed rows until `until` without counting an attempt (quiet hours, or
    rows behind a failed message). Rows already settled are left alone."""
    async with engine.begin() as conn:
        await conn.execute(update(deliveries).where(
            deliveries.c.id.in_(list(ids)), deliveries.c.status == "sending").values(
                status="pending", next_attempt_at=until, last_error=reason,
                attempts=deliveries.c.attempts - 1))


async def queue_length(engine: AsyncEngine) -> int:
    """Rows waiting to be sent (an index range scan, cheap enough for every drain)."""
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(deliveries).where(
            deliveries.c.status.in_(("pending", "sending"))))).scalar_one())


async def settle_edit(engine: AsyncEngine, delivery_id: int, now: datetime) -> None:
    """An edit went out: free its (chat, story) slot so a later outlet can queue the next."""
    async with engine.begin() as conn:
        await conn.execute(update(deliveries).where(deliveries.c.id == delivery_id).values(
            status="sent", sent_at=now, last_error=None,
            dedupe_key=deliveries.c.dedupe_key + f":{delivery_id}"))
