"""What learners, staff and API clients see of hostile knowledge files (issue 11): no server
paths in `/healthz`, bounded answers and feedback rows, and links that cannot break out of
the Markdown the chat and the staff page build.
"""

from __future__ import annotations

import doctest
import importlib
import json
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from markdown_it import MarkdownIt
from streamlit.testing.v1 import AppTest

from cert_assistant.api import create_app
from cert_assistant.feedback import FeedbackStore
from cert_core.settings import Settings
from ingest import ingest
from retrieval import Assistant, HybridRetriever, IndexInfo

ROOT = Path(__file__).resolve().parents[1]
TRACKER = "http://tracker.example/p.png"
FORGED_URL = f"https://course.example.org/x) ![t]({TRACKER}"
FORGED_SECTION = f"Exam › Fees ![s]({TRACKER})"


def images_and_links(markdown: str) -> tuple[list[str], list[str]]:
    """Sources of the images and targets of the links a Markdown text renders."""
    images, links = [], []
    for token in MarkdownIt("commonmark").parse(markdown):
        for child in token.children or []:
            if child.type == "image":
                images.append(child.attrs["src"])
            elif child.type == "link_open":
                links.append(child.attrs["href"])
    return images, links


# --- the API ------------------------------------------------------------------------------


class _IndexOnServer:
    """A stand-in assistant whose index lives under server paths."""

    def info(self) -> IndexInfo:
        return IndexInfo(
            documents=["knowledge/faq.md"],
            chunks=3,
            model="/srv/cert-assistant/models/all-MiniLM-L6-v2",
            ingested_at="2026-01-01T00:00:00+00:00",
            checked_at="2026-01-01T00:00:00+00:00",
            store="/srv/cert-assistant/data/chroma",
            llm=None,
        )


def test_healthz_shows_no_server_path(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", demo_dir=None)
    app = create_app(settings, _IndexOnServer(), FeedbackStore(tmp_path / "f.sqlite3"))

    with TestClient(app) as client:
        body = client.get("/healthz").json()

    assert body["status"] == "ok"
    assert "/srv" not in json.dumps(body)  # before: "store": "/srv/cert-assistant/data/chroma"
    assert (body["store"], body["model"]) == ("embedded", "all-MiniLM-L6-v2")
    assert body["documents"] == ["knowledge/faq.md"]


def test_an_answer_from_a_huge_single_line_file_stays_small(
    tmp_path: Path, chunk_store, fake_embedder
) -> None:
    knowledge = tmp_path / "knowledge"
    knowledge.mkdir()
    answer = "Yes, the exam is taken online with remote proctoring and a webcam " * 3000
    faq = f"---\ntitle: Exam\npage: /exam\n---\n\n# Exam\n\n## Is the exam online?\n\n{answer}\n"
    (knowledge / "exam.md").write_text(faq, encoding="utf-8")  # 200 KB, the answer one line
    ingest([knowledge], chunk_store, fake_embedder, model="fake", progress=False)
    settings = Settings(data_dir=tmp_path / "data", demo_dir=None)
    assistant = Assistant(HybridRetriever(store=chunk_store, embedder=fake_embedder), settings)
    app = create_app(settings, assistant, FeedbackStore(tmp_path / "f.sqlite3"))

    with TestClient(app) as client:
        question = "Is the exam taken online with remote proctoring?"
        response = client.post("/api/chat", json={"question": question})

    assert response.status_code == 200
    assert response.json()["citations"]
    assert len(response.content) < 20_000  # before: 400 KB, the whole answer in the quote


def test_the_feedback_store_keeps_a_bounded_answer(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "feedback.sqlite3")
    citation = {
        "n": 1,
        "title": "T",
        "section": "S",
        "url": "u",
        "source": "s",
        "text": "y" * 10**6,
    }
    answer = {"answer": "x" * 10**6, "citations": [citation], "refused": False, "suggestions": []}

    store.log_answer(str(uuid.uuid4()), "How much?", answer)

    with sqlite3.connect(store.path) as conn:
        text, citations = conn.execute("SELECT answer, citations FROM interactions").fetchone()
    assert len(text) <= 20_000 and text.endswith("…")  # before: the whole megabyte
    assert len(json.loads(citations)[0]["text"]) <= 20_000


# --- the staff page and the chat ------------------------------------------------------------


def forged_answer(refused: bool = False) -> dict[str, Any]:
    """An answer whose links come from an index built before `page` was checked."""
    place = {"title": "Exam", "section": FORGED_SECTION, "url": FORGED_URL}
    citation = {**place, "n": 1, "source": "knowledge/`x`.md", "text": "The exam is online."}
    return {
        "answer": "Sorry, the course content doesn't cover that." if refused else "Online. [1]",
        "citations": [] if refused else [citation],
        "refused": refused,
        "suggestions": [place] if refused else [],
    }


def assert_no_image_and_safe_links(markdown: list[str]) -> None:
    rendered = [images_and_links(m) for m in markdown]
    assert [src for images, _ in rendered for src in images] == []
    hrefs = [href for _, links in rendered for href in links]
    assert hrefs and all(h.startswith("https://course.example.org/x%29") for h in hrefs)


@pytest.mark.ui
def test_the_staff_page_builds_links_that_cannot_fetch_an_image(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ui.resources import load_feedback_store, load_settings

    db = tmp_path / "feedback.sqlite3"
    store = FeedbackStore(db)
    conversation = str(uuid.uuid4())
    answered = store.log_answer(conversation, "Is the exam online?", forged_answer())
    store.record_feedback(answered, conversation, "down", "wrong")
    monkeypatch.syspath_prepend(str(ROOT))
    monkeypatch.setenv("CERT_ASSISTANT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CERT_ASSISTANT_FEEDBACK_DB", str(db))
    load_settings.clear()
    load_feedback_store.clear()
    try:
        at = AppTest.from_file(str(ROOT / "ui" / "staff.py"), default_timeout=60).run()
    finally:
        load_settings.clear()
        load_feedback_store.clear()

    assert not at.exception
    (disliked,) = at.expander
    assert_no_image_and_safe_links([m.value for m in disliked.markdown])


@pytest.mark.ui
def test_the_chat_builds_links_that_cannot_fetch_an_image(
    real_index: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ui.resources import load_feedback_store, load_settings

    monkeypatch.syspath_prepend(str(ROOT))
    monkeypatch.setenv("CERT_ASSISTANT_DATA_DIR", str(real_index))
    monkeypatch.setenv("CERT_ASSISTANT_FEEDBACK_DB", str(tmp_path / "feedback.sqlite3"))
    load_settings.clear()
    load_feedback_store.clear()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.session_state["conversation_id"] = str(uuid.uuid4())
    at.session_state["messages"] = [
        {"role": role, "content": text, "answer": answer, "interaction_id": None}
        for answer in (forged_answer(), forged_answer(refused=True))
        for role, text in (("user", "Is the exam online?"), ("assistant", answer["answer"]))
    ]
    try:
        at.run()
    finally:
        load_settings.clear()
        load_feedback_store.clear()

    assert not at.exception
    answers = [m for m in at.chat_message if m.name == "assistant"]
    assert len(answers) == 2
    assert_no_image_and_safe_links([m.value for a in answers for m in a.markdown])


@pytest.mark.parametrize(
    "name",
    ["ingest.sources", "ingest.loaders", "ingest.splitter", "ingest.pipeline", "ui.safe_markdown"],
)
def test_doctests_of_the_modules_that_name_read_split_and_link_pass(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(ROOT))  # `ui` is a folder of pages, not an installed package
    failed, attempted = doctest.testmod(importlib.import_module(name), report=True)
    assert attempted > 0 and failed == 0
