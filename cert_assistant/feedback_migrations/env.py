"""Alembic's entry point: migrate on the connection `feedback_db.upgrade` hands over.

The caller has already begun the transaction and taken the migration lock, so the whole
upgrade is one transaction (SQLite and PostgreSQL both roll DDL back) that one process at
a time runs.
"""

from __future__ import annotations

from alembic import context

from cert_assistant.feedback_db import METADATA

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=METADATA, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
