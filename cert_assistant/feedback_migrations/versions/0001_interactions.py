"""Answers as the first sqlite3 store kept them (its `PRAGMA user_version` 1).

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "interactions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("time", sa.Text, nullable=False),
        sa.Column("conversation_id", sa.Text, nullable=False),
        sa.Column("question", sa.Text, nullable=False),
        sa.Column("answer", sa.Text, nullable=False),
        sa.Column("citations", sa.Text, nullable=False),
        sa.Column("suggestions", sa.Text, nullable=False),
        sa.Column("refused", sa.Integer, nullable=False),
        sa.Column("rating", sa.Text),
        sa.Column("comment", sa.Text),
        sa.Column("rated_at", sa.Text),
        sa.CheckConstraint("rating IN ('up', 'down')"),
        sqlite_autoincrement=True,
    )
    op.create_index("interactions_time", "interactions", ["time"])


def downgrade() -> None:
    op.drop_table("interactions")
