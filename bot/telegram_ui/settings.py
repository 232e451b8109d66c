"""Per-chat settings: /mode, /digest, /timezone, /quiet, /pause, /resume, /mute,
/unmute, /preview. Every value is validated (bot.chat_settings) and echoed back
escaped; a wrong value gets an example of a right one."""

from __future__ import annotations

import html

from telegram import Update
from telegram.ext import ContextTypes

from bot.chat_settings import (
    MAX_MUTES,
    MODES,
    SettingError,
    parse_clock,
    parse_mute,
    parse_pause,
    parse_quiet_hours,
    parse_timezone,
)
from bot.durations import format_duration
from bot.store import chats as chat_store
from bot.telegram_ui.base import HandlerBase


class SettingsHandlers(HandlerBase):
    async def _prepare(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> int | None:
        """Register the chat and check the admin rule; the chat id, or None to stop."""
        if not await self.may_change(update, context):
            return None
        return await self.register(update)

    async def mode(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        args = self.args(context)
        if len(args) != 1 or args[0] not in MODES:
            await self.reply(update, "Use <code>/mode instant</code> (alerts as they happen), "
                                     "<code>/mode digest</code> (one message a day) or "
                                     "<code>/mode both</code>.")
            return
        chat = await self._prepare(update, context)
        if chat is None:
            return
        await chat_store.update_settings(self.ctx.engine, chat, self.ctx.clock(), mode=args[0])
        await self.reply(update, f"Mode set to <b>{args[0]}</b>.")

    async def digest(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        args = self.args(context)
        if len(args) != 1:
            await self.reply(update, "Use <code>/digest 08:00</code> or <code>/digest off</code>.")
            return
        try:
            value = None if args[0] == "off" else f"{parse_clock(args[0]):%H:%M}"
        except SettingError as exc:
            await self.reply(update, html.escape(str(exc)))
            return
        chat = await self._prepare(update, context)
        if chat is None:
            return
        now = self.ctx.clock()
        if value is None:
            settings = await chat_store.chat_settings(self.ctx.engine, chat)
            mode = "instant" if settings and settings.mode in ("digest", "both") else None
            await chat_store.update_settings(self.ctx.engine, chat, now, digest_time=None,
                                             **({"mode": mode} if mode else {}))
            await self.reply(update, "Daily digest off; alerts come as they happen.")
            return
        settings = await chat_store.chat_settings(self.ctx.engine, chat)
        mode = settings.mode if settings and settings.mode != "instant" else "both"
        await chat_store.update_settings(self.ctx.engine, chat, now, digest_time=value, mode=mode)
        zone = (settings.timezone if settings else None) or self.ctx.config.digest.timezone
        await self.reply(update, f"Daily digest at <b>{value}</b> ({html.escape(zone)}); mode "
                                 f"<b>{mode}</b>. Change the zone with /timezone.")

    async def timezone(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        args = self.args(context, lower=False)
        if not args:
            await self.reply(update, "Use e.g. <code>/timezone Europe/Madrid</code>.")
            return
        try:
            zone = parse_timezone(" ".join(args))
        except SettingError as exc:
            await self.reply(update, html.escape(str(exc)))
            return
        chat = await self._prepare(update, context)
        if chat is None:
            return
        await chat_store.update_settings(self.ctx.engine, chat, self.ctx.clock(), timezone=zone)
        await self.reply(update, f"Time zone set to <b>{html.escape(zone)}</b>.")

    async def quiet(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        args = self.args(context)
        if len(args) != 1:
            await self.reply(update, "Use <code>/quiet 23:00-07:00</code> or "
                                     "<code>/quiet off</code>.")
            return
        try:
            value = None if args[0] == "off" else str(parse_quiet_hours(args[0]))
        except SettingError as exc:
            await self.reply(update, html.escape(str(exc)))
            return
        chat = await self._prepare(update, context)
        if chat is None:
            return
        await chat_store.update_settings(self.ctx.engine, chat, self.ctx.clock(),
                                         quiet_hours=value)
        await self.reply(update, "Quiet hours off." if value is None else
                         f"Quiet hours <b>{value}</b>: alerts are held and sent together when "
                         "they end.")

    async def pause(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        args = self.args(context)
        try:
            delta = parse_pause(args[0]) if len(args) == 1 else None
        except SettingError as exc:
            await self.reply(update, html.escape(str(exc)))
            return
        if delta is None:
            await self.reply(update, "Use e.g. <code>/pause 2h</code> (up to 30d); "
                                     "<code>/resume</code> ends it.")
            return
        chat = await self._prepare(update, context)
        if chat is None:
            return
        until = self.ctx.clock() + delta
        await chat_store.update_settings(self.ctx.engine, chat, self.ctx.clock(),
                                         paused_until=until)
        await self.reply(update, f"Paused for {format_duration(delta)}: instant alerts until "
                                 f"then are skipped (digests still include them). /resume "
                                 f"to end it sooner.")

    async def resume(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat = await self._prepare(update, context)
        if chat is None:
            return
        await chat_store.update_settings(self.ctx.engine, chat, self.ctx.clock(),
                                         paused_until=None)
        await self.reply(update, "Resumed: alerts come again.")

    async def mute(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        raw = " ".join(self.args(context, lower=False))
        if not raw:
            current = update.effective_chat
            settings = (await chat_store.chat_settings(self.ctx.engine, current.id)
                        if current else None)
            terms = ", ".join(f"<code>{html.escape(t)}</code>" for t in
                              (settings.mutes if settings else ())) or "none"
            await self.reply(update, f"Muted words: {terms}.\nUse <code>/mute word</code> to "
                                     "skip alerts that mention it.")
            return
        try:
            term = parse_mute(raw)
        except SettingError as exc:
            await self.reply(update, html.escape(str(exc)))
            return
        chat = await self._prepare(update, context)
        if chat is None:
            return
        if not await chat_store.add_mute(self.ctx.engine, chat, term, MAX_MUTES):
            await self.reply(update, f"You already mute {MAX_MUTES} words; /unmute one first.")
            return
        await self.reply(update, f"Muted <code>{html.escape(term)}</code>: alerts that mention "
                                 "it are skipped.")

    async def unmute(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        raw = " ".join(self.args(context, lower=False))
        if not raw:
            await self.reply(update, "Use <code>/unmute word</code>; /mute lists your words.")
            return
        try:
            term = parse_mute(raw)
        except SettingError as exc:
            await self.reply(update, html.escape(str(exc)))
            return
        chat = await self._prepare(update, context)
        if chat is None:
            return
        removed = await chat_store.remove_mute(self.ctx.engine, chat, term)
        await self.reply(update, f"Unmuted <code>{html.escape(term)}</code>." if removed else
                         f"<code>{html.escape(term)}</code> was not muted.")

    async def preview(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        args = self.args(context)
        if len(args) != 1 or args[0] not in ("on", "off"):
            await self.reply(update, "Use <code>/preview on</code> or <code>/preview off</code>.")
            return
        chat = await self._prepare(update, context)
        if chat is None:
            return
        await chat_store.update_settings(self.ctx.engine, chat, self.ctx.clock(),
                                         link_preview=args[0] == "on")
        await self.reply(update, f"Link previews {args[0]}.")

