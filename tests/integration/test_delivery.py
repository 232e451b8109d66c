"""The outbox drainer with the real Telegram sender against the Bot API emulator:
chat settings applied at send time, batching, buttons, and every error mapping."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from telegram import Bot
from telegram.ext import AIORateLimiter, ExtBot

from bot import config as config_module
from bot.delivery.outbox import Drainer
from bot.delivery.telegram import TelegramSender
from bot.model import Item, TopicMatch
from bot.store import chats as chat_store
from bot.store.feeds import FeedState, FetchUpdate, feed_states, sync_feeds
from bot.store.ingest import IncomingItem, Notice, enqueue_notices, save_poll
from bot.store.schema import deliveries
from tests.fakes.telegram_api import ApiError, RawResponse, TelegramEmulator

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)  # 13:00 in Madrid
CONFIG = config_module.loads("""
[[feeds]]
url = "http://127.0.0.1:1/f.xml"

[topics.tariffs]
name = "Tariffs"
query = 'tariff OR tariffs'

[topics.rare-earths]
name = "Rare earths"
query = '"rare earth"'
""")
USER = 3001


@pytest.fixture
def telegram() -> Iterator[TelegramEmulator]:
    with TelegramEmulator() as emulator:
        emulator.user_sends("/start", user_id=USER)  # the private chat exists
        yield emulator


@pytest.fixture
async def bot(telegram: TelegramEmulator) -> AsyncIterator[Bot]:
    instance: Bot = ExtBot(telegram.token, base_url=telegram.base_url,
                           rate_limiter=AIORateLimiter(max_retries=0))
    async with instance:
        yield instance


async def feed(engine: AsyncEngine) -> FeedState:
    await sync_feeds(engine, [("http://127.0.0.1:1/f.xml", "Example News")])
    return (await feed_states(engine))[0]


async def queue(engine: AsyncEngine, n: int, *, title: str = "US raises tariffs {n}",
                summary: str = "Tariffs rise on steel.", topics: tuple[str, ...] = ("tariffs",),
                start: int = 0) -> None:
    state = await feed(engine)
    incoming = []
    for i in range(start, start + n):
        item = Item(key=f"k{i}", feed_url=state.url, source="Example News",
                    title=title.format(n=i), summary=summary, url=f"https://example.org/{i}",
                    published_at=NOW - timedelta(minutes=5), first_seen_at=NOW)
        incoming.append(IncomingItem(item=item, canonical_url=item.url, story_key=item.key,
                                     matches=tuple(TopicMatch(t, 1.0) for t in topics),
                                     alertable=True))
    await save_poll(engine, state, FetchUpdate(status="ok", success=True, etag=None,
                                               last_modified=None, error=None, next_poll_at=NOW),
                    incoming, NOW)


async def subscribed(engine: AsyncEngine, chat_id: int = USER, chat_type: str = "private",
                     **settings: object) -> None:
    await chat_store.ensure_chat(engine, chat_id, chat_type, "someone", NOW)
    await chat_store.subscribe(engine, chat_id, ["tariffs", "rare-earths"], None, NOW)
    if settings:
        await chat_store.update_settings(engine, chat_id, NOW, **settings)


async def statuses(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as conn:
        return [r[0] for r in await conn.execute(
            select(deliveries.c.status).order_by(deliveries.c.id))]


async def test_alert_has_buttons_chat_time_zone_and_preview_setting(
        sqlite_engine: AsyncEngine, telegram: TelegramEmulator, bot: Bot) -> None:
    engine = sqlite_engine
    await subscribed(engine, timezone="Europe/Madrid", link_preview=True)
    await queue(engine, 1)
    report = await Drainer(engine, TelegramSender(bot), CONFIG).drain(NOW)
    assert report.sent == 1
    alert = telegram.messages(USER)[-1]
    assert alert.text is not None and "US raises tariffs 0" in alert.text
    assert "12:55 CET" in alert.text  # 11:55 UTC in the chat's zone
    assert not alert.link_preview_disabled
    assert alert.callback_data() == ["m:tariffs", "w:1"]
    buttons = alert.reply_markup["inline_keyboard"][0] if alert.reply_markup else []
    assert buttons[0] == {"text": "Open", "url": "https://example.org/0"}
    assert any(e["type"] == "bold" for e in alert.entities)  # the highlighted term


async def test_a_burst_becomes_one_message(sqlite_engine: AsyncEngine,
                                           telegram: TelegramEmulator, bot: Bot) -> None:
    await subscribed(sqlite_engine)
    await queue(sqlite_engine, 40)
    report = await Drainer(sqlite_engine, TelegramSender(bot), CONFIG).drain(NOW)
    assert report.sent == 40
    sent = telegram.messages(USER)
    assert 1 <= len(sent) <= 3
    text = "".join(m.text or "" for m in sent)
    assert "40 new alerts" in text and "US raises tariffs 39" in text
    assert set(await statuses(sqlite_engine)) == {"sent"}


async def test_paused_and_muted_are_skipped_not_lost(sqlite_engine: AsyncEngine,
                                                     telegram: TelegramEmulator,
                                                     bot: Bot) -> None:
    engine = sqlite_engine
    await subscribed(engine, paused_until=NOW + timedelta(hours=1))
    await subscribed(engine, chat_id=USER + 1)
    telegram.user_sends("/start", user_id=USER + 1)
    await chat_store.add_mute(engine, USER + 1, "steel", limit=10)
    await queue(engine, 1)
    report = await Drainer(engine, TelegramSender(bot), CONFIG).drain(NOW)
    assert (report.sent, report.skipped) == (0, 2)
    assert await statuses(engine) == ["skipped", "skipped"]
    assert telegram.messages(USER) == [] and telegram.messages(USER + 1) == []


async def test_quiet_hours_hold_then_send_together(sqlite_engine: AsyncEngine,
                                                   telegram: TelegramEmulator,
                                                   bot: Bot) -> None:
    engine = sqlite_engine
    await subscribed(engine, timezone="Europe/Madrid", quiet_hours="12:00-14:00")
    await queue(engine, 5)
    drainer = Drainer(engine, TelegramSender(bot), CONFIG)
    held = await drainer.drain(NOW)
    assert (held.sent, held.held) == (0, 5)
    assert (await drainer.drain(NOW + timedelta(minutes=30))).sent == 0
    after = await drainer.drain(NOW + timedelta(hours=1, minutes=1))  # 14:01 in Madrid
    assert after.sent == 5
    assert len(telegram.messages(USER)) == 1  # one batch
    async with engine.connect() as conn:
        attempts = [r[0] for r in await conn.execute(select(deliveries.c.attempts))]
    assert attempts == [1] * 5  # holding did not count as attempts


async def test_blocked_user_deactivates_chat(sqlite_engine: AsyncEngine,
                                             telegram: TelegramEmulator, bot: Bot) -> None:
    await subscribed(sqlite_engine)
    await queue(sqlite_engine, 2)
    telegram.block(USER)
    report = await Drainer(sqlite_engine, TelegramSender(bot), CONFIG).drain(NOW)
    assert report.failed >= 1 and report.sent == 0
    settings = await chat_store.chat_settings(sqlite_engine, USER)
    assert settings is not None and not settings.active
    assert settings.topics == ("rare-earths", "tariffs")
    assert set(await statuses(sqlite_engine)) == {"failed"}


async def test_unknown_chat_is_deactivated(sqlite_engine: AsyncEngine, bot: Bot) -> None:
    await subscribed(sqlite_engine, chat_id=-999, chat_type="group")
    await queue(sqlite_engine, 1)
    report = await Drainer(sqlite_engine, TelegramSender(bot), CONFIG).drain(NOW)
    assert report.failed == 1
    settings = await chat_store.chat_settings(sqlite_engine, -999)
    assert settings is not None and not settings.active


async def test_group_migration_is_followed(sqlite_engine: AsyncEngine,
                                           telegram: TelegramEmulator, bot: Bot) -> None:
    engine = sqlite_engine
    telegram.add_chat(-500, "group", title="Traders")
    await subscribed(engine, chat_id=-500, chat_type="group")
    telegram.migrate(-500, -1000500)
    await queue(engine, 1)
    drainer = Drainer(engine, TelegramSender(bot), CONFIG)
    report = await drainer.drain(NOW)
    assert (report.retried, report.sent) == (1, 1)  # followed and resent in the same drain
    assert "US raises tariffs 0" in (telegram.messages(-1000500)[-1].text or "")
    moved = await chat_store.chat_settings(engine, -1000500)
    assert moved is not None and moved.topics == ("rare-earths", "tariffs")


async def test_flood_control_waits_exactly_retry_after(sqlite_engine: AsyncEngine,
                                                       telegram: TelegramEmulator,
                                                       bot: Bot) -> None:
    await subscribed(sqlite_engine)
    await queue(sqlite_engine, 1)
    telegram.fail_next("sendMessage", "too-many-requests", chat_id=USER)
    drainer = Drainer(sqlite_engine, TelegramSender(bot), CONFIG)
    assert (await drainer.drain(NOW)).retried == 1
    async with sqlite_engine.connect() as conn:
        next_at = (await conn.execute(select(deliveries.c.next_attempt_at))).scalar_one()
    retry_after = telegram.calls("sendMessage", status=429)[-1].response["parameters"][
        "retry_after"]
    assert next_at.replace(tzinfo=UTC) == NOW + timedelta(seconds=retry_after)
    assert (await drainer.drain(NOW + timedelta(seconds=retry_after - 1))).sent == 0
    assert (await drainer.drain(NOW + timedelta(seconds=retry_after))).sent == 1


async def test_server_errors_retry_with_backoff(sqlite_engine: AsyncEngine,
                                                telegram: TelegramEmulator, bot: Bot) -> None:
    await subscribed(sqlite_engine)
    await queue(sqlite_engine, 1)
    telegram.fail_next("sendMessage", RawResponse(status=502), times=2)
    drainer = Drainer(sqlite_engine, TelegramSender(bot), CONFIG)
    assert (await drainer.drain(NOW)).retried == 1
    assert (await drainer.drain(NOW + timedelta(seconds=5))).retried == 1
    assert (await drainer.drain(NOW + timedelta(seconds=14))).sent == 0  # backoff 10 s
    assert (await drainer.drain(NOW + timedelta(seconds=15))).sent == 1


async def test_unparseable_html_is_resent_as_plain_text(sqlite_engine: AsyncEngine,
                                                        telegram: TelegramEmulator,
                                                        bot: Bot) -> None:
    await subscribed(sqlite_engine)
    await queue(sqlite_engine, 1)
    telegram.fail_next("sendMessage", ApiError(
        400, "Bad Request: can't parse entities: Unsupported start tag \"x\" at byte offset 0"),
        chat_id=USER)
    report = await Drainer(sqlite_engine, TelegramSender(bot), CONFIG).drain(NOW)
    assert report.sent == 1
    message = telegram.messages(USER)[-1]
    assert message.parse_mode is None and "US raises tariffs 0" in (message.text or "")
    assert "https://example.org/0" in (message.text or "")


async def test_old_alerts_are_dropped_with_a_reason(sqlite_engine: AsyncEngine,
                                                    bot: Bot) -> None:
    await subscribed(sqlite_engine)
    await queue(sqlite_engine, 1)
    report = await Drainer(sqlite_engine, TelegramSender(bot), CONFIG).drain(
        NOW + timedelta(hours=25))
    assert report.dropped == 1
    async with sqlite_engine.connect() as conn:
        status, error = (await conn.execute(
            select(deliveries.c.status, deliveries.c.last_error))).one()
    assert status == "dropped" and "older than" in error


async def test_notices_are_delivered(sqlite_engine: AsyncEngine, telegram: TelegramEmulator,
                                     bot: Bot) -> None:
    async with sqlite_engine.begin() as conn:
        await enqueue_notices(conn, [Notice(USER, "n1", "⚠️ Feed <b>X</b> is failing")], NOW)
    report = await Drainer(sqlite_engine, TelegramSender(bot), CONFIG).drain(NOW)
    assert report.sent == 1
    assert "Feed X is failing" in (telegram.messages(USER)[-1].text or "")


async def test_hostile_feed_item_arrives_as_a_valid_alert(
        sqlite_engine: AsyncEngine, telegram: TelegramEmulator, bot: Bot) -> None:
    """Feed server -> fetch -> parse -> match -> store -> render -> Telegram, with an item
    built to break things: markup, entities, a 10,000-character summary."""
    from bot.feeds.fetch import Fetcher, FetchLimits
    from bot.pipeline import PipelineDeps, run_cycle
    from bot.stories import StoryGrouper
    from tests.fakes.feed_server import FeedEntry, FeedServer

    engine = sqlite_engine
    published = datetime.now(UTC) - timedelta(minutes=1)
    hostile_title = "<script>alert('x')</script> Tariffs: a & b < c > d &amp; \u202e evil"
    hostile_summary = ("<p>Tariff <b>news</b> &lt;i&gt; & <unknown>tag</unknown> "
                       + "word " * 2000 + "</p><script>steal()</script>")
    with FeedServer() as server:
        server.add_feed("/f.xml", items=[])
        cfg = config_module.loads(f"""
[polling]
min_interval = "1s"
seed_on_first_poll = false

[delivery]
summary_chars = 2000

[[feeds]]
url = "{server.url('/f.xml')}"

[topics.tariffs]
name = "Tariffs <&>"
query = 'tariff OR tariffs'
""")
        await chat_store.ensure_chat(engine, USER, "private", "u", NOW)
        await chat_store.subscribe(engine, USER, ["tariffs"], None, NOW)
        await sync_feeds(engine, [(f.url, f.name) for f in cfg.feeds])
        server.publish("/f.xml", FeedEntry(guid="evil", title=hostile_title,
                                           link="https://example.org/evil?a=1&b=<2>",
                                           summary=hostile_summary, published=published))
        async with Fetcher(FetchLimits()) as fetcher:
            report = await run_cycle(PipelineDeps(engine, fetcher, cfg, StoryGrouper()),
                                     datetime.now(UTC))
        assert report.alerts_queued == 1
    drained = await Drainer(engine, TelegramSender(bot), cfg).drain(datetime.now(UTC))
    assert drained.sent == 1
    ok = telegram.calls("sendMessage", status=200)
    assert ok and not telegram.calls("sendMessage", status=400)
    messages = telegram.messages(USER)
    text = "".join(m.text or "" for m in messages)
    assert "<script>alert('x')</script> Tariffs: a & b < c > d" in text
    assert "steal()" not in text  # scripts are dropped from summaries
    assert "Tariffs <&>" in text
    assert all(m.parse_mode == "HTML" for m in messages)
