"""Feed rows: configured feeds in the DB, their fetch state, which are due."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.store.dialect import insert_ignore
from bot.store.schema import feeds

# Rows converted (read or written) before the event loop gets a turn: with 5,000 feeds,
# the row handling of one query or one batched update held it 50-100 ms in one go
# (bench/poll.py --feeds 5000 --stall-stacks 40).
ROWS_PER_TURN = 500


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
    fetch_url: str | None = None
    disabled_reason: str | None = None
    interval: timedelta | None = None
    avg_new_gap: timedelta | None = None
    failing_since: datetime | None = None
    flagged_at: datetime | None = None
    last_new_item_at: datetime | None = None
    last_fetched_at: datetime | None = None
    last_error: str | None = None
    polls: int = 0
    hint: timedelta | None = None  # the publisher's last polling hint (ttl, max-age...)
    hold_until: datetime | None = None  # a server's Retry-After asked us to wait until then

    @property
    def poll_url(self) -> str:
        return self.fetch_url or self.url


@dataclass(frozen=True, slots=True)
class FetchUpdate:
    """What one poll learned about a feed, written with the items in one transaction.

    Optional fields left None are not changed."""

    status: str  # "ok", "not-modified", "failed", "gone"
    success: bool
    etag: str | None
    last_modified: str | None
    error: str | None
    next_poll_at: datetime
    fetch_url: str | None = None
    disabled_reason: str | None = None
    interval: timedelta | None = None
    avg_new_gap: timedelta | None = None
    flagged: bool | None = None  # True: admins told now; False: recovered (cleared)
    # A 200 carries the publisher's hint (None when it gave none, which clears the
    # stored one); a 304 has no document, so it keeps the stored hint.
    sets_hint: bool = False
    hint: timedelta | None = None
    hold_until: datetime | None = None  # a failure's Retry-After; success clears it


def _seconds(value: Any) -> timedelta | None:
    return None if value is None else timedelta(seconds=float(value))


def _state(row: Any) -> FeedState:
    m = row._mapping
    return FeedState(
        id=m["id"], url=m["url"], name=m["name"], etag=m["etag"],
        last_modified=m["last_modified"], seeded=bool(m["seeded"]),
        next_poll_at=m["next_poll_at"], consecutive_failures=m["consecutive_failures"],
        last_status=m["last_status"], last_success_at=m["last_success_at"],
        item_count=m["item_count"], fetch_url=m["fetch_url"],
        disabled_reason=m["disabled_reason"], interval=_seconds(m["interval_seconds"]),
        avg_new_gap=_seconds(m["avg_new_gap_seconds"]), failing_since=m["failing_since"],
        flagged_at=m["flagged_at"], last_new_item_at=m["last_new_item_at"],
        last_fetched_at=m["last_fetched_at"], last_error=m["last_error"], polls=m["polls"],
        hint=_seconds(m["hint_seconds"]), hold_until=m["hold_until"],
    )


async def sync_feeds(engine: AsyncEngine, configured: Sequence[tuple[str, str]]) -> None:
    """Make sure every configured (url, name) has a row; names follow the config."""
    async with engine.begin() as conn:
        for url, name in configured:
            await conn.execute(
                insert_ignore(conn, feeds).values(url=url, name=name, consecutive_failures=0,
                                                  seeded=False, item_count=0, polls=0))
            await conn.execute(update(feeds).where(feeds.c.url == url).values(name=name))


async def feed_states(engine: AsyncEngine, urls: Sequence[str] | None = None) -> list[FeedState]:
    query = select(feeds).order_by(feeds.c.id)
    if urls is not None:
        query = query.where(feeds.c.url.in_(list(urls)))
    states: list[FeedState] = []
    async with engine.connect() as conn:
        for row in await conn.execute(query):
            states.append(_state(row))
            if len(states) % ROWS_PER_TURN == 0:
                await asyncio.sleep(0)  # the rows' type conversion runs on the event loop
    return states


def pollable(state: FeedState, now: datetime) -> bool:
    """Not disabled (410 Gone) and not held back by the server (Retry-After): even a
    poll of every feed (`run --once`) leaves these alone."""
    return state.disabled_reason is None and (
        state.hold_until is None or state.hold_until <= now)


async def due_feeds(engine: AsyncEngine, urls: Sequence[str], now: datetime,
                    limit: int | None = None) -> list[FeedState]:
    """Configured, enabled feeds whose next poll time has come, most overdue first
    (never polled counts as due). `limit` keeps one cycle bounded after downtime:
    the rest are simply still due on the next tick, so a restart does not stampede."""
    states = [s for s in await feed_states(engine, urls)
              if pollable(s, now) and (s.next_poll_at is None or s.next_poll_at <= now)]
    states.sort(key=lambda s: (s.next_poll_at is not None, s.next_poll_at or now))
    return states[:limit] if limit else states


def _update_values(state: FeedState, upd: FetchUpdate, new_items: int,
                   now: datetime) -> tuple[dict[str, object], dict[str, int]]:
    """What a poll changes in the feed's row: (column -> value, column -> increment)."""
    values: dict[str, object] = {
        "last_status": upd.status,
        "last_fetched_at": now,
        "next_poll_at": upd.next_poll_at,
        "last_error": upd.error,
    }
    increments = {"polls": 1}
    if upd.success:
        values |= {"last_success_at": now, "consecutive_failures": 0, "seeded": True,
                   "etag": upd.etag, "last_modified": upd.last_modified,
                   "failing_since": None, "hold_until": None}
        if new_items:
            increments["item_count"] = new_items
            values["last_new_item_at"] = now
    else:
        increments["consecutive_failures"] = 1
        if state.failing_since is None:
            values["failing_since"] = now
    if upd.sets_hint:
        values["hint_seconds"] = None if upd.hint is None else int(upd.hint.total_seconds())
    if upd.hold_until is not None:
        values["hold_until"] = upd.hold_until
    if upd.fetch_url is not None:
        values["fetch_url"] = upd.fetch_url
    if upd.disabled_reason is not None:
        values["disabled_reason"] = upd.disabled_reason
    if upd.interval is not None:
        values["interval_seconds"] = int(upd.interval.total_seconds())
    if upd.avg_new_gap is not None:
        values["avg_new_gap_seconds"] = upd.avg_new_gap.total_seconds()
    if upd.flagged is True:
        values["flagged_at"] = now
    elif upd.flagged is False:
        values["flagged_at"] = None
    return values, increments


async def apply_fetch_update(conn: AsyncConnection, state: FeedState, upd: FetchUpdate,
                             new_items: int, now: datetime) -> None:
    values, increments = _update_values(state, upd, new_items, now)
    await conn.execute(update(feeds).where(feeds.c.id == state.id).values(
        **values, **{column: feeds.c[column] + n for column, n in increments.items()}))


async def apply_fetch_updates(conn: AsyncConnection,
                              polls: Sequence[tuple[FeedState, FetchUpdate, int]],
                              now: datetime) -> None:
    """Many feeds' poll results (state, update, new items): executemany per shape of
    update (in slices of `ROWS_PER_TURN` rows) instead of a statement (and a
    transaction) per feed."""
    shapes: defaultdict[tuple[tuple[str, ...], tuple[tuple[str, int], ...]],
                        list[dict[str, object]]] = defaultdict(list)
    for state, upd, new_items in polls:
        values, increments = _update_values(state, upd, new_items, now)
        shape = (tuple(sorted(values)), tuple(sorted(increments.items())))
        shapes[shape].append({"b_id": state.id} | {f"b_{k}": v for k, v in values.items()})
    for (columns, added), rows in shapes.items():
        statement = update(feeds).where(feeds.c.id == bindparam("b_id")).values(
            **{column: bindparam(f"b_{column}") for column in columns},
            **{column: feeds.c[column] + n for column, n in added})
        # SQLAlchemy converts every row's parameters on the event loop before the driver
        # thread runs the statement: 4,750 rows at once held the loop ~80 ms.
        for start in range(0, len(rows), ROWS_PER_TURN):
            await conn.execute(statement, rows[start:start + ROWS_PER_TURN])


async def enable_feeds(engine: AsyncEngine, urls: Sequence[str]) -> list[str]:
    """Poll these disabled feeds again, from the next tick (`newsbot feeds --enable`):
    their disabled reason and any Retry-After hold are cleared and they are due now.
    Returns the URLs that were disabled (the others are left as they were)."""
    async with engine.begin() as conn:
        enabled = await conn.execute(
            update(feeds).where(feeds.c.url.in_(list(urls)), feeds.c.disabled_reason.is_not(None))
            .values(disabled_reason=None, hold_until=None, next_poll_at=None)
            .returning(feeds.c.url))
        return sorted(row.url for row in enabled)
