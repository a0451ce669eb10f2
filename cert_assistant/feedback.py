"""Feedback store: every answer logged, learners' ratings, and the views staff act on.

One SQLite file by default; a PostgreSQL database (`CERT_ASSISTANT_DATABASE_URL`) when
several API hosts and the staff dashboard share one store. SQLAlchemy speaks to both; the
tables and their migrations are in `feedback_db`.
"""

from __future__ import annotations

import json
import re
import secrets
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from cert_assistant.feedback_db import database_url, interactions, make_engine, ratings, upgrade
from cert_core.errors import CertAssistantError

MAX_COMMENT_CHARS = 2000
MAX_ANSWER_CHARS = 20_000  # kept of one answer's text, and of each quoted passage
RATINGS = ("up", "down")
NO_SUCH_ANSWER = "no answer with this interaction id in this conversation"

_ROW = [
    interactions.c[name]
    for name in (
        "id", "time", "conversation_id", "question", "answer", "citations", "refused",
        "rating", "comment", "query",
    )
]  # fmt: skip
_PUNCTUATION = re.compile(r"[^\w\s]|_")


class FeedbackDatabaseError(CertAssistantError):
    """The feedback database cannot be opened or brought up to date."""


def normalize_question(text: str) -> str:
    """A question reduced for grouping: lowercase, punctuation stripped, whitespace collapsed.

    >>> normalize_question("  What's the   exam FEE?! ")
    'whats the exam fee'
    """
    return " ".join(_PUNCTUATION.sub("", text.lower()).split())


class FeedbackStore:
    """Questions, answers and learners' ratings in one database, safe to share across threads.

    Every call takes a pooled connection of its own, so one store can serve the Streamlit app
    and an HTTP API at once, and any number of processes on any number of hosts can share a
    PostgreSQL database. A SQLite file runs in WAL mode so readers never block the writer.
    Nothing personal is kept beyond what the learner typed: no IP address, user agent or
    name, and conversation ids must be UUIDs. Clients rate an answer by its random
    interaction id together with the id of the conversation that asked; the row ids stay
    internal.

    Args:
        target: A SQLite file (created with its folder when missing) or a SQLAlchemy URL
            (`sqlite:///PATH`, `postgresql+psycopg://USER:PASSWORD@HOST/DB`). Its schema is
            brought to the latest revision on opening.

    Raises:
        FeedbackDatabaseError: The database cannot be reached or migrated; the message
            names it without its password.
    """

    def __init__(self, target: str | Path) -> None:
        url = database_url(target)
        self.location = url.render_as_string(hide_password=True)
        # The SQLite file, for tools that read it directly; None for a database server.
        self.path = Path(url.database) if url.get_backend_name() == "sqlite" else None
        try:
            self.engine = make_engine(url)
            upgrade(self.engine)
        except (SQLAlchemyError, OSError) as error:
            reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
            raise FeedbackDatabaseError(
                f"Cannot open the feedback database {self.location}: {reason}"
            ) from None

    def log_answer(
        self,
        conversation_id: str,
        question: str,
        answer: dict[str, Any],
        query: str | None = None,
    ) -> str:
        """Keep one question and the answer given to it.

        The answer's text and each quoted passage are kept up to `MAX_ANSWER_CHARS`.

        Args:
            conversation_id: UUID of the conversation the question belongs to.
            question: What the learner typed.
            answer: `Answer.to_json()` of the reply.
            query: What was searched (`Answer.query`): a follow-up's rewritten question,
                kept for staff reading why it was answered as it was.

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
        row = {
            "public_id": interaction_id,
            "time": _now(),
            "conversation_id": conversation,
            "question": str(question).strip(),
            "answer": _cut(answer["answer"]),
            "citations": json.dumps(
                [{**c, "text": _cut(str(c["text"]))} if "text" in c else c for c in citations],
                ensure_ascii=False,
            ),
            "suggestions": json.dumps(answer.get("suggestions", []), ensure_ascii=False),
            "query": _cut(query) if query else None,
            "refused": int(bool(answer.get("refused", False))),
        }
        with self.engine.begin() as conn:
            conn.execute(interactions.insert().values(**row))
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
        with self.engine.begin() as conn:
            # One UPDATE finds and rates the answer: under SQLite's WAL, a read followed by a
            # write fails at once (no busy wait) when another connection wrote in between.
            rated = conn.execute(
                interactions.update()
                .where(
                    interactions.c.public_id == str(interaction_id),
                    interactions.c.conversation_id == conversation,
                )
                .values(rating=rating, comment=text, rated_at=now)
                .returning(interactions.c.id)
            ).first()
            if rated is None:
                raise KeyError(NO_SUCH_ANSWER)
            conn.execute(
                ratings.insert().values(interaction=rated.id, time=now, rating=rating, comment=text)
            )

    def recent(self, limit: int = 50) -> list[dict[str, Any]]:
        """The latest answers, newest first, with their rating and comment if any."""
        return self._rows(sa.true(), limit)

    def thumbs_down(self, limit: int = 50) -> list[dict[str, Any]]:
        """The answers learners rated down, newest first: what staff should look at first."""
        return self._rows(interactions.c.rating == "down", limit)

    def summary(self) -> dict[str, Any]:
        """Counts of questions, answered and refused ones, the refused share, and ratings."""
        query = sa.select(
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(interactions.c.refused), 0),
            _count_where(interactions.c.rating == "up"),
            _count_where(interactions.c.rating == "down"),
        )
        with self.engine.connect() as conn:
            questions, refused, up, down = conn.execute(query).one()
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
        what learners look for and the course content does not cover. Grouped here rather
        than in SQL, so SQLite and PostgreSQL normalise alike (`normalize_question`).
        """
        _check_limit(limit)
        query = (
            sa.select(interactions.c.id, interactions.c.question, interactions.c.time)
            .where(interactions.c.refused == 1)
            .order_by(interactions.c.id.desc())
        )
        groups: dict[str, dict[str, Any]] = {}
        latest: dict[str, int] = {}
        with self.engine.connect() as conn:
            for row_id, question, asked in conn.execute(query):
                key = normalize_question(question)
                if key in groups:
                    groups[key]["count"] += 1
                else:  # newest first: the first row of a group is its latest wording
                    groups[key] = {
                        "question": question,
                        "normalized": key,
                        "count": 1,
                        "last_asked": asked,
                    }
                    latest[key] = row_id
        ranked = sorted(groups, key=lambda k: (-groups[k]["count"], -latest[k]))
        return [groups[key] for key in ranked[:limit]]

    def per_day(self) -> list[dict[str, Any]]:
        """Questions per UTC day, oldest first, with days without questions counted as 0."""
        day = sa.func.substr(interactions.c.time, 1, 10)
        with self.engine.connect() as conn:
            counts = dict(conn.execute(sa.select(day, sa.func.count()).group_by(day)).all())
        if not counts:
            return []
        first, last = date.fromisoformat(min(counts)), date.fromisoformat(max(counts))
        days = (first + timedelta(days=n) for n in range((last - first).days + 1))
        return [{"day": d.isoformat(), "questions": counts.get(d.isoformat(), 0)} for d in days]

    def conversation_turns(self, conversation_id: str) -> list[dict[str, Any]]:
        """A conversation's turns in the order they were asked, to show it again after a
        reload or on another course page.

        The conversation id is the only key, so whoever holds it reads the turns: clients
        must keep it secret and make it random (the chat uses 128 random bits). An id no
        question was asked under has no turns.

        Returns:
            Per turn, oldest first: `id` (internal row id, for staff views), `interaction_id`
            (to rate it by), `time`, `question`, `answer`, `citations`, `suggestions`,
            `refused`, `rating` and `comment`.

        Raises:
            ValueError: The conversation id is not a UUID.
        """
        try:
            conversation = str(uuid.UUID(str(conversation_id)))
        except ValueError:
            raise ValueError(f"conversation_id must be a UUID, not {conversation_id!r}") from None
        c = interactions.c
        query = (
            sa.select(
                c.id,
                c.public_id.label("interaction_id"),
                c.time,
                c.question,
                c.answer,
                c.citations,
                c.suggestions,
                c.refused,
                c.rating,
                c.comment,
            )  # fmt: skip
            .where(c.conversation_id == conversation)
            .order_by(c.id)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [
            {
                **row,
                "citations": json.loads(row["citations"]),
                "suggestions": json.loads(row["suggestions"]),
                "refused": bool(row["refused"]),
            }
            for row in rows
        ]

    def _rows(self, where: sa.ColumnElement[bool], limit: int) -> list[dict[str, Any]]:
        _check_limit(limit)
        query = sa.select(*_ROW).where(where).order_by(interactions.c.id.desc()).limit(limit)
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [
            {**row, "citations": json.loads(row["citations"]), "refused": bool(row["refused"])}
            for row in rows
        ]


def _count_where(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
    """How many rows meet `condition`, as one aggregate both SQLite and PostgreSQL run."""
    return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)


def _check_limit(limit: int) -> None:
    if not isinstance(limit, int) or limit < 1:
        raise ValueError(f"limit must be a positive whole number, not {limit!r}")


def _cut(text: str) -> str:
    """Text cut to `MAX_ANSWER_CHARS`, ending in "…" when it was cut."""
    return text if len(text) <= MAX_ANSWER_CHARS else text[: MAX_ANSWER_CHARS - 1] + "…"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
