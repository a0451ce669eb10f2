"""The feedback database: its tables, an engine for its URL, and its schema kept up to date.

SQLite (one file, zero set-up) and PostgreSQL (several hosts) hold the same tables. The
schema is Alembic's (`cert_assistant/feedback_migrations/`), upgraded by `upgrade` when a
store opens, one process at a time: SQLite's write lock (`BEGIN IMMEDIATE`) or a PostgreSQL
advisory lock serialises hosts starting together. Files the sqlite3 store wrote (no Alembic
table, `PRAGMA user_version` 1 or 2) are stamped with the revision of their layout first,
then upgraded in place.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

MIGRATIONS = Path(__file__).with_name("feedback_migrations")
# The layout version the sqlite3 store kept in `PRAGMA user_version`; still written, so a
# process of the version before, during a rolling deploy, sees a file it can use as it is.
SQLITE_LAYOUT = 2
# Revisions that match what the sqlite3 store wrote at `user_version` 1 and 2.
LEGACY_REVISIONS = {1: "0001", 2: "0002"}
_PG_LOCK = 0x63657274  # pg_advisory_xact_lock key of the migration ("cert")

METADATA = sa.MetaData()

interactions = sa.Table(
    "interactions",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True),  # internal, never shown to clients
    sa.Column("time", sa.Text, nullable=False),  # UTC, ISO 8601, seconds: sorts as text
    sa.Column("conversation_id", sa.Text, nullable=False),  # random UUID, never a person
    sa.Column("question", sa.Text, nullable=False),
    sa.Column("answer", sa.Text, nullable=False),
    sa.Column("citations", sa.Text, nullable=False),  # JSON list of Answer citations
    sa.Column("suggestions", sa.Text, nullable=False),  # JSON list of Answer suggestions
    sa.Column("query", sa.Text),  # what was searched (a follow-up's rewritten question)
    sa.Column("refused", sa.Integer, nullable=False),  # 0 or 1, as the sqlite3 store kept it
    sa.Column("rating", sa.Text),  # the latest rating, its comment and its time
    sa.Column("comment", sa.Text),
    sa.Column("rated_at", sa.Text),
    sa.Column("public_id", sa.Text),  # 32 random hex digits: the id clients rate by
    sa.CheckConstraint("rating IN ('up', 'down')"),
    sa.Index("interactions_time", "time"),
    sa.Index("interactions_public_id", "public_id", unique=True),
    sa.Index("interactions_conversation", "conversation_id"),
    sqlite_autoincrement=True,
)

ratings = sa.Table(
    "ratings",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("interaction", sa.Integer, sa.ForeignKey("interactions.id"), nullable=False),
    sa.Column("time", sa.Text, nullable=False),
    sa.Column("rating", sa.Text, nullable=False),
    sa.Column("comment", sa.Text),
    sa.CheckConstraint("rating IN ('up', 'down')"),
    sa.Index("ratings_interaction", "interaction"),
    sqlite_autoincrement=True,
)


def database_url(target: str | Path) -> sa.URL:
    """The SQLAlchemy URL of a database URL, or of a SQLite file's path (taken as it is).

    >>> database_url(Path("data/feedback #1.sqlite3")).database
    'data/feedback #1.sqlite3'
    >>> database_url("postgresql+psycopg://cert:pw@db.internal/cert").render_as_string()
    'postgresql+psycopg://cert:***@db.internal/cert'
    """
    if isinstance(target, str) and "://" in target:
        return sa.make_url(target)
    return sa.URL.create("sqlite", database=str(target))


def make_engine(url: sa.URL) -> Engine:
    """An engine for `url`, safe to share across threads; a SQLite file's folder is made.

    SQLite waits up to 30 s for a lock (readers never wait under WAL); PostgreSQL connections
    are checked before use, so a restarted server costs a reconnect, not an error.
    """
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        return sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
    return sa.create_engine(url, pool_pre_ping=True)


def upgrade(engine: Engine) -> None:
    """Bring the database to the latest revision in one transaction, one process at a time."""
    from alembic import command
    from alembic.config import Config

    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)  # 7 lines a start
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with _locked(engine) as conn:
        config.attributes["connection"] = conn
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            legacy = conn.exec_driver_sql("PRAGMA user_version").scalar() or 0
            tables = sa.inspect(conn)
            handed_back = legacy < SQLITE_LAYOUT or not tables.has_table("alembic_version")
            if tables.has_table("interactions") and handed_back:
                # Written by the sqlite3 store, or handed back to it by one during a rolling
                # deploy: stamp its layout's revision, and the upgrade redoes what it missed.
                command.stamp(config, LEGACY_REVISIONS.get(legacy, "0001"), purge=True)
        command.upgrade(config, "head")
        if sqlite:
            conn.exec_driver_sql(f"PRAGMA user_version={SQLITE_LAYOUT}")


def _wal(dbapi_connection: object, seconds: float = 30.0) -> None:
    """Switch a new SQLite file to WAL. SQLite does not wait on its busy timeout for a
    journal-mode change, so stores opening one new file together (hosts starting at once)
    saw "database is locked" here: wait and retry instead, as long as the timeout."""
    import sqlite3
    import time

    deadline = time.monotonic() + seconds
    while True:
        try:
            dbapi_connection.execute("PRAGMA journal_mode=WAL")  # type: ignore[attr-defined]
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@contextmanager
def _locked(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction that holds the migration lock until it commits."""
    if engine.dialect.name != "sqlite":
        with engine.begin() as conn:
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK})
            yield conn
        return
    # pysqlite begins transactions lazily and never for DDL; take the write lock up front.
    migrating = sa.create_engine(
        engine.url, connect_args={"timeout": 30}, poolclass=sa.pool.NullPool
    )

    @sa.event.listens_for(migrating, "connect")
    def _connect(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None  # the driver leaves transactions to us
        _wal(dbapi_connection)  # before any transaction

    @sa.event.listens_for(migrating, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    try:
        with migrating.begin() as conn:
            yield conn
    finally:
        migrating.dispose()
