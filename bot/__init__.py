"""newsbot: news-monitoring alert bot (RSS/Atom -> topic queries -> Telegram)."""

import os

__version__ = "0.1.0"

# python-telegram-bot 22 warns on every RetryAfter unless durations are opted in to
# timedelta, which is what newsbot uses everywhere; opt in before telegram is imported.
os.environ.setdefault("PTB_TIMEDELTA", "1")
