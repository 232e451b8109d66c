"""Opening the database: URL -> async engine (SQLite or PostgreSQL), pragmas,
and Alembic migrations applied on start.

Owns: driver selection and connection settings. Must not: hold queries (those
live in the repository modules beside it) or log a URL with its password.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, event, make_url
from sqlalchemy.engine import URL
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from bot.errors import StoreError

log = logging.getLogger(__name__)

DEFAULT_DATABASE_URL = "sqlite:///data/newsbot.db"
SQLITE_BUSY_TIMEOUT_MS = 10_000


def async_url(url: str) -> URL:
    """Map a plain SQLAlchemy URL to the async driver newsbot uses for it."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(f"DATABASE_URL is not a valid SQLAlchemy URL: {exc}") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite")
    if backend == "postgresql":
        return parsed.set(drivername="postgresql+psycopg")
    raise StoreError(f"unsupported database {backend!r}: use sqlite:/// or postgresql://")


def safe_url(url: str | URL) -> str:
    """The URL with any password masked, for logs and messages."""
    try:
        parsed = make_url(url) if isinstance(url, str) else url
    except ArgumentError:
        return "<invalid database URL>"
    return parsed.render_as_string(hide_password=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers (the Telegram handlers) run while a poll cycle writes.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def create_engine(url: str) -> AsyncEngine:
    """An async engine for `url`; creates the SQLite file's folder if needed."""
    target = async_url(url)
    options: dict[str, Any] = {}
    if target.get_backend_name() == "sqlite":
        database = target.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        # A small pool: opening a connection costs a thread (aiosqlite), the pragmas and
        # a schema parse, ~100 times per poll cycle without one. Idle pooled connections
        # hold no read snapshot (each is rolled back on return), so WAL checkpoints still
        # complete. ":memory:" gets its own database per connection, so it is not pooled.
        if database in ("", ":memory:"):
            options["poolclass"] = NullPool
        else:
            options["pool_size"] = 4
            options["max_overflow"] = 8
    else:
        options["pool_pre_ping"] = True
        options["pool_size"] = 5
    engine = create_async_engine(target, **options)
    if target.get_backend_name() == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def _alembic_config(connection: Connection) -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", "bot.store:migrations")
    config.attributes["connection"] = connection
    return config


def _upgrade(connection: Connection) -> None:
    command.upgrade(_alembic_config(connection), "head")


def _current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def migrate(engine: AsyncEngine) -> str | None:
    """Bring the schema to the newest revision; returns the revision now in force."""
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_upgrade)
        async with engine.connect() as conn:
            return await conn.run_sync(_current_revision)
    except SQLAlchemyError as exc:
        raise StoreError(
            f"cannot migrate database {safe_url(engine.url)}: {exc.__class__.__name__}: "
            f"{str(exc).splitlines()[0]}"
        ) from exc
    except OSError as exc:
        raise StoreError(f"cannot open database {safe_url(engine.url)}: {exc}") from exc
