"""Feed hints and holds: the publisher's polling hint (kept across 304s, which carry
no document) and a server's Retry-After hold (which `run --once` honours too).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.store.schema import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("feeds") as batch:
        batch.add_column(sa.Column("hint_seconds", sa.Integer))
        batch.add_column(sa.Column("hold_until", UTCDateTime))


def downgrade() -> None:
    with op.batch_alter_table("feeds") as batch:
        batch.drop_column("hold_until")
        batch.drop_column("hint_seconds")
