"""Copying a whole deployment from one database to another
(`newsbot migrate-db --from sqlite:///... --to postgresql://...`).

Owns: the copy's safety rules. Must not: merge into a database that already
holds data, or copy while a newsbot runs on either side.

How: both databases are brought to the current schema (the source as
`newsbot run` would on start, so their columns agree); the instance lease is
taken on both for the duration, so no newsbot starts on either mid-copy; every
table is copied in foreign-key order, streamed in batches, inside ONE target
transaction (a failure leaves the target empty, ready for another try);
PostgreSQL's id sequences are moved past the copied ids; and the row counts of
both sides are compared at the end. The `leases` table is runtime state and is
not copied.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Table, func, insert, make_url, select, text
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.errors import AlreadyRunningError, StoreError
from bot.store import lease
from bot.store.engine import create_engine, migrate, safe_url
from bot.store.schema import leases, metadata

log = logging.getLogger(__name__)

BATCH_SIZE = 1000
COPY_LEASE_TTL = timedelta(hours=6)  # longer than any copy; released at the end
COPIED_TABLES: tuple[Table, ...] = tuple(t for t in metadata.sorted_tables if t is not leases)


@dataclass(frozen=True, slots=True)
class CopyReport:
    revision: str | None
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows copied

    def summary(self) -> str:
        total = sum(self.rows.values())
        tables = ", ".join(f"{name} {n}" for name, n in self.rows.items())
        return f"copied {total} rows at schema {self.revision}: {tables}"


async def copy_database(source_url: str, target_url: str, *, batch_size: int = BATCH_SIZE,
                        now: datetime | None = None) -> CopyReport:
    """Copy every row from `source_url` to the empty database at `target_url`.
    Raises StoreError (or AlreadyRunningError) with a reason; never logs a password."""
    _refuse_same_database(source_url, target_url)
    _require_sqlite_file(source_url)
    now = now or datetime.now(UTC)
    source, target = create_engine(source_url), create_engine(target_url)
    holder = lease.new_holder() + ":migrate-db"
    held: list[AsyncEngine] = []
    try:
        await migrate(source)
        revision = await migrate(target)
        await _refuse_non_empty(target, target_url)
        for engine, url in ((source, source_url), (target, target_url)):
            try:
                await lease.acquire(engine, holder, now, ttl=COPY_LEASE_TTL)
            except AlreadyRunningError as exc:
                raise AlreadyRunningError(f"{safe_url(url)}: {exc}") from None
            held.append(engine)
        try:
            rows = await _copy_all(source, target, batch_size)
        except SQLAlchemyError as exc:
            raise StoreError(f"copy failed, target left empty: {_first_line(exc)}") from exc
        await _verify(source, target, rows)
        report = CopyReport(revision=revision, rows=rows)
        log.info("%s -> %s: %s", safe_url(source_url), safe_url(target_url), report.summary())
        return report
    finally:
        for engine in held:
            await lease.release(engine, holder)
        await source.dispose()
        await target.dispose()


def _refuse_same_database(source_url: str, target_url: str) -> None:
    try:
        src, dst = make_url(source_url), make_url(target_url)
    except ArgumentError:
        return  # create_engine() below reports a bad URL with its reason
    same_sqlite = (src.get_backend_name() == dst.get_backend_name() == "sqlite"
                   and src.database and dst.database
                   and Path(src.database).resolve() == Path(dst.database).resolve())
    same_server = (src.get_backend_name() == dst.get_backend_name() == "postgresql"
                   and (src.host, src.port, src.database) == (dst.host, dst.port, dst.database))
    if same_sqlite or same_server:
        raise StoreError("--from and --to name the same database")


def _require_sqlite_file(url: str) -> None:
    """Opening a missing SQLite path would create an empty database and 'copy' nothing."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return  # create_engine() reports a bad URL with its reason
    database = parsed.database or ""
    if (parsed.get_backend_name() == "sqlite" and database and database != ":memory:"
            and not database.startswith("file:") and not Path(database).is_file()):
        raise StoreError(f"source database {database} does not exist")


async def _counts(engine: AsyncEngine) -> dict[str, int]:
    async with engine.connect() as conn:
        return {t.name: int((await conn.execute(select(func.count()).select_from(t)))
                            .scalar_one()) for t in COPIED_TABLES}


async def _refuse_non_empty(target: AsyncEngine, target_url: str) -> None:
    filled = {name: n for name, n in (await _counts(target)).items() if n}
    if filled:
        listing = ", ".join(f"{name} ({n} rows)" for name, n in filled.items())
        raise StoreError(f"target {safe_url(target_url)} is not empty: {listing}; "
                         "copy into a fresh database")


async def _copy_all(source: AsyncEngine, target: AsyncEngine,
                    batch_size: int) -> dict[str, int]:
    rows: dict[str, int] = {}
    # One read transaction on the source: a consistent snapshot of every table.
    async with source.connect() as src, target.begin() as dst:
        for table in COPIED_TABLES:
            rows[table.name] = await _copy_table(src, dst, table, batch_size)
        if dst.dialect.name == "postgresql":
            await _reset_sequences(dst)
    return rows


async def _copy_table(src: AsyncConnection, dst: AsyncConnection, table: Table,
                      batch_size: int) -> int:
    copied = 0
    # Streamed (a server-side cursor on PostgreSQL): memory stays at one batch.
    result = await src.stream(select(table).order_by(*table.primary_key.columns))
    async for batch in result.partitions(batch_size):
        await dst.execute(insert(table), [dict(row._mapping) for row in batch])
        copied += len(batch)
    log.info("copied %s: %d rows", table.name, copied)
    return copied


async def _reset_sequences(conn: AsyncConnection) -> None:
    """Explicit ids do not advance a PostgreSQL sequence: without this the next
    INSERT would collide with a copied id."""
    for table in COPIED_TABLES:
        column = table.autoincrement_column
        if column is None:
            continue
        await conn.execute(text(
            f"SELECT setval(pg_get_serial_sequence('{table.name}', '{column.name}'), "  # noqa: S608 - names from our own metadata
            f"COALESCE((SELECT MAX({column.name}) FROM {table.name}), 0) + 1, false)"))


async def _verify(source: AsyncEngine, target: AsyncEngine, copied: dict[str, int]) -> None:
    before, after = await _counts(source), await _counts(target)
    wrong = [f"{name}: source {before[name]}, copied {copied.get(name)}, target {after[name]}"
             for name in before if not before[name] == copied.get(name) == after[name]]
    if wrong:
        raise StoreError("row counts differ after the copy: " + "; ".join(wrong))


def _first_line(exc: BaseException) -> str:
    return f"{exc.__class__.__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
