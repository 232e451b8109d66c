"""Chats and their topic subscriptions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store.dialect import insert_ignore
from bot.store.schema import chat_mutes, chats, deliveries, subscriptions

CONSOLE_CHAT_ID = 0  # the pseudo-chat that receives every topic when no bot token is set


@dataclass(frozen=True, slots=True)
class ChatSettings:
    id: int
    type: str
    active: bool
    mode: str
    digest_time: str | None
    timezone: str | None
    topics: tuple[str, ...]
    mutes: tuple[str, ...] = ()
    paused_until: datetime | None = None
    quiet_hours: str | None = None
    link_preview: bool = False
    digest_quiet_day: bool = False


async def ensure_chat(engine: AsyncEngine, chat_id: int, chat_type: str, title: str | None,
                      now: datetime) -> None:
    """Create the chat on first contact; a chat that writes again is active again."""
    async with engine.begin() as conn:
        await conn.execute(insert_ignore(conn, chats).values(
            id=chat_id, type=chat_type, title=(title or "")[:300], active=True,
            mode="instant", created_at=now, updated_at=now))
        await conn.execute(update(chats).where(chats.c.id == chat_id).values(
            active=True, type=chat_type, title=(title or "")[:300], updated_at=now))


async def subscribe(engine: AsyncEngine, chat_id: int, slugs: Sequence[str],
                    thread_id: int | None, now: datetime) -> list[str]:
    """Subscribe; returns the slugs that were not subscribed before."""
    async with engine.begin() as conn:
        existing = {r[0] for r in await conn.execute(
            select(subscriptions.c.topic).where(subscriptions.c.chat_id == chat_id))}
        added = [s for s in dict.fromkeys(slugs) if s not in existing]
        if added:
            await conn.execute(subscriptions.insert(), [
                {"chat_id": chat_id, "topic": s, "thread_id": thread_id, "created_at": now}
                for s in added])
    return added


async def unsubscribe(engine: AsyncEngine, chat_id: int,
                      slugs: Sequence[str] | None) -> list[str]:
    """Unsubscribe from `slugs` (None = all); returns what was removed."""
    async with engine.begin() as conn:
        query = select(subscriptions.c.topic).where(subscriptions.c.chat_id == chat_id)
        existing = [r[0] for r in await conn.execute(query)]
        removed = existing if slugs is None else [s for s in existing if s in set(slugs)]
        if removed:
            await conn.execute(delete(subscriptions).where(
                subscriptions.c.chat_id == chat_id, subscriptions.c.topic.in_(removed)))
    return sorted(removed)


async def chat_settings(engine: AsyncEngine, chat_id: int) -> ChatSettings | None:
    async with engine.connect() as conn:
        row = (await conn.execute(select(chats).where(chats.c.id == chat_id))).first()
        if row is None:
            return None
        topics = tuple(sorted(r[0] for r in await conn.execute(
            select(subscriptions.c.topic).where(subscriptions.c.chat_id == chat_id))))
        mutes = tuple(sorted(r[0] for r in await conn.execute(
            select(chat_mutes.c.term).where(chat_mutes.c.chat_id == chat_id))))
    m = row._mapping
    return ChatSettings(id=m["id"], type=m["type"], active=bool(m["active"]), mode=m["mode"],
                        digest_time=m["digest_time"], timezone=m["timezone"], topics=topics,
                        mutes=mutes, paused_until=m["paused_until"],
                        quiet_hours=m["quiet_hours"], link_preview=bool(m["link_preview"]),
                        digest_quiet_day=bool(m["digest_quiet_day"]))


SETTABLE = frozenset({"mode", "digest_time", "timezone", "paused_until", "quiet_hours",
                      "link_preview", "digest_quiet_day"})


async def update_settings(engine: AsyncEngine, chat_id: int, now: datetime,
                          **values: object) -> None:
    """Set chat columns (validated by the caller; only the names in SETTABLE)."""
    unknown = set(values) - SETTABLE
    if unknown:
        raise ValueError(f"not a chat setting: {sorted(unknown)}")
    async with engine.begin() as conn:
        await conn.execute(update(chats).where(chats.c.id == chat_id).values(
            updated_at=now, **values))


async def add_mute(engine: AsyncEngine, chat_id: int, term: str, limit: int) -> bool:
    """Add a mute term; False when the chat already has `limit` terms."""
    async with engine.begin() as conn:
        count = len((await conn.execute(select(chat_mutes.c.term).where(
            chat_mutes.c.chat_id == chat_id))).all())
        if count >= limit:
            return False
        await conn.execute(insert_ignore(conn, chat_mutes).values(chat_id=chat_id, term=term))
    return True


async def remove_mute(engine: AsyncEngine, chat_id: int, term: str) -> bool:
    async with engine.begin() as conn:
        result = await conn.execute(delete(chat_mutes).where(
            chat_mutes.c.chat_id == chat_id, chat_mutes.c.term == term))
        return result.rowcount > 0


async def deactivate_chat(engine: AsyncEngine, chat_id: int, now: datetime) -> None:
    """The bot was blocked or removed: stop sending, keep the subscriptions."""
    async with engine.begin() as conn:
        await conn.execute(update(chats).where(chats.c.id == chat_id).values(
            active=False, updated_at=now))


async def migrate_chat(engine: AsyncEngine, old_id: int, new_id: int, now: datetime) -> None:
    """A group became a supergroup (new id): move settings, subscriptions and the
    queue, so nothing queued for the old id is lost."""
    async with engine.begin() as conn:
        old = (await conn.execute(select(chats).where(chats.c.id == old_id))).first()
        if old is None:
            return
        m = old._mapping
        await conn.execute(insert_ignore(conn, chats).values(
            id=new_id, type="supergroup", title=m["title"], active=True, mode=m["mode"],
            digest_time=m["digest_time"], timezone=m["timezone"], created_at=now,
            updated_at=now))
        subs = (await conn.execute(select(subscriptions).where(
            subscriptions.c.chat_id == old_id))).all()
        if subs:
            await conn.execute(insert_ignore(conn, subscriptions), [
                {"chat_id": new_id, "topic": s.topic, "thread_id": s.thread_id,
                 "created_at": s.created_at} for s in subs])
        await conn.execute(delete(subscriptions).where(subscriptions.c.chat_id == old_id))
        taken = select(deliveries.c.dedupe_key).where(deliveries.c.chat_id == new_id)
        await conn.execute(delete(deliveries).where(
            deliveries.c.chat_id == old_id, deliveries.c.dedupe_key.in_(taken),
            deliveries.c.status.in_(("pending", "sending"))))
        await conn.execute(update(deliveries).where(
            deliveries.c.chat_id == old_id, deliveries.c.status.in_(("pending", "sending")))
            .values(chat_id=new_id, status="pending", next_attempt_at=now))
        await conn.execute(update(chats).where(chats.c.id == old_id).values(
            active=False, updated_at=now))


async def set_subscriptions(engine: AsyncEngine, chat_id: int, slugs: Sequence[str],
                            now: datetime) -> None:
    """Make the chat follow exactly `slugs` (operator-routed channels)."""
    current = await chat_settings(engine, chat_id)
    existing = set(current.topics) if current else set()
    stale = sorted(existing - set(slugs))
    if stale:
        await unsubscribe(engine, chat_id, stale)
    await subscribe(engine, chat_id, [s for s in slugs if s not in existing], None, now)


async def drop_topic(engine: AsyncEngine, slug: str) -> list[tuple[int, int | None]]:
    """Remove every subscription to a topic that no longer exists; returns the
    (chat, thread) pairs that followed it, so they can be told."""
    async with engine.begin() as conn:
        rows = [(r.chat_id, r.thread_id) for r in await conn.execute(
            select(subscriptions.c.chat_id, subscriptions.c.thread_id)
            .join(chats, chats.c.id == subscriptions.c.chat_id)
            .where(subscriptions.c.topic == slug, chats.c.active.is_(True)))]
        await conn.execute(delete(subscriptions).where(subscriptions.c.topic == slug))
    return rows
