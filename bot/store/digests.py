"""What the daily digest reads and writes: chats that want one, the stories of a
period, and the outbox row that records "this chat's digest for this day".

Exactly once: a digest is an outbox row keyed `digest:<local date>` under the
(chat, dedupe_key) unique constraint, written before any send; a restart, a
second tick or a config reload can only find it already there. An empty day is
recorded too (status `skipped`), so a later tick does not reconsider it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.digest import DigestStory
from bot.store.dialect import insert_ignore
from bot.store.schema import chat_mutes, chats, deliveries, items, subscriptions, topic_matches

DIGEST_PREFIX = "digest:"


@dataclass(frozen=True, slots=True)
class DigestChat:
    id: int
    digest_time: str | None
    timezone: str | None
    topics: tuple[str, ...]
    mutes: tuple[str, ...]
    quiet_day_line: bool
    thread_id: int | None


async def digest_chats(engine: AsyncEngine, chat_ids: Sequence[int] | None = None
                       ) -> list[DigestChat]:
    """Active chats whose mode includes the digest (or the given chats, any mode)."""
    query = select(chats.c.id, chats.c.digest_time, chats.c.timezone,
                   chats.c.digest_quiet_day).where(chats.c.active.is_(True))
    query = (query.where(chats.c.id.in_(list(chat_ids))) if chat_ids is not None
             else query.where(chats.c.mode.in_(("digest", "both"))))
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
        ids = [r.id for r in rows]
        topics: dict[int, list[tuple[str, int | None]]] = {}
        for chat_id, topic, thread in await conn.execute(
                select(subscriptions.c.chat_id, subscriptions.c.topic, subscriptions.c.thread_id)
                .where(subscriptions.c.chat_id.in_(ids))):
            topics.setdefault(chat_id, []).append((topic, thread))
        mutes: dict[int, list[str]] = {}
        for chat_id, term in await conn.execute(
                select(chat_mutes.c.chat_id, chat_mutes.c.term)
                .where(chat_mutes.c.chat_id.in_(ids))):
            mutes.setdefault(chat_id, []).append(term)
    return [DigestChat(
        id=r.id, digest_time=r.digest_time, timezone=r.timezone,
        topics=tuple(sorted(t for t, _ in topics.get(r.id, []))),
        mutes=tuple(sorted(mutes.get(r.id, []))), quiet_day_line=bool(r.digest_quiet_day),
        thread_id=next((th for _, th in topics.get(r.id, []) if th is not None), None),
    ) for r in rows]


async def last_digest_keys(engine: AsyncEngine) -> dict[int, str]:
    """Per chat, the newest digest period already recorded (ISO dates sort in time order)."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(deliveries.c.chat_id, func.max(deliveries.c.dedupe_key))
            .where(deliveries.c.kind == "digest")
            .group_by(deliveries.c.chat_id))
        return {chat_id: key.removeprefix(DIGEST_PREFIX) for chat_id, key in rows}


async def digest_stories(engine: AsyncEngine, topics: Sequence[str], start: datetime,
                         end: datetime) -> list[DigestStory]:
    """Items first seen in (start, end] that matched `topics`, one row per (item, topic);
    the digest builder folds them per story."""
    if not topics:
        return []
    query = (select(items.c.story_key, items.c.title, items.c.url, items.c.source,
                    items.c.published_at, items.c.first_seen_at, items.c.summary,
                    topic_matches.c.topic, topic_matches.c.score, topic_matches.c.hits)
             .join(topic_matches, topic_matches.c.item_id == items.c.id)
             .where(topic_matches.c.topic.in_(list(topics)), items.c.first_seen_at > start,
                    items.c.first_seen_at <= end)
             .order_by(items.c.first_seen_at, items.c.id))
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    sources: dict[str, list[str]] = {}
    for r in rows:
        names = sources.setdefault(r.story_key, [])
        if r.source not in names:
            names.append(r.source)
    out = []
    for r in rows:
        terms = json.loads(r.hits or "[]")
        title = r.title.casefold()
        out.append(DigestStory(
            story_key=r.story_key, title=r.title, url=r.url, source=r.source,
            sources=tuple(sources[r.story_key]), published_at=r.published_at,
            first_seen_at=r.first_seen_at, topics=(r.topic,),
            title_hit=any(str(t).casefold() in title for t in terms), score=float(r.score),
            summary=r.summary))
    return out


async def enqueue_digest(engine: AsyncEngine, chat_id: int, period_key: str, *,
                         html_chunks: Sequence[str], plain_chunks: Sequence[str],
                         thread_id: int | None, now: datetime) -> bool:
    """Record the chat's digest for the period (and queue it when there is something
    to send). False when that period was already recorded."""
    payload = json.dumps({"html": list(html_chunks), "plain": list(plain_chunks)},
                         ensure_ascii=False)
    async with engine.begin() as conn:
        result = await conn.execute(insert_ignore(conn, deliveries).values(
            chat_id=chat_id, dedupe_key=f"{DIGEST_PREFIX}{period_key}", kind="digest",
            item_id=None, topics="", thread_id=thread_id, payload=payload,
            status="pending" if html_chunks else "skipped", attempts=0, next_attempt_at=now,
            created_at=now).returning(deliveries.c.id))
        return result.first() is not None
