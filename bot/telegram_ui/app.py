"""Building the python-telegram-bot Application: base URL, rate limiter, handlers,
the global error handler, and the command list registered with setMyCommands."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.telegram_ui.commands import CommandContext, CommandHandlers, bot_commands

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.telegram.org"


def build_application(token: str, api_url: str, ctx: CommandContext) -> Application:  # type: ignore[type-arg]
    root = api_url.rstrip("/")
    app = (
        ApplicationBuilder()
        .token(token)
        .base_url(f"{root}/bot")
        .base_file_url(f"{root}/file/bot")
        # Retries are the outbox's job (it knows the chat and the message's age), so
        # the limiter only paces; max_retries=0 passes a 429 straight to us.
        .rate_limiter(AIORateLimiter(max_retries=0))
        .build()
    )
    handlers = CommandHandlers(ctx)
    app.add_handler(CommandHandler("start", handlers.start))
    app.add_handler(CommandHandler("help", handlers.help))
    app.add_handler(CommandHandler("topics", handlers.topics))
    app.add_handler(CommandHandler("subscribe", handlers.subscribe))
    app.add_handler(CommandHandler("unsubscribe", handlers.unsubscribe))
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
