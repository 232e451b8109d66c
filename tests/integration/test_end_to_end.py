"""End to end, the way a user runs it: `newsbot run` as a subprocess, a real feed
server and a Telegram Bot API emulator on 127.0.0.1, a real database."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.fakes.feed_server import FeedEntry, FeedServer
from tests.fakes.telegram_api import TelegramEmulator

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
USER = 424242  # a private chat's id is its user's id


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def newsbot(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=False, timeout=60)


def story(n: int, title: str, summary: str) -> FeedEntry:
    return FeedEntry(guid=f"urn:e2e:{n}", title=title, link=f"https://news.example/{n}",
                     summary=summary, published=datetime.now(UTC) - timedelta(minutes=2))


class Bot:
    """`newsbot run` in a subprocess, with its output kept for assertions."""

    def __init__(self, config: Path, env: dict[str, str], log: Path) -> None:
        self.log = log
        self._out = log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "run", "--config", str(config)], cwd=ROOT, env=env,
            stdout=self._out, stderr=subprocess.STDOUT)

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=30)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
            self._out.close()
        return code

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture
def world() -> Iterator[tuple[FeedServer, TelegramEmulator]]:
    with FeedServer() as feeds, TelegramEmulator() as telegram:
        feeds.add_feed("/world.xml", title="World News", items=[
            story(1, "Tariff talks resumed last week", "Seeded before anyone subscribed."),
        ])
        yield feeds, telegram


def test_subscribe_alert_once_and_restart_sends_nothing_again(
        world: tuple[FeedServer, TelegramEmulator], db_url: str, tmp_path: Path) -> None:
    feeds, telegram = world
    config = tmp_path / "newsbot.toml"
    config.write_text(f"""
[polling]
interval = "1s"
min_interval = "1s"
timeout = "5s"

[[feeds]]
url = "{feeds.url('/world.xml')}"
name = "World News"

[topics.tariffs]
name = "Tariffs"
query = 'tariff OR tariffs OR "trade war"'

[topics.rare-earths]
name = "Rare earths"
query = '"rare earth" OR "rare earths"'
""")
    listen = f"127.0.0.1:{free_port()}"
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": telegram.token,
           "TELEGRAM_API_URL": telegram.api_root, "DATABASE_URL": db_url,
           "NEWSBOT_HTTP_LISTEN": listen}
    polls = lambda: len(feeds.requests("/world.xml"))  # noqa: E731

    bot = Bot(config, env, tmp_path / "bot.log")
    try:
        wait_until(lambda: bool(telegram.calls("setMyCommands")) and polls() >= 1, 30,
                   "the bot to register its commands and poll the feed")
        assert {c["command"] for c in telegram.commands()} >= {"start", "subscribe"}

        telegram.user_sends("/start", user_id=USER)
        [welcome] = telegram.wait_for_messages(USER, 1, timeout=10)
        assert welcome.text and "tariffs" in welcome.text
        telegram.user_sends("/subscribe tariffs", user_id=USER)
        replies = telegram.wait_for_messages(USER, 2, timeout=10)
        assert "Subscribed to Tariffs" in (replies[1].text or "")

        feeds.publish("/world.xml",
                      story(2, "Local team wins the cup", "Nothing about trade."),
                      story(3, "US doubles tariffs on Chinese steel & aluminium",
                            "<p>The new <b>tariff</b> takes effect <i>Monday</i>.</p>"))
        messages = telegram.wait_for_messages(USER, 3, timeout=20)
        alert = messages[2]
        assert alert.text is not None
        assert "US doubles tariffs on Chinese steel & aluminium" in alert.text
        links = [e for e in alert.entities if e["type"] == "text_link"]
        assert any(e["url"] == "https://news.example/3" for e in links)
        assert alert.parse_mode == "HTML"

        seen = polls()
        wait_until(lambda: polls() >= seen + 3, 20, "three more poll cycles")
        time.sleep(0.5)  # let a (wrong) delivery from the last cycle arrive if it would
        texts = [m.text or "" for m in telegram.messages(USER)]
        assert len(texts) == 3, texts
        assert not any("Local team" in t for t in texts)
        assert not any("Tariff talks resumed" in t for t in texts)  # seeded, never alerted

        healthy = newsbot("healthcheck", "--config", str(config), env=env)
        assert healthy.returncode == 0, healthy.stdout + healthy.stderr
        metrics = httpx.get(f"http://{listen}/metrics", timeout=5).text
        assert 'newsbot_deliveries_total{outcome="sent"} 1.0' in metrics  # the one alert
        assert "newsbot_delivery_latency_from_first_seen_seconds_count 1.0" in metrics
        assert 'newsbot_topic_matches_total{topic="tariffs"}' in metrics
        assert "newsbot_fetch_duration_seconds_count" in metrics
    finally:
        code = bot.stop()
    assert code == 0, bot.output()[-3000:]

    restarted = Bot(config, env, tmp_path / "bot.log")
    try:
        seen = polls()
        wait_until(lambda: polls() >= seen + 3, 30, "three poll cycles after the restart")
        time.sleep(0.5)
        assert len(telegram.messages(USER)) == 3
    finally:
        code = restarted.stop()
    assert code == 0, restarted.output()[-3000:]
    output = restarted.output()
    assert telegram.token not in output
    assert telegram.token.split(":")[1] not in output
    assert "stopped" in output
    down = newsbot("healthcheck", "--config", str(config), env=env)
    assert down.returncode == 1
    assert not telegram.internal_errors()
