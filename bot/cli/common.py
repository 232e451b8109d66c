"""What the command modules share: exit codes, settings from the environment,
and argument types."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Mapping
from datetime import date, timedelta

from bot.durations import parse_duration
from bot.service import Settings
from bot.store.engine import DEFAULT_DATABASE_URL
from bot.telegram_ui.app import DEFAULT_API_URL

log = logging.getLogger("bot")

EXIT_OK, EXIT_FAILURE, EXIT_CONFIG = 0, 1, 2


def settings(env: Mapping[str, str]) -> Settings:
    return Settings(database_url=env.get("DATABASE_URL") or DEFAULT_DATABASE_URL,
                    telegram_token=env.get("TELEGRAM_BOT_TOKEN") or None,
                    telegram_api_url=env.get("TELEGRAM_API_URL") or DEFAULT_API_URL,
                    webhook_secret=env.get("TELEGRAM_WEBHOOK_SECRET") or None)


def duration_arg(text: str) -> timedelta:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date: {text!r} (use YYYY-MM-DD)") from None
