"""A Telegram Bot API emulator for tests: a real HTTP server on 127.0.0.1.

What it emulates (Bot API as described by ../shared/corpus/telegram-bot-api/api.json):
- `POST|GET {api_root}/bot{TOKEN}/{method}` with query-string, form-encoded (PTB's way:
  non-string values JSON-encoded), JSON and multipart bodies; method names case-insensitive.
- Envelopes `{"ok": true, "result": ...}` / `{"ok": false, "error_code", "description",
  "parameters"}` with HTTP status == error_code; descriptions copied from the real error
  corpus (error-responses/*.json) where it has them.
- 401 for a wrong token, 404 `Not Found` for an unknown method or a malformed token, 400 for
  a missing required parameter of any of the spec's methods.
- Real behaviour for getMe, getUpdates (long polling, offset confirmation, negative offset,
  limit, allowed_updates, 409 when another poll starts or a webhook is set), setWebhook /
  deleteWebhook / getWebhookInfo (no delivery), set/get/deleteMyCommands, sendMessage,
  editMessageText, editMessageReplyMarkup, deleteMessage, answerCallbackQuery, getChat,
  getChatMember, getChatAdministrators, close, logOut. Every other spec method validates its
  parameters and chat, then answers a spec-shaped result (Message-returning methods record a
  message with the parsed caption; Boolean ones answer `true`).
- Telegram HTML parse mode (see telegram_html.py), UTF-16 length limits, whitespace trimming.
- Chats: private chats appear when a user writes; groups/supergroups/channels via
  `add_chat` (or a user writing in them); blocked users, kicked bot, group -> supergroup
  migration (with `migrate_to_chat_id`), "bot can't initiate conversation".
- Optional flood limits (429 with `retry_after`), and fault injection (`fail_next`).

What it does NOT cover: webhook delivery, inline mode and inline messages (edits with
`inline_message_id` just answer true), MarkdownV2/Markdown parsing (text kept verbatim),
automatic url/mention/hashtag entities in bot messages, file downloads (getFile answers a
placeholder), payments, stickers, forum-topic management, business connections, the 48-hour
edit/delete window, per-user language of commands beyond exact (scope, language_code) keys.
Unlike Telegram, a bare `&` in HTML is rejected by default (see telegram_html.py). Where the
corpus text differs from today's Telegram wording, the corpus wins: group migration answers
"Bad Request: group chat was migrated to a supergroup chat" and an identical edit answers
"Bad Request: message is not modified" (Telegram appends ": specified new message content
and reply markup are exactly the same..."); match on prefixes in product code. Descriptions
for missing parameters the corpus lacks are approximations (`parameter "x" is required`).
An emulator instance serves once: create a new one instead of restarting a stopped one.

Modules: telegram_spec (api.json, error corpus, parameter decoding, fault types),
telegram_html (HTML parse mode), telegram_state (chats, messages, updates, limits),
telegram_call + telegram_methods (method handlers), telegram_http (server, routing, faults),
telegram_control (the /_control endpoint), this module (control API, fixture, CLI).

Usage:
    with TelegramEmulator() as emu:
        app = ApplicationBuilder().token(emu.token).base_url(emu.base_url).build()
        # the product reads TELEGRAM_API_URL=emu.api_root and builds f"{root}/bot"
Out of process: `python -m tests.fakes.telegram_api --port 0` prints the API root, then
serves `POST /_control/<action>` with the control methods' keyword arguments as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import dataclasses
import json
import re
import signal
import threading
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Self

import pytest

from tests.fakes.telegram_control import control_action
from tests.fakes.telegram_html import utf16_len
from tests.fakes.telegram_http import ApiCore, HttpServer
from tests.fakes.telegram_spec import (
    ApiError,
    ApiSpec,
    Delay,
    DropConnection,
    Fault,
    JSONDict,
    RawResponse,
    load_spec,
    too_many_requests,
)
from tests.fakes.telegram_state import (
    CHAT_TYPES,
    CallRecord,
    ChatInfo,
    EmulatorState,
    PendingFault,
    RateLimiter,
    RateLimits,
    SentMessage,
    UserInfo,
)

__all__ = [
    "DEFAULT_TOKEN", "ApiError", "CallRecord", "Delay", "DropConnection", "RateLimits",
    "RawResponse", "SentMessage", "TelegramEmulator", "telegram_emulator", "too_many_requests",
]

DEFAULT_TOKEN = "123456789:AAEmulatorTestToken_0123456789abcdefg"
DEFAULT_USER_ID = 1001
_COMMAND = re.compile(r"(?:^|(?<=\s))/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![\w@/])")


class TelegramEmulator:
    """The emulator and its thread-safe control API (usable from any thread or process)."""

    def __init__(self, token: str = DEFAULT_TOKEN, *, bot_username: str = "newsbot_test_bot",
                 bot_first_name: str = "Newsbot Test",
                 rate_limits: RateLimits | bool | None = None, strict_ampersand: bool = True,
                 host: str = "127.0.0.1", port: int = 0, spec_dir: Path | None = None) -> None:
        if not re.fullmatch(r"\d+:[A-Za-z0-9_-]+", token):
            raise ValueError("token must look like a Bot API token: <digits>:<letters>")
        limits = RateLimits() if rate_limits is True else rate_limits or None
        self.spec: ApiSpec = load_spec(spec_dir)
        self.token = token
        self._state = EmulatorState(self.spec, token, bot_username, bot_first_name, limits,
                                    strict_ampersand)
        self._server = HttpServer(ApiCore(self._state), partial(control_action, self),
                                  host, port)
        self._started = False

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Self:
        if not self._started:
            self._server.start()
            self._started = True
        return self

    def stop(self) -> None:
        if self._started:
            self._server.stop()
            self._started = False

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    @property
    def api_root(self) -> str:
        """What the product reads from TELEGRAM_API_URL, e.g. http://127.0.0.1:PORT."""
        host, port = self._server.address
        return f"http://{host}:{port}"

    @property
    def base_url(self) -> str:
        """PTB's `base_url`: requests then go to f"{base_url}{token}/{method}"."""
        return f"{self.api_root}/bot"

    @property
    def bot_id(self) -> int:
        return self._state.bot.id

    @property
    def bot_username(self) -> str:
        return self._state.bot.username or ""

    # --- the world ---------------------------------------------------------------------------

    def add_chat(self, chat_id: int, chat_type: str, *, title: str | None = None,
                 username: str | None = None, is_forum: bool = False,
                 admin_ids: list[int] | tuple[int, ...] = (), creator_id: int | None = None,
                 bot_is_admin: bool = False) -> JSONDict:
        """Create a chat the bot is a member of; returns its Chat JSON."""
        if chat_type not in CHAT_TYPES:
            raise ValueError(f"chat_type must be one of {CHAT_TYPES}")
        if (chat_type == "private") != (chat_id > 0):
            raise ValueError("private chats have positive ids, other chats negative ones")
        with self._state.lock:
            chat = ChatInfo(chat_id, chat_type, title=title or (
                None if chat_type == "private" else f"Test {chat_type} {chat_id}"),
                username=username, is_forum=is_forum, admin_ids=list(admin_ids),
                creator_id=creator_id, bot_is_admin=bot_is_admin)
            if chat_type == "private":
                chat.first_name = self._state.user(chat_id).first_name
            self._state.chats[chat_id] = chat
            return chat.to_json()

    def _chat_for_user(self, user: UserInfo, chat_id: int | None,
                       chat_type: str | None) -> ChatInfo:
        state = self._state
        chat_id = user.id if chat_id is None else chat_id
        chat = state.chats.get(chat_id)
        if chat is None:
            inferred = chat_type or ("private" if chat_id > 0 else
                                     "supergroup" if str(chat_id).startswith("-100") else "group")
            if inferred == "private" and chat_id != user.id:
                raise ValueError("a private chat's id is the user's id")
            self.add_chat(chat_id, inferred)
            chat = state.chats[chat_id]
        if chat.type == "private":
            chat.blocked = False  # writing to the bot again means the user unblocked it
            chat.first_name, chat.username = user.first_name, user.username
        elif chat.kicked or chat.migrated_to is not None:
            raise ValueError(f"the bot no longer receives messages from chat {chat_id}")
        chat.member_ids.add(user.id)
        return chat

    def _remember_user(self, user_id: int, username: str | None, first_name: str | None,
                       language_code: str | None) -> UserInfo:
        known = self._state.users.get(user_id)
        user = UserInfo(user_id, first_name or (known.first_name if known else f"User{user_id}"),
                        username or (known.username if known else None),
                        language_code=language_code)
        self._state.users[user_id] = user
        return user

    def user_sends(self, text: str, *, user_id: int = DEFAULT_USER_ID, chat_id: int | None = None,
                   chat_type: str | None = None, username: str | None = None,
                   first_name: str | None = None, message_thread_id: int | None = None,
                   reply_to_message_id: int | None = None,
                   language_code: str | None = "en") -> JSONDict:
        """A user writes `text` (private chat by default); returns the queued Update.

        `/command` and `/command@bot` get `bot_command` entities, so PTB's CommandHandler fires."""
        state = self._state
        with state.lock:
            user = self._remember_user(user_id, username, first_name, language_code)
            chat = self._chat_for_user(user, chat_id, chat_type)
            entities = [{"type": "bot_command", "offset": utf16_len(text[: m.start()]),
                         "length": utf16_len(m.group())} for m in _COMMAND.finditer(text)]
            message = state.add_message(SentMessage(
                chat_id=chat.id, message_id=state.allocate_message_id(chat), date=state.now(),
                method="user", text=text, entities=entities, from_bot=False, sender=user,
                message_thread_id=message_thread_id, reply_to_message_id=reply_to_message_id))
            kind = "channel_post" if chat.type == "channel" else "message"
            return dict(state.enqueue(kind, state.message_json(message)))

    def user_presses(self, callback_data: str, *, message_id: int, chat_id: int,
                     user_id: int = DEFAULT_USER_ID, username: str | None = None,
                     check_button: bool = True) -> str:
        """A user presses an inline button of a bot message; returns the callback query id."""
        state = self._state
        with state.lock:
            message = state.messages.get((chat_id, message_id))
            if message is None or message.deleted or not message.from_bot:
                raise ValueError(f"no bot message {message_id} in chat {chat_id}")
            if check_button and callback_data not in message.callback_data():
                raise ValueError(f"message {message_id} has no button {callback_data!r}; "
                                 f"it has {message.callback_data()}")
            user = self._remember_user(user_id, username, None, "en")
            state.chats[chat_id].member_ids.add(user_id)
            info = state.new_callback(user_id, chat_id, message_id, callback_data)
            state.enqueue("callback_query", {
                "id": info.query_id, "from": user.to_json(), "message": state.message_json(message),
                "chat_instance": str(abs(chat_id) * 7919 % 10**12), "data": callback_data})
            return info.query_id

    def set_chat_admins(self, chat_id: int, user_ids: list[int] | tuple[int, ...], *,
                        creator_id: int | None = None, bot_is_admin: bool | None = None) -> None:
        with self._state.lock:
            chat = self._existing_chat(chat_id)
            if chat.type == "private":
                raise ValueError("private chats have no administrators")
            chat.admin_ids = list(user_ids)
            if creator_id is not None:
                chat.creator_id = creator_id
            if bot_is_admin is not None:
                chat.bot_is_admin = bot_is_admin

    def _existing_chat(self, chat_id: int) -> ChatInfo:
        chat = self._state.chats.get(chat_id)
        if chat is None:
            raise ValueError(f"unknown chat {chat_id}")
        return chat

    def _my_chat_member(self, chat: ChatInfo, actor: UserInfo, new_status: str) -> None:
        state = self._state
        old = {"status": "member", "user": state.bot.to_json()}
        new: JSONDict = {"status": new_status, "user": state.bot.to_json()}
        if new_status == "kicked":
            new["until_date"] = 0
        state.enqueue("my_chat_member", {"chat": chat.to_json(), "from": actor.to_json(),
                                         "date": state.now(), "old_chat_member": old,
                                         "new_chat_member": new})

    def block(self, chat_id: int, *, notify: bool = True) -> None:
        """The user of a private chat blocks the bot: sends answer 403 until they write again."""
        with self._state.lock:
            chat = self._existing_chat(chat_id)
            if chat.type != "private":
                raise ValueError("only private chats can block the bot; use kick()")
            chat.blocked = True
            if notify:
                self._my_chat_member(chat, self._state.user(chat_id), "kicked")

    def unblock(self, chat_id: int) -> None:
        with self._state.lock:
            self._existing_chat(chat_id).blocked = False

    def kick(self, chat_id: int, *, notify: bool = True) -> None:
        """The bot is removed from a group, supergroup or channel."""
        with self._state.lock:
            chat = self._existing_chat(chat_id)
            if chat.type == "private":
                raise ValueError("use block() for private chats")
            chat.kicked = True
            if notify:
                self._my_chat_member(chat, self._state.user(chat.creator_id or DEFAULT_USER_ID),
                                     "kicked")

    def migrate(self, chat_id: int, new_chat_id: int, *, notify: bool = True) -> None:
        """Upgrade a group to a supergroup: the old id answers 400 with migrate_to_chat_id."""
        state = self._state
        with state.lock:
            old = self._existing_chat(chat_id)
            if old.type != "group" or new_chat_id >= 0 or new_chat_id in state.chats:
                raise ValueError("migrate a known group to a new negative supergroup id")
            new = dataclasses.replace(old, id=new_chat_id, type="supergroup", next_message_id=1,
                                      member_ids=set(old.member_ids), admin_ids=list(old.admin_ids))
            state.chats[new_chat_id] = new
            if notify:
                actor = state.user(old.creator_id or DEFAULT_USER_ID)
                for chat, extra in ((old, {"migrate_to_chat_id": new_chat_id}),
                                    (new, {"migrate_from_chat_id": chat_id})):
                    message = state.add_message(SentMessage(
                        chat_id=chat.id, message_id=state.allocate_message_id(chat),
                        date=state.now(), method="user", text=None, from_bot=False,
                        sender=actor, extra=extra))
                    state.enqueue("message", state.message_json(message))
            old.migrated_to = new_chat_id

    def fail_next(self, method: str, error: Fault | str, *, times: int = 1,
                  chat_id: int | str | None = None) -> None:
        """Make the next `times` calls of `method` ("*" = any) fail, optionally only for one
        chat. `error`: a corpus file stem ("forbidden-bot-blocked-by-user"), an ApiError
        (e.g. too_many_requests(3)), RawResponse(502), Delay(seconds) or DropConnection()."""
        if method != "*" and self.spec.method(method) is None:
            raise ValueError(f"{method!r} is not a Bot API method")
        fault = self.spec.error(error) if isinstance(error, str) else error
        with self._state.lock:
            self._state.faults.append(PendingFault(method.lower(), fault, times, chat_id))

    def set_rate_limits(self, limits: RateLimits | None) -> None:
        with self._state.lock:
            self._state.limiter = RateLimiter(limits) if limits else None

    # --- observations ------------------------------------------------------------------------

    def messages(self, chat_id: int | None = None, *,
                 include_deleted: bool = False) -> list[SentMessage]:
        """Messages the bot sent (current state; `.history` holds versions before edits)."""
        with self._state.lock:
            found = [m for m in self._state.sent if (chat_id is None or m.chat_id == chat_id)
                     and (include_deleted or not m.deleted)]
            return copy.deepcopy(found)  # snapshots: the server keeps editing the originals

    def message_json(self, chat_id: int, message_id: int) -> JSONDict:
        """The Message object Telegram would give for a message now."""
        with self._state.lock:
            return self._state.message_json(self._state.messages[(chat_id, message_id)])

    def _timeout_report(self, chat_id: int, count: int, timeout: float) -> str:
        got = self.messages(chat_id)
        failed = [f"{c.method} -> {c.status} {c.description}" for c in self.calls()
                  if c.status != 200][-10:]
        return (f"expected at least {count} bot message(s) in chat {chat_id} within {timeout}s, "
                f"got {len(got)}: {[m.text for m in got]!r}; failed calls: {failed}; "
                f"all chats with messages: {sorted({m.chat_id for m in self.messages()})}")

    def wait_for_messages(self, chat_id: int, count: int = 1,
                          timeout: float = 5.0) -> list[SentMessage]:
        """Block until the bot has sent `count` messages to the chat (not for use on the
        event loop the bot runs on: use `wait_for_messages_async` there)."""
        deadline = time.monotonic() + timeout
        with self._state.changed:
            while len(self.messages(chat_id)) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(self._timeout_report(chat_id, count, timeout))
                self._state.changed.wait(remaining)
        return self.messages(chat_id)

    async def wait_for_messages_async(
        self, chat_id: int, count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109 - same signature as wait_for_messages
    ) -> list[SentMessage]:
        deadline = time.monotonic() + timeout
        while len(self.messages(chat_id)) < count:
            if time.monotonic() >= deadline:
                raise AssertionError(self._timeout_report(chat_id, count, timeout))
            await asyncio.sleep(0.01)
        return self.messages(chat_id)

    def calls(self, method: str | None = None, *, status: int | None = None) -> list[CallRecord]:
        with self._state.lock:
            return [c for c in self._state.calls
                    if (method is None or c.method.lower() == method.lower())
                    and (status is None or c.status == status)]

    def commands(self, *, scope: JSONDict | None = None,
                 language_code: str = "") -> list[JSONDict]:
        """What setMyCommands registered for (scope, language_code); default scope if None."""
        key = "default" if not scope or scope.get("type") == "default" else json.dumps(
            scope, sort_keys=True)
        with self._state.lock:
            return [dict(c) for c in self._state.commands.get((key, language_code), [])]

    def callback_answer(self, query_id: str) -> JSONDict | None:
        """How answerCallbackQuery answered the query, or None if it was not answered."""
        with self._state.lock:
            info = self._state.callbacks.get(query_id)
            return None if info is None or info.answer is None else dict(info.answer)

    def pending_updates(self) -> list[JSONDict]:
        with self._state.lock:
            return [dict(u) for u in self._state.updates]

    @property
    def rate_limited_count(self) -> int:
        """How many 429 answers the flood limits produced (injected ones not counted)."""
        with self._state.lock:
            return self._state.rate_limited_count

    def internal_errors(self) -> list[str]:
        """Tracebacks of emulator bugs (answered as 500); should stay empty."""
        with self._state.lock:
            return list(self._state.internal_errors)


@pytest.fixture
def telegram_emulator() -> Iterator[TelegramEmulator]:
    """A started emulator with the default token; fails the test on emulator bugs."""
    with TelegramEmulator() as emulator:
        yield emulator
        errors = emulator.internal_errors()
    assert not errors, "Telegram emulator internal errors:\n" + "\n".join(errors)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token", default=DEFAULT_TOKEN)
    parser.add_argument("--bot-username", default="newsbot_test_bot")
    parser.add_argument("--rate-limits", action="store_true", help="Telegram's flood limits")
    args = parser.parse_args(argv)
    done = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: done.set())
    with TelegramEmulator(args.token, bot_username=args.bot_username,
                          rate_limits=args.rate_limits, host=args.host, port=args.port) as emu:
        print(emu.api_root, flush=True)
        done.wait()


if __name__ == "__main__":
    main()
