"""Per-chat settings (mutes, pause, quiet hours, previews, digest options) and
full-text search over items (SQLite FTS5; PostgreSQL GIN on a tsvector).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.store.schema import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("chats") as batch:
        batch.add_column(sa.Column("paused_until", UTCDateTime))
        batch.add_column(sa.Column("quiet_hours", sa.String(11)))
        batch.add_column(sa.Column("link_preview", sa.Boolean, nullable=False,
                                   server_default=sa.false()))
        batch.add_column(sa.Column("digest_quiet_day", sa.Boolean, nullable=False,
                                   server_default=sa.false()))
    op.create_table(
        "chat_mutes",
        sa.Column("chat_id", sa.BigInteger, sa.ForeignKey("chats.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("term", sa.String(100), primary_key=True),
    )
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        # trigram: substring search that also works for unspaced scripts (3+ chars);
        # shorter CJK words fall back to LIKE in the repository.
        op.execute("CREATE VIRTUAL TABLE items_fts USING fts5(title, summary, "
                   "content='items', content_rowid='id', tokenize='trigram')")
        op.execute("CREATE TRIGGER items_fts_insert AFTER INSERT ON items BEGIN "
                   "INSERT INTO items_fts(rowid, title, summary) "
                   "VALUES (new.id, new.title, new.summary); END")
        op.execute("CREATE TRIGGER items_fts_delete AFTER DELETE ON items BEGIN "
                   "INSERT INTO items_fts(items_fts, rowid, title, summary) "
                   "VALUES ('delete', old.id, old.title, old.summary); END")
        op.execute("INSERT INTO items_fts(rowid, title, summary) "
                   "SELECT id, title, summary FROM items")
    else:
        op.execute("CREATE INDEX ix_items_search ON items USING GIN "
                   "(to_tsvector('simple', title || ' ' || summary))")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS items_fts_insert")
        op.execute("DROP TRIGGER IF EXISTS items_fts_delete")
        op.execute("DROP TABLE IF EXISTS items_fts")
    else:
        op.execute("DROP INDEX IF EXISTS ix_items_search")
    op.drop_table("chat_mutes")
    with op.batch_alter_table("chats") as batch:
        for column in ("digest_quiet_day", "link_preview", "quiet_hours", "paused_until"):
            batch.drop_column(column)
