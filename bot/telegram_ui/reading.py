"""Reading: /latest, /search, /status. Lists are bounded so a reply is always
one Telegram message."""

from __future__ import annotations

import html
from collections.abc import Sequence
from zoneinfo import ZoneInfo

from telegram import Update
from telegram.ext import ContextTypes

from bot.delivery.render import escape, format_time, line_field, link_url
from bot.store import chats as chat_store
from bot.store.search import StoredItem, latest, search, search_words
from bot.telegram_ui.base import HandlerBase

LIST_TITLE_CHARS = 160
LIST_SOURCE_CHARS = 60


class ReadingHandlers(HandlerBase):
    def _zone(self, timezone: str | None) -> ZoneInfo:
        return ZoneInfo(timezone or self.ctx.config.digest.timezone)

    def _lines(self, rows: Sequence[StoredItem], zone: ZoneInfo) -> str:
        lines = []
        for n, row in enumerate(rows, start=1):
            title = escape(line_field(row.title, LIST_TITLE_CHARS))
            if url := link_url(row.url):
                title = f'<a href="{escape(url)}">{title}</a>'
            when = format_time(row.published_at or row.first_seen_at, zone)
            source = escape(line_field(row.source, LIST_SOURCE_CHARS))
            lines.append(f"{n}. {title} <i>({source}, {when})</i>")
        return "\n".join(lines)

    async def latest(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat = update.effective_chat
        if chat is None:
            return
        args = self.args(context)
        settings = await chat_store.chat_settings(self.ctx.engine, chat.id)
        if args:
            slug = args[0]
            if self.ctx.config.topic(slug) is None:
                valid = ", ".join(self.ctx.config.topic_slugs)
                await self.reply(update, f"Unknown topic <code>{html.escape(slug)}</code>. "
                                         f"Valid: {html.escape(valid)}")
                return
            slugs = [slug]
        else:
            slugs = list(settings.topics if settings and settings.topics
                         else self.ctx.config.topic_slugs)
        rows = await latest(self.ctx.engine, slugs, limit=10)
        names = ", ".join(self.topic_name(s) for s in slugs)
        if not rows:
            await self.reply(update, f"No stories yet for {names}.")
            return
        zone = self._zone(settings.timezone if settings else None)
        await self.reply(update, f"Latest for {names}:\n" + self._lines(rows, zone))

    async def search(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = " ".join(self.args(context, lower=False))
        if not search_words(query):
            await self.reply(update, "Use e.g. <code>/search rare earth magnets</code>.")
            return
        chat = update.effective_chat
        settings = await chat_store.chat_settings(self.ctx.engine, chat.id) if chat else None
        rows = await search(self.ctx.engine, query, limit=10)
        shown = html.escape(" ".join(search_words(query)))
        if not rows:
            await self.reply(update, f"Nothing stored mentions <i>{shown}</i>.")
            return
        zone = self._zone(settings.timezone if settings else None)
        await self.reply(update, f"Newest items with <i>{shown}</i>:\n"
                         + self._lines(rows, zone))

    async def status(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat = update.effective_chat
        if chat is None:
            return
        s = await chat_store.chat_settings(self.ctx.engine, chat.id)
        cfg = self.ctx.config
        if s is None:
            text = "This chat has no settings yet: /start to begin."
        else:
            paused = (f"until {format_time(s.paused_until, self._zone(s.timezone))}"
                      if s.paused_until and s.paused_until > self.ctx.clock() else "no")
            text = "\n".join([
                "<b>This chat</b>",
                "Topics: " + (", ".join(self.topic_name(t) for t in s.topics) or "none"),
                f"Mode: {s.mode}",
                f"Digest: {s.digest_time or f'{cfg.digest.time:%H:%M} (default)'}"
                if s.mode != "instant" else "Digest: off",
                f"Time zone: {html.escape(s.timezone or cfg.digest.timezone)}",
                f"Quiet hours: {s.quiet_hours or 'off'}",
                f"Paused: {paused}",
                "Muted words: " + (", ".join(html.escape(m) for m in s.mutes) or "none"),
                f"Link previews: {'on' if s.link_preview else 'off'}",
            ])
        if self.is_bot_admin(update):
            info = self.ctx.status()
            text += "\n\n<b>Service</b>\n" + "\n".join(
                f"{html.escape(str(k))}: {html.escape(str(v))}" for k, v in info.items())
        await self.reply(update, text)
