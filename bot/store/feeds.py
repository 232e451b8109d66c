"""Feed rows: configured feeds in the DB, their fetch state, which are due."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.store.dialect import insert_ignore
from bot.store.schema import feeds


@dataclass(frozen=True, slots=True)
class FeedState:
    id: int
    url: str
    name: str
    etag: str | None
    last_modified: str | None
    seeded: bool
    next_poll_at: datetime | None
    consecutive_failures: int
    last_status: str | None
    last_success_at: datetime | None
    item_count: int


@dataclass(frozen=True, slots=True)
class FetchUpdate:
    """What one poll learned about a feed, written with the items in one transaction."""

    status: str  # "ok", "not-modified", or a short failure label
    success: bool
    etag: str | None
    last_modified: str | None
    error: str | None
    next_poll_at: datetime


def _state(row: object) -> FeedState:
    m = row._mapping  # type: ignore[attr-defined]
    return FeedState(
        id=m["id"], url=m["url"], name=m["name"], etag=m["etag"],
        last_modified=m["last_modified"], seeded=bool(m["seeded"]),
        next_poll_at=m["next_poll_at"], consecutive_failures=m["consecutive_failures"],
        last_status=m["last_status"], last_success_at=m["last_success_at"],
        item_count=m["item_count"],
    )


async def sync_feeds(engine: AsyncEngine, configured: Sequence[tuple[str, str]]) -> None:
    """Make sure every configured (url, name) has a row; names follow the config."""
    async with engine.begin() as conn:
        for url, name in configured:
            await conn.execute(
                insert_ignore(conn, feeds).values(url=url, name=name, consecutive_failures=0,
                                                  seeded=False, item_count=0))
            await conn.execute(update(feeds).where(feeds.c.url == url).values(name=name))


async def feed_states(engine: AsyncEngine, urls: Sequence[str] | None = None) -> list[FeedState]:
    query = select(feeds).order_by(feeds.c.id)
    if urls is not None:
        query = query.where(feeds.c.url.in_(list(urls)))
    async with engine.connect() as conn:
        return [_state(row) for row in await conn.execute(query)]


async def due_feeds(engine: AsyncEngine, urls: Sequence[str], now: datetime) -> list[FeedState]:
    """Configured feeds whose next poll time has come (never polled counts as due)."""
    states = await feed_states(engine, urls)
    return [s for s in states if s.next_poll_at is None or s.next_poll_at <= now]


async def apply_fetch_update(conn: AsyncConnection, feed_id: int, upd: FetchUpdate,
                             new_items: int, now: datetime) -> None:
    values: dict[str, object] = {
        "last_status": upd.status,
        "last_fetched_at": now,
        "next_poll_at": upd.next_poll_at,
        "last_error": upd.error,
    }
    if upd.success:
        values |= {"last_success_at": now, "consecutive_failures": 0, "seeded": True,
                   "etag": upd.etag, "last_modified": upd.last_modified,
                   "item_count": feeds.c.item_count + new_items}
        if new_items:
            values["last_new_item_at"] = now
    else:
        values["consecutive_failures"] = feeds.c.consecutive_failures + 1
    await conn.execute(update(feeds).where(feeds.c.id == feed_id).values(**values))
