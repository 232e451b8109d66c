"""Crash in the middle of a fan-out: SIGKILL `newsbot run`, restart it, and every
chat still gets every alert, with at most one duplicate per chat."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.store import chats as chat_store
from bot.store.engine import create_engine, migrate
from tests.fakes.feed_server import FeedEntry, FeedServer
from tests.fakes.telegram_api import TelegramEmulator
from tests.integration.test_end_to_end import wait_until

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
CHATS = 500
ITEMS = 2  # 2 alerts x 500 chats = 1,000 deliveries


async def prepare_chats(url: str) -> None:
    engine = create_engine(url)
    await migrate(engine)
    now = datetime.now(UTC)
    for n in range(CHATS):
        chat_id = 10_000 + n
        await chat_store.ensure_chat(engine, chat_id, "private", f"user {n}", now)
        await chat_store.subscribe(engine, chat_id, ["tariffs"], None, now)
    await engine.dispose()


def start(config: Path, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "bot", "run", "--config", str(config)],
                                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


def test_sigkill_mid_fanout_loses_nothing(tmp_path: Path, db_url: str) -> None:
    asyncio.run(prepare_chats(db_url))
    with FeedServer() as feeds, TelegramEmulator() as telegram:
        for n in range(CHATS):
            telegram.user_sends("/start", user_id=10_000 + n)  # the private chats exist
        feeds.add_feed("/f.xml", items=[FeedEntry(
            guid="seed", title="Seeded story", link="https://example.org/seed", summary="-",
            published=datetime.now(UTC) - timedelta(hours=1))])
        config = tmp_path / "newsbot.toml"
        config.write_text(f"""
[polling]
interval = "1s"
min_interval = "1s"

[delivery]
max_per_second = 150

[[feeds]]
url = "{feeds.url('/f.xml')}"

[topics.tariffs]
name = "Tariffs"
query = 'tariff OR tariffs'
""")
        env = {**os.environ, "TELEGRAM_BOT_TOKEN": telegram.token,
               "TELEGRAM_API_URL": telegram.api_root, "DATABASE_URL": db_url}
        log = tmp_path / "bot.log"
        bot = start(config, env, log)
        sent = lambda: len(telegram.calls("sendMessage", status=200))  # noqa: E731
        try:
            wait_until(lambda: feeds.request_count("/f.xml") >= 1, 30, "the first poll")
            time.sleep(1.5)  # the seeding cycle is stored
            now = datetime.now(UTC)
            feeds.publish("/f.xml", *(FeedEntry(
                guid=f"t{i}", title=f"Tariff alert number {i}", link=f"https://example.org/{i}",
                summary="New tariffs.", published=now) for i in range(ITEMS)))
            wait_until(lambda: sent() >= 300, 60, "the fan-out to be under way")
        finally:
            bot.send_signal(signal.SIGKILL)
            bot.wait(timeout=10)
        killed_at = sent()
        assert killed_at < CHATS * ITEMS, "the fan-out finished before the kill"

        def delivered() -> int:
            """Distinct (chat, alert) pairs: a duplicate must not count as progress."""
            return len({(m.chat_id, i) for m in telegram.messages() for i in range(ITEMS)
                        if f"Tariff alert number {i}" in (m.text or "")})

        restarted = start(config, env, log)
        try:
            wait_until(lambda: delivered() >= CHATS * ITEMS, 120,
                       "every alert to every chat after the restart")
            time.sleep(1.0)
        finally:
            restarted.send_signal(signal.SIGTERM)
            assert restarted.wait(timeout=30) == 0, log.read_text()[-3000:]

        per_chat: dict[int, Counter[str]] = {}
        for message in telegram.messages():
            per_chat.setdefault(message.chat_id, Counter())[message.text or ""] += 1
        assert len(per_chat) == CHATS
        duplicates = 0
        for chat_id, texts in per_chat.items():
            alerts = {t: c for t, c in texts.items() if "Tariff alert number" in t}
            for i in range(ITEMS):
                matching = [c for t, c in alerts.items() if f"Tariff alert number {i}" in t]
                assert matching, f"chat {chat_id} never got alert {i}"
            extra = sum(alerts.values()) - ITEMS
            assert extra <= 1, f"chat {chat_id} got {extra} duplicates"
            duplicates += extra
            assert not any("Seeded story" in t for t in texts)
        print(f"killed after {killed_at} sends; {duplicates} duplicates over {CHATS} chats")
