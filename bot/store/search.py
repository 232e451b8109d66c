"""Reading stored items for people: /latest (recent stories per topic) and /search
(full text: SQLite FTS5 with the trigram tokenizer, PostgreSQL tsvector; words
the index cannot serve, such as two-character Chinese words, fall back to LIKE).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, literal_column, or_, select, text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.elements import ColumnElement, TextClause

from bot.store.schema import feeds, items, topic_matches

MAX_WORDS = 8
MAX_WORD_LEN = 50


@dataclass(frozen=True, slots=True)
class StoredItem:
    title: str
    url: str | None
    source: str
    published_at: datetime | None
    first_seen_at: datetime
    story_key: str


def _row(r: object) -> StoredItem:
    m = r._mapping  # type: ignore[attr-defined]
    return StoredItem(title=m["title"], url=m["url"], source=m["source"],
                      published_at=m["published_at"], first_seen_at=m["first_seen_at"],
                      story_key=m["story_key"])


def _one_per_story(rows: Sequence[StoredItem], limit: int) -> list[StoredItem]:
    seen: set[str] = set()
    out = []
    for row in rows:
        if row.story_key not in seen:
            seen.add(row.story_key)
            out.append(row)
        if len(out) == limit:
            break
    return out


async def latest(engine: AsyncEngine, topics: Sequence[str], limit: int = 10) -> list[StoredItem]:
    """The newest stories that matched any of `topics`, one line per story."""
    if not topics:
        return []
    query = (select(items.c.title, items.c.url, items.c.source, items.c.published_at,
                    items.c.first_seen_at, items.c.story_key)
             .where(items.c.id.in_(select(topic_matches.c.item_id)
                                   .where(topic_matches.c.topic.in_(list(topics)))))
             .order_by(items.c.first_seen_at.desc(), items.c.id.desc()).limit(limit * 5))
    async with engine.connect() as conn:
        rows = [_row(r) for r in await conn.execute(query)]
    return _one_per_story(rows, limit)


def search_words(query: str) -> list[str]:
    """The words of a user's search, normalised and bounded."""
    folded = unicodedata.normalize("NFKC", query).casefold()
    cleaned = "".join(c if c.isalnum() or c in "-'" else " " for c in folded)
    return list(dict.fromkeys(w[:MAX_WORD_LEN] for w in cleaned.split() if w))[:MAX_WORDS]


def _has_cjk(word: str) -> bool:
    return any(unicodedata.east_asian_width(c) in ("W", "F") for c in word)


def _like(word: str) -> ColumnElement[bool]:
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = f"%{escaped}%"
    return or_(func.lower(items.c.title).like(pattern, escape="\\"),
               func.lower(items.c.summary).like(pattern, escape="\\"))


async def search(engine: AsyncEngine, query: str, limit: int = 10) -> list[StoredItem]:
    """Items containing every word of `query`, newest first, one per story."""
    words = search_words(query)
    if not words:
        return []
    sqlite = engine.dialect.name == "sqlite"
    conditions: list[ColumnElement[bool] | TextClause] = []
    indexed = [w for w in words if not _has_cjk(w) and (len(w) >= 3 or not sqlite)]
    conditions += [_like(w) for w in words if w not in indexed]
    if indexed and sqlite:
        match = " ".join('"' + w.replace('"', '""') + '"' for w in indexed)
        conditions.append(items.c.id.in_(
            select(literal_column("rowid")).select_from(text("items_fts"))
            .where(text("items_fts MATCH :match").bindparams(match=match))))
    elif indexed:
        conditions.append(text(
            "to_tsvector('simple', items.title || ' ' || items.summary) "
            "@@ plainto_tsquery('simple', :words)").bindparams(words=" ".join(indexed)))
    statement = (select(items.c.title, items.c.url, items.c.source, items.c.published_at,
                        items.c.first_seen_at, items.c.story_key, items.c.summary)
                 .where(and_(*conditions))
                 .order_by(items.c.first_seen_at.desc(), items.c.id.desc()).limit(limit * 5))
    async with engine.connect() as conn:
        found = (await conn.execute(statement)).all()
    # LIKE and trigrams match inside words ("us" in "use"); spaced-script words are
    # whole words, as in the PostgreSQL index.
    starts = [re.compile(rf"(?<!\w){re.escape(w)}(?!\w)") for w in words if not _has_cjk(w)]
    rows = [_row(r) for r in found
            if all(p.search(unicodedata.normalize("NFKC", f"{r.title} {r.summary}").casefold())
                   for p in starts)]
    return _one_per_story(rows, limit)


async def item_text(engine: AsyncEngine, item_id: int) -> tuple[str, str] | None:
    """(title, summary) of a stored item, for "Why this alert?"."""
    async with engine.connect() as conn:
        row = (await conn.execute(select(items.c.title, items.c.summary)
                                  .where(items.c.id == item_id))).first()
    return (row.title, row.summary) if row else None


@dataclass(frozen=True, slots=True)
class StoredForBacktest:
    item_id: int
    title: str
    summary: str
    feed_url: str
    topics: frozenset[str]


async def items_since(engine: AsyncEngine, since: datetime,
                      limit: int = 200_000) -> list[StoredForBacktest]:
    """Stored items first seen after `since`, with the topics recorded for them."""
    async with engine.connect() as conn:
        rows = (await conn.execute(
            select(items.c.id, items.c.title, items.c.summary, feeds.c.url)
            .join(feeds, feeds.c.id == items.c.feed_id)
            .where(items.c.first_seen_at > since)
            .order_by(items.c.first_seen_at.desc()).limit(limit))).all()
        recorded: dict[int, set[str]] = {}
        ids = [r.id for r in rows]
        for start in range(0, len(ids), 1000):
            for item_id, topic in await conn.execute(
                    select(topic_matches.c.item_id, topic_matches.c.topic)
                    .where(topic_matches.c.item_id.in_(ids[start:start + 1000]))):
                recorded.setdefault(item_id, set()).add(topic)
    return [StoredForBacktest(r.id, r.title, r.summary, r.url,
                              frozenset(recorded.get(r.id, ()))) for r in rows]


@dataclass(frozen=True, slots=True)
class RecentStoryItem:
    key: str
    title: str
    summary: str
    url: str | None
    source: str
    published_at: datetime | None
    first_seen_at: datetime
    story_key: str


async def recent_story_items(engine: AsyncEngine, since: datetime,
                             limit: int = 50_000) -> list[RecentStoryItem]:
    """Matched items first seen after `since`, oldest first: what the story grouper
    must remember after a restart so a story keeps its id across it."""
    query = (select(items.c.key, items.c.title, items.c.summary, items.c.url, items.c.source,
                    items.c.published_at, items.c.first_seen_at, items.c.story_key)
             .where(items.c.first_seen_at > since,
                    items.c.id.in_(select(topic_matches.c.item_id)))
             .order_by(items.c.first_seen_at, items.c.id).limit(limit))
    async with engine.connect() as conn:
        return [RecentStoryItem(*row) for row in await conn.execute(query)]
