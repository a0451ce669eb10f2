"""Feedback store: every answer logged, learners' ratings, and the views staff act on (SQLite)."""

from __future__ import annotations

import json
import re
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

MAX_COMMENT_CHARS = 2000
RATINGS = ("up", "down")

_SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS interactions (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    time            TEXT    NOT NULL,   -- UTC, ISO 8601, seconds
    conversation_id TEXT    NOT NULL,   -- random UUID, never a person
    question        TEXT    NOT NULL,
    answer          TEXT    NOT NULL,
    citations       TEXT    NOT NULL,   -- JSON list of Answer.to_json()["citations"]
    suggestions     TEXT    NOT NULL,   -- JSON list of Answer.to_json()["suggestions"]
    refused         INTEGER NOT NULL,
    rating          TEXT    CHECK (rating IN ('up', 'down')),
    comment         TEXT,
    rated_at        TEXT
);
CREATE INDEX IF NOT EXISTS interactions_time ON interactions (time);
"""
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
    conversation ids must be UUIDs.

    Args:
        path: The SQLite file; it and its folder are created when missing.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(_SCHEMA)
            conn.execute(f"PRAGMA user_version={_SCHEMA_VERSION}")

    def log_answer(self, conversation_id: str, question: str, answer: dict[str, Any]) -> int:
        """Keep one question and the answer given to it.

        Args:
            conversation_id: UUID of the conversation the question belongs to.
            question: What the learner typed.
            answer: `Answer.to_json()` of the reply.

        Returns:
            The interaction id, to attach a rating to later.

        Raises:
            ValueError: The conversation id is not a UUID, or the answer lacks its text.
        """
        try:
            conversation = str(uuid.UUID(str(conversation_id)))
        except ValueError:
            raise ValueError(f"conversation_id must be a UUID, not {conversation_id!r}") from None
        if not isinstance(answer.get("answer"), str):
            raise ValueError("answer must be Answer.to_json(): its 'answer' text is missing")
        row = (
            _now(),
            conversation,
            str(question).strip(),
            answer["answer"],
            json.dumps(answer.get("citations", []), ensure_ascii=False),
            json.dumps(answer.get("suggestions", []), ensure_ascii=False),
            int(bool(answer.get("refused", False))),
        )
        with self._connect() as conn:
            cursor = conn.execute(
                "INSERT INTO interactions (time, conversation_id, question, answer, citations,"
                " suggestions, refused) VALUES (?, ?, ?, ?, ?, ?, ?)",
                row,
            )
            return int(cursor.lastrowid or 0)

    def record_feedback(
        self,
        interaction_id: int,
        rating: Literal["up", "down"],
        comment: str | None = None,
    ) -> None:
        """Rate an answer; a second rating of the same answer replaces the first.

        Args:
            interaction_id: Id returned by `log_answer`.
            rating: `"up"` or `"down"`.
            comment: Optional words from the learner, cut to `MAX_COMMENT_CHARS`.

        Raises:
            ValueError: The rating is neither "up" nor "down".
            KeyError: No answer has this id.
        """
        if rating not in RATINGS:
            raise ValueError(f"rating must be 'up' or 'down', not {rating!r}")
        text = (comment or "").strip()[:MAX_COMMENT_CHARS] or None
        with self._connect() as conn:
            cursor = conn.execute(
                "UPDATE interactions SET rating = ?, comment = ?, rated_at = ? WHERE id = ?",
                (rating, text, _now(), int(interaction_id)),
            )
            if cursor.rowcount == 0:
                raise KeyError(f"no answer with interaction id {interaction_id}")

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


def _check_limit(limit: int) -> None:
    if not isinstance(limit, int) or limit < 1:
        raise ValueError(f"limit must be a positive whole number, not {limit!r}")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
