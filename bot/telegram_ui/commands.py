"""Subscriptions: /start, /help, /topics (with toggle buttons), /subscribe,
/unsubscribe, and the fallback for unknown commands."""

from __future__ import annotations

import html

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatType
from telegram.ext import ContextTypes

from bot.store import chats as chat_store
from bot.telegram_ui.base import HandlerBase

TOGGLE_PREFIX = "t:"  # callback data of a /topics button: "t:<slug>"


class SubscriptionHandlers(HandlerBase):
    def topics_text(self, subscribed: tuple[str, ...] = ()) -> str:
        lines = []
        for topic in self.ctx.config.topics:
            mark = "✅" if topic.slug in subscribed else "▫️"
            desc = f" — {html.escape(topic.description)}" if topic.description else ""
            lines.append(f"{mark} <code>{html.escape(topic.slug)}</code>: "
                         f"{html.escape(topic.name)}{desc}")
        return "\n".join(lines)

    def topics_keyboard(self, subscribed: tuple[str, ...]) -> InlineKeyboardMarkup:
        rows = [[InlineKeyboardButton(
            f"{'✅' if t.slug in subscribed else '➕'} {t.name}"[:60],
            callback_data=f"{TOGGLE_PREFIX}{t.slug}")] for t in self.ctx.config.topics]
        return InlineKeyboardMarkup(rows)

    def help_text(self) -> str:
        return (
            "<b>newsbot</b> watches news feeds and alerts you about the topics you follow.\n\n"
            "<b>Topics</b>\n"
            "/topics: the topics, with buttons to follow or stop\n"
            "/subscribe <i>topic</i> [<i>topic</i>...]: follow topics\n"
            "/unsubscribe <i>topic</i> | all: stop following\n\n"
            "<b>When</b>\n"
            "/mode instant|digest|both: alerts as they happen, a daily digest, or both\n"
            "/digest HH:MM|off: when your daily digest comes\n"
            "/timezone <i>Area/City</i>: your time zone, e.g. Europe/Madrid\n"
            "/quiet 23:00-07:00|off: hold alerts at night, send them in one batch after\n"
            "/pause 2h, /resume: no instant alerts for a while\n\n"
            "<b>What</b>\n"
            "/mute <i>word</i>, /unmute <i>word</i>: skip alerts that mention a word\n"
            "/preview on|off: link previews under alerts\n"
            "/latest [<i>topic</i>]: the last 10 stories\n"
            "/search <i>words</i>: search stored news\n"
            "/status: your settings\n\n"
            f"Topics:\n{self.topics_text()}"
        )

    async def start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if await self.register(update) is None:
            return
        first = html.escape(self.ctx.config.topics[0].slug)
        await self.reply(update, "👋 Welcome! I send short alerts when the news mentions the "
                                 "topics you follow.\n\n" + self.help_text()
                         + f"\n\nStart with e.g. <code>/subscribe {first}</code>")

    async def help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self.reply(update, self.help_text())

    async def topics(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat = update.effective_chat
        if chat is None:
            return
        settings = await chat_store.chat_settings(self.ctx.engine, chat.id)
        subscribed = settings.topics if settings else ()
        await self.reply(update, "Topics (✅ = followed here). Tap to follow or stop:\n"
                         + self.topics_text(subscribed), self.topics_keyboard(subscribed))

    async def subscribe(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        slugs = self.args(context)
        if not slugs:
            await self.reply(update, "Which topics? For example: <code>/subscribe "
                             f"{html.escape(self.ctx.config.topic_slugs[0])}</code>\n\n"
                             + self.topics_text())
            return
        if not await self.may_change(update, context):
            return
        unknown = [s for s in slugs if self.ctx.config.topic(s) is None]
        if unknown:
            await self.reply(update, self.unknown_text(unknown))
            return
        chat = await self.register(update)
        if chat is None:
            return
        message = update.effective_message
        thread_id = message.message_thread_id if message and message.is_topic_message else None
        added = await chat_store.subscribe(self.ctx.engine, chat, slugs, thread_id,
                                           self.ctx.clock())
        already = [s for s in slugs if s not in added]
        parts = []
        if added:
            parts.append("✅ Subscribed to " + ", ".join(self.topic_name(s) for s in added) + ".")
        if already:
            parts.append("Already following " + ", ".join(self.topic_name(s) for s in already)
                         + ".")
        await self.reply(update, " ".join(parts))

    async def unsubscribe(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        slugs = self.args(context)
        if not slugs:
            await self.reply(update, "Which topics? <code>/unsubscribe tariffs</code>, or "
                                     "<code>/unsubscribe all</code>.")
            return
        if not await self.may_change(update, context):
            return
        chat = update.effective_chat
        if chat is None:
            return
        everything = "all" in slugs
        unknown = [] if everything else [s for s in slugs if self.ctx.config.topic(s) is None]
        if unknown:
            await self.reply(update, self.unknown_text(unknown))
            return
        removed = await chat_store.unsubscribe(self.ctx.engine, chat.id,
                                               None if everything else slugs)
        if removed:
            await self.reply(update, "Unsubscribed from "
                             + ", ".join(self.topic_name(s) for s in removed) + ".")
        else:
            await self.reply(update, "You were not following "
                             + ("any topic" if everything else ", ".join(
                                 self.topic_name(s) for s in slugs)) + ".")

    async def unknown(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat = update.effective_chat
        if chat is not None and chat.type == ChatType.PRIVATE:
            await self.reply(update, "I don't know that command. /help lists what I can do.")

    def unknown_text(self, unknown: list[str]) -> str:
        valid = ", ".join(f"<code>{html.escape(s)}</code>" for s in self.ctx.config.topic_slugs)
        return (f"Unknown topic{'s' if len(unknown) > 1 else ''}: "
                + ", ".join(f"<code>{html.escape(s)}</code>" for s in unknown)
                + f".\nValid topics: {valid}")
