"""Shared fixtures: databases (SQLite always; PostgreSQL when
NEWSBOT_TEST_POSTGRES_URL is set, as .ci/run does), the feed server and the
Telegram Bot API emulator."""

from __future__ import annotations

import gc
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store.engine import create_engine, migrate
from tests.support.databases import POSTGRES_ENV, database_url, postgres_base_url

DATABASES = ["sqlite", "postgresql"]


@pytest.fixture(autouse=True)
def _unfrozen_heap() -> Iterator[None]:
    """A test that runs a Service (or settles the heap) freezes what is alive; give it
    back to the collector after, or the rest of the session never collects the garbage
    cycles (and their ResourceWarnings) of everything that test left frozen."""
    yield
    gc.unfreeze()


@pytest.fixture(params=DATABASES)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "postgresql" and not postgres_base_url():
        if os.environ.get("NEWSBOT_REQUIRE_POSTGRES"):
            pytest.fail(f"NEWSBOT_REQUIRE_POSTGRES is set but {POSTGRES_ENV} is not")
        pytest.skip(f"PostgreSQL run needs {POSTGRES_ENV} (CI sets it)")
    with database_url(request.param, tmp_path) as url:
        yield url


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    eng = create_engine(db_url)
    await migrate(eng)
    yield eng
    await eng.dispose()


@pytest.fixture
async def sqlite_engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """For tests whose subject is not the database (Telegram handlers, rendering paths)."""
    eng = create_engine(f"sqlite:///{tmp_path / 'newsbot.db'}")
    await migrate(eng)
    yield eng
    await eng.dispose()
