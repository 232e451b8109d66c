"""Inline-button callbacks: topic toggles under /topics, and the buttons under an
alert (mute this topic, why this alert?).

Callback data is untrusted (any client can send any 64 bytes): it is parsed
strictly, every query is answered (or the user's button spins forever), and the
admin rule applies as for commands.
"""

from __future__ import annotations

import html
import logging

from telegram import Update
from telegram.error import BadRequest
from telegram.ext import ContextTypes

from bot.store import chats as chat_store
from bot.store.search import item_text
from bot.telegram_ui.commands import TOGGLE_PREFIX, SubscriptionHandlers

log = logging.getLogger(__name__)

MUTE_TOPIC_PREFIX = "m:"  # "m:<slug>": stop this topic in this chat
WHY_PREFIX = "w:"  # "w:<item id>": explain the match


class CallbackHandlers(SubscriptionHandlers):
    async def on_callback(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None:
            return
        data = query.data or ""
        if data.startswith(TOGGLE_PREFIX):
            await self._toggle(update, context, data.removeprefix(TOGGLE_PREFIX))
        elif data.startswith(MUTE_TOPIC_PREFIX):
            await self._mute_topic(update, context, data.removeprefix(MUTE_TOPIC_PREFIX))
        elif data.startswith(WHY_PREFIX):
            await self._why(update, data.removeprefix(WHY_PREFIX))
        else:
            await query.answer("This button is no longer valid.")

    async def _toggle(self, update: Update, context: ContextTypes.DEFAULT_TYPE,
                      slug: str) -> None:
        query = update.callback_query
        assert query is not None
        chat = update.effective_chat
        if self.ctx.config.topic(slug) is None or chat is None:
            await query.answer("That topic no longer exists.")
            return
        if not await self.may_change(update, context, answer=False):
            await query.answer("Only this group's administrators can change its topics.",
                               show_alert=True)
            return
        await self.register(update)
        settings = await chat_store.chat_settings(self.ctx.engine, chat.id)
        if settings and slug in settings.topics:
            await chat_store.unsubscribe(self.ctx.engine, chat.id, [slug])
            answer = f"Stopped {self.ctx.config.topic(slug).name}"  # type: ignore[union-attr]
        else:
            message = update.effective_message
            thread = message.message_thread_id if message and message.is_topic_message else None
            await chat_store.subscribe(self.ctx.engine, chat.id, [slug], thread,
                                       self.ctx.clock())
            answer = f"Following {self.ctx.config.topic(slug).name}"  # type: ignore[union-attr]
        settings = await chat_store.chat_settings(self.ctx.engine, chat.id)
        subscribed = settings.topics if settings else ()
        await query.answer(answer)
        try:
            await query.edit_message_text(
                "Topics (✅ = followed here). Tap to follow or stop:\n"
                + self.topics_text(subscribed), parse_mode="HTML",
                reply_markup=self.topics_keyboard(subscribed))
        except BadRequest as exc:  # "message is not modified" after a double tap
            if "not modified" not in exc.message:
                raise

    async def _mute_topic(self, update: Update, context: ContextTypes.DEFAULT_TYPE,
                          slug: str) -> None:
        query = update.callback_query
        assert query is not None
        chat = update.effective_chat
        topic = self.ctx.config.topic(slug)
        if topic is None or chat is None:
            await query.answer("That topic no longer exists.")
            return
        if not await self.may_change(update, context, answer=False):
            await query.answer("Only this group's administrators can change its topics.",
                               show_alert=True)
            return
        removed = await chat_store.unsubscribe(self.ctx.engine, chat.id, [slug])
        await query.answer(f"No more {topic.name} alerts here. /subscribe {slug} to undo."
                           if removed else f"You were not following {topic.name}.",
                           show_alert=True)

    async def _why(self, update: Update, raw_id: str) -> None:
        query = update.callback_query
        assert query is not None
        if not raw_id.isdigit() or len(raw_id) > 12:
            await query.answer("This button is no longer valid.")
            return
        found = await item_text(self.ctx.engine, int(raw_id))
        if found is None:
            await query.answer("That item is no longer stored.")
            return
        title, summary = found
        lines = []
        for e in self.ctx.config.matcher.explain(title, summary):
            if not e.matched:
                continue
            terms = sorted({f"{h.term} ({h.field})" for t in e.terms if not t.negated
                            for h in t.hits})
            lines.append(f"<b>{html.escape(e.name)}</b> (score {e.score:g}): "
                         + html.escape(", ".join(terms[:10]) or ", ".join(e.clauses[:5])))
        await query.answer()
        text = ("Why you got this alert:\n" + "\n".join(lines) if lines else
                "This item no longer matches any topic (the topics changed since).")
        if update.effective_message is not None:
            await update.effective_message.reply_text(text, parse_mode="HTML")
