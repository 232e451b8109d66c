"""Building the python-telegram-bot Application: base URL, rate limiter, handlers,
the global error handler, and the command list registered with setMyCommands."""

from __future__ import annotations

import logging

from telegram import BotCommand, Update
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.telegram_ui.base import CommandContext
from bot.telegram_ui.callbacks import CallbackHandlers
from bot.telegram_ui.reading import ReadingHandlers
from bot.telegram_ui.settings import SettingsHandlers

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.telegram.org"

COMMANDS: tuple[tuple[str, str], ...] = (
    ("start", "Welcome and the list of topics"),
    ("help", "How to use this bot"),
    ("topics", "Topics you can follow, with buttons"),
    ("subscribe", "Follow topics: /subscribe tariffs rare-earths"),
    ("unsubscribe", "Stop following: /unsubscribe tariffs, or all"),
    ("mode", "instant, digest or both"),
    ("digest", "Daily digest time: /digest 08:00, or off"),
    ("timezone", "Your time zone: /timezone Europe/Madrid"),
    ("quiet", "Quiet hours: /quiet 23:00-07:00, or off"),
    ("pause", "Pause instant alerts: /pause 2h"),
    ("resume", "End a pause"),
    ("mute", "Skip alerts that mention a word"),
    ("unmute", "Stop skipping a word"),
    ("preview", "Link previews: on or off"),
    ("latest", "The last 10 stories: /latest [topic]"),
    ("search", "Search stored news: /search words"),
    ("status", "Your settings"),
)


class Handlers(CallbackHandlers, SettingsHandlers, ReadingHandlers):
    """Every handler, sharing one context and one admin cache."""


def bot_commands() -> list[BotCommand]:
    return [BotCommand(name, description) for name, description in COMMANDS]


def build_application(token: str, api_url: str, ctx: CommandContext,
                      rate_limiter: AIORateLimiter | None = None
                      ) -> Application:  # type: ignore[type-arg]
    root = api_url.rstrip("/")
    app = (
        ApplicationBuilder()
        .token(token)
        .base_url(f"{root}/bot")
        .base_file_url(f"{root}/file/bot")
        # Retries are the outbox's job (it knows the chat and the message's age), so
        # the limiter only paces; max_retries=0 passes a 429 straight to us.
        .rate_limiter(rate_limiter or AIORateLimiter(max_retries=0))
        .build()
    )
    handlers = Handlers(ctx)
    routes = {
        "start": handlers.start, "help": handlers.help, "topics": handlers.topics,
        "subscribe": handlers.subscribe, "unsubscribe": handlers.unsubscribe,
        "mode": handlers.mode, "digest": handlers.digest, "timezone": handlers.timezone,
        "quiet": handlers.quiet, "pause": handlers.pause, "resume": handlers.resume,
        "mute": handlers.mute, "unmute": handlers.unmute, "preview": handlers.preview,
        "latest": handlers.latest, "search": handlers.search, "status": handlers.status,
    }
    assert set(routes) == {name for name, _ in COMMANDS}
    for name, callback in routes.items():
        app.add_handler(CommandHandler(name, callback))
    app.add_handler(CallbackQueryHandler(handlers.on_callback))
    app.add_handler(MessageHandler(filters.COMMAND, handlers.unknown))
    app.add_error_handler(on_error)
    return app


async def register_commands(app: Application) -> None:  # type: ignore[type-arg]
    try:
        await app.bot.set_my_commands(bot_commands())
    except TelegramError as exc:
        log.warning("setMyCommands failed (the bot works without the menu): %s", exc)


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log the failure and answer politely; never let one bad update stop the bot."""
    log.error("error while handling an update: %s", context.error, exc_info=context.error)
    if isinstance(update, Update) and update.effective_message is not None:
        try:
            await update.effective_message.reply_text(
                "Sorry, something went wrong on my side. Please try again in a minute.",
                parse_mode=ParseMode.HTML)
        except TelegramError:
            log.warning("could not tell the chat about the error")
