"""Retention: `seen_keys` keeps the dedupe keys of items that retention deleted.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.store.schema import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "seen_keys",
        sa.Column("key", sa.String(600), primary_key=True),
        sa.Column("canonical_url", sa.String(2048)),
        sa.Column("story_key", sa.String(600), nullable=False),
        sa.Column("first_seen_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_seen_keys_canonical_url", "seen_keys", ["canonical_url"])
    op.create_index("ix_seen_keys_first_seen_at", "seen_keys", ["first_seen_at"])


def downgrade() -> None:
    op.drop_table("seen_keys")
