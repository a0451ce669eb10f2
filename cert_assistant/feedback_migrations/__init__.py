"""Alembic migrations of the feedback database, run by `feedback_db.upgrade` when a store opens."""
