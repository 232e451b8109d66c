"""Alembic environment: migrations always run on a connection newsbot hands in
(`config.attributes["connection"]`), so the same code path serves the app's
automatic upgrade on start, the tests, and `alembic` is never pointed at a URL
with a password in it."""

from __future__ import annotations

from alembic import context

from bot.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reachable by running alembic by hand
    raise RuntimeError("newsbot migrations run through bot.store.engine.migrate()")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER most things
)
with context.begin_transaction():
    context.run_migrations()
