"""Feedback store: every answer logged, learners' ratings, and the views staff act on (SQLite)."""

from __future__ import annotations

import json
import re
import secrets
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

MAX_COMMENT_CHARS = 2000
MAX_ANSWER_CHARS = 20_000  # kept of one answer's text, and of each quoted passage
RATINGS = ("up", "down")
NO_SUCH_ANSWER = "no answer with this interaction id in this conversation"

# The file's layout by `PRAGMA user_version`; `_migrate` takes any older file to the latest.
_V1 = (
    """CREATE TABLE IF NOT EXISTS interactions (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,  -- internal, never shown to clients
    time            TEXT    NOT NULL,   -- UTC, ISO 8601, seconds
    conversation_id TEXT    NOT NULL,   -- random UUID, never a person
    question        TEXT    NOT NULL,
    answer          TEXT    NOT NULL,
    citations       TEXT    NOT NULL,   -- JSON list of Answer.to_json()["citations"]
    suggestions     TEXT    NOT NULL,   -- JSON list of Answer.to_json()["suggestions"]
    refused         INTEGER NOT NULL,
    rating          TEXT    CHECK (rating IN ('up', 'down')),  -- the latest rating,
    comment         TEXT,                                      -- its comment
    rated_at        TEXT                                       -- and its time
)""",
    "CREATE INDEX IF NOT EXISTS interactions_time ON interactions (time)",
)
# v2: interactions.public_id (32 random hex digits) is the id clients get, so nobody can
# guess another learner's answer; every rating is kept as an event in `ratings`.
_V2 = (
    "UPDATE interactions SET public_id = lower(hex(randomblob(16))) WHERE public_id IS NULL",
    "CREATE UNIQUE INDEX IF NOT EXISTS interactions_public_id ON interactions (public_id)",
    """CREATE TABLE IF NOT EXISTS ratings (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    interaction INTEGER NOT NULL REFERENCES interactions (id),
    time        TEXT    NOT NULL,   -- UTC, ISO 8601, seconds
    rating      TEXT    NOT NULL CHECK (rating IN ('up', 'down')),
    comment     TEXT
)""",
    "CREATE INDEX IF NOT EXISTS ratings_interaction ON ratings (interaction)",
    # A rating given before v2 becomes an event, unless it already is one (this step runs
    # again when a v1 process has opened the file since, setting user_version back to 1).
    """INSERT INTO ratings (interaction, time, rating, comment)
    SELECT i.id, COALESCE(i.rated_at, i.time), i.rating, i.comment FROM interactions AS i
    WHERE i.rating IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM ratings AS r WHERE r.interaction = i.id AND r.rating = i.rating
        AND r.time = COALESCE(i.rated_at, i.time) AND r.comment IS i.comment
    )""",
)
_SCHEMA_VERSION = 2
_ROW = "id, time, conversation_id, question, answer, citations, refused, rating, comment"
_PUNCTUATION = re.compile(r"[^\w\s]|_")


def normalize_question(text: str) -> str:
    """A question reduced for grouping: lowercase, punctuation stripped, whitespace collapsed.

    >>> normalize_question("  What's the   exam FEE?! ")
    'whats the exam fee'
    """
    return " ".join(_PUNCTUATION.sub("", text.lower()).split())


class FeedbackStore:
    """Questions, answers and learners' ratings in one SQLite file, safe to share across threads.

    Every call opens its own connection, so one store can serve the Streamlit app and an
    HTTP API at once; the file runs in WAL mode so readers never block the writer. Nothing
    personal is kept beyond what the learner typed: no IP address, user agent or name, and
    conversation ids must be UUIDs. Clients rate an answer by its random interaction id
    together with the id of the conversation that asked; the row ids stay internal.

    Args:
        path: The SQLite file; it and its folder are created when missing.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(self.path, timeout=30, isolation_level=None)) as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            _migrate(conn)

    def log_answer(self, conversation_id: str, question: str, answer: dict[str, Any]) -> str:
        """Keep one question and the answer given to it.

        The answer's text and each quoted passage are kept up to `MAX_ANSWER_CHARS`.

        Args:
            conversation_id: UUID of the conversation the question belongs to.
            question: What the learner typed.
            answer: `Answer.to_json()` of the reply.

        Returns:
            The interaction id to rate the answer by: 32 random lowercase hex digits, so it
            cannot be guessed from another answer's id.

        Raises:
            ValueError: The conversation id is not a UUID, or the answer lacks its text.
        """
        try:
            conversation = str(uuid.UUID(str(conversation_id)))
        except ValueError:
            raise ValueError(f"conversation_id must be a UUID, not {conversation_id!r}") from None
        if not isinstance(answer.get("answer"), str):
            raise ValueError("answer must be Answer.to_json(): its 'answer' text is missing")
        interaction_id = secrets.token_hex(16)
        citations = answer.get("citations", [])
        row = (
            interaction_id,
            _now(),
            conversation,
            str(question).strip(),
            _cut(answer["answer"]),
            json.dumps(
                [{**c, "text": _cut(str(c["text"]))} if "text" in c else c for c in citations],
                ensure_ascii=False,
            ),
            json.dumps(answer.get("suggestions", []), ensure_ascii=False),
            int(bool(answer.get("refused", False))),
        )
        with self._connect() as conn:
            conn.execute(
                "INSERT INTO interactions (public_id, time, conversation_id, question, answer,"
                " citations, suggestions, refused) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )
        return interaction_id

    def record_feedback(
        self,
        interaction_id: str,
        conversation_id: str,
        rating: Literal["up", "down"],
        comment: str | None = None,
    ) -> None:
        """Rate an answer, from the conversation it was given in.

        Every rating is kept in `ratings`; the answer shows the latest one.

        Args:
            interaction_id: Id returned by `log_answer`.
            conversation_id: UUID of the conversation that asked: an id seen elsewhere
                (a shared screenshot, a log) rates nothing without it.
            rating: `"up"` or `"down"`.
            comment: Optional words from the learner, cut to `MAX_COMMENT_CHARS`.

        Raises:
            ValueError: The rating is neither "up" nor "down".
            KeyError: No answer has this id in this conversation; an unknown id and another
                conversation's answer raise the same error, so it tells neither apart.
        """
        if rating not in RATINGS:
            raise ValueError(f"rating must be 'up' or 'down', not {rating!r}")
        text = (comment or "").strip()[:MAX_COMMENT_CHARS] or None
        try:
            conversation = str(uuid.UUID(str(conversation_id)))
        except ValueError:
            raise KeyError(NO_SUCH_ANSWER) from None
        now = _now()
        with self._connect() as conn:
            # One UPDATE finds and rates the answer: under WAL, a read followed by a write
            # fails at once (no busy wait) when another connection wrote in between.
            rated = conn.execute(
                "UPDATE interactions SET rating = ?, comment = ?, rated_at = ?"
                " WHERE public_id = ? AND conversation_id = ? RETURNING id",
                (rating, text, now, str(interaction_id), conversation),
            ).fetchone()
            if rated is None:
                raise KeyError(NO_SUCH_ANSWER)
            conn.execute(
                "INSERT INTO ratings (interaction, time, rating, comment) VALUES (?, ?, ?, ?)",
                (rated[0], now, rating, text),
            )

    def recent(self, limit: int = 50) -> list[dict[str, Any]]:
        """The latest answers, newest first, with their rating and comment if any."""
        return self._rows(f"SELECT {_ROW} FROM interactions ORDER BY id DESC LIMIT ?", limit)

    def thumbs_down(self, limit: int = 50) -> list[dict[str, Any]]:
        """The answers learners rated down, newest first: what staff should look at first."""
        return self._rows(
            f"SELECT {_ROW} FROM interactions WHERE rating = 'down' ORDER BY id DESC LIMIT ?",
            limit,
        )

    def summary(self) -> dict[str, Any]:
        """Counts of questions, answered and refused ones, the refused share, and ratings."""
        with self._connect() as conn:
            questions, refused, up, down = conn.execute(
                "SELECT COUNT(*), COALESCE(SUM(refused), 0),"
                " COALESCE(SUM(rating = 'up'), 0), COALESCE(SUM(rating = 'down'), 0)"
                " FROM interactions"
            ).fetchone()
        return {
            "questions": questions,
            "answered": questions - refused,
            "refused": refused,
            "share_refused": refused / questions if questions else 0.0,
            "thumbs_up": up,
            "thumbs_down": down,
        }

    def refused_groups(self, limit: int = 20) -> list[dict[str, Any]]:
        """Refused questions grouped by their normalised text, most frequent first.

        Each group is `{"question": latest wording, "normalized", "count", "last_asked"}`:
        what learners look for and the course content does not cover.
        """
        _check_limit(limit)
        with self._connect() as conn:
            conn.create_function("normalize", 1, normalize_question, deterministic=True)
            # With a single MAX(), SQLite takes the bare columns from the row holding the
            # max: the latest wording of each group and when it was asked.
            rows = conn.execute(
                "SELECT normalize(question) AS key, question, time, COUNT(*) AS n,"
                " MAX(id) AS latest FROM interactions WHERE refused = 1 GROUP BY key"
                " ORDER BY n DESC, latest DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [
            {"question": question, "normalized": key, "count": n, "last_asked": last_asked}
            for key, question, last_asked, n, _ in rows
        ]

    def per_day(self) -> list[dict[str, Any]]:
        """Questions per UTC day, oldest first, with days without questions counted as 0."""
        with self._connect() as conn:
            counts = dict(
                conn.execute(
                    "SELECT substr(time, 1, 10) AS day, COUNT(*) FROM interactions"
                    " GROUP BY day ORDER BY day"
                ).fetchall()
            )
        if not counts:
            return []
        first, last = date.fromisoformat(min(counts)), date.fromisoformat(max(counts))
        days = (first + timedelta(days=n) for n in range((last - first).days + 1))
        return [{"day": d.isoformat(), "questions": counts.get(d.isoformat(), 0)} for d in days]

    def _rows(self, sql: str, limit: int) -> list[dict[str, Any]]:
        _check_limit(limit)
        with self._connect() as conn:
            conn.row_factory = sqlite3.Row
            rows = conn.execute(sql, (limit,)).fetchall()
        return [
            {
                **dict(row),
                "citations": json.loads(row["citations"]),
                "refused": bool(row["refused"]),
            }
            for row in rows
        ]

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """A fresh connection, committed on success and always closed."""
        with closing(sqlite3.connect(self.path, timeout=30)) as conn, conn:
            yield conn


def _migrate(conn: sqlite3.Connection) -> None:
    """Bring the file to `_SCHEMA_VERSION` in one transaction; a newer file is left alone.

    `BEGIN IMMEDIATE` takes the write lock before the version is read, so processes opening
    the file at once migrate it one after the other, never twice at the same time.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version < 1:
            _run(conn, _V1)
        if version < 2:
            columns = {row[1] for row in conn.execute("PRAGMA table_info(interactions)")}
            if "public_id" not in columns:  # present when a v1 process reset the version
                conn.execute("ALTER TABLE interactions ADD COLUMN public_id TEXT")
            _run(conn, _V2)
        if version < _SCHEMA_VERSION:
            conn.execute(f"PRAGMA user_version={_SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _run(conn: sqlite3.Connection, statements: tuple[str, ...]) -> None:
    for statement in statements:
        conn.execute(statement)


def _check_limit(limit: int) -> None:
    if not isinstance(limit, int) or limit < 1:
        raise ValueError(f"limit must be a positive whole number, not {limit!r}")


def _cut(text: str) -> str:
    """Text cut to `MAX_ANSWER_CHARS`, ending in "…" when it was cut."""
    return text if len(text) <= MAX_ANSWER_CHARS else text[: MAX_ANSWER_CHARS - 1] + "…"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
