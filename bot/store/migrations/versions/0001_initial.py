"""Initial schema: feeds, items, topic matches, chats, subscriptions, outbox, leases.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.store.schema import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feeds",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("url", sa.String(2048), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("etag", sa.String(512)),
        sa.Column("last_modified", sa.String(100)),
        sa.Column("last_status", sa.String(100)),
        sa.Column("last_error", sa.Text),
        sa.Column("last_fetched_at", UTCDateTime),
        sa.Column("last_success_at", UTCDateTime),
        sa.Column("last_new_item_at", UTCDateTime),
        sa.Column("consecutive_failures", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_poll_at", UTCDateTime),
        sa.Column("seeded", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("item_count", sa.Integer, nullable=False, server_default="0"),
    )
    op.create_table(
        "items",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(600), nullable=False, unique=True),
        sa.Column("feed_id", sa.Integer, sa.ForeignKey("feeds.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("guid", sa.String(1000)),
        sa.Column("url", sa.String(2048)),
        sa.Column("canonical_url", sa.String(2048)),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("published_at", UTCDateTime),
        sa.Column("first_seen_at", UTCDateTime, nullable=False),
        sa.Column("story_key", sa.String(600), nullable=False),
    )
    op.create_index("ix_items_canonical_url", "items", ["canonical_url"])
    op.create_index("ix_items_first_seen_at", "items", ["first_seen_at"])
    op.create_index("ix_items_story_key", "items", ["story_key"])
    op.create_table(
        "topic_matches",
        sa.Column("item_id", sa.Integer, sa.ForeignKey("items.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("topic", sa.String(32), primary_key=True),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("hits", sa.Text, nullable=False, server_default="[]"),
    )
    op.create_index("ix_topic_matches_topic", "topic_matches", ["topic", "item_id"])
    op.create_table(
        "chats",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("type", sa.String(20), nullable=False),
        sa.Column("title", sa.String(300)),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("mode", sa.String(10), nullable=False, server_default="instant"),
        sa.Column("digest_time", sa.String(5)),
        sa.Column("timezone", sa.String(64)),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "subscriptions",
        sa.Column("chat_id", sa.BigInteger, sa.ForeignKey("chats.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("topic", sa.String(32), primary_key=True),
        sa.Column("thread_id", sa.BigInteger),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("chat_id", sa.BigInteger, nullable=False),
        sa.Column("dedupe_key", sa.String(700), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("item_id", sa.Integer, sa.ForeignKey("items.id", ondelete="CASCADE")),
        sa.Column("topics", sa.String(500), nullable=False, server_default=""),
        sa.Column("thread_id", sa.BigInteger),
        sa.Column("payload", sa.Text),
        sa.Column("status", sa.String(10), nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", UTCDateTime, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("sent_at", UTCDateTime),
        sa.Column("message_id", sa.BigInteger),
        sa.Column("last_error", sa.Text),
        sa.UniqueConstraint("chat_id", "dedupe_key", name="uq_deliveries_chat_dedupe"),
    )
    op.create_index("ix_deliveries_due", "deliveries", ["status", "next_attempt_at"])
    op.create_table(
        "leases",
        sa.Column("name", sa.String(50), primary_key=True),
        sa.Column("holder", sa.String(200), nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
    )


def downgrade() -> None:
    for table in ("leases", "deliveries", "subscriptions", "chats", "topic_matches", "items",
                  "feeds"):
        op.drop_table(table)
