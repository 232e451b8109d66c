"""Test databases: a fresh SQLite file, or a fresh PostgreSQL database created on
the server named by NEWSBOT_TEST_POSTGRES_URL and dropped afterwards."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from sqlalchemy import make_url

POSTGRES_ENV = "NEWSBOT_TEST_POSTGRES_URL"


def postgres_base_url() -> str | None:
    return os.environ.get(POSTGRES_ENV) or None


@contextmanager
def postgres_database() -> Iterator[str]:
    """Create a uniquely named database; yield its SQLAlchemy URL; drop it."""
    base = postgres_base_url()
    assert base, f"{POSTGRES_ENV} is not set"
    url = make_url(base)
    name = f"newsbot_test_{uuid.uuid4().hex[:12]}"
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def database_url(kind: str, tmp_path: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'newsbot.db'}"
    else:
        with postgres_database() as url:
            yield url
