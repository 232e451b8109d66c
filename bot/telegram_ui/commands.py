"""Telegram command handlers: /start, /help, /topics, /subscribe, /unsubscribe.

Telegram input is untrusted: arguments are bounded and validated, user text is
escaped before it goes back into HTML, and in groups only chat administrators
may change the group's settings. Handlers never raise to PTB for bad input;
the global error handler (bot.telegram_ui.app) catches what is left.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncEngine
from telegram import BotCommand, LinkPreviewOptions, Update
from telegram.constants import ChatMemberStatus, ChatType, ParseMode
from telegram.ext import ContextTypes

from bot.config import AppConfig
from bot.store import chats as chat_store

log = logging.getLogger(__name__)

MAX_ARGS = 20
MAX_ARG_LEN = 64

COMMANDS: tuple[tuple[str, str], ...] = (
    ("start", "Welcome and the list of topics"),
    ("help", "How to use this bot"),
    ("topics", "Topics you can follow"),
    ("subscribe", "Follow topics: /subscribe tariffs rare-earths"),
    ("unsubscribe", "Stop following: /unsubscribe tariffs, or /unsubscribe all"),
)


def bot_commands() -> list[BotCommand]:
    return [BotCommand(name, description) for name, description in COMMANDS]


@dataclass(slots=True)
class CommandContext:
    """What the handlers need; swapped atomically when the config reloads."""

    engine: AsyncEngine
    config: AppConfig
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)


class CommandHandlers:
    def __init__(self, ctx: CommandContext) -> None:
        self.ctx = ctx

    # ---- replies -------------------------------------------------------------
    def _topics_text(self, subscribed: tuple[str, ...] = ()) -> str:
        lines = []
        for topic in self.ctx.config.topics:
            mark = "✅" if topic.slug in subscribed else "▫️"
            desc = f" — {html.escape(topic.description)}" if topic.description else ""
            lines.append(f"{mark} <code>{html.escape(topic.slug)}</code>: "
                         f"{html.escape(topic.name)}{desc}")
        return "\n".join(lines)

    def _help_text(self) -> str:
        return (
            "<b>newsbot</b> watches news feeds and alerts you about the topics you follow.\n\n"
            "/topics: the topics and which you follow\n"
            "/subscribe <i>topic</i> [<i>topic</i>...]: follow topics\n"
            "/unsubscribe <i>topic</i> | all: stop following\n"
            "/help: this message\n\n"
            f"Topics:\n{self._topics_text()}"
        )

    # ---- handlers -----------------------------------------------------------
    async def start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat = await self._register(update)
        if chat is None:
            return
        await self._reply(update, "👋 Welcome! I send short alerts when the news mentions the "
                                  "topics you follow.\n\n" + self._help_text()
                          + "\n\nStart with e.g. <code>/subscribe "
                          + html.escape(self.ctx.config.topics[0].slug) + "</code>")

    async def help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._reply(update, self._help_text())

    async def topics(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat = update.effective_chat
        if chat is None:
            return
        settings = await chat_store.chat_settings(self.ctx.engine, chat.id)
        subscribed = settings.topics if settings else ()
        await self._reply(update, "Topics (✅ = you follow it):\n" + self._topics_text(subscribed)
                          + "\n\n/subscribe <i>topic</i> to follow one.")

    async def subscribe(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        slugs = self._args(context)
        if not slugs:
            await self._reply(update, "Which topics? For example: <code>/subscribe "
                              f"{html.escape(self.ctx.config.topic_slugs[0])}</code>\n\n"
                              + self._topics_text())
            return
        if not await self._may_change(update, context):
            return
        unknown = [s for s in slugs if self.ctx.config.topic(s) is None]
        if unknown:
            await self._reply(update, self._unknown_text(unknown))
            return
        chat = await self._register(update)
        if chat is None:
            return
        message = update.effective_message
        thread_id = message.message_thread_id if message and message.is_topic_message else None
        added = await chat_store.subscribe(self.ctx.engine, chat, slugs, thread_id,
                                           self.ctx.clock())
        already = [s for s in slugs if s not in added]
        parts = []
        if added:
            parts.append("✅ Subscribed to " + ", ".join(self._name(s) for s in added) + ".")
        if already:
            parts.append("Already following " + ", ".join(self._name(s) for s in already) + ".")
        await self._reply(update, " ".join(parts))

    async def unsubscribe(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        slugs = self._args(context)
        if not slugs:
            await self._reply(update, "Which topics? <code>/unsubscribe tariffs</code>, or "
                                      "<code>/unsubscribe all</code>.")
            return
        if not await self._may_change(update, context):
            return
        chat = update.effective_chat
        if chat is None:
            return
        everything = "all" in slugs
        unknown = [] if everything else [s for s in slugs if self.ctx.config.topic(s) is None]
        if unknown:
            await self._reply(update, self._unknown_text(unknown))
            return
        removed = await chat_store.unsubscribe(self.ctx.engine, chat.id,
                                               None if everything else slugs)
        if removed:
            await self._reply(update, "Unsubscribed from "
                              + ", ".join(self._name(s) for s in removed) + ".")
        else:
            await self._reply(update, "You were not following "
                              + ("any topic" if everything else ", ".join(
                                  self._name(s) for s in slugs)) + ".")

    async def unknown(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat = update.effective_chat
        if chat is not None and chat.type == ChatType.PRIVATE:
            await self._reply(update, "I don't know that command. /help lists what I can do.")

    # ---- helpers ------------------------------------------------------------
    def _args(self, context: ContextTypes.DEFAULT_TYPE) -> list[str]:
        raw = (context.args or [])[:MAX_ARGS]
        cleaned = [a.strip().strip(",").lower()[:MAX_ARG_LEN] for a in raw]
        return list(dict.fromkeys(a for a in cleaned if a))

    def _name(self, slug: str) -> str:
        topic = self.ctx.config.topic(slug)
        return f"<b>{html.escape(topic.name if topic else slug)}</b>"

    def _unknown_text(self, unknown: list[str]) -> str:
        valid = ", ".join(f"<code>{html.escape(s)}</code>" for s in self.ctx.config.topic_slugs)
        return (f"Unknown topic{'s' if len(unknown) > 1 else ''}: "
                + ", ".join(f"<code>{html.escape(s)}</code>" for s in unknown)
                + f".\nValid topics: {valid}")

    async def _register(self, update: Update) -> int | None:
        chat = update.effective_chat
        if chat is None:
            return None
        title = chat.title or chat.full_name or chat.username
        await chat_store.ensure_chat(self.ctx.engine, chat.id, chat.type, title, self.ctx.clock())
        return chat.id

    async def _may_change(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
        """In groups only chat administrators (and configured bot admins) change settings."""
        chat, user = update.effective_chat, update.effective_user
        if chat is None or chat.type == ChatType.PRIVATE:
            return True
        if user is None:  # anonymous channel posts and the like
            return False
        if user.id in self.ctx.config.admins:
            return True
        member = await context.bot.get_chat_member(chat.id, user.id)
        if member.status in (ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER):
            return True
        await self._reply(update, "Only this group's administrators can change its topics.")
        return False

    async def _reply(self, update: Update, text: str) -> None:
        message = update.effective_message
        if message is not None:
            await message.reply_text(text, parse_mode=ParseMode.HTML,
                                     link_preview_options=LinkPreviewOptions(is_disabled=True))
