"""The digest job's I/O shell: for every chat whose digest period has come (per
its own time zone, DST-correct, with the catch-up grace), read the period's
stories, build and render the digest, and record it in the outbox.

Driven by a once-a-minute tick rather than one cron job per chat: the pure
period functions in bot.digest decide "due" from `now` and the last recorded
period, which makes restarts, downtime catch-up and /digest changes fall out of
the same rule, and keeps the schedule testable without waiting.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import AppConfig
from bot.digest import (
    DEFAULT_GRACE,
    DigestPeriod,
    build_digest,
    digest_period,
    format_period,
    is_due,
    render_digest,
    render_digest_plain,
    scheduled_at,
)
from bot.store.digests import (
    DigestChat,
    digest_chats,
    digest_stories,
    enqueue_digest,
    last_digest_keys,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RenderedDigest:
    period: DigestPeriod
    html: list[str]
    plain: list[str]


def chat_schedule(chat: DigestChat, config: AppConfig) -> tuple[time, ZoneInfo]:
    at = config.digest.time
    if chat.digest_time:
        hour, minute = (int(x) for x in chat.digest_time.split(":"))
        at = time(hour, minute)
    return at, ZoneInfo(chat.timezone or config.digest.timezone)


def period_for_day(day: date, at: time, zone: ZoneInfo) -> DigestPeriod:
    due = scheduled_at(day, at, zone)
    start = scheduled_at(day - timedelta(days=1), at, zone)
    return DigestPeriod(key=day.isoformat(), due_at=due, starts_at=start)


async def render_for(engine: AsyncEngine, config: AppConfig, chat: DigestChat,
                     period: DigestPeriod, now: datetime) -> RenderedDigest:
    _, zone = chat_schedule(chat, config)
    stories = await digest_stories(engine, chat.topics, period.starts_at, period.due_at)
    topics = [(t.slug, t.name) for t in config.topics if t.slug in chat.topics]
    sections = build_digest(stories, topics, chat.mutes, now)
    label = format_period(period)
    return RenderedDigest(
        period=period,
        html=render_digest(sections, label, zone, chat.quiet_day_line),
        plain=render_digest_plain(sections, label, zone, chat.quiet_day_line))


async def run_digests(engine: AsyncEngine, config: AppConfig, now: datetime,
                      grace: timedelta = DEFAULT_GRACE,
                      chat_ids: Sequence[int] | None = None) -> int:
    """Record every digest that is due now; returns how many messages were queued."""
    chats = await digest_chats(engine, chat_ids)
    if not chats:
        return 0
    last = await last_digest_keys(engine)
    queued = 0
    for chat in chats:
        at, zone = chat_schedule(chat, config)
        period = digest_period(now, at, zone)
        if period is None or not is_due(period, now, last.get(chat.id), grace):
            continue
        rendered = await render_for(engine, config, chat, period, now)
        if await enqueue_digest(engine, chat.id, period.key, html_chunks=rendered.html,
                                plain_chunks=rendered.plain, thread_id=chat.thread_id,
                                now=now):
            log.info("digest %s for chat %d: %d message(s)", period.key, chat.id,
                     len(rendered.html))
            queued += len(rendered.html) > 0
    return queued
