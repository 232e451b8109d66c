"""Daily digests end to end with a controlled clock: the real service objects, the
Bot API emulator through python-telegram-bot, and a real database."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot import config as config_module
from bot.model import Item, TopicMatch
from bot.service import Service, Settings
from bot.store import chats as chat_store
from bot.store.feeds import FetchUpdate, feed_states, sync_feeds
from bot.store.ingest import IncomingItem, save_poll
from tests.fakes.telegram_api import TelegramEmulator

ROOT = Path(__file__).resolve().parents[2]
CONFIG_TEXT = """
[[feeds]]
url = "http://127.0.0.1:1/f.xml"
name = "Wire"

[topics.tariffs]
name = "Tariffs"
query = 'tariff OR tariffs'

[topics.rare-earths]
name = "Rare earths"
query = '"rare earth"'

[digest]
time = "08:00"
timezone = "UTC"
"""
MADRID, NEW_YORK = 2001, 2002  # two private chats, digest at 08:00 local each
# 27 Nov 2026: Madrid is UTC+1 (08:00 = 07:00Z), New York UTC-5 (08:00 = 13:00Z)
DAY = datetime(2026, 11, 27, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def telegram() -> Iterator[TelegramEmulator]:
    with TelegramEmulator() as emulator:
        for chat in (MADRID, NEW_YORK):
            emulator.user_sends("/start", user_id=chat)
        yield emulator


def service(db_url: str, telegram: TelegramEmulator, clock: Clock) -> Service:
    cfg = config_module.loads(CONFIG_TEXT)
    return Service(cfg, Settings(database_url=db_url, telegram_token=telegram.token,
                                 telegram_api_url=telegram.api_root), clock=clock)


async def prepare(svc: Service) -> None:
    engine = svc.engine
    now = DAY - timedelta(days=1)
    for chat, zone in ((MADRID, "Europe/Madrid"), (NEW_YORK, "America/New_York")):
        await chat_store.ensure_chat(engine, chat, "private", str(chat), now)
        await chat_store.subscribe(engine, chat, ["tariffs", "rare-earths"], None, now)
        await chat_store.update_settings(engine, chat, now, mode="digest", timezone=zone,
                                         digest_time="08:00")
    await sync_feeds(engine, [("http://127.0.0.1:1/f.xml", "Wire")])
    state = (await feed_states(engine))[0]
    rows = [("a", "US raises tariffs on <EVs>", ("tariffs",), DAY - timedelta(hours=10)),
            ("b", "China curbs rare earth exports", ("rare-earths",), DAY - timedelta(hours=9)),
            ("c", "Tariff truce talk", ("tariffs",), DAY + timedelta(hours=10))]
    incoming = [IncomingItem(
        item=Item(key=key, feed_url=state.url, source="Wire", title=title, summary="",
                  url=f"https://example.org/{key}", published_at=seen, first_seen_at=seen),
        canonical_url=f"https://example.org/{key}", story_key=key,
        matches=tuple(TopicMatch(t, 1.0) for t in topics), alertable=False)
        for key, title, topics, seen in rows]
    await save_poll(engine, state, FetchUpdate(status="ok", success=True, etag=None,
                                               last_modified=None, error=None, next_poll_at=DAY),
                    incoming, DAY)


def digests(telegram: TelegramEmulator, chat: int) -> list[str]:
    return [m.text or "" for m in telegram.messages(chat) if "daily digest" in (m.text or "")]


async def test_each_zone_gets_one_digest_at_its_own_time(db_url: str,
                                                         telegram: TelegramEmulator) -> None:
    clock = Clock(DAY + timedelta(hours=6, minutes=59))
    svc = service(db_url, telegram, clock)
    await svc.open()
    try:
        await prepare(svc)
        assert await svc.digests() == 0  # 07:59 in Madrid: not yet
        clock.now = DAY + timedelta(hours=7)  # 08:00 Madrid
        assert await svc.digests() == 1
        assert len(digests(telegram, MADRID)) == 1 and digests(telegram, NEW_YORK) == []
        text = digests(telegram, MADRID)[0]
        assert "US raises tariffs on <EVs>" in text and "China curbs rare earth" in text
        assert "Tariff truce talk" not in text  # later than this period
        for minutes in range(1, 400, 7):  # the next hours: ticks keep coming
            clock.now = DAY + timedelta(hours=7, minutes=minutes)
            await svc.digests()
        assert len(digests(telegram, MADRID)) == 1
        assert len(digests(telegram, NEW_YORK)) == 1  # 13:00Z = 08:00 New York
    finally:
        await svc.close()


async def test_restart_at_digest_time_does_not_duplicate(db_url: str,
                                                         telegram: TelegramEmulator) -> None:
    clock = Clock(DAY + timedelta(hours=7))
    first = service(db_url, telegram, clock)
    await first.open()
    await prepare(first)
    assert await first.digests() == 1
    await first.close()
    second = service(db_url, telegram, clock)
    await second.open()
    try:
        assert await second.digests() == 0
        await second.drain()
    finally:
        await second.close()
    assert len(digests(telegram, MADRID)) == 1


async def test_downtime_catches_up_once_within_the_grace(db_url: str,
                                                         telegram: TelegramEmulator) -> None:
    clock = Clock(DAY + timedelta(hours=5))
    svc = service(db_url, telegram, clock)
    await svc.open()
    await prepare(svc)
    await svc.close()  # down from 05:00Z, across Madrid's 07:00Z digest
    clock.now = DAY + timedelta(hours=12, minutes=30)  # back 5.5 h late for Madrid
    back = service(db_url, telegram, clock)
    await back.open()
    try:
        assert await back.digests() == 1  # Madrid catches up, once
        assert await back.digests() == 0
        clock.now = DAY + timedelta(hours=13)  # 08:00 in New York
        assert await back.digests() == 1
    finally:
        await back.close()
    assert len(digests(telegram, MADRID)) == 1
    assert len(digests(telegram, NEW_YORK)) == 1


async def test_downtime_beyond_the_grace_skips_that_day(db_url: str,
                                                        telegram: TelegramEmulator) -> None:
    clock = Clock(DAY + timedelta(hours=5))
    svc = service(db_url, telegram, clock)
    await svc.open()
    await prepare(svc)
    await svc.close()
    clock.now = DAY + timedelta(hours=13, minutes=30)  # Madrid 6.5 h late, New York 0.5 h
    back = service(db_url, telegram, clock)
    await back.open()
    try:
        assert await back.digests() == 1
        assert digests(telegram, MADRID) == []
        assert len(digests(telegram, NEW_YORK)) == 1
        clock.now = DAY + timedelta(days=1, hours=7)  # the next morning in Madrid
        assert await back.digests() == 1
    finally:
        await back.close()
    assert len(digests(telegram, MADRID)) == 1  # 28 Nov's


async def test_quiet_day_line_or_nothing(db_url: str, telegram: TelegramEmulator) -> None:
    clock = Clock(DAY + timedelta(days=3, hours=7))  # nothing stored for that period
    svc = service(db_url, telegram, clock)
    await svc.open()
    try:
        await prepare(svc)
        await chat_store.update_settings(svc.engine, NEW_YORK, clock.now, digest_quiet_day=True)
        assert await svc.digests() == 0  # Madrid: an empty day sends nothing
        assert await svc.digests() == 0  # ...and is recorded, not reconsidered
        clock.now = DAY + timedelta(days=3, hours=13)
        assert await svc.digests() == 1
    finally:
        await svc.close()
    assert telegram.messages(MADRID) == []
    assert "A quiet day" in (telegram.messages(NEW_YORK)[-1].text or "")


def test_digest_command_previews_and_sends(db_url: str, tmp_path: Path,
                                           telegram: TelegramEmulator) -> None:
    clock = Clock(DAY + timedelta(hours=6))
    svc = service(db_url, telegram, clock)

    async def setup() -> None:
        await svc.open()
        await prepare(svc)
        await svc.close()

    asyncio.run(setup())
    config = tmp_path / "newsbot.toml"
    config.write_text(CONFIG_TEXT)
    env = {**os.environ, "DATABASE_URL": db_url, "TELEGRAM_BOT_TOKEN": telegram.token,
           "TELEGRAM_API_URL": telegram.api_root}
    command = [sys.executable, "-m", "bot", "digest", "--config", str(config), "--chat",
               str(MADRID), "--date", "2026-11-27"]
    preview = subprocess.run([*command, "--print"], cwd=ROOT, env=env, capture_output=True,
                             text=True, check=False)
    assert preview.returncode == 0, preview.stderr
    assert "US raises tariffs on <EVs>" in preview.stdout
    sent = subprocess.run([*command, "--send"], cwd=ROOT, env=env, capture_output=True,
                          text=True, check=False)
    assert sent.returncode == 0, sent.stderr
    assert len(digests(telegram, MADRID)) == 1
    again = subprocess.run([*command, "--send"], cwd=ROOT, env=env, capture_output=True,
                           text=True, check=False)
    assert again.returncode == 1 and "already recorded" in again.stderr
    unknown = subprocess.run([*command[:7], "424242"], cwd=ROOT, env=env, capture_output=True,
                             text=True, check=False)
    assert unknown.returncode == 1 and "unknown" in unknown.stderr


def test_backtest_command(db_url: str, tmp_path: Path, telegram: TelegramEmulator) -> None:
    clock = Clock(datetime.now(UTC))
    svc = service(db_url, telegram, clock)

    async def setup() -> None:
        await svc.open()
        await prepare(svc)  # items dated 27 Nov 2026 around "now" of this test run
        await svc.close()

    asyncio.run(setup())
    proposed = tmp_path / "proposed.toml"
    proposed.write_text(CONFIG_TEXT.replace("query = 'tariff OR tariffs'",
                                            "query = 'truce'"))
    env = {**os.environ, "DATABASE_URL": db_url}
    result = subprocess.run([sys.executable, "-m", "bot", "backtest", "--config",
                             str(proposed), "--since", "3650d"], cwd=ROOT, env=env,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "3 stored items" in result.stdout
    assert "- US raises tariffs on <EVs>" in result.stdout
    assert "tariffs                        2       1       0       1" in result.stdout
