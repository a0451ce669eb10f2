"""FeedbackStore on a real SQLite file: logging, ratings, staff views, persistence, threads."""

from __future__ import annotations

import sqlite3
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest

from cert_assistant.feedback import MAX_COMMENT_CHARS, FeedbackStore, normalize_question

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
    first = store.log_answer(conversation, "  Can the exam be taken online? ", answered())
    second = store.log_answer(conversation, "What is the exam fee?", refused())

    assert second > first
    newest, oldest = store.recent()
    assert newest["id"] == second and newest["refused"] is True and newest["citations"] == []
    assert oldest["question"] == "Can the exam be taken online?"
    assert oldest["answer"] == "The exams can be taken online. [1]"
    assert oldest["citations"] == [CITATION]
    assert oldest["conversation_id"] == conversation
    assert oldest["refused"] is False
    assert oldest["rating"] is None and oldest["comment"] is None
    assert oldest["time"].endswith("+00:00")
    assert set(oldest) == {
        "id", "time", "conversation_id", "question", "answer", "citations", "refused",
        "rating", "comment",
    }  # fmt: skip


def test_log_answer_rejects_a_conversation_id_that_is_not_a_uuid(store: FeedbackStore) -> None:
    with pytest.raises(ValueError, match="UUID"):
        store.log_answer("jane.doe@example.com", "Is the exam online?", answered())
    with pytest.raises(ValueError, match="answer"):
        store.log_answer(str(uuid.uuid4()), "Is the exam online?", {"citations": []})


def test_rating_and_re_rating_replace_each_other(store: FeedbackStore, conversation: str) -> None:
    interaction = store.log_answer(conversation, "Can the exam be taken online?", answered())

    store.record_feedback(interaction, "down", "  Too short.  ")
    assert store.recent()[0]["rating"] == "down"
    assert store.recent()[0]["comment"] == "Too short."
    assert [r["id"] for r in store.thumbs_down()] == [interaction]

    store.record_feedback(interaction, "up")
    row = store.recent()[0]
    assert (row["rating"], row["comment"]) == ("up", None)
    assert store.thumbs_down() == []
    assert store.summary()["thumbs_up"] == 1 and store.summary()["thumbs_down"] == 0


def test_comment_is_capped(store: FeedbackStore, conversation: str) -> None:
    interaction = store.log_answer(conversation, "Is the exam online?", answered())
    store.record_feedback(interaction, "down", "x" * (MAX_COMMENT_CHARS + 500))
    assert len(store.recent()[0]["comment"]) == MAX_COMMENT_CHARS


def test_unknown_id_and_bad_rating_say_what_is_wrong(
    store: FeedbackStore, conversation: str
) -> None:
    interaction = store.log_answer(conversation, "Is the exam online?", answered())
    with pytest.raises(KeyError, match="no answer with interaction id 999"):
        store.record_feedback(999, "up")
    with pytest.raises(ValueError, match="'up' or 'down'"):
        store.record_feedback(interaction, "meh")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="limit"):
        store.recent(0)


def test_summary_counts_and_share_refused(store: FeedbackStore, conversation: str) -> None:
    assert store.summary() == {
        "questions": 0, "answered": 0, "refused": 0, "share_refused": 0.0,
        "thumbs_up": 0, "thumbs_down": 0,
    }  # fmt: skip
    ids = [store.log_answer(conversation, f"question {n}", answered()) for n in range(3)]
    store.log_answer(conversation, "What is the exam fee?", refused())
    store.record_feedback(ids[0], "up")
    store.record_feedback(ids[1], "down", "wrong section")

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
            "UPDATE interactions SET time = ? WHERE id = ?", list(zip(days, ids, strict=True))
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
    first.record_feedback(interaction, "down", "missing detail")

    again = FeedbackStore(db)
    assert again.recent() == first.recent()
    assert again.recent()[0]["comment"] == "missing detail"
    assert again.log_answer(conversation, "next", answered()) == interaction + 1


def test_concurrent_writes_from_threads_all_land(store: FeedbackStore) -> None:
    threads, per_thread = 8, 25
    ids: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(threads)

    def work(n: int) -> None:
        try:
            conversation = str(uuid.uuid4())
            start.wait(timeout=10)
            for i in range(per_thread):
                interaction = store.log_answer(conversation, f"thread {n} q{i}", answered())
                store.record_feedback(interaction, "up" if i % 2 else "down")
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
