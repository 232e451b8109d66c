"""Hot reload: a valid config change applies without a restart; an invalid one is
rejected, the old config stays, and admins hear about it once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot import config as config_module
from bot.service import Service, Settings
from bot.store import chats as chat_store
from tests.fakes.telegram_api import TelegramEmulator

ADMIN, USER = 111, 222
BASE = """
[[feeds]]
url = "http://127.0.0.1:1/a.xml"

[telegram]
admins = [111]

[topics.tariffs]
name = "Tariffs"
query = 'tariff'
"""
NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)


@pytest.fixture
def telegram() -> Iterator[TelegramEmulator]:
    with TelegramEmulator() as emulator:
        emulator.user_sends("/start", user_id=ADMIN)
        emulator.user_sends("/start", user_id=USER)
        yield emulator


def write(path: Path, text: str) -> None:
    path.write_text(text)


async def test_reload_applies_valid_changes_and_rejects_broken_ones(
        tmp_path: Path, telegram: TelegramEmulator) -> None:
    path = tmp_path / "newsbot.toml"
    write(path, BASE + '\n[topics.rare-earths]\nname = "Rare earths"\nquery = \'"rare earth"\'\n')
    svc = Service(config_module.load(path),
                  Settings(f"sqlite:///{tmp_path / 'db.sqlite'}", telegram.token,
                           telegram.api_root), clock=lambda: NOW)
    await svc.open()
    try:
        await chat_store.ensure_chat(svc.engine, USER, "private", "u", NOW)
        await chat_store.subscribe(svc.engine, USER, ["tariffs", "rare-earths"], None, NOW)
        assert not await svc.reload_config()  # unchanged

        write(path, BASE + '\n[topics.export-controls]\nname = "Export controls"\n'
                           'query = \'"export controls"\'\n\n[[feeds]]\n'
                           'url = "http://127.0.0.1:1/b.xml"\n')
        assert await svc.reload_config()
        assert svc.config.topic_slugs == ("tariffs", "export-controls")
        assert svc.command_ctx is not None
        assert svc.command_ctx.config is svc.config
        settings = await chat_store.chat_settings(svc.engine, USER)
        assert settings is not None and settings.topics == ("tariffs",)
        await svc.drain()
        assert "Rare earths was removed" in (telegram.messages(USER)[-1].text or "")

        write(path, BASE.replace("query = 'tariff'", "query = 'tariff OR'"))
        assert not await svc.reload_config()
        assert svc.config.topic_slugs == ("tariffs", "export-controls")  # old one in force
        write(path, BASE.replace("query = 'tariff'", "query = 'tariff OR '"))  # same error
        assert not await svc.reload_config()
        await svc.drain()
        rejected = [m for m in telegram.messages(ADMIN) if "rejected" in (m.text or "")]
        assert len(rejected) == 1
        assert "topics.tariffs.query" in (rejected[0].text or "")

        write(path, BASE)
        assert await svc.reload_config()
        assert svc.config.topic_slugs == ("tariffs",)
    finally:
        await svc.close()
