"""Sending through the Bot API (python-telegram-bot), with every error mapped to
an outcome value the outbox drainer can act on.

PTB gotcha: BadRequest and TimedOut subclass NetworkError, so permanent errors
are caught first; otherwise a bad message would be retried forever.
"""

from __future__ import annotations

import sys
from collections import OrderedDict
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol, TextIO

from aiolimiter import AsyncLimiter
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    ReplyParameters,
)
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)


@dataclass(frozen=True, slots=True)
class Sent:
    message_id: int | None


@dataclass(frozen=True, slots=True)
class RetryLater:
    after: timedelta | None  # None: the drainer chooses a backoff
    reason: str
    flood: bool = False  # a 429: hold the whole chat for `after`


@dataclass(frozen=True, slots=True)
class ChatGone:
    reason: str  # blocked, kicked, deactivated, chat not found


@dataclass(frozen=True, slots=True)
class ChatMoved:
    new_chat_id: int


@dataclass(frozen=True, slots=True)
class Rejected:
    reason: str
    bad_markup: bool  # "can't parse entities": resend as plain text


SendOutcome = Sent | RetryLater | ChatGone | ChatMoved | Rejected


@dataclass(frozen=True, slots=True)
class Button:
    """An inline button, independent of PTB: a link (url) or a callback (data <= 64 bytes)."""

    label: str
    url: str | None = None
    data: str | None = None


Buttons = tuple[tuple[Button, ...], ...]

_GONE_MARKERS = ("chat not found", "bot was blocked", "bot was kicked", "user is deactivated",
                 "bot is not a member", "have no rights to send", "group chat was deactivated",
                 "bot can't initiate conversation", "peer_id_invalid")


class Sender(Protocol):
    async def send(self, chat_id: int, text: str, *, html: bool, thread_id: int | None,
                   preview: bool, buttons: Buttons = (),
                   reply_to: int | None = None) -> SendOutcome: ...

    async def edit(self, chat_id: int, message_id: int, text: str, *, html: bool,
                   preview: bool, buttons: Buttons = ()) -> SendOutcome: ...


class TelegramSender:
    """Sends one message with PTB's Bot; never raises for Telegram's answers.

    PTB's AIORateLimiter paces the global (30/s) and per-group (20/min) limits; it
    has no per-chat limit for private chats, so each chat gets a small bucket here:
    a burst of 3, then 1 message a second, as Telegram asks."""

    PER_CHAT_BURST = 3
    PER_CHAT_PERIOD_SECONDS = 3.0
    MAX_TRACKED_CHATS = 10_000

    def __init__(self, bot: Bot) -> None:
        self._bot = bot
        self._per_chat: OrderedDict[int, AsyncLimiter] = OrderedDict()

    def _chat_limiter(self, chat_id: int) -> AsyncLimiter:
        limiter = self._per_chat.pop(chat_id, None) or AsyncLimiter(
            self.PER_CHAT_BURST, self.PER_CHAT_PERIOD_SECONDS)
        self._per_chat[chat_id] = limiter  # most recently used last
        while len(self._per_chat) > self.MAX_TRACKED_CHATS:
            self._per_chat.popitem(last=False)
        return limiter

    async def send(self, chat_id: int, text: str, *, html: bool, thread_id: int | None,
                   preview: bool, buttons: Buttons = (),
                   reply_to: int | None = None) -> SendOutcome:
        async with self._chat_limiter(chat_id):
            return await self._call(self._bot.send_message(
                chat_id=chat_id, text=text, parse_mode=ParseMode.HTML if html else None,
                message_thread_id=thread_id, reply_markup=_markup(buttons),
                reply_parameters=(ReplyParameters(reply_to, allow_sending_without_reply=True)
                                  if reply_to else None),
                link_preview_options=LinkPreviewOptions(is_disabled=not preview)))

    async def edit(self, chat_id: int, message_id: int, text: str, *, html: bool,
                   preview: bool, buttons: Buttons = ()) -> SendOutcome:
        async with self._chat_limiter(chat_id):
            outcome = await self._call(self._bot.edit_message_text(
                text=text, chat_id=chat_id, message_id=message_id,
                parse_mode=ParseMode.HTML if html else None, reply_markup=_markup(buttons),
                link_preview_options=LinkPreviewOptions(is_disabled=not preview)))
        if isinstance(outcome, Rejected) and "not modified" in outcome.reason.lower():
            return Sent(message_id)  # nothing new to show: as good as done
        return outcome

    async def _call(self, request: Awaitable[object]) -> SendOutcome:
        try:
            message = await request
        except RetryAfter as exc:
            return RetryLater(_seconds(exc), "429 Too Many Requests", flood=True)
        except ChatMigrated as exc:
            return ChatMoved(exc.new_chat_id)
        except Forbidden as exc:
            return ChatGone(exc.message)
        except BadRequest as exc:  # before NetworkError: BadRequest is a subclass
            text_lower = exc.message.lower()
            if any(marker in text_lower for marker in _GONE_MARKERS):
                return ChatGone(exc.message)
            return Rejected(exc.message, bad_markup="can't parse entities" in text_lower)
        except InvalidToken as exc:
            return RetryLater(timedelta(minutes=5), f"invalid token: {exc.message}")
        except TimedOut as exc:
            return RetryLater(None, f"timed out: {exc.message}")
        except NetworkError as exc:
            return RetryLater(None, f"network: {exc.message}")
        except TelegramError as exc:
            return RetryLater(None, f"{type(exc).__name__}: {exc.message}")
        return Sent(message.message_id if isinstance(message, Message) else None)


class ConsoleSender:
    """No bot token: alerts go to stdout, one block each, so the rest runs the same."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream or sys.stdout
        self._count = 0

    async def send(self, chat_id: int, text: str, *, html: bool, thread_id: int | None,
                   preview: bool, buttons: Buttons = (),
                   reply_to: int | None = None) -> SendOutcome:
        self._count += 1
        prefix = f"(update to message {reply_to})\n" if reply_to else ""
        self._stream.write(f"{prefix}{text}\n{'-' * 60}\n")
        self._stream.flush()
        return Sent(self._count)

    async def edit(self, chat_id: int, message_id: int, text: str, *, html: bool,
                   preview: bool, buttons: Buttons = ()) -> SendOutcome:
        self._stream.write(f"(message {message_id} updated)\n{text}\n{'-' * 60}\n")
        self._stream.flush()
        return Sent(message_id)


def _markup(buttons: Buttons) -> InlineKeyboardMarkup | None:
    if not buttons:
        return None
    return InlineKeyboardMarkup([[InlineKeyboardButton(b.label, url=b.url, callback_data=b.data)
                                  for b in row] for row in buttons])


def _seconds(exc: RetryAfter) -> timedelta:
    value = exc._retry_after  # the timedelta PTB keeps; the public attr warns about units
    return value if isinstance(value, timedelta) else timedelta(seconds=float(value))
