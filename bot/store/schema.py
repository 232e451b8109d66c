"""Table definitions (SQLAlchemy Core). The Alembic migrations are the source of
truth for the database; these mirror them for queries, and a test checks the two
agree.

Timestamps are stored as UTC and always come back as aware UTC datetimes, on
SQLite (which has no time zones) as on PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC in, aware UTC out; refuses naive datetimes so no local time sneaks in."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; pass aware UTC")
        value = value.astimezone(UTC)
        # SQLite keeps the text as given; store it naive-UTC so comparisons sort right.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData()

feeds = Table(
    "feeds", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("url", String(2048), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("etag", String(512)),
    Column("last_modified", String(100)),
    Column("last_status", String(100)),
    Column("last_error", Text),
    Column("last_fetched_at", UTCDateTime),
    Column("last_success_at", UTCDateTime),
    Column("last_new_item_at", UTCDateTime),
    Column("consecutive_failures", Integer, nullable=False, default=0),
    Column("next_poll_at", UTCDateTime),
    Column("seeded", Boolean, nullable=False, default=False),
    Column("item_count", Integer, nullable=False, default=0),
    # 0002: scheduling and health
    Column("fetch_url", String(2048)),  # after a permanent redirect; NULL = url
    Column("disabled_reason", Text),  # e.g. 410 Gone: not polled until re-enabled
    Column("interval_seconds", Integer),  # the adaptive interval now in force
    Column("avg_new_gap_seconds", Float),  # EWMA of the time between polls with new items
    Column("failing_since", UTCDateTime),
    Column("flagged_at", UTCDateTime),  # admins were told it is failing
    Column("polls", Integer, nullable=False, default=0),
    # 0005: what the publisher asked for in its last document and headers (<ttl>,
    # sy:updatePeriod, Cache-Control max-age), kept for the 304s that follow; and the
    # time a server's Retry-After asked us to wait until
    Column("hint_seconds", Integer),
    Column("hold_until", UTCDateTime),
)

items = Table(
    "items", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(600), nullable=False, unique=True),
    Column("feed_id", Integer, ForeignKey("feeds.id", ondelete="CASCADE"), nullable=False),
    Column("guid", String(1000)),
    Column("url", String(2048)),
    # The canonical URL; for an item without a link, "text:" + a hash of its text
    # (bot.stories.keys.text_identity): either way, one article under several keys.
    Column("canonical_url", String(2048)),
    Column("title", Text, nullable=False),
    Column("summary", Text, nullable=False),
    Column("source", String(200), nullable=False),
    Column("published_at", UTCDateTime),
    Column("first_seen_at", UTCDateTime, nullable=False),
    Column("story_key", String(600), nullable=False),
    Index("ix_items_canonical_url", "canonical_url"),
    Index("ix_items_first_seen_at", "first_seen_at"),
    Index("ix_items_story_key", "story_key"),
)

topic_matches = Table(
    "topic_matches", metadata,
    Column("item_id", Integer, ForeignKey("items.id", ondelete="CASCADE"), primary_key=True),
    Column("topic", String(32), primary_key=True),
    Column("score", Float, nullable=False),
    Column("hits", Text, nullable=False, default="[]"),  # JSON list of matched terms
    Index("ix_topic_matches_topic", "topic", "item_id"),
)

chats = Table(
    "chats", metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("type", String(20), nullable=False),
    Column("title", String(300)),
    Column("active", Boolean, nullable=False, default=True),
    Column("mode", String(10), nullable=False, default="instant"),
    Column("digest_time", String(5)),
    Column("timezone", String(64)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # 0003: settings
    Column("paused_until", UTCDateTime),
    Column("quiet_hours", String(11)),  # "23:00-07:00" in the chat's time zone
    Column("link_preview", Boolean, nullable=False, default=False),
    Column("digest_quiet_day", Boolean, nullable=False, default=False),
)

chat_mutes = Table(
    "chat_mutes", metadata,
    Column("chat_id", BigInteger, ForeignKey("chats.id", ondelete="CASCADE"), primary_key=True),
    Column("term", String(100), primary_key=True),
)

subscriptions = Table(
    "subscriptions", metadata,
    Column("chat_id", BigInteger, ForeignKey("chats.id", ondelete="CASCADE"), primary_key=True),
    Column("topic", String(32), primary_key=True),
    Column("thread_id", BigInteger),
    Column("created_at", UTCDateTime, nullable=False),
)

# The outbox: every message goes through here before any send, so an outage, a
# 429 or a crash delays a message and never loses it.
deliveries = Table(
    "deliveries", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("chat_id", BigInteger, nullable=False),
    Column("dedupe_key", String(700), nullable=False),  # "story:<story_key>", later "digest:<date>"
    Column("kind", String(20), nullable=False),
    Column("item_id", Integer, ForeignKey("items.id", ondelete="CASCADE")),
    Column("topics", String(500), nullable=False, default=""),  # comma-separated slugs
    Column("thread_id", BigInteger),
    Column("payload", Text),  # pre-rendered text for non-item messages
    Column("status", String(10), nullable=False, default="pending"),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime),
    Column("message_id", BigInteger),
    Column("last_error", Text),
    UniqueConstraint("chat_id", "dedupe_key", name="uq_deliveries_chat_dedupe"),
    Index("ix_deliveries_due", "status", "next_attempt_at"),
)

# 0004: what dedupe still needs after retention deleted an item (bot.store.retention):
# its key and canonical URL, so an old article that reappears in a feed is not new
# again, and its story key. Kept longer than items (keep_keys), then pruned too.
seen_keys = Table(
    "seen_keys", metadata,
    Column("key", String(600), primary_key=True),
    Column("canonical_url", String(2048)),
    Column("story_key", String(600), nullable=False),
    Column("first_seen_at", UTCDateTime, nullable=False),
    Index("ix_seen_keys_canonical_url", "canonical_url"),
    Index("ix_seen_keys_first_seen_at", "first_seen_at"),
)

# One running instance per database: a lease row renewed by the holder.
leases = Table(
    "leases", metadata,
    Column("name", String(50), primary_key=True),
    Column("holder", String(200), nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
)
