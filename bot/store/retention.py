"""Retention: delete old items and settled deliveries, keep what dedupe needs,
and give the space back.

Owns: what is old enough to delete and what must survive. Must not: touch rows
a send still needs (pending or in-flight deliveries, and their items) or read
the clock (`now` is a parameter).

What is deleted, per run, in short transactions of `batch_size` rows so that a
poll cycle writing at the same time waits milliseconds, not minutes:
1. deliveries in a final state (sent, failed, dropped, skipped) created before
   `now - keep_items`, except those whose story is still being reported (an item
   of the same story seen within `keep_items`): the outbox's unique (chat, story)
   row is what stops a long-running story from alerting a chat twice;
2. items first seen before `now - keep_items` that no remaining delivery
   references (their topic matches go with them; SQLite's FTS rows follow by
   trigger). Each deleted item's key, canonical URL and story key are first
   copied to `seen_keys`, which `bot.store.ingest` consults, so an old article
   that reappears in a feed is still not new;
3. `seen_keys` rows first seen before `now - keep_keys` (default 400 days:
   longer than any feed keeps an item in its document).

Space: PostgreSQL reuses the space of deleted rows after autovacuum, so plain
DELETEs keep the tables at their high-water mark. SQLite only reuses freed pages
and never shrinks the file by itself, so after deleting, this module:
- merges the full-text index in small steps (FTS5 `merge`), which drops the
  delete markers that would otherwise keep it growing;
- switches the file to `auto_vacuum=INCREMENTAL` once (that needs one full
  `VACUUM`, a rebuild that briefly needs free disk about the file's size), and
  from then on runs `PRAGMA incremental_vacuum`, which cuts all free pages off
  the end of the file without rebuilding it;
- checkpoints the WAL with TRUNCATE, so the shrink reaches the disk and the WAL
  file goes back to zero bytes (best effort: a reader still open keeps it).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, exists, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.store.dialect import insert_ignore
from bot.store.engine import SQLITE_BUSY_TIMEOUT_MS
from bot.store.schema import deliveries, items, seen_keys, topic_matches

log = logging.getLogger(__name__)

KEEP_ITEMS = timedelta(days=90)
KEEP_KEYS = timedelta(days=400)
FINAL_STATUSES = ("sent", "failed", "dropped", "skipped")
BATCH_SIZE = 1000
_AUTO_VACUUM_INCREMENTAL = 2
FTS_MERGE_PAGES = 250  # work per merge step: tens of milliseconds
FTS_MERGE_MAX_STEPS = 100_000  # a bound, not an expectation

_Step = Callable[[AsyncConnection], Awaitable[int]]


@dataclass(frozen=True, slots=True)
class PruneReport:
    deliveries_deleted: int
    items_deleted: int
    keys_archived: int  # item keys copied to seen_keys before their items went
    keys_deleted: int  # seen_keys older than keep_keys
    compaction: str  # what was done to give space back
    file_bytes_before: int | None = None  # SQLite: database + WAL file sizes
    file_bytes_after: int | None = None

    def summary(self) -> str:
        text = (f"retention: {self.deliveries_deleted} deliveries and {self.items_deleted} "
                f"items deleted, {self.keys_archived} keys kept for dedupe, "
                f"{self.keys_deleted} old keys deleted; {self.compaction}")
        if self.file_bytes_before is not None and self.file_bytes_after is not None:
            text += (f"; file {self.file_bytes_before / 1e6:.1f} MB -> "
                     f"{self.file_bytes_after / 1e6:.1f} MB")
        return text


async def prune(engine: AsyncEngine, now: datetime, keep_items: timedelta = KEEP_ITEMS,
                keep_keys: timedelta = KEEP_KEYS, *, batch_size: int = BATCH_SIZE) -> PruneReport:
    """Delete what is older than the retention ages; see the module docstring."""
    if keep_keys < keep_items:
        raise ValueError("keep_keys must be at least keep_items: dedupe keys must outlive "
                         "the items they stand for")
    item_cutoff = now - keep_items
    key_cutoff = now - keep_keys
    sqlite_path = _sqlite_path(engine)
    before = _file_bytes(sqlite_path) if sqlite_path else None

    deliveries_deleted = await _batched(engine, batch_size,
                                        lambda conn: _delete_deliveries(conn, item_cutoff,
                                                                        batch_size))
    items_deleted = await _batched(engine, batch_size,
                                   lambda conn: _archive_and_delete_items(conn, item_cutoff,
                                                                          batch_size))
    keys_deleted = await _batched(engine, batch_size,
                                  lambda conn: _delete_old_keys(conn, key_cutoff, batch_size))

    if engine.dialect.name == "sqlite" and sqlite_path is not None:
        compaction = await asyncio.to_thread(_compact_sqlite, sqlite_path,
                                             items_deleted + deliveries_deleted > 0)
    elif engine.dialect.name == "sqlite":
        compaction = "none (in-memory SQLite)"
    else:
        compaction = "plain DELETE; PostgreSQL autovacuum reuses the space"
    report = PruneReport(deliveries_deleted=deliveries_deleted, items_deleted=items_deleted,
                         keys_archived=items_deleted, keys_deleted=keys_deleted,
                         compaction=compaction, file_bytes_before=before,
                         file_bytes_after=_file_bytes(sqlite_path) if sqlite_path else None)
    log.info("%s", report.summary())
    return report


async def _batched(engine: AsyncEngine, batch_size: int, step: _Step) -> int:
    """Run `step` in its own transaction until it deletes less than a full batch."""
    total = 0
    while True:
        async with engine.begin() as conn:
            n = await step(conn)
        total += n
        if n < batch_size:
            return total


async def _delete_deliveries(conn: AsyncConnection, cutoff: datetime, limit: int) -> int:
    item = items.alias("item")
    recent = items.alias("recent")
    # The delivery's story still has an item seen after the cutoff: keep the row.
    live_story = exists().where(item.c.id == deliveries.c.item_id,
                                recent.c.story_key == item.c.story_key,
                                recent.c.first_seen_at >= cutoff)
    ids = [r[0] for r in await conn.execute(
        select(deliveries.c.id).where(deliveries.c.status.in_(FINAL_STATUSES),
                                      deliveries.c.created_at < cutoff, ~live_story)
        .order_by(deliveries.c.id).limit(limit))]
    if ids:
        await conn.execute(delete(deliveries).where(deliveries.c.id.in_(ids)))
    return len(ids)


async def _archive_and_delete_items(conn: AsyncConnection, cutoff: datetime,
                                    limit: int) -> int:
    referenced = exists().where(deliveries.c.item_id == items.c.id)
    rows = (await conn.execute(
        select(items.c.id, items.c.key, items.c.canonical_url, items.c.story_key,
               items.c.first_seen_at)
        .where(items.c.first_seen_at < cutoff, ~referenced)
        .order_by(items.c.id).limit(limit))).all()
    if not rows:
        return 0
    ids = [r.id for r in rows]
    await conn.execute(insert_ignore(conn, seen_keys), [
        {"key": r.key, "canonical_url": r.canonical_url, "story_key": r.story_key,
         "first_seen_at": r.first_seen_at} for r in rows])
    # Explicit, although the foreign key cascades: correct even on a SQLite
    # connection opened without PRAGMA foreign_keys.
    await conn.execute(delete(topic_matches).where(topic_matches.c.item_id.in_(ids)))
    await conn.execute(delete(items).where(items.c.id.in_(ids)))
    return len(ids)


async def _delete_old_keys(conn: AsyncConnection, cutoff: datetime, limit: int) -> int:
    keys = [r[0] for r in await conn.execute(
        select(seen_keys.c.key).where(seen_keys.c.first_seen_at < cutoff).limit(limit))]
    if keys:
        await conn.execute(delete(seen_keys).where(seen_keys.c.key.in_(keys)))
    return len(keys)


async def table_counts(engine: AsyncEngine) -> dict[str, int]:
    """Rows per retention-relevant table (for reports and tests)."""
    out: dict[str, int] = {}
    async with engine.connect() as conn:
        for table in (items, topic_matches, deliveries, seen_keys):
            out[table.name] = int((await conn.execute(
                select(func.count()).select_from(table))).scalar_one())
    return out


# ---- SQLite space ------------------------------------------------------------------
def _sqlite_path(engine: AsyncEngine) -> Path | None:
    if engine.dialect.name != "sqlite":
        return None
    database = engine.url.database or ""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def _file_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in (path, path.with_name(path.name + "-wal"))
               if p.exists())


def _merge_fts(conn: sqlite3.Connection) -> int:
    """Merge the FTS5 segments, which is what drops the delete markers that the
    items_fts delete trigger wrote: without it the index (and the file) keeps
    growing even though the rows are gone. A negative 'merge' merges regardless
    of level, like 'optimize', but in steps of FTS_MERGE_PAGES, each its own
    short transaction, so a poll cycle's writes interleave instead of waiting
    for one long rewrite. FTS5: a step that changed fewer than 2 rows did no work."""
    for step in range(1, FTS_MERGE_MAX_STEPS + 1):
        before = conn.total_changes
        conn.execute("INSERT INTO items_fts(items_fts, rank) VALUES ('merge', ?)",
                     (-FTS_MERGE_PAGES,))
        if conn.total_changes - before < 2:
            return step
    return FTS_MERGE_MAX_STEPS


def _compact_sqlite(path: Path, deleted_something: bool) -> str:
    """Runs in a worker thread on its own plain sqlite3 connection: VACUUM and
    incremental_vacuum must run outside a transaction, and the pragma must be
    stepped to the end, which `executescript` does (a plain `execute` frees one
    page only)."""
    conn = sqlite3.connect(path, isolation_level=None,
                           timeout=SQLITE_BUSY_TIMEOUT_MS / 1000)
    try:
        done = []
        has_fts = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'items_fts'").fetchone()
        if has_fts and deleted_something:
            steps = _merge_fts(conn)
            done.append(f"full-text index merged in {steps} steps")
        if conn.execute("PRAGMA auto_vacuum").fetchone()[0] != _AUTO_VACUUM_INCREMENTAL:
            conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
            conn.execute("VACUUM")  # the one-time rebuild that makes the setting take effect
            done.append("switched to auto_vacuum=INCREMENTAL (one-time VACUUM)")
        else:
            free = conn.execute("PRAGMA freelist_count").fetchone()[0]
            conn.executescript("PRAGMA incremental_vacuum;")
            done.append(f"incremental_vacuum freed {free} pages")
        busy = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
        if busy:
            done.append("WAL checkpoint deferred (a reader is open)")
        return "SQLite: " + ", ".join(done)
    finally:
        conn.close()
