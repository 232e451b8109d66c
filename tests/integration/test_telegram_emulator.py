"""The Bot API emulator against the spec, the real error corpus and python-telegram-bot."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    Update,
)
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.ext import (
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
)
from telegram.request import HTTPXRequest

from tests.fakes.telegram_api import (
    Delay,
    DropConnection,
    RateLimits,
    RawResponse,
    TelegramEmulator,
    telegram_emulator,  # noqa: F401 - the fixture, used by name below
    too_many_requests,
)
from tests.fakes.telegram_call import HANDLERS
from tests.fakes.telegram_spec import load_spec

# PTB's own RetryAfter constructor warns about its future timedelta type
pytestmark = pytest.mark.filterwarnings(
    "ignore:.*attribute `retry_after` will be of type:DeprecationWarning")
SPEC = load_spec()
USER = 4242


def call(emu: TelegramEmulator, method: str, params: dict[str, Any] | None = None, *,
         token: str | None = None, as_json: bool = False) -> tuple[int, dict[str, Any]]:
    """POST like PTB does (form fields, non-strings JSON-encoded), or as a JSON body."""
    url = f"{emu.base_url}{token or emu.token}/{method}"
    params = params or {}
    if as_json:
        response = httpx.post(url, json=params)
    else:
        form = {k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items()}
        response = httpx.post(url, data=form)
    body = response.json()
    assert response.status_code == body.get("error_code", 200)
    return response.status_code, body


def error_of(emu: TelegramEmulator, method: str, **params: Any) -> tuple[int, str]:
    status, body = call(emu, method, params)
    assert body["ok"] is False, body
    return status, body["description"]


@pytest.fixture
def emu(telegram_emulator: TelegramEmulator) -> TelegramEmulator:  # noqa: F811
    telegram_emulator.user_sends("hello", user_id=USER)  # opens the private chat
    return telegram_emulator


# --- the spec ---------------------------------------------------------------------------------


def test_special_handlers_exist_in_spec_and_read_only_declared_params() -> None:
    for handler in HANDLERS.values():
        method = SPEC.method(handler.method)
        assert method is not None, handler.method
        assert method.name == handler.method
        assert handler.reads <= set(method.fields), (handler.method,
                                                     handler.reads - set(method.fields))
    required = {"getme", "getupdates", "deletewebhook", "setmycommands", "getmycommands",
                "deletemycommands", "sendmessage", "editmessagetext", "deletemessage",
                "answercallbackquery", "getchat", "getchatmember", "getchatadministrators",
                "editmessagereplymarkup", "setwebhook", "getwebhookinfo", "close", "logout"}
    assert required <= set(HANDLERS)


@pytest.mark.parametrize(
    ("method", "params", "description"),
    [
        ("sendMessage", {"text": "x"}, "Bad Request: chat_id is empty"),
        ("sendMessage", {"chat_id": USER}, "Bad Request: message text is empty"),
        ("sendMessage", {"chat_id": USER, "text": ""}, "Bad Request: message text is empty"),
        ("deleteMessage", {"chat_id": USER}, "Bad Request: message identifier is not specified"),
        ("answerCallbackQuery", {}, 'Bad Request: parameter "callback_query_id" is required'),
        ("banChatMember", {"chat_id": USER}, "Bad Request: invalid user_id specified"),
        ("setMyCommands", {}, 'Bad Request: parameter "commands" is required'),
    ],
)
def test_missing_required_parameter_is_400(emu: TelegramEmulator, method: str,
                                           params: dict[str, Any], description: str) -> None:
    assert error_of(emu, method, **params) == (400, description)


def test_unknown_method_is_404_and_method_names_ignore_case(emu: TelegramEmulator) -> None:
    assert error_of(emu, "sendTelegram") == (404, "Not Found")
    assert call(emu, "GETME")[1]["result"]["username"] == emu.bot_username


def test_every_spec_method_answers_without_emulator_errors(emu: TelegramEmulator) -> None:
    samples = {"Integer": 1, "String": "x", "Float": 1.0, "Boolean": True, "InputFile": "id"}
    with httpx.Client() as client:
        for method in SPEC.methods.values():
            if method.name in {"getUpdates", "setWebhook", "close", "logOut"}:
                continue
            for params in ({}, {f.name: USER if f.name == "chat_id" else
                                samples.get(f.types[0], "[]" if f.types[0].startswith("Array")
                                            else "{}")
                                for f in method.fields.values() if f.required}):
                form = {k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items()}
                response = client.post(f"{emu.base_url}{emu.token}/{method.name}", data=form)
                assert response.status_code in {200, 400, 403}, (method.name, response.text)
    assert emu.internal_errors() == []


def test_sent_message_has_the_spec_required_fields(emu: TelegramEmulator) -> None:
    _, body = call(emu, "sendMessage", {"chat_id": USER, "text": "hi"})
    message = body["result"]
    for type_name, value in (("Message", message), ("Chat", message["chat"]),
                             ("User", message["from"])):
        required = {f.name for f in SPEC.types[type_name].fields.values() if f.required}
        assert required <= set(value), (type_name, required - set(value))


# --- tokens and request encodings -----------------------------------------------------------


async def test_wrong_token_is_401_and_ptb_raises_invalid_token(emu: TelegramEmulator) -> None:
    assert call(emu, "getMe")[0] == 200
    status, body = call(emu, "getMe", token="999:wrong")
    assert (status, body["description"]) == (401, "Unauthorized")
    assert call(emu, "getMe", token="not-a-token")[0] == 404
    with pytest.raises(InvalidToken):
        async with Bot("999:wrong", base_url=emu.base_url):
            pass


def test_json_body_and_query_string_are_accepted(emu: TelegramEmulator) -> None:
    assert call(emu, "sendMessage", {"chat_id": USER, "text": "json"}, as_json=True)[0] == 200
    url = f"{emu.base_url}{emu.token}/sendMessage"
    assert httpx.get(url, params={"chat_id": str(USER), "text": "query"}).status_code == 200
    assert [m.text for m in emu.messages(USER)] == ["json", "query"]


async def test_multipart_upload_records_a_captioned_message(emu: TelegramEmulator) -> None:
    async with Bot(emu.token, base_url=emu.base_url) as bot:
        sent = await bot.send_photo(USER, b"\x89PNG fake", caption="<i>chart</i>",
                                    parse_mode="HTML", filename="chart.png")
    assert (sent.caption, sent.caption_entities[0].type) == ("chart", "italic")
    [message] = emu.messages(USER)
    assert (message.method, message.text) == ("sendPhoto", "chart")
    photo = emu.calls("sendPhoto")[0].params["photo"]
    assert (photo.filename, photo.size) == ("chart.png", len(b"\x89PNG fake"))


def test_malformed_json_body_is_400(emu: TelegramEmulator) -> None:
    response = httpx.post(f"{emu.base_url}{emu.token}/sendMessage", content=b"{",
                          headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["description"].startswith("Bad Request: can't parse request body")


# --- HTML and lengths --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        ("<b>bold", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<script>alert(1)</script>", 'Unsupported start tag "script" at byte offset 0'),
        ("price</b>", "Unexpected end tag at byte offset 5"),
        ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("1 < 2", 'Unsupported start tag "" at byte offset 2'),
        ("é <br>", 'Unsupported start tag "br" at byte offset 3'),  # byte, not char, offsets
        ('<span class="x">s</span>', 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
        ("AT&T", 'Unescaped "&" at byte offset 2; use "&amp;"'),
        ("&nbsp;", 'Unescaped "&" at byte offset 0; use "&amp;"'),
    ],
)
def test_html_errors_are_cant_parse_entities(emu: TelegramEmulator, text: str, detail: str) -> None:
    status, description = error_of(emu, "sendMessage", chat_id=USER, text=text, parse_mode="HTML")
    assert (status, description) == (400, f"Bad Request: can't parse entities: {detail}")


def test_html_is_parsed_into_text_and_utf16_entities(emu: TelegramEmulator) -> None:
    html = ('😀 <b>Rare <i>earths</i></b> &lt;tariffs&gt; &amp; <a href="https://x.org/a?b=1&amp;c=2">'
            'link</a> <tg-spoiler>s</tg-spoiler> <pre><code class="language-py">x</code></pre>'
            " <blockquote expandable>q</blockquote> &#128512;")
    _, body = call(emu, "sendMessage", {"chat_id": USER, "text": html, "parse_mode": "HTML"})
    [sent] = emu.messages(USER)
    assert sent.text == "😀 Rare earths <tariffs> & link s x q 😀"
    assert sent.raw_text == html
    assert sent.entities == body["result"]["entities"] == [
        {"type": "bold", "offset": 3, "length": 11},
        {"type": "italic", "offset": 8, "length": 6},
        {"type": "text_link", "offset": 27, "length": 4, "url": "https://x.org/a?b=1&c=2"},
        {"type": "spoiler", "offset": 32, "length": 1},
        {"type": "pre", "offset": 34, "length": 1, "language": "py"},
        {"type": "expandable_blockquote", "offset": 36, "length": 1},
    ]


def test_lenient_ampersand_mode_matches_telegram(emu: TelegramEmulator) -> None:
    with TelegramEmulator(strict_ampersand=False) as lenient:
        lenient.user_sends("hi", user_id=USER)
        _, body = call(lenient, "sendMessage",
                       {"chat_id": USER, "text": "AT&T &lt &nbsp;", "parse_mode": "HTML"})
    assert body["result"]["text"] == "AT&T < &nbsp;"


@pytest.mark.parametrize(
    ("text", "parse_mode", "description"),
    [
        ("a" * 4096, None, None),
        ("😀" * 2048, None, None),  # 4096 UTF-16 code units
        ("😀" * 2048 + "a", None, "Bad Request: message is too long"),
        ("<b>" + "a" * 4096 + "</b>", "HTML", None),  # tags do not count
        ("a" * 4097, None, "Bad Request: message is too long"),
        ("  \n ", None, "Bad Request: message text is empty"),
        ("<b></b>", "HTML", "Bad Request: message text is empty"),
    ],
)
def test_length_is_counted_in_utf16_after_parsing(emu: TelegramEmulator, text: str,
                                                  parse_mode: str | None,
                                                  description: str | None) -> None:
    params = {"chat_id": USER, "text": text} | ({"parse_mode": parse_mode} if parse_mode else {})
    _, body = call(emu, "sendMessage", params)
    assert body.get("description") == description


async def test_ptb_send_records_markup_thread_and_link_preview(emu: TelegramEmulator) -> None:
    emu.add_chat(-1001234, "supergroup", title="Forum", is_forum=True)
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("More", callback_data="more:1")]])
    async with Bot(emu.token, base_url=emu.base_url) as bot:
        message = await bot.send_message(
            -1001234, "<b>Tariffs</b> https://x.org", parse_mode="HTML",
            reply_markup=keyboard, message_thread_id=7,
            link_preview_options=LinkPreviewOptions(is_disabled=True))
    assert message.text == "Tariffs https://x.org"
    assert message.entities[0].type == "bold"
    assert message.message_thread_id == 7
    assert message.is_topic_message
    assert message.reply_markup == keyboard
    [sent] = emu.messages(-1001234)
    assert sent.link_preview_disabled
    assert sent.message_thread_id == 7
    assert sent.callback_data() == ["more:1"]


def test_bad_inline_buttons_are_rejected(emu: TelegramEmulator) -> None:
    def markup(button: dict[str, Any]) -> dict[str, Any]:
        return {"inline_keyboard": [[{"text": "b", **button}]]}

    assert error_of(emu, "sendMessage", chat_id=USER, text="x",
                    reply_markup=markup({"url": "javascript:x"}))[1] == (
        "Bad Request: BUTTON_URL_INVALID")
    assert error_of(emu, "sendMessage", chat_id=USER, text="x",
                    reply_markup=markup({"callback_data": "x" * 65}))[1] == (
        "Bad Request: BUTTON_DATA_INVALID")


# --- chats ------------------------------------------------------------------------------------


async def test_chat_errors_match_the_corpus(emu: TelegramEmulator) -> None:
    assert error_of(emu, "sendMessage", chat_id=777, text="x") == (
        400, "Bad Request: chat not found")
    emu.add_chat(-55, "group", title="Traders")
    emu.user_sends("hi all", user_id=88, chat_id=-55)
    assert error_of(emu, "sendMessage", chat_id=88, text="x") == (
        403, "Forbidden: bot can't initiate conversation with a user")
    emu.kick(-55)
    assert error_of(emu, "sendMessage", chat_id=-55, text="x") == (
        403, "Forbidden: bot was kicked from the group chat")
    emu.block(USER)
    assert error_of(emu, "sendMessage", chat_id=USER, text="x") == (
        403, "Forbidden: bot was blocked by the user")
    async with Bot(emu.token, base_url=emu.base_url) as bot:
        with pytest.raises(Forbidden, match="blocked by the user"):
            await bot.send_message(USER, "x")
        with pytest.raises(BadRequest, match="Chat not found"):
            await bot.send_message(777, "x")
        emu.user_sends("/start", user_id=USER)  # writing again unblocks
        assert (await bot.send_message(USER, "back")).text == "back"
    kinds = [next(k for k in u if k != "update_id") for u in emu.pending_updates()]
    assert kinds.count("my_chat_member") == 2


async def test_group_migration_answers_migrate_to_chat_id(emu: TelegramEmulator) -> None:
    emu.add_chat(-77, "group", title="Old group")
    emu.migrate(-77, -1007700)
    status, body = call(emu, "sendMessage", {"chat_id": -77, "text": "x"})
    assert (status, body["description"], body["parameters"]) == (
        400, "Bad Request: group chat was migrated to a supergroup chat",
        {"migrate_to_chat_id": -1007700})
    async with Bot(emu.token, base_url=emu.base_url) as bot:
        with pytest.raises(ChatMigrated) as raised:
            await bot.send_message(-77, "x")
        assert raised.value.new_chat_id == -1007700
        sent = await bot.send_message(raised.value.new_chat_id, "moved")
    assert sent.chat.type == "supergroup"


async def test_chat_member_and_administrators(emu: TelegramEmulator) -> None:
    emu.add_chat(-1005, "supergroup", title="Desk")
    emu.user_sends("hi", user_id=11, chat_id=-1005, username="owner")
    emu.user_sends("hi", user_id=12, chat_id=-1005)
    emu.set_chat_admins(-1005, [11, 13], creator_id=11, bot_is_admin=True)
    async with Bot(emu.token, base_url=emu.base_url) as bot:
        admins = await bot.get_chat_administrators(-1005)
        assert [(a.user.id, a.status) for a in admins] == [
            (11, "creator"), (13, "administrator"), (emu.bot_id, "administrator")]
        assert (await bot.get_chat_member(-1005, 12)).status == "member"
        assert (await bot.get_chat_member(-1005, USER)).status == "left"
        chat = await bot.get_chat(-1005)
        assert (chat.id, chat.type, chat.title) == (-1005, "supergroup", "Desk")
        with pytest.raises(BadRequest, match="no administrators in the private chat"):
            await bot.get_chat_administrators(USER)


# --- rate limits and faults ----------------------------------------------------------------


async def test_flood_limit_answers_429_with_retry_after(emu: TelegramEmulator) -> None:
    now = [100.0]
    emu.set_rate_limits(RateLimits(global_per_second=None, per_chat_per_second=1,
                                   per_chat_burst=2, per_group_per_minute=None,
                                   clock=lambda: now[0]))
    assert call(emu, "sendMessage", {"chat_id": USER, "text": "1"})[0] == 200
    assert call(emu, "sendMessage", {"chat_id": USER, "text": "2"})[0] == 200
    status, body = call(emu, "sendMessage", {"chat_id": USER, "text": "3"})
    assert (status, body["description"], body["parameters"]) == (
        429, "Too Many Requests: retry after 1", {"retry_after": 1})
    async with Bot(emu.token, base_url=emu.base_url) as bot:
        with pytest.raises(RetryAfter, match=r"Retry in (1 seconds|0:00:01)"):
            await bot.send_message(USER, "4")
    assert emu.rate_limited_count == 2
    assert len(emu.calls("sendMessage", status=429)) == 2
    now[0] += 1
    assert call(emu, "sendMessage", {"chat_id": USER, "text": "5"})[0] == 200


def test_group_limit_is_per_minute() -> None:
    limits = RateLimits(global_per_second=None, per_chat_per_second=None,
                        per_group_per_minute=20, per_group_burst=20, clock=lambda: 0.0)
    with TelegramEmulator(rate_limits=limits) as emu:
        emu.add_chat(-9, "group")
        statuses = [call(emu, "sendMessage", {"chat_id": -9, "text": str(i)})[0]
                    for i in range(21)]
        assert statuses == [200] * 20 + [429]
        assert emu.calls(status=429)[0].response == too_many_requests(3).envelope()


async def test_fail_next_with_corpus_errors_and_chat_filter(emu: TelegramEmulator) -> None:
    emu.user_sends("hi", user_id=99)
    emu.fail_next("sendMessage", "forbidden-user-is-deactivated", chat_id=99)
    emu.fail_next("sendMessage", too_many_requests(7), times=2)
    async with Bot(emu.token, base_url=emu.base_url) as bot:
        for _ in range(2):
            with pytest.raises(RetryAfter):
                await bot.send_message(USER, "x")
        await bot.send_message(USER, "x")
        with pytest.raises(Forbidden, match="user is deactivated"):
            await bot.send_message(99, "x")
        await bot.send_message(99, "y")
    assert [c.status for c in emu.calls("sendMessage")] == [429, 429, 200, 403, 200]
    assert emu.rate_limited_count == 0  # injected 429s are not flood-limit answers


async def test_transport_faults(emu: TelegramEmulator) -> None:
    request = HTTPXRequest(read_timeout=0.3)
    emu.fail_next("sendMessage", RawResponse(502))
    emu.fail_next("getChat", DropConnection())
    emu.fail_next("sendMessage", Delay(0.8), chat_id=USER)
    async with Bot(emu.token, base_url=emu.base_url, request=request) as bot:
        with pytest.raises(NetworkError, match="Bad Gateway"):
            await bot.send_message(USER, "lost")
        with pytest.raises(NetworkError):
            await bot.get_chat(USER)
        with pytest.raises(TimedOut):
            await bot.send_message(USER, "slow but delivered")
    await emu.wait_for_messages_async(USER, 1, timeout=3)
    assert [m.text for m in emu.messages(USER)] == ["slow but delivered"]


# --- edits, deletes, callbacks ----------------------------------------------------------------


async def test_edit_message_text_semantics(emu: TelegramEmulator) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Mute", callback_data="mute")]])
    async with Bot(emu.token, base_url=emu.base_url) as bot:
        sent = await bot.send_message(USER, "<b>v1</b>", parse_mode="HTML", reply_markup=keyboard)
        with pytest.raises(BadRequest, match="Message is not modified"):
            await bot.edit_message_text("<b>v1</b>", USER, sent.message_id, parse_mode="HTML",
                                        reply_markup=keyboard)
        edited = await bot.edit_message_text("v2", USER, sent.message_id)
        assert isinstance(edited, Message)
        assert edited.text == "v2"
        assert edited.edit_date is not None
        assert edited.reply_markup is None  # omitting reply_markup removes the keyboard
        with pytest.raises(BadRequest, match="Message to edit not found"):
            await bot.edit_message_text("x", USER, 999)
        await bot.edit_message_reply_markup(USER, sent.message_id, reply_markup=keyboard)
        assert await bot.delete_message(USER, sent.message_id)
        with pytest.raises(BadRequest, match="Message to delete not found"):
            await bot.delete_message(USER, sent.message_id)
    assert error_of(emu, "editMessageText", chat_id=USER, message_id=1, text="x")[1] == (
        "Bad Request: message can't be edited")  # the user's own message
    [message] = emu.messages(USER, include_deleted=True)
    assert message.deleted
    assert message.text == "v2"
    assert [(v.text, v.reply_markup is not None) for v in message.history] == [
        ("v1", True), ("v2", False)]
    _, body = call(emu, "sendMessage", {"chat_id": USER, "text": "same"})
    assert error_of(emu, "editMessageText", chat_id=USER, text="same",
                    message_id=body["result"]["message_id"]) == (
        400, "Bad Request: message is not modified")


def test_callback_query_can_be_answered_once(emu: TelegramEmulator) -> None:
    markup = {"inline_keyboard": [[{"text": "Go", "callback_data": "go"}]]}
    _, body = call(emu, "sendMessage", {"chat_id": USER, "text": "x", "reply_markup": markup})
    message_id = body["result"]["message_id"]
    with pytest.raises(ValueError, match="no button"):
        emu.user_presses("nope", message_id=message_id, chat_id=USER)
    query_id = emu.user_presses("go", message_id=message_id, chat_id=USER, user_id=USER)
    update = emu.pending_updates()[-1]["callback_query"]
    assert (update["id"], update["data"], update["message"]["message_id"]) == (
        query_id, "go", message_id)
    assert call(emu, "answerCallbackQuery", {"callback_query_id": query_id, "text": "ok"})[0] == 200
    assert emu.callback_answer(query_id) == {"text": "ok", "show_alert": False, "url": None,
                                             "cache_time": None}
    assert error_of(emu, "answerCallbackQuery", callback_query_id=query_id)[1] == (
        "Bad Request: query is too old and response timeout expired or query ID is invalid")


# --- updates ------------------------------------------------------------------------------------


def test_get_updates_offset_confirmation(emu: TelegramEmulator) -> None:
    first = emu.pending_updates()[0]["update_id"]
    emu.user_sends("two", user_id=USER)
    emu.user_sends("three", user_id=USER)

    def ids(**params: Any) -> list[int]:
        return [u["update_id"] for u in call(emu, "getUpdates", params)[1]["result"]]

    assert ids() == [first, first + 1, first + 2]
    assert ids() == [first, first + 1, first + 2]  # nothing confirmed yet
    assert ids(limit=1) == [first]
    assert ids(offset=first + 1) == [first + 1, first + 2]  # confirms `first`
    assert ids() == [first + 1, first + 2]
    assert ids(offset=-1) == [first + 2]  # forgets all earlier ones
    assert ids(offset=first + 3) == []
    emu.user_sends("four", user_id=USER)
    assert ids(allowed_updates=["callback_query"]) == []  # the message is dropped
    assert emu.pending_updates() == []


def test_long_poll_wakes_up_on_a_new_update(emu: TelegramEmulator) -> None:
    call(emu, "getUpdates", {"offset": -1})
    call(emu, "getUpdates", {"offset": emu.pending_updates()[0]["update_id"] + 1})
    timer = threading.Timer(0.2, emu.user_sends, args=("late",), kwargs={"user_id": USER})
    timer.start()
    started = time.monotonic()
    _, body = call(emu, "getUpdates", {"timeout": 5})
    assert 0.1 < time.monotonic() - started < 2
    assert [u["message"]["text"] for u in body["result"]] == ["late"]
    started = time.monotonic()
    assert call(emu, "getUpdates", {"timeout": 1, "offset": -1,
                                    "allowed_updates": ["callback_query"]})[1]["result"] == []
    assert time.monotonic() - started >= 0.9


async def test_second_long_poll_and_webhook_conflict(emu: TelegramEmulator) -> None:
    call(emu, "getUpdates", {"offset": -1})
    call(emu, "getUpdates", {"offset": emu.pending_updates()[0]["update_id"] + 1})
    async with Bot(emu.token, base_url=emu.base_url) as bot, Bot(
            emu.token, base_url=emu.base_url) as other_instance:
        first = asyncio.create_task(bot.get_updates(timeout=5))
        await asyncio.sleep(0.2)
        assert await other_instance.get_updates(timeout=0) == ()
        with pytest.raises(Conflict, match="terminated by other long poll"):
            await first
        assert await bot.set_webhook("https://example.org/hook")
        with pytest.raises(Conflict, match="webhook is active"):
            await bot.get_updates()
        assert (await bot.get_webhook_info()).url == "https://example.org/hook"
        assert await bot.delete_webhook()
        assert await bot.get_updates() == ()


async def test_commands_round_trip(emu: TelegramEmulator) -> None:
    async with Bot(emu.token, base_url=emu.base_url) as bot:
        assert await bot.set_my_commands([("start", "Start"), ("topics", "List topics")])
        assert [c.command for c in await bot.get_my_commands()] == ["start", "topics"]
        with pytest.raises(BadRequest, match="Bot_command_invalid"):
            await bot.set_my_commands([("Bad-Name", "x")])
        assert emu.commands() == [{"command": "start", "description": "Start"},
                                  {"command": "topics", "description": "List topics"}]
        assert await bot.delete_my_commands()
        assert await bot.get_my_commands() == ()


async def test_application_receives_commands_and_callbacks_by_long_polling(
    emu: TelegramEmulator,
) -> None:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Tariffs", callback_data="t")]])
        await update.effective_message.reply_html("<b>Welcome</b>", reply_markup=keyboard)

    async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.callback_query is not None
        await update.callback_query.answer("Subscribed")
        await update.callback_query.edit_message_text("Subscribed to tariffs")

    app = ApplicationBuilder().token(emu.token).base_url(emu.base_url).build()
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CallbackQueryHandler(pressed))
    emu.add_chat(-31, "group", title="Desk")
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(timeout=1, poll_interval=0)
        emu.user_sends("/start", user_id=USER)
        emu.user_sends(f"/start@{emu.bot_username}", user_id=USER, chat_id=-31)
        emu.user_sends("/start@other_bot", user_id=USER, chat_id=-31)
        [welcome] = await emu.wait_for_messages_async(USER, 1, timeout=5)
        await emu.wait_for_messages_async(-31, 1, timeout=5)
        assert (welcome.text, welcome.entities) == (
            "Welcome", [{"type": "bold", "offset": 0, "length": 7}])
        query_id = emu.user_presses("t", message_id=welcome.message_id, chat_id=USER)
        deadline = time.monotonic() + 5
        while emu.messages(USER)[0].text != "Subscribed to tariffs":
            assert time.monotonic() < deadline, emu.calls()
            await asyncio.sleep(0.02)
        await app.updater.stop()
        await app.stop()
    assert emu.callback_answer(query_id) == {"text": "Subscribed", "show_alert": False,
                                             "url": None, "cache_time": None}
    assert len(emu.messages(-31)) == 1  # /start@other_bot is not for us
    assert emu.pending_updates() == []  # PTB confirmed everything on shutdown


def test_wait_for_messages_explains_a_timeout(emu: TelegramEmulator) -> None:
    error_of(emu, "sendMessage", chat_id=USER, text="<b>", parse_mode="HTML")
    with pytest.raises(AssertionError, match=r"got 0: \[\].*sendMessage -> 400 Bad Request"):
        emu.wait_for_messages(USER, 1, timeout=0.1)


# --- out of process ---------------------------------------------------------------------------


def test_control_endpoint_in_a_subprocess() -> None:
    root = Path(__file__).resolve().parents[2]
    with subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.telegram_api", "--port", "0"],
        cwd=root, stdout=subprocess.PIPE, text=True,
    ) as process:
        assert process.stdout is not None
        api_root = process.stdout.readline().strip()
        info = httpx.post(f"{api_root}/_control/info").json()["result"]
        control = httpx.post(f"{api_root}/_control/user_sends",
                             json={"text": "/start", "user_id": 5}).json()
        assert control["result"]["message"]["text"] == "/start"
        httpx.post(f"{api_root}/_control/fail_next",
                   json={"method": "sendMessage", "error": "forbidden-bot-blocked-by-user"})
        url = f"{api_root}/bot{info['token']}/sendMessage"
        assert httpx.post(url, data={"chat_id": "5", "text": "a"}).status_code == 403
        assert httpx.post(url, data={"chat_id": "5", "text": "b"}).status_code == 200
        messages = httpx.post(f"{api_root}/_control/wait_for_messages",
                              json={"chat_id": 5, "count": 1}).json()["result"]
        assert [m["text"] for m in messages] == ["b"]
        assert httpx.post(f"{api_root}/_control/nope").json()["ok"] is False
        process.terminate()
        assert process.wait(timeout=5) == 0
