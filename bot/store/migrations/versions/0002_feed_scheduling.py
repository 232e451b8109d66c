"""Feed scheduling and health: effective fetch URL (after permanent redirects),
disabled reason (410 Gone), adaptive interval state, failure flagging.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.store.schema import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("feeds") as batch:
        batch.add_column(sa.Column("fetch_url", sa.String(2048)))
        batch.add_column(sa.Column("disabled_reason", sa.Text))
        batch.add_column(sa.Column("interval_seconds", sa.Integer))
        batch.add_column(sa.Column("avg_new_gap_seconds", sa.Float))
        batch.add_column(sa.Column("failing_since", UTCDateTime))
        batch.add_column(sa.Column("flagged_at", UTCDateTime))
        batch.add_column(sa.Column("polls", sa.Integer, nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("feeds") as batch:
        for column in ("polls", "flagged_at", "failing_since", "avg_new_gap_seconds",
                       "interval_seconds", "disabled_reason", "fetch_url"):
            batch.drop_column(column)
