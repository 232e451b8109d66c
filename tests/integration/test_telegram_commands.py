"""Telegram commands through real python-telegram-bot and the Bot API emulator."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import config as config_module
from bot.store import chats as chat_store
from bot.store.schema import subscriptions
from bot.telegram_ui.app import COMMANDS, build_application, register_commands
from bot.telegram_ui.base import CommandContext
from tests.fakes.telegram_api import TelegramEmulator
from tests.integration.test_store_settings import store_items

CONFIG = """
[[feeds]]
url = "https://example.org/rss.xml"

[topics.tariffs]
name = "Tariffs"
query = 'tariff OR tariffs'

[topics.rare-earths]
name = "Rare earths"
query = '"rare earth" OR "rare earths"'

[telegram]
admins = [999]
"""
USER = 5001
GROUP = -4001


@dataclass
class Harness:
    telegram: TelegramEmulator
    engine: AsyncEngine

    async def say(self, text: str, *, chat_id: int = USER, user_id: int = USER,
                  chat_type: str | None = None) -> str:
        before = len(self.telegram.messages(chat_id))
        self.telegram.user_sends(text, user_id=user_id, chat_id=chat_id, chat_type=chat_type)
        messages = await self.telegram.wait_for_messages_async(chat_id, before + 1, timeout=10)
        return messages[-1].text or ""

    async def topics(self, chat_id: int = USER) -> tuple[str, ...]:
        settings = await chat_store.chat_settings(self.engine, chat_id)
        return settings.topics if settings else ()


@pytest.fixture
def telegram() -> Iterator[TelegramEmulator]:
    with TelegramEmulator() as emulator:
        yield emulator


@pytest.fixture
async def harness(telegram: TelegramEmulator,
                  sqlite_engine: AsyncEngine) -> AsyncIterator[Harness]:
    engine = sqlite_engine
    cfg = config_module.loads(CONFIG)
    app = build_application(telegram.token, telegram.api_root,
                            CommandContext(engine=engine, config=cfg,
                                           status=lambda: {"feeds ok": 3, "queue": 0}))
    await app.initialize()
    await register_commands(app)
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0.0, timeout=1)
    try:
        yield Harness(telegram, engine)
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()


async def test_commands_are_registered(harness: Harness) -> None:
    names = [c["command"] for c in harness.telegram.commands()]
    assert names == [name for name, _ in COMMANDS]
    assert {"start", "help", "topics", "subscribe", "unsubscribe", "mode", "digest", "timezone",
            "mute", "unmute", "latest", "search", "status"} <= set(names)  # interfaces.md


async def test_start_lists_topics_and_registers_the_chat(harness: Harness) -> None:
    text = await harness.say("/start")
    assert "Welcome" in text and "tariffs" in text and "rare-earths" in text
    assert await chat_store.chat_settings(harness.engine, USER) is not None


async def test_subscribe_unsubscribe_round_trip(harness: Harness) -> None:
    assert "Subscribed to Tariffs, Rare earths" in await harness.say(
        "/subscribe tariffs Rare-Earths")
    assert await harness.topics() == ("rare-earths", "tariffs")
    assert "Already following Tariffs" in await harness.say("/subscribe tariffs")
    assert "✅ tariffs" in (await harness.say("/topics")).replace(":", "")
    assert "Unsubscribed from Tariffs" in await harness.say("/unsubscribe tariffs")
    assert await harness.topics() == ("rare-earths",)
    assert "Unsubscribed from Rare earths" in await harness.say("/unsubscribe all")
    assert "not following any topic" in await harness.say("/unsubscribe all")


@pytest.mark.parametrize("text", [
    "/subscribe bananas",
    "/subscribe tariffs <b>bananas</b>",
    "/subscribe " + "x" * 5000,
    "/subscribe 🍌 关税",
])
async def test_unknown_topics_get_the_valid_list(harness: Harness, text: str) -> None:
    reply = await harness.say(text)
    assert "Unknown topic" in reply and "Valid topics: tariffs, rare-earths" in reply
    assert await harness.topics() == ()


async def test_missing_arguments_get_help(harness: Harness) -> None:
    assert "Which topics?" in await harness.say("/subscribe")
    assert "Which topics?" in await harness.say("/unsubscribe")


async def test_unknown_command_in_private_chat(harness: Harness) -> None:
    assert "/help" in await harness.say("/frobnicate now")


async def test_in_groups_only_admins_change_settings(harness: Harness) -> None:
    telegram = harness.telegram
    telegram.add_chat(GROUP, "supergroup", title="Traders")
    telegram.set_chat_admins(GROUP, [USER])
    assert "Only this group's administrators" in await harness.say(
        "/subscribe tariffs", chat_id=GROUP, user_id=777)
    assert await harness.topics(GROUP) == ()
    assert "Subscribed to Tariffs" in await harness.say(
        "/subscribe tariffs", chat_id=GROUP, user_id=USER)
    assert "Subscribed to Rare earths" in await harness.say(  # a configured bot admin
        "/subscribe rare-earths", chat_id=GROUP, user_id=999)
    assert await harness.topics(GROUP) == ("rare-earths", "tariffs")


async def test_commands_for_another_bot_are_ignored(harness: Harness) -> None:
    telegram = harness.telegram
    telegram.add_chat(GROUP, "supergroup", title="Traders")
    telegram.user_sends("/subscribe@someotherbot tariffs", user_id=USER, chat_id=GROUP)
    telegram.user_sends("/help@" + telegram.bot_username, user_id=USER, chat_id=GROUP)
    [reply] = await telegram.wait_for_messages_async(GROUP, 1, timeout=10)
    assert "newsbot" in (reply.text or "")
    assert await harness.topics(GROUP) == ()


async def settings_of(harness: Harness, chat_id: int = USER) -> chat_store.ChatSettings:
    settings = await chat_store.chat_settings(harness.engine, chat_id)
    assert settings is not None
    return settings


async def test_mode_digest_and_timezone(harness: Harness) -> None:
    assert "Mode set to digest" in await harness.say("/mode digest")
    assert (await settings_of(harness)).mode == "digest"
    assert "/mode instant" in await harness.say("/mode sometimes")
    assert (await settings_of(harness)).mode == "digest"
    assert "Daily digest at 07:30" in await harness.say("/digest 7:30")
    assert (await settings_of(harness)).digest_time == "07:30"
    assert "HH:MM" in await harness.say("/digest 25:00")
    assert "Did you mean Europe/Madrid" in await harness.say("/timezone Europe/Madird")
    assert "Time zone set to Asia/Shanghai" in await harness.say("/timezone asia/shanghai")
    assert (await settings_of(harness)).timezone == "Asia/Shanghai"
    assert "Daily digest off" in await harness.say("/digest off")
    settings = await settings_of(harness)
    assert (settings.digest_time, settings.mode) == (None, "instant")


async def test_quiet_pause_resume_preview(harness: Harness) -> None:
    assert "Quiet hours 23:00-07:00" in await harness.say("/quiet 23:00-07:00")
    assert (await settings_of(harness)).quiet_hours == "23:00-07:00"
    assert "range like" in await harness.say("/quiet 23:00")
    assert "Quiet hours off" in await harness.say("/quiet off")
    assert "Paused for 2h" in await harness.say("/pause 2h")
    assert (await settings_of(harness)).paused_until is not None
    assert "between 1 minute and 30 days" in await harness.say("/pause 90d")
    assert "Resumed" in await harness.say("/resume")
    assert (await settings_of(harness)).paused_until is None
    assert "Link previews on" in await harness.say("/preview on")
    assert (await settings_of(harness)).link_preview


async def test_mute_and_unmute(harness: Harness) -> None:
    assert "Muted words: none" in await harness.say("/mute")
    assert "Muted bitcoin" in await harness.say("/mute Bitcoin")
    assert "Muted <b>x</b>" in await harness.say("/mute <b>x</b>")  # escaped: shown as typed
    assert (await settings_of(harness)).mutes == ("<b>x</b>", "bitcoin")
    assert "Unmuted bitcoin" in await harness.say("/unmute BITCOIN")
    assert "was not muted" in await harness.say("/unmute dogecoin")


@pytest.mark.parametrize("text", [
    "/mode", "/mode a b", "/digest", "/digest 1 2", "/timezone", "/quiet", "/pause",
    "/pause soon", "/preview maybe", "/unmute", "/search", "/search ???",
    "/latest nosuchtopic", "/mute x", "/timezone " + "Z" * 3000, "/search " + "関税 " * 500,
])
async def test_misuse_gets_a_helpful_answer(harness: Harness, text: str) -> None:
    reply = await harness.say(text)
    assert reply and "went wrong" not in reply
    assert not harness.telegram.internal_errors()


async def test_latest_and_search(harness: Harness) -> None:
    await store_items(harness.engine, [
        ("a", "US tariffs on <steel>", "Duties rise.", ("tariffs",)),
        ("b", "Rare earth quotas", "China sets quotas.", ("rare-earths",)),
    ])
    assert "No stories yet" not in await harness.say("/latest tariffs")
    reply = await harness.say("/latest")
    assert "US tariffs on <steel>" in reply and "Rare earth quotas" in reply
    messages = harness.telegram.messages(USER)
    links = [e["url"] for e in messages[-1].entities if e["type"] == "text_link"]
    assert "https://example.org/a" in links
    assert "Rare earth quotas" in await harness.say("/search quotas")
    assert "Nothing stored mentions" in await harness.say("/search unicorns")


async def test_status_shows_settings_and_admin_figures(harness: Harness) -> None:
    await harness.say("/subscribe tariffs")
    reply = await harness.say("/status")
    assert "Topics: Tariffs" in reply and "Mode: instant" in reply
    assert "Service" not in reply
    admin = await harness.say("/status", chat_id=999, user_id=999)
    assert "Service" in admin and "feeds ok: 3" in admin


async def test_topic_buttons_toggle_and_edit_in_place(harness: Harness) -> None:
    telegram = harness.telegram
    await harness.say("/topics")
    message = telegram.messages(USER)[-1]
    assert message.callback_data() == ["t:tariffs", "t:rare-earths"]
    query = telegram.user_presses("t:tariffs", message_id=message.message_id, chat_id=USER,
                                  user_id=USER)
    await wait_answer(telegram, query)
    assert await harness.topics() == ("tariffs",)
    edited = next(m for m in telegram.messages(USER) if m.message_id == message.message_id)
    assert "✅ tariffs" in (edited.text or "").replace(":", "")
    telegram.user_presses("t:tariffs", message_id=message.message_id, chat_id=USER,
                          user_id=USER)
    await wait_until_async(lambda: harness_topics_empty(harness))


async def wait_answer(telegram: TelegramEmulator, query_id: str) -> dict[str, object]:
    for _ in range(500):
        answer = telegram.callback_answer(query_id)
        if answer is not None:
            return answer
        await asyncio.sleep(0.01)
    raise AssertionError("callback query never answered")


async def wait_until_async(check: Callable[[], Awaitable[bool]]) -> None:
    for _ in range(500):
        if await check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition never became true")


async def harness_topics_empty(harness: Harness) -> bool:
    return await harness.topics() == ()


async def test_forged_callbacks_are_answered_and_ignored(harness: Harness) -> None:
    telegram = harness.telegram
    await harness.say("/topics")
    message = telegram.messages(USER)[-1]
    for data in ("t:nosuch", "x:whatever", "w:notanumber", "w:99999", "m:nosuch", ""):
        query = telegram.user_presses(data, message_id=message.message_id, chat_id=USER,
                                      user_id=USER, check_button=False)
        answer = await wait_answer(telegram, query)
        assert answer is not None
    assert await harness.topics() == ()
    assert not telegram.internal_errors()


async def test_group_topic_buttons_need_an_admin(harness: Harness) -> None:
    telegram = harness.telegram
    telegram.add_chat(GROUP, "supergroup", title="Traders")
    telegram.set_chat_admins(GROUP, [USER])
    await harness.say("/topics", chat_id=GROUP, user_id=USER)
    message = telegram.messages(GROUP)[-1]
    query = telegram.user_presses("t:tariffs", message_id=message.message_id, chat_id=GROUP,
                                  user_id=777)
    answer = await wait_answer(telegram, query)
    assert "administrators" in str(answer)
    assert await harness.topics(GROUP) == ()


async def test_forum_subscription_remembers_its_thread(harness: Harness) -> None:
    telegram = harness.telegram
    telegram.add_chat(GROUP, "supergroup", title="Forum", is_forum=True)
    telegram.set_chat_admins(GROUP, [USER])
    telegram.user_sends("/subscribe tariffs", user_id=USER, chat_id=GROUP, message_thread_id=42)
    replies = await telegram.wait_for_messages_async(GROUP, 1, timeout=10)
    assert replies[-1].message_thread_id == 42
    async with harness.engine.connect() as conn:
        thread = (await conn.execute(select(subscriptions.c.thread_id))).scalar_one()
    assert thread == 42


async def test_a_failing_handler_answers_politely_and_the_bot_goes_on(harness: Harness) -> None:
    async with harness.engine.begin() as conn:
        await conn.exec_driver_sql("DROP TABLE topic_matches")  # the next /latest fails
    assert "Sorry, something went wrong" in await harness.say("/latest tariffs")
    assert "Subscribed to Tariffs" in await harness.say("/subscribe tariffs")  # still serving
