"""What the assistant searched for: a follow-up is searched as a rewritten, standalone query,
and staff reading a thumbs-down need the query of that moment, not one rebuilt later.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    columns = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("interactions")}
    if "query" not in columns:
        op.add_column("interactions", sa.Column("query", sa.Text))


def downgrade() -> None:
    op.drop_column("interactions", "query")
