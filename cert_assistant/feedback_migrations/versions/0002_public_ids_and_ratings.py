"""Random public ids clients rate by, and every rating kept as an event (`user_version` 2).

It can run again over its own result: a process of the first version, opening the file
during a rolling deploy, sets `user_version` back to 1 and writes rows without a public id
or a rating event; the store then stamps 0001 and this revision fills in what they lack.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

interactions = sa.table(
    "interactions",
    sa.column("id", sa.Integer),
    sa.column("public_id", sa.Text),
    sa.column("time", sa.Text),
    sa.column("rating", sa.Text),
    sa.column("comment", sa.Text),
    sa.column("rated_at", sa.Text),
)
ratings = sa.table(
    "ratings",
    sa.column("interaction", sa.Integer),
    sa.column("time", sa.Text),
    sa.column("rating", sa.Text),
    sa.column("comment", sa.Text),
)


def upgrade() -> None:
    bind = op.get_bind()
    inspector = sa.inspect(bind)
    if "public_id" not in {c["name"] for c in inspector.get_columns("interactions")}:
        op.add_column("interactions", sa.Column("public_id", sa.Text))
    missing = bind.execute(sa.select(interactions.c.id).where(interactions.c.public_id.is_(None)))
    for (row_id,) in missing.all():  # random in Python: SQL has no portable secure random
        bind.execute(
            interactions.update()
            .where(interactions.c.id == row_id)
            .values(public_id=secrets.token_hex(16))
        )
    if "interactions_public_id" not in {i["name"] for i in inspector.get_indexes("interactions")}:
        op.create_index("interactions_public_id", "interactions", ["public_id"], unique=True)
    if not inspector.has_table("ratings"):
        op.create_table(
            "ratings",
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("interaction", sa.Integer, sa.ForeignKey("interactions.id"), nullable=False),
            sa.Column("time", sa.Text, nullable=False),
            sa.Column("rating", sa.Text, nullable=False),
            sa.Column("comment", sa.Text),
            sa.CheckConstraint("rating IN ('up', 'down')"),
            sqlite_autoincrement=True,
        )
        op.create_index("ratings_interaction", "ratings", ["interaction"])
    # A rating given before becomes an event, unless it already is one.
    rated_at = sa.func.coalesce(interactions.c.rated_at, interactions.c.time)
    recorded = sa.exists().where(
        ratings.c.interaction == interactions.c.id,
        ratings.c.rating == interactions.c.rating,
        ratings.c.time == rated_at,
        ratings.c.comment.is_not_distinct_from(interactions.c.comment),
    )
    unrecorded = sa.select(
        interactions.c.id, rated_at, interactions.c.rating, interactions.c.comment
    ).where(interactions.c.rating.is_not(None), ~recorded)
    bind.execute(
        ratings.insert().from_select(["interaction", "time", "rating", "comment"], unrecorded)
    )


def downgrade() -> None:
    op.drop_table("ratings")
    op.drop_index("interactions_public_id", "interactions")
    op.drop_column("interactions", "public_id")
