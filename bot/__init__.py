"""newsbot: news-monitoring alert bot (RSS/Atom -> topic queries -> Telegram)."""

__version__ = "0.1.0"
