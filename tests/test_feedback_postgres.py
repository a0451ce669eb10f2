"""FeedbackStore on a real PostgreSQL server: the same behaviour as on SQLite, shared by hosts.

The server is started by the `postgres_server` fixture (tests/servers.py: initdb and pg_ctl
on a free loopback port); each test gets a fresh database in it.
"""

from __future__ import annotations

import threading
import uuid

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from test_feedback import CITATION, HEX_ID, answered, open_together, refused

from cert_assistant.feedback import FeedbackDatabaseError, FeedbackStore
from cert_assistant.feedback_db import METADATA

pytestmark = pytest.mark.server


@pytest.fixture
def store(postgres_url: str) -> FeedbackStore:
    return FeedbackStore(postgres_url)


def head(url: str) -> list[str]:
    with sa.create_engine(url).connect() as conn:
        return [v for (v,) in conn.execute(sa.text("SELECT version_num FROM alembic_version"))]


def test_answers_ratings_and_staff_views_work_as_on_sqlite(store: FeedbackStore) -> None:
    conversation = str(uuid.uuid4())
    first = store.log_answer(conversation, "  Can the exam be taken online? ", answered())
    store.log_answer(conversation, "What is the exam fee?", refused())
    store.log_answer(str(uuid.uuid4()), "what is the EXAM fee!", refused())

    assert HEX_ID.fullmatch(first)
    store.record_feedback(first, conversation, "down", "  Too short. ")
    store.record_feedback(first, conversation, "up")
    with pytest.raises(KeyError):
        store.record_feedback(first, str(uuid.uuid4()), "down")  # another conversation
    with pytest.raises(KeyError):
        store.record_feedback("0" * 32, conversation, "down")

    newest, _, oldest = store.recent()
    assert oldest["question"] == "Can the exam be taken online?"
    assert oldest["citations"] == [CITATION] and oldest["refused"] is False
    assert (oldest["rating"], oldest["comment"]) == ("up", None)
    assert oldest["time"].endswith("+00:00") and newest["refused"] is True
    assert store.thumbs_down() == []
    assert store.summary() == {
        "questions": 3, "answered": 1, "refused": 2, "share_refused": 2 / 3,
        "thumbs_up": 1, "thumbs_down": 0,
    }  # fmt: skip
    assert [(g["normalized"], g["count"], g["question"]) for g in store.refused_groups()] == [
        ("what is the exam fee", 2, "what is the EXAM fee!")
    ]
    assert store.per_day() == [{"day": oldest["time"][:10], "questions": 3}]
    with store.engine.connect() as conn:
        events = conn.execute(sa.text("SELECT rating, comment FROM ratings ORDER BY id")).all()
    assert [tuple(e) for e in events] == [("down", "Too short."), ("up", None)]
    turns = store.conversation_turns(conversation)
    assert [t["question"] for t in turns] == [
        "Can the exam be taken online?",
        "What is the exam fee?",
    ]
    assert turns[0]["interaction_id"] == first and turns[1]["refused"] is True


def test_two_hosts_share_one_database(postgres_url: str) -> None:
    """What two API hosts and the staff dashboard see: one store, whoever wrote to it."""
    host_a, host_b, staff = (FeedbackStore(postgres_url) for _ in range(3))
    conversation = str(uuid.uuid4())
    asked_on_a = host_a.log_answer(conversation, "Asked on host A", answered())
    host_b.log_answer(conversation, "Asked on host B", refused())
    host_b.record_feedback(asked_on_a, conversation, "down", "rated through host B")

    assert [r["question"] for r in staff.recent()] == ["Asked on host B", "Asked on host A"]
    assert [r["comment"] for r in staff.thumbs_down()] == ["rated through host B"]
    assert staff.summary()["questions"] == 2
    assert len(host_a.conversation_turns(conversation)) == 2


def test_concurrent_writes_from_threads_all_land(store: FeedbackStore) -> None:
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            conversation = str(uuid.uuid4())
            for i in range(15):
                interaction = store.log_answer(conversation, f"thread {n} q{i}", answered())
                store.record_feedback(interaction, conversation, "up" if i % 2 else "down")
        except BaseException as error:  # surfaced below, not lost in the thread
            errors.append(error)

    workers = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert not errors
    summary = store.summary()
    assert summary["questions"] == 90 and summary["thumbs_up"] + summary["thumbs_down"] == 90


def test_hosts_starting_together_migrate_once(postgres_url: str) -> None:
    """Eight stores open an empty database at once: one migrates, the others wait for it."""
    assert open_together(postgres_url) == []  # without the advisory lock: "already exists"
    assert head(postgres_url) == ["0004"]


def test_the_migrations_build_exactly_the_tables_the_store_uses(store: FeedbackStore) -> None:
    with store.engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), METADATA)
    assert differences == []


def test_an_unreachable_server_is_one_line_without_the_password() -> None:
    from api_process import free_port

    url = f"postgresql+psycopg://cert:hunter2-secret@127.0.0.1:{free_port()}/cert"
    with pytest.raises(FeedbackDatabaseError) as error:
        FeedbackStore(url)
    message = str(error.value)
    assert message.startswith("Cannot open the feedback database postgresql+psycopg://cert:***@")
    assert "hunter2" not in message and "\n" not in message
