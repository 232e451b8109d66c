"""What every Telegram handler shares: the context it works in, replying,
argument hygiene, registering the chat, and the group-admin rule.

Telegram input is untrusted: arguments are bounded, user text is escaped before
it goes back into HTML, and in groups only chat administrators (or the bot's
configured admins) change the group's settings.
"""

from __future__ import annotations

import html
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncEngine
from telegram import InlineKeyboardMarkup, LinkPreviewOptions, Update
from telegram.constants import ChatMemberStatus, ChatType, ParseMode
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bot.config import AppConfig
from bot.store import chats as chat_store

MAX_ARGS = 20
MAX_ARG_LEN = 64
ADMIN_CACHE_SECONDS = 60.0


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class CommandContext:
    """What the handlers need. `config` is replaced in place when the config reloads."""

    engine: AsyncEngine
    config: AppConfig
    clock: Callable[[], datetime] = _utc_now
    version: str = ""
    status: Callable[[], dict[str, object]] = field(default=dict)


class HandlerBase:
    def __init__(self, ctx: CommandContext) -> None:
        self.ctx = ctx
        # (chat, user) -> (is admin, monotonic expiry): getChatMember at most once a minute.
        self._admin_cache: dict[tuple[int, int], tuple[bool, float]] = {}

    def args(self, context: ContextTypes.DEFAULT_TYPE, lower: bool = True) -> list[str]:
        raw = (context.args or [])[:MAX_ARGS]
        cleaned = [a.strip().strip(",")[:MAX_ARG_LEN] for a in raw]
        return list(dict.fromkeys((a.lower() if lower else a) for a in cleaned if a))

    def topic_name(self, slug: str) -> str:
        topic = self.ctx.config.topic(slug)
        return f"<b>{html.escape(topic.name if topic else slug)}</b>"

    async def register(self, update: Update) -> int | None:
        chat = update.effective_chat
        if chat is None:
            return None
        title = chat.title or chat.full_name or chat.username
        await chat_store.ensure_chat(self.ctx.engine, chat.id, chat.type, title,
                                     self.ctx.clock())
        return chat.id

    async def may_change(self, update: Update, context: ContextTypes.DEFAULT_TYPE,
                         *, answer: bool = True) -> bool:
        """In groups only chat administrators (and configured bot admins) change settings."""
        chat, user = update.effective_chat, update.effective_user
        if chat is None:
            return False
        if chat.type == ChatType.PRIVATE:
            return True
        if chat.type == ChatType.CHANNEL or user is None:
            return False  # channels are configured by the operator, not by posts
        if user.id in self.ctx.config.admins:
            return True
        key = (chat.id, user.id)
        cached = self._admin_cache.get(key)
        if cached and cached[1] > time.monotonic():
            allowed = cached[0]
        else:
            try:
                member = await context.bot.get_chat_member(chat.id, user.id)
                allowed = member.status in (ChatMemberStatus.ADMINISTRATOR,
                                            ChatMemberStatus.OWNER)
            except TelegramError:
                allowed = False
            self._admin_cache[key] = (allowed, time.monotonic() + ADMIN_CACHE_SECONDS)
        if not allowed and answer:
            await self.reply(update, "Only this group's administrators can change its settings.")
        return allowed

    def is_bot_admin(self, update: Update) -> bool:
        user = update.effective_user
        return user is not None and user.id in self.ctx.config.admins

    async def reply(self, update: Update, text: str,
                    markup: InlineKeyboardMarkup | None = None) -> None:
        message = update.effective_message
        if message is not None:
            await message.reply_text(text, parse_mode=ParseMode.HTML,
                                     reply_markup=markup,
                                     link_preview_options=LinkPreviewOptions(is_disabled=True))
