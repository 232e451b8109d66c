"""The Bot API emulator's world: chats, users, messages, updates, calls, limits, faults.

Owns the data and the rules shared by the method handlers and the control API: resolving a
`chat_id` to a chat with Telegram's errors (not found, blocked, kicked, migrated), building
Message/Chat/User JSON, queueing updates, flood limits (token buckets), pending faults.
Every access goes through `state.lock`; `state.changed` is notified on every mutation so
long polls and waiters wake up. Must not do I/O.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.telegram_spec import ApiError, ApiSpec, Fault, JSONDict, too_many_requests

CHAT_TYPES = ("private", "group", "supergroup", "channel")
UPDATE_TYPES_OFF_BY_DEFAULT = frozenset({"chat_member", "message_reaction",
                                         "message_reaction_count"})


@dataclass
class UserInfo:
    id: int
    first_name: str
    username: str | None = None
    last_name: str | None = None
    language_code: str | None = None
    is_bot: bool = False

    def to_json(self) -> JSONDict:
        data: JSONDict = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        for key in ("last_name", "username", "language_code"):
            if getattr(self, key):
                data[key] = getattr(self, key)
        return data


@dataclass
class ChatInfo:
    id: int
    type: str
    title: str | None = None
    username: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    is_forum: bool = False
    blocked: bool = False  # private chat: the user blocked the bot
    kicked: bool = False  # group/supergroup/channel: the bot was removed
    migrated_to: int | None = None
    creator_id: int | None = None
    admin_ids: list[int] = field(default_factory=list)
    bot_is_admin: bool = False
    member_ids: set[int] = field(default_factory=set)
    next_message_id: int = 1

    def to_json(self) -> JSONDict:
        data: JSONDict = {"id": self.id, "type": self.type}
        for key in ("title", "username", "first_name", "last_name"):
            if getattr(self, key):
                data[key] = getattr(self, key)
        if self.is_forum:
            data["is_forum"] = True
        return data


@dataclass
class MessageVersion:
    """A message's content before one edit."""

    text: str | None
    entities: list[JSONDict]
    reply_markup: JSONDict | None
    raw_text: str | None
    replaced_at: int


@dataclass
class SentMessage:
    """A message in a chat, as the emulator recorded it (current state after edits).

    `text`/`entities` hold the parsed plain text (or caption for media methods);
    `raw_text` is what the bot sent, before HTML parsing; `history` the earlier versions."""

    chat_id: int
    message_id: int
    date: int
    method: str
    text: str | None
    entities: list[JSONDict] = field(default_factory=list)
    raw_text: str | None = None
    parse_mode: str | None = None
    reply_markup: JSONDict | None = None
    message_thread_id: int | None = None
    reply_to_message_id: int | None = None
    link_preview_options: JSONDict | None = None
    disable_notification: bool = False
    protect_content: bool = False
    from_bot: bool = True
    sender: UserInfo | None = None
    edit_date: int | None = None
    deleted: bool = False
    history: list[MessageVersion] = field(default_factory=list)
    extra: JSONDict = field(default_factory=dict)  # service-message fields

    @property
    def link_preview_disabled(self) -> bool:
        return bool((self.link_preview_options or {}).get("is_disabled"))

    def callback_data(self) -> list[str]:
        """Every callback_data of the inline keyboard, row by row."""
        rows = (self.reply_markup or {}).get("inline_keyboard") or []
        return [b["callback_data"] for row in rows for b in row if "callback_data" in b]


@dataclass(frozen=True)
class CallRecord:
    """One Bot API request: decoded parameters and what the emulator answered."""

    method: str
    params: JSONDict
    status: int  # HTTP status; 0 when the connection was dropped
    response: JSONDict | None  # the JSON envelope, None for raw/dropped answers
    at: float  # wall-clock time of arrival
    duration: float

    @property
    def description(self) -> str | None:
        return None if self.response is None else self.response.get("description")


@dataclass(frozen=True)
class RateLimits:
    """Flood limits for message-sending methods, as token buckets (None = unlimited).

    `clock` (seconds, monotonic) can be replaced for deterministic tests."""

    global_per_second: float | None = 30.0
    global_burst: int = 30
    per_chat_per_second: float | None = 1.0
    per_chat_burst: int = 3
    per_group_per_minute: float | None = 20.0
    per_group_burst: int = 20
    clock: Callable[[], float] = field(default=time.monotonic, compare=False, repr=False)


@dataclass
class _Bucket:
    rate: float  # tokens per second
    capacity: float
    tokens: float
    stamp: float

    def refill(self, now: float) -> None:
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def wait(self) -> float:
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate


class RateLimiter:
    def __init__(self, limits: RateLimits) -> None:
        self.limits = limits
        self._buckets: dict[tuple[str, int], _Bucket] = {}

    def _bucket(self, key: tuple[str, int], rate: float, burst: int, now: float) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(rate, float(burst), float(burst), now)
        bucket.refill(now)
        return bucket

    def acquire(self, chat: ChatInfo, now: float) -> float:
        """Take one token from every applicable bucket, or return seconds to wait."""
        limits = self.limits
        buckets: list[_Bucket] = []
        if limits.global_per_second:
            buckets.append(self._bucket(("global", 0), limits.global_per_second,
                                        limits.global_burst, now))
        if limits.per_chat_per_second:
            buckets.append(self._bucket(("chat", chat.id), limits.per_chat_per_second,
                                        limits.per_chat_burst, now))
        if limits.per_group_per_minute and chat.type != "private":
            buckets.append(self._bucket(("group", chat.id), limits.per_group_per_minute / 60,
                                        limits.per_group_burst, now))
        wait = max((bucket.wait() for bucket in buckets), default=0.0)
        if wait == 0.0:
            for bucket in buckets:
                bucket.tokens -= 1
        return wait


@dataclass
class PendingFault:
    method: str  # lower-case name, or "*"
    fault: Fault
    remaining: int
    chat_id: int | str | None


@dataclass
class CallbackInfo:
    query_id: str
    user_id: int
    chat_id: int
    message_id: int
    data: str
    answer: JSONDict | None = None


def is_rate_limited_method(method: str) -> bool:
    lowered = method.lower()
    return lowered != "sendchataction" and lowered.startswith(("send", "forward", "copy", "edit"))


class EmulatorState:
    def __init__(self, spec: ApiSpec, token: str, bot_username: str, bot_first_name: str,
                 rate_limits: RateLimits | None, strict_ampersand: bool) -> None:
        self.spec = spec
        self.token = token
        self.strict_ampersand = strict_ampersand
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.stopping = False
        self.bot = UserInfo(int(token.split(":", 1)[0]), bot_first_name, bot_username,
                            is_bot=True)
        self.chats: dict[int, ChatInfo] = {}
        self.users: dict[int, UserInfo] = {}
        self.messages: dict[tuple[int, int], SentMessage] = {}
        self.sent: list[SentMessage] = []  # bot messages in send order
        self.updates: list[JSONDict] = []
        self.next_update_id = 1
        self.allowed_updates: frozenset[str] | None = None  # None: Telegram's default set
        self.poll_generation = 0
        self.webhook: JSONDict | None = None
        self.commands: dict[tuple[str, str], list[JSONDict]] = {}
        self.callbacks: dict[str, CallbackInfo] = {}
        self.calls: list[CallRecord] = []
        self.faults: list[PendingFault] = []
        self.limiter = RateLimiter(rate_limits) if rate_limits else None
        self.rate_limited_count = 0
        self.internal_errors: list[str] = []
        self._next_query_id = 1

    # --- helpers for handlers and the control API (call with the lock held) -----------------

    @staticmethod
    def now() -> int:
        return int(time.time())

    def user(self, user_id: int) -> UserInfo:
        return self.users.get(user_id) or UserInfo(user_id, f"User {user_id}")

    def resolve_chat(self, raw: Any, *, sending: bool) -> ChatInfo:
        """The chat a `chat_id` parameter names, or the error Telegram gives for it."""
        chat: ChatInfo | None = None
        if isinstance(raw, str) and raw.startswith("@"):
            wanted = raw[1:].lower()
            chat = next((c for c in self.chats.values()
                         if c.type != "private" and (c.username or "").lower() == wanted), None)
        elif isinstance(raw, int) and not isinstance(raw, bool):
            chat = self.chats.get(raw)
            if chat is None and raw in self.users:
                raise self.spec.error("forbidden-cant-initiate-conversation")
        if chat is None:
            raise self.spec.error("bad-request-chat-not-found")
        if chat.migrated_to is not None:
            error = self.spec.error("bad-request-group-chat-migrated")
            raise ApiError(error.error_code, error.description,
                           {"migrate_to_chat_id": chat.migrated_to})
        if chat.kicked:
            if chat.type == "group":
                raise self.spec.error("forbidden-bot-was-kicked")
            raise ApiError(403, f"Forbidden: bot was kicked from the {chat.type} chat")
        if chat.blocked and sending:
            raise self.spec.error("forbidden-bot-blocked-by-user")
        return chat

    def check_rate(self, chat: ChatInfo) -> None:
        if self.limiter is None:
            return
        wait = self.limiter.acquire(chat, self.limiter.limits.clock())
        if wait > 0:
            self.rate_limited_count += 1
            raise too_many_requests(max(1, math.ceil(wait)))

    def add_message(self, message: SentMessage) -> SentMessage:
        self.messages[(message.chat_id, message.message_id)] = message
        if message.from_bot:
            self.sent.append(message)
        self.changed.notify_all()
        return message

    def allocate_message_id(self, chat: ChatInfo) -> int:
        message_id = chat.next_message_id
        chat.next_message_id += 1
        return message_id

    def message_json(self, message: SentMessage, *, with_reply: bool = True) -> JSONDict:
        chat = self.chats[message.chat_id]
        data: JSONDict = {"message_id": message.message_id, "date": message.date,
                          "chat": chat.to_json()}
        if chat.type == "channel":
            data["sender_chat"] = chat.to_json()  # channel posts have no `from`
        elif message.from_bot:
            data["from"] = self.bot.to_json()
        elif message.sender is not None:
            data["from"] = message.sender.to_json()
        if message.message_thread_id is not None:
            data["message_thread_id"] = message.message_thread_id
            if chat.is_forum:
                data["is_topic_message"] = True
        replied = self.messages.get((message.chat_id, message.reply_to_message_id or 0))
        if with_reply and replied is not None:
            data["reply_to_message"] = self.message_json(replied, with_reply=False)
        if message.text is not None:
            as_text = message.method in {"sendMessage", "user"}
            data["text" if as_text else "caption"] = message.text
            if message.entities:
                data["entities" if as_text else "caption_entities"] = message.entities
        if message.link_preview_options:
            data["link_preview_options"] = message.link_preview_options
        if message.reply_markup and "inline_keyboard" in message.reply_markup:
            data["reply_markup"] = message.reply_markup
        if message.protect_content:
            data["has_protected_content"] = True
        if message.edit_date is not None:
            data["edit_date"] = message.edit_date
        data.update(message.extra)
        return data

    def enqueue(self, kind: str, payload: JSONDict) -> JSONDict:
        update = {"update_id": self.next_update_id, kind: payload}
        self.next_update_id += 1
        self.updates.append(update)
        self.changed.notify_all()
        return update

    def is_allowed(self, update: JSONDict) -> bool:
        kind = next(key for key in update if key != "update_id")
        if self.allowed_updates is None:
            return kind not in UPDATE_TYPES_OFF_BY_DEFAULT
        return kind in self.allowed_updates

    def take_fault(self, method: str, chat_id: Any) -> Fault | None:
        for pending in self.faults:
            if pending.method not in {"*", method.lower()}:
                continue
            if pending.chat_id is not None and pending.chat_id != chat_id:
                continue
            pending.remaining -= 1
            if pending.remaining <= 0:
                self.faults.remove(pending)
            return pending.fault
        return None

    def new_callback(self, user_id: int, chat_id: int, message_id: int,
                     data: str) -> CallbackInfo:
        query_id = f"{self.bot.id}{self._next_query_id:08d}"
        self._next_query_id += 1
        info = CallbackInfo(query_id, user_id, chat_id, message_id, data)
        self.callbacks[query_id] = info
        return info

    def member_json(self, chat: ChatInfo, user: UserInfo) -> JSONDict:
        """A ChatMember object for `user` in `chat`."""
        is_bot = user.id == self.bot.id
        if user.id == chat.creator_id or (chat.type == "private" and user.id == chat.id):
            status = "creator" if chat.type != "private" else "member"
        elif user.id in chat.admin_ids or (is_bot and chat.bot_is_admin):
            status = "administrator"
        elif is_bot or user.id in chat.member_ids:
            status = "member"
        elif user.id in self.users:
            status = "left"
        else:
            raise self.spec.error("bad-request-member-not-found")
        member: JSONDict = {"status": status, "user": user.to_json()}
        if status == "creator":
            member["is_anonymous"] = False
        elif status == "administrator":
            type_spec = self.spec.types["ChatMemberAdministrator"]
            for item in type_spec.fields.values():
                if item.types == ("Boolean",) and item.name.startswith("can_"):
                    member[item.name] = item.name != "can_be_edited"
            member["is_anonymous"] = False
        return member
