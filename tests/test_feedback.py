"""FeedbackStore on a real SQLite file: logging, ratings, staff views, persistence, threads."""

from __future__ import annotations

import re
import sqlite3
import threading
import time
import uuid
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from cert_assistant.feedback import MAX_COMMENT_CHARS, FeedbackStore, normalize_question

HEX_ID = re.compile(r"[0-9a-f]{32}")

CITATION = {
    "n": 1,
    "title": "Frequently asked questions",
    "section": "Frequently asked questions > General questions > Can the exam be taken online?",
    "url": "https://courses.example.com/certified-mlops-architect/faq#can-the-exam-be-taken-online",
    "source": "knowledge/faq.md",
    "text": "The Certified MLOps Architect exams can be taken online.",
}


def answered(text: str = "The exams can be taken online. [1]") -> dict[str, Any]:
    """An `Answer.to_json()` with one citation."""
    return {"answer": text, "citations": [CITATION], "refused": False, "suggestions": []}


def refused() -> dict[str, Any]:
    """An `Answer.to_json()` of a refusal."""
    text = "Sorry, the course content doesn't cover that."
    return {"answer": text, "citations": [], "refused": True, "suggestions": []}


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "nested" / "feedback.sqlite3"


@pytest.fixture
def store(db: Path) -> FeedbackStore:
    return FeedbackStore(db)


@pytest.fixture
def conversation() -> str:
    return str(uuid.uuid4())


def test_creates_the_file_and_its_folder_in_wal_mode(db: Path, store: FeedbackStore) -> None:
    assert db.is_file()
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_log_answer_stores_question_answer_citations_and_time(
    store: FeedbackStore, conversation: str
) -> None:
    store.log_answer(conversation, "  Can the exam be taken online? ", answered())
    store.log_answer(conversation, "What is the exam fee?", refused())

    newest, oldest = store.recent()
    assert newest["id"] > oldest["id"]  # the internal row id: staff views never show the token
    assert newest["refused"] is True and newest["citations"] == []
    assert oldest["question"] == "Can the exam be taken online?"
    assert oldest["answer"] == "The exams can be taken online. [1]"
    assert oldest["citations"] == [CITATION]
    assert oldest["conversation_id"] == conversation
    assert oldest["refused"] is False
    assert oldest["rating"] is None and oldest["comment"] is None
    assert oldest["time"].endswith("+00:00")
    assert set(oldest) == {
        "id", "time", "conversation_id", "question", "answer", "citations", "refused",
        "rating", "comment", "query",
    }  # fmt: skip


def test_log_answer_rejects_a_conversation_id_that_is_not_a_uuid(store: FeedbackStore) -> None:
    with pytest.raises(ValueError, match="UUID"):
        store.log_answer("jane.doe@example.com", "Is the exam online?", answered())
    with pytest.raises(ValueError, match="answer"):
        store.log_answer(str(uuid.uuid4()), "Is the exam online?", {"citations": []})


def ratings(db: Path) -> list[tuple[str, str, str | None]]:
    """Every rating event, oldest first: `(question, rating, comment)`."""
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT i.question, r.rating, r.comment FROM ratings AS r"
            " JOIN interactions AS i ON i.id = r.interaction ORDER BY r.id"
        ).fetchall()


def test_interaction_ids_are_random_hex_and_differ_per_answer(
    store: FeedbackStore, conversation: str
) -> None:
    ids = [store.log_answer(conversation, "Is the exam online?", answered()) for _ in range(20)]

    assert all(isinstance(i, str) and HEX_ID.fullmatch(i) for i in ids)
    assert len(set(ids)) == len(ids)
    assert store.recent()[0]["id"] == 20  # the row id stays internal


def test_every_rating_is_kept_and_the_latest_shown(
    db: Path, store: FeedbackStore, conversation: str
) -> None:
    interaction = store.log_answer(conversation, "Can the exam be taken online?", answered())

    store.record_feedback(interaction, conversation, "down", "  Too short.  ")
    assert store.recent()[0]["rating"] == "down"
    assert store.recent()[0]["comment"] == "Too short."
    assert [r["question"] for r in store.thumbs_down()] == ["Can the exam be taken online?"]

    store.record_feedback(interaction, conversation, "up")
    row = store.recent()[0]
    assert (row["rating"], row["comment"]) == ("up", None)
    assert store.thumbs_down() == []
    assert store.summary()["thumbs_up"] == 1 and store.summary()["thumbs_down"] == 0
    assert ratings(db) == [
        ("Can the exam be taken online?", "down", "Too short."),
        ("Can the exam be taken online?", "up", None),
    ]


def test_only_the_conversation_that_asked_can_rate(
    db: Path, store: FeedbackStore, conversation: str
) -> None:
    mine = store.log_answer(conversation, "Is the exam online?", answered())
    store.record_feedback(mine, conversation, "up", "clear")
    other = str(uuid.uuid4())

    with pytest.raises(KeyError) as forged:
        store.record_feedback(mine, other, "down", "forged")
    with pytest.raises(KeyError) as unknown:
        store.record_feedback("0" * 32, conversation, "down", "guessed")
    with pytest.raises(KeyError) as not_a_uuid:
        store.record_feedback(mine, "jane.doe@example.com", "down")

    # One message for all: it does not tell an existing id from an unknown one.
    assert str(forged.value) == str(unknown.value) == str(not_a_uuid.value)
    assert "in this conversation" in str(forged.value)
    row = store.recent()[0]
    assert (row["rating"], row["comment"]) == ("up", "clear")
    assert ratings(db) == [("Is the exam online?", "up", "clear")]
    store.record_feedback(mine, conversation.upper(), "down")  # the same UUID, spelt otherwise
    assert store.recent()[0]["rating"] == "down"


def test_the_internal_row_id_rates_nothing(store: FeedbackStore, conversation: str) -> None:
    store.log_answer(conversation, "Is the exam online?", answered())
    for guess in (1, "1", "00000000000000000000000000000001"):
        with pytest.raises(KeyError):
            store.record_feedback(guess, conversation, "down")  # type: ignore[arg-type]
    assert store.recent()[0]["rating"] is None


def test_comment_is_capped(store: FeedbackStore, conversation: str) -> None:
    interaction = store.log_answer(conversation, "Is the exam online?", answered())
    store.record_feedback(interaction, conversation, "down", "x" * (MAX_COMMENT_CHARS + 500))
    assert len(store.recent()[0]["comment"]) == MAX_COMMENT_CHARS


def test_bad_rating_and_limit_say_what_is_wrong(store: FeedbackStore, conversation: str) -> None:
    interaction = store.log_answer(conversation, "Is the exam online?", answered())
    with pytest.raises(ValueError, match="'up' or 'down'"):
        store.record_feedback(interaction, conversation, "meh")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="limit"):
        store.recent(0)


def test_summary_counts_and_share_refused(store: FeedbackStore, conversation: str) -> None:
    assert store.summary() == {
        "questions": 0, "answered": 0, "refused": 0, "share_refused": 0.0,
        "thumbs_up": 0, "thumbs_down": 0,
    }  # fmt: skip
    ids = [store.log_answer(conversation, f"question {n}", answered()) for n in range(3)]
    store.log_answer(conversation, "What is the exam fee?", refused())
    store.record_feedback(ids[0], conversation, "up")
    store.record_feedback(ids[1], conversation, "down", "wrong section")

    assert store.summary() == {
        "questions": 4, "answered": 3, "refused": 1, "share_refused": 0.25,
        "thumbs_up": 1, "thumbs_down": 1,
    }  # fmt: skip


def test_refused_questions_are_grouped_by_normalised_text(
    store: FeedbackStore, conversation: str
) -> None:
    for question in [
        "What is the exam fee?",
        "what is the  EXAM fee",
        "What's the passing score?",
        "What is the exam fee!!",
    ]:
        store.log_answer(conversation, question, refused())
    store.log_answer(conversation, "What is the exam fee?", answered("It is not refused."))

    groups = store.refused_groups()
    assert [(g["normalized"], g["count"]) for g in groups] == [
        ("what is the exam fee", 3),
        ("whats the passing score", 1),
    ]
    assert groups[0]["question"] == "What is the exam fee!!"  # the latest wording
    assert store.refused_groups(limit=1) == groups[:1]


def test_normalize_question_handles_unicode_and_underscores() -> None:
    assert normalize_question("Qu'est-ce   que\tle  niveau « Foundation » ?") == (
        "questce que le niveau foundation"
    )
    assert normalize_question("snake_case?") == "snakecase"


def test_per_day_counts_questions_and_fills_quiet_days(store: FeedbackStore, db: Path) -> None:
    assert store.per_day() == []
    conversation = str(uuid.uuid4())
    ids = [store.log_answer(conversation, f"q{n}", answered()) for n in range(4)]
    days = ["2026-11-23T10:00:00+00:00", "2026-11-23T23:59:59+00:00"]
    days += ["2026-11-26T00:00:00+00:00", "2026-11-26T08:00:00+00:00"]
    with sqlite3.connect(db) as conn:
        conn.executemany(
            "UPDATE interactions SET time = ? WHERE public_id = ?",
            list(zip(days, ids, strict=True)),
        )
    assert store.per_day() == [
        {"day": "2026-11-23", "questions": 2},
        {"day": "2026-11-24", "questions": 0},
        {"day": "2026-11-25", "questions": 0},
        {"day": "2026-11-26", "questions": 2},
    ]


def test_reopening_the_file_keeps_everything(db: Path, conversation: str) -> None:
    first = FeedbackStore(db)
    interaction = first.log_answer(conversation, "Is the exam online?", answered())
    first.record_feedback(interaction, conversation, "down", "missing detail")

    again = FeedbackStore(db)
    assert again.recent() == first.recent()
    assert again.recent()[0]["comment"] == "missing detail"
    again.record_feedback(interaction, conversation, "up")  # the id still rates after a reopen
    assert again.recent()[0]["rating"] == "up"
    assert HEX_ID.fullmatch(again.log_answer(conversation, "next", answered()))
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 2


def test_concurrent_writes_from_threads_all_land(store: FeedbackStore) -> None:
    threads, per_thread = 8, 25
    ids: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(threads)

    def work(n: int) -> None:
        try:
            conversation = str(uuid.uuid4())
            start.wait(timeout=10)
            for i in range(per_thread):
                interaction = store.log_answer(conversation, f"thread {n} q{i}", answered())
                store.record_feedback(interaction, conversation, "up" if i % 2 else "down")
                with lock:
                    ids.append(interaction)
        except BaseException as error:  # surfaced below, not lost in the thread
            errors.append(error)

    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)

    assert not errors
    assert len(set(ids)) == threads * per_thread
    summary = store.summary()
    assert summary["questions"] == threads * per_thread
    assert summary["thumbs_up"] + summary["thumbs_down"] == threads * per_thread
    assert len(ratings(store.path)) == threads * per_thread


# --- a file written by the version before: schema v1, integer ids ---------------------------

V1_SCHEMA = """
CREATE TABLE IF NOT EXISTS interactions (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    time            TEXT    NOT NULL,
    conversation_id TEXT    NOT NULL,
    question        TEXT    NOT NULL,
    answer          TEXT    NOT NULL,
    citations       TEXT    NOT NULL,
    suggestions     TEXT    NOT NULL,
    refused         INTEGER NOT NULL,
    rating          TEXT    CHECK (rating IN ('up', 'down')),
    comment         TEXT,
    rated_at        TEXT
);
CREATE INDEX IF NOT EXISTS interactions_time ON interactions (time);
PRAGMA user_version=1;
"""


V1_INSERT = (
    "INSERT INTO interactions (time, conversation_id, question, answer, citations, suggestions,"
    " refused, rating, comment, rated_at) VALUES (?, ?, ?, 'An answer.', '[]', '[]', ?, ?, ?, ?)"
)


def write_v1_file(db: Path, conversation: str) -> None:
    """Three answers as the v1 store kept them, two of them rated."""
    db.parent.mkdir(parents=True, exist_ok=True)
    rated_at = "2026-11-23T11:00:00+00:00"
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.executescript(V1_SCHEMA)
        conn.executemany(
            V1_INSERT,
            [
                (
                    "2026-11-23T10:00:00+00:00",
                    conversation,
                    "Is the exam online?",
                    0,
                    "up",
                    None,
                    rated_at,
                ),
                (
                    "2026-11-23T10:05:00+00:00",
                    conversation,
                    "What is the exam fee?",
                    1,
                    "down",
                    "No fee given.",
                    rated_at,
                ),
                (
                    "2026-11-24T09:00:00+00:00",
                    conversation,
                    "How long is the course?",
                    0,
                    None,
                    None,
                    None,
                ),
            ],  # fmt: skip
        )


def test_a_v1_file_is_migrated_in_place_without_losing_rows(db: Path, conversation: str) -> None:
    write_v1_file(db, conversation)
    with closing(sqlite3.connect(db)) as conn:
        before = conn.execute(
            "SELECT id, time, question, refused, rating, comment FROM interactions ORDER BY id"
        ).fetchall()

    store = FeedbackStore(db)

    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
        after = conn.execute(
            "SELECT id, time, question, refused, rating, comment FROM interactions ORDER BY id"
        ).fetchall()
        tokens = [t for (t,) in conn.execute("SELECT public_id FROM interactions ORDER BY id")]
        events = conn.execute(
            "SELECT interaction, time, rating, comment FROM ratings ORDER BY interaction"
        ).fetchall()
    assert after == before
    assert all(HEX_ID.fullmatch(t) for t in tokens) and len(set(tokens)) == 3
    assert events == [
        (1, "2026-11-23T11:00:00+00:00", "up", None),
        (2, "2026-11-23T11:00:00+00:00", "down", "No fee given."),
    ]
    assert store.summary()["questions"] == 3 and store.summary()["thumbs_down"] == 1

    # The old rows are rated by their new ids, and only by them; the ids stay unique.
    store.record_feedback(tokens[2], conversation, "up")
    assert store.recent()[0]["rating"] == "up"
    with pytest.raises(KeyError):
        store.record_feedback("1", conversation, "down")
    with closing(sqlite3.connect(db)) as conn, pytest.raises(sqlite3.IntegrityError):
        conn.execute("UPDATE interactions SET public_id = ? WHERE id = 2", (tokens[0],))
    assert FeedbackStore(db).recent() == store.recent()  # reopening migrates nothing again
    assert len(ratings(db)) == 3


def test_a_v1_process_opening_the_file_again_is_caught_up(db: Path, conversation: str) -> None:
    """During a rolling deploy an old process may set the version back to 1 and write v1 rows."""
    store = FeedbackStore(db)
    rated = store.log_answer(conversation, "Is the exam online?", answered())
    store.record_feedback(rated, conversation, "up")
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.executescript(V1_SCHEMA)  # what the v1 store runs when it opens the file
        conn.execute(
            V1_INSERT,
            ("2026-11-25T08:00:00+00:00", conversation, "Old process", 0, "down", "v1",
             "2026-11-25T08:01:00+00:00"),
        )  # fmt: skip

    FeedbackStore(db)

    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
        ids = [t for (t,) in conn.execute("SELECT public_id FROM interactions ORDER BY id")]
    assert ids[0] == rated and HEX_ID.fullmatch(ids[1])
    assert ratings(db) == [("Is the exam online?", "up", None), ("Old process", "down", "v1")]


def test_the_search_of_an_answer_is_kept_with_it(store: FeedbackStore, conversation: str) -> None:
    rewritten = "how long does it take? (Foundation level)"
    store.log_answer(conversation, "how long does it take?", answered(), query=rewritten)
    store.log_answer(conversation, "Can the exam be taken online?", answered())

    older, newer = store.recent()[::-1]

    assert older["query"] == "how long does it take? (Foundation level)"
    assert newer["query"] is None  # an answer without a query keeps none


def test_conversation_turns_come_back_in_order_for_their_id_only(
    store: FeedbackStore, conversation: str
) -> None:
    first = store.log_answer(conversation, "Can the exam be taken online?", answered())
    store.log_answer(str(uuid.uuid4()), "Someone else's question", answered())
    second = store.log_answer(conversation, "What is the exam fee?", refused())
    store.record_feedback(first, conversation, "down", "too short")

    turns = store.conversation_turns(conversation.upper())  # a UUID in any spelling

    questions = [t["question"] for t in turns]
    assert questions == ["Can the exam be taken online?", "What is the exam fee?"]
    assert [t["interaction_id"] for t in turns] == [first, second]
    assert turns[0]["citations"] == [CITATION] and turns[0]["suggestions"] == []
    assert (turns[0]["rating"], turns[0]["comment"]) == ("down", "too short")
    assert turns[1]["refused"] is True and turns[1]["answer"].startswith("Sorry")
    assert store.conversation_turns(str(uuid.uuid4())) == []  # a made-up id: nobody's turns
    with pytest.raises(ValueError, match="conversation_id must be a UUID, not 'abc'"):
        store.conversation_turns("abc")


# --- the SQLAlchemy store over files of the sqlite3 store, and its migrations ----------------

# What the sqlite3 store (user_version 2) ran on a new file: v1's table, then v2's changes.
V2_SCHEMA = (
    V1_SCHEMA.replace("PRAGMA user_version=1;", "")
    + """
ALTER TABLE interactions ADD COLUMN public_id TEXT;
CREATE UNIQUE INDEX IF NOT EXISTS interactions_public_id ON interactions (public_id);
CREATE TABLE IF NOT EXISTS ratings (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    interaction INTEGER NOT NULL REFERENCES interactions (id),
    time        TEXT    NOT NULL,
    rating      TEXT    NOT NULL CHECK (rating IN ('up', 'down')),
    comment     TEXT
);
CREATE INDEX IF NOT EXISTS ratings_interaction ON ratings (interaction);
PRAGMA user_version=2;
"""
)


def alembic_head(db: Path) -> list[str]:
    with closing(sqlite3.connect(db)) as conn:
        return [v for (v,) in conn.execute("SELECT version_num FROM alembic_version")]


def test_a_v2_file_of_the_sqlite3_store_is_taken_over_as_it_is(db: Path, conversation: str) -> None:
    db.parent.mkdir(parents=True)
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.executescript(V2_SCHEMA)
        conn.execute(
            "INSERT INTO interactions (time, conversation_id, question, answer, citations,"
            " suggestions, refused, public_id) VALUES (?, ?, 'Is the exam online?', 'Yes.',"
            " '[]', '[]', 0, ?)",
            ("2026-11-20T09:00:00+00:00", conversation, "a" * 32),
        )

    store = FeedbackStore(db)

    assert alembic_head(db) == ["0004"]
    store.record_feedback("a" * 32, conversation, "up")  # its id still rates it
    assert [t["question"] for t in store.conversation_turns(conversation)] == [
        "Is the exam online?"
    ]
    with closing(sqlite3.connect(db)) as conn:
        indexes = {name for (name,) in conn.execute("SELECT name FROM sqlite_master")}
        # Still the layout the sqlite3 store knows, for its processes in a rolling deploy.
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
    assert "interactions_conversation" in indexes


def test_the_url_examples_hold() -> None:
    import doctest

    import cert_assistant.feedback_db

    result = doctest.testmod(cert_assistant.feedback_db)
    assert result.attempted == 2 and result.failed == 0


def test_a_url_and_a_path_open_the_same_file(db: Path, store: FeedbackStore) -> None:
    store.log_answer(str(uuid.uuid4()), "Is the exam online?", answered())
    by_url = FeedbackStore(f"sqlite:///{db}")
    assert by_url.recent() == store.recent() and by_url.path == db
    assert "sqlite" in by_url.location


def test_the_migrations_build_exactly_the_tables_the_store_uses(store: FeedbackStore) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from cert_assistant.feedback_db import METADATA

    with store.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), METADATA) == []
    assert alembic_head(store.path) == ["0004"]


def open_together(target: str | Path, stores: int = 8) -> list[BaseException]:
    """Open `stores` stores on one new database at the same moment, as hosts starting
    together would (each store has its own connections); returns what they raised."""
    start = threading.Barrier(stores)
    errors: list[BaseException] = []

    def open_store() -> None:
        start.wait(timeout=30)
        try:
            FeedbackStore(target)
        except BaseException as error:  # surfaced by the caller, not lost in the thread
            errors.append(error)

    workers = [threading.Thread(target=open_store, daemon=True) for _ in range(stores)]
    for worker in workers:
        worker.start()
    deadline = time.monotonic() + 120
    for worker in workers:
        worker.join(timeout=max(0.0, deadline - time.monotonic()))
    hung = [TimeoutError("a store did not open in 120 s") for w in workers if w.is_alive()]
    return errors + hung


def test_stores_opening_a_new_file_together_migrate_it_once(db: Path) -> None:
    assert open_together(db) == []  # without the write lock, 7 of 8 fail: "already exists"
    assert alembic_head(db) == ["0004"]


def test_a_database_that_cannot_be_opened_is_named_in_one_line(tmp_path: Path) -> None:
    from cert_assistant.feedback import FeedbackDatabaseError

    folder = tmp_path / "a-folder.sqlite3"
    folder.mkdir()
    with pytest.raises(FeedbackDatabaseError) as error:
        FeedbackStore(folder)
    assert str(error.value).startswith(f"Cannot open the feedback database sqlite:///{folder}:")
    assert "\n" not in str(error.value)
