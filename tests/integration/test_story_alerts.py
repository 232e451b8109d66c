"""One story, one alert: three outlets report the same story in turn; the chat gets
one message, edited to name the others; a similar-sounding different event is
its own alert. Real feed server, pipeline, grouper, store, drainer, PTB, emulator."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from telegram.ext import AIORateLimiter, ExtBot

from bot import config as config_module
from bot.delivery.outbox import Drainer
from bot.delivery.telegram import TelegramSender
from bot.feeds.fetch import Fetcher, FetchLimits
from bot.pipeline import PipelineDeps, restore_stories, run_cycle
from bot.store import chats as chat_store
from bot.store.feeds import sync_feeds
from bot.stories import StoryGrouper
from tests.fakes.feed_server import FeedEntry, FeedServer
from tests.fakes.telegram_api import TelegramEmulator

USER = 7007
START = datetime.now(UTC).replace(microsecond=0)
OUTLETS = ("Reuters", "BBC", "AP")


def entry(n: int, title: str, summary: str, at: datetime) -> FeedEntry:
    return FeedEntry(guid=f"urn:{n}", title=title, link=f"https://news.example/{n}",
                     summary=summary, published=at)


@pytest.fixture
def world() -> Iterator[tuple[FeedServer, TelegramEmulator]]:
    with FeedServer() as server, TelegramEmulator() as telegram:
        for outlet in OUTLETS:
            server.add_feed(f"/{outlet.lower()}.xml", title=outlet, items=[])
        telegram.user_sends("/start", user_id=USER)
        yield server, telegram


@pytest.fixture
async def pipeline(world: tuple[FeedServer, TelegramEmulator],
                   sqlite_engine: AsyncEngine) -> AsyncIterator[tuple[PipelineDeps, Drainer]]:
    server, telegram = world
    feeds = "\n".join(f'[[feeds]]\nurl = "{server.url(f"/{o.lower()}.xml")}"\nname = "{o}"\n'
                      for o in OUTLETS)
    cfg = config_module.loads(f"""
[polling]
min_interval = "1s"

{feeds}
[topics.tariffs]
name = "Tariffs"
query = 'tariff OR tariffs'
""")
    await sync_feeds(sqlite_engine, [(f.url, f.name) for f in cfg.feeds])
    await chat_store.ensure_chat(sqlite_engine, USER, "private", "u", START)
    await chat_store.subscribe(sqlite_engine, USER, ["tariffs"], None, START)
    bot = ExtBot(telegram.token, base_url=telegram.base_url,
                 rate_limiter=AIORateLimiter(max_retries=0))
    async with Fetcher(FetchLimits()) as fetcher, bot:
        yield (PipelineDeps(sqlite_engine, fetcher, cfg, StoryGrouper()),
               Drainer(sqlite_engine, TelegramSender(bot), cfg))


async def step(deps: PipelineDeps, drainer: Drainer, at: datetime) -> None:
    await run_cycle(deps, at, poll_all=True)
    await drainer.drain(at)


async def test_three_outlets_one_message_edited(
        world: tuple[FeedServer, TelegramEmulator],
        pipeline: tuple[PipelineDeps, Drainer]) -> None:
    server, telegram = world
    deps, drainer = pipeline
    await step(deps, drainer, START)  # seeds the (empty) feeds

    t = START + timedelta(minutes=1)
    server.publish("/reuters.xml", entry(1, "China raises tariffs on US goods to 125% as "
                                            "trade war escalates",
                                         "Beijing raised its tariffs on all US imports to "
                                         "125%, hitting back at Washington.", t))
    await step(deps, drainer, t)
    [alert] = telegram.messages(USER)
    assert "China raises tariffs on US goods to 125%" in (alert.text or "")

    t += timedelta(minutes=10)
    server.publish("/bbc.xml", entry(2, "China hits back with 125% tariffs on US goods",
                                     "China has raised tariffs on American goods to 125%.", t))
    await step(deps, drainer, t)
    assert len(telegram.messages(USER)) == 1
    await step(deps, drainer, t + timedelta(minutes=4))  # the coalesced edit is due
    [alert] = telegram.messages(USER)
    assert "Also reported by: BBC" in (alert.text or "")

    t += timedelta(minutes=10)
    server.publish("/ap.xml", entry(3, "Beijing raises tariffs on American imports to 125%",
                                    "Beijing said it would raise tariffs on US imports to "
                                    "125%.", t))
    await step(deps, drainer, t)
    await step(deps, drainer, t + timedelta(minutes=4))
    [alert] = telegram.messages(USER)
    assert "Also reported by: BBC, AP" in (alert.text or "")
    assert len(alert.history) == 2  # two edits, no new messages

    t += timedelta(minutes=5)  # AP again, on the same story: nothing new to show
    server.publish("/ap.xml", entry(5, "Beijing raises tariffs on all American imports to "
                                       "125% in retaliation", "China raised tariffs on US "
                                       "imports to 125%.", t))
    edits = len(telegram.calls("editMessageText"))
    await step(deps, drainer, t)
    await step(deps, drainer, t + timedelta(minutes=4))
    assert len(telegram.calls("editMessageText")) == edits
    assert len(telegram.messages(USER)) == 1

    t += timedelta(minutes=10)
    server.publish("/ap.xml", entry(4, "US raises tariffs on Chinese goods to 145%",
                                    "Washington lifted its tariff on Chinese imports to "
                                    "145%.", t))
    await step(deps, drainer, t)
    messages = telegram.messages(USER)
    assert len(messages) == 2
    assert "US raises tariffs on Chinese goods to 145%" in (messages[1].text or "")
    assert "Also reported by" not in (messages[1].text or "")
    # nothing further happens on later cycles
    await step(deps, drainer, t + timedelta(minutes=10))
    assert len(telegram.messages(USER)) == 2
    assert not telegram.calls("editMessageText", status=400)


async def test_a_restart_keeps_the_story(
        world: tuple[FeedServer, TelegramEmulator],
        pipeline: tuple[PipelineDeps, Drainer]) -> None:
    server, telegram = world
    deps, drainer = pipeline
    await step(deps, drainer, START)
    t = START + timedelta(minutes=1)
    server.publish("/reuters.xml", entry(1, "US and China agree to slash tariffs for 90 days "
                                            "after Geneva talks", "", t))
    await step(deps, drainer, t)
    # the process restarts: a fresh grouper, restored from the store
    restarted = replace(deps, grouper=StoryGrouper())
    assert await restore_stories(deps.engine, restarted.grouper, t) == 1
    t += timedelta(minutes=10)
    server.publish("/bbc.xml", entry(2, "US and China agree to temporarily cut tariffs in "
                                        "trade war truce", "", t))
    await step(restarted, drainer, t)
    await step(restarted, drainer, t + timedelta(minutes=4))
    [alert] = telegram.messages(USER)
    assert "Also reported by: BBC" in (alert.text or "")
