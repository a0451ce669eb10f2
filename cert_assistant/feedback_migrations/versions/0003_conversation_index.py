"""An index on the conversation id: a conversation's turns are read by it on every host.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    indexes = {i["name"] for i in sa.inspect(op.get_bind()).get_indexes("interactions")}
    if "interactions_conversation" not in indexes:  # 0002 may run again (see its docstring)
        op.create_index("interactions_conversation", "interactions", ["conversation_id"])


def downgrade() -> None:
    op.drop_index("interactions_conversation", "interactions")
