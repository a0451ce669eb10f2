"""The Streamlit app under AppTest: the real assistant on a real index built for the session."""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

pytestmark = pytest.mark.ui

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "app.py"
TIMEOUT = 180  # the first run loads the embedding model
SITE = "https://courses.example.com/certified-mlops-architect"
COPY = "cert_assistant.copy_button"  # the component of `ui/copy_button.py`
# Every heading of the course, read from its files: what a suggested question may come from.
HEADINGS = {
    line.lstrip("#").strip()
    for path in (ROOT / "knowledge").glob("*.md")
    for line in path.read_text(encoding="utf-8").splitlines()
    if line.startswith("#")
}


@pytest.fixture(scope="session")
def index_dir(real_index: Path) -> Path:
    """The session's index of `knowledge/`, built with the real model (see conftest)."""
    return real_index


@pytest.fixture
def feedback_db(index_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point the app at the test index and a fresh feedback file; yields the file."""
    from ui.resources import load_feedback_store, load_settings

    db = tmp_path / "feedback.sqlite3"
    monkeypatch.syspath_prepend(str(ROOT))
    monkeypatch.setenv("CERT_ASSISTANT_DATA_DIR", str(index_dir))
    monkeypatch.setenv("CERT_ASSISTANT_FEEDBACK_DB", str(db))
    # The assistant stays cached across tests (same index); settings and store follow the env.
    load_settings.clear()
    load_feedback_store.clear()
    yield db
    load_settings.clear()
    load_feedback_store.clear()


def open_app(embedded: bool = False) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    if embedded:
        at.context = {"is_embedded": True}
    at.run()
    assert not at.exception
    return at


def ask(at: AppTest, question: str) -> AppTest:
    at.chat_input(key="question").set_value(question).run()
    assert not at.exception
    return at


def texts(block) -> str:
    """All Markdown and captions of a block, as one string."""
    return "\n".join([m.value for m in block.markdown] + [c.value for c in block.caption])


def copied(block) -> list[str]:
    """What the "Copy" buttons of a block put on the clipboard, in order."""
    buttons = [e for e in block.get("bidi_component") if e.proto.component_name == COPY]
    return [json.loads(b.proto.json)["text"] for b in buttons]


def follow_ups(block) -> list[str]:
    """The questions offered to ask next in a block (the page, a message), as shown."""
    return [b.label for b in block.button if b.key.startswith("follow-up-")]


def unescape(markdown: str) -> str:
    """Markdown with its backslash escapes undone: the text the learner reads."""
    return re.sub(r"\\(.)", r"\1", markdown)


def rows(db: Path) -> list[sqlite3.Row]:
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        return conn.execute("SELECT * FROM interactions ORDER BY id").fetchall()


def test_first_visit_shows_welcome_examples_and_what_the_bot_knows(feedback_db: Path) -> None:
    at = open_app()

    assert at.title[0].value == "Certified MLOps Architect assistant"
    examples = [b for b in at.button if b.key.startswith("example-")]
    assert 3 <= len(examples) <= 5
    assert not at.chat_message
    # What the assistant covers, linked to the course site; nothing about files or models.
    assert [e.label for e in at.sidebar.expander] == [
        "Course guide", "Frequently asked questions", "Syllabus",
    ]  # fmt: skip
    sidebar = texts(at.sidebar)
    foundation = "https://courses.example.com/certified-mlops-architect/syllabus#foundation-level"
    assert f"[Foundation level]({foundation})" in sidebar
    assert "Course content last updated" in sidebar
    for private in ("knowledge/", ".md", "MiniLM", "Embedding", "LLM", "passages", "chroma"):
        assert private not in sidebar


def test_every_example_question_is_answered_with_sources(feedback_db: Path) -> None:
    at = open_app()
    keys = [b.key for b in at.button if b.key.startswith("example-")]
    for key in keys:
        at = open_app()
        label = at.button(key=key).label
        at.button(key=key).click().run()
        assert not at.exception
        user, assistant = at.chat_message
        assert user.text[0].value == label
        assert "**Sources**" in texts(assistant), label
    assert len(rows(feedback_db)) == len(keys)


def test_a_question_gets_an_answer_with_sources_and_feedback(feedback_db: Path) -> None:
    at = ask(open_app(), "How long does it usually take to get certified?")

    user, assistant = at.chat_message
    assert (user.name, assistant.name) == ("user", "assistant")
    shown = texts(assistant)
    assert "30 to 90 days" in assistant.markdown[0].value
    assert "**Sources**" in shown
    assert "/faq#how-long-does-it-usually-take-to-get-certified)" in shown
    passage = assistant.expander[0]
    assert passage.label == "Quoted passage [1]"
    assert "30 to 90 days" in texts(passage)
    assert [f.key for f in at.feedback] == [f"rating-{rows(feedback_db)[0]['public_id']}"]
    assert not at.button(key="new-conversation").value
    assert not [b for b in at.button if b.key.startswith("example-")]  # welcome gone


def test_a_follow_up_is_answered_with_the_conversation(feedback_db: Path) -> None:
    at = ask(open_app(), "What is the Foundation level?")
    ask(at, "how long does it take?")

    assert len(at.chat_message) == 4
    follow_up = texts(at.chat_message[3])
    assert "Searched the course for: *how long does it take? \\(Foundation level\\)*" in follow_up
    assert "**Sources**" in follow_up
    assert [r["conversation_id"] for r in rows(feedback_db)] == [
        at.session_state["conversation_id"]
    ] * 2


def test_an_off_topic_question_is_refused_without_sources(feedback_db: Path) -> None:
    at = ask(open_app(), "What's the weather in Paris tomorrow?")

    assistant = at.chat_message[1]
    assert assistant.markdown[0].value.startswith("Sorry, the course content doesn't cover that.")
    assert "Not covered by the course content" in texts(assistant)
    assert "**Sources**" not in texts(assistant)
    assert not assistant.expander
    assert rows(feedback_db)[0]["refused"] == 1
    assert not at.link_button  # no contact route configured: none offered
    assert not follow_ups(at)  # nothing to follow up on


def test_feedback_and_comment_land_in_the_sqlite_file(feedback_db: Path) -> None:
    at = ask(open_app(), "Can the exam be taken online?")
    (row,) = rows(feedback_db)
    assert row["question"] == "Can the exam be taken online?"
    assert "online" in row["answer"] and "faq.md" in row["citations"]
    assert row["rating"] is None
    answer = row["public_id"]  # the random id the page knows the answer by

    at.feedback(key=f"rating-{answer}").set_value(0).run()  # thumbs down
    assert not at.exception
    assert rows(feedback_db)[0]["rating"] == "down"

    at.text_input(key=f"comment-{answer}").input("It does not say which proctoring tool.").run()
    assert not at.exception
    assert rows(feedback_db)[0]["comment"] == "It does not say which proctoring tool."

    at.feedback(key=f"rating-{answer}").set_value(1).run()  # changed their mind
    assert not at.exception
    (row,) = rows(feedback_db)
    assert (row["rating"], row["comment"]) == ("up", "It does not say which proctoring tool.")
    with sqlite3.connect(feedback_db) as conn:  # every rating is kept, the latest shown
        events = conn.execute("SELECT rating FROM ratings ORDER BY id").fetchall()
    assert events == [("down",), ("down",), ("up",)]


@pytest.mark.parametrize(
    ("question", "message"),
    [("   ", "The question is empty"), ("x" * 2001, "the limit is 2000")],
    ids=["empty", "oversized"],
)
def test_bad_input_shows_a_message_and_no_turn(
    feedback_db: Path, question: str, message: str
) -> None:
    at = ask(open_app(), question)

    assert message in at.warning[0].value
    assert not at.chat_message
    assert at.session_state["messages"] == []
    assert rows(feedback_db) == []


def test_an_error_in_the_chain_is_logged_and_shown_kindly(
    feedback_db: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from ui.resources import load_assistant

    at = open_app()

    def broken(question: str, history: object = None):
        raise RuntimeError("the store went away")
        yield  # a generator, like the real stream

    monkeypatch.setattr(load_assistant(), "stream", broken)
    with caplog.at_level(logging.ERROR):
        ask(at, "Can the exam be taken online?")

    assert "something went wrong" in at.error[0].value
    assert not at.chat_message
    assert any(r.exc_info and "the store went away" in str(r.exc_info[1]) for r in caplog.records)


def test_new_conversation_clears_the_chat(feedback_db: Path) -> None:
    at = ask(open_app(), "What is the Foundation level?")
    before = at.session_state["conversation_id"]

    at.button(key="new-conversation").click().run()
    assert not at.exception
    assert not at.chat_message
    assert at.session_state["conversation_id"] != before
    assert [b for b in at.button if b.key.startswith("example-")]


def test_embedded_mode_is_compact(feedback_db: Path) -> None:
    at = open_app(embedded=True)

    assert not at.title
    assert not at.sidebar.markdown and not at.sidebar.caption
    assert [b for b in at.button if b.key.startswith("example-")]
    ask(at, "Can the exam be taken online?")
    assert "**Sources**" in texts(at.chat_message[1])


def test_missing_index_shows_how_to_build_it(
    feedback_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CERT_ASSISTANT_DATA_DIR", str(tmp_path / "empty"))
    st.cache_resource.clear()
    try:
        at = open_app()
        assert "cert-assistant ingest" in at.info[0].value
        assert not at.chat_input
    finally:
        st.cache_resource.clear()  # the next test builds the assistant on the real index


# --- answers as people expect them (issue 10) ------------------------------------------------
def test_answer_markers_link_to_the_cited_sections(feedback_db: Path) -> None:
    at = ask(open_app(), "How long does it usually take to get certified?")

    text = at.chat_message[1].markdown[0].value
    faq = f"{SITE}/faq#how-long-does-it-usually-take-to-get-certified"
    assert f"[\\[1\\]]({faq})" in text  # the marker [1] is a link to its section
    assert not re.search(r"(?<!\\)\[\d+\](?!\()", text)  # no marker left unlinked

    at.run()  # replayed from the conversation: still linked
    assert at.chat_message[1].markdown[0].value == text


def test_every_answer_has_a_copy_button_with_its_text(feedback_db: Path) -> None:
    at = ask(open_app(), "Can the exam be taken online?")
    ask(at, "What's the weather in Paris tomorrow?")

    answer, refusal = at.session_state["messages"][1], at.session_state["messages"][3]
    [first] = copied(at.chat_message[1])
    assert first.startswith(answer["content"] + "\n\nSources:\n[1] ")
    assert f"{SITE}/faq#can-the-exam-be-taken-online" in first
    assert copied(at.chat_message[3]) == [refusal["content"]]  # a refusal: its text alone


def test_follow_up_questions_come_from_the_course_and_ask_when_clicked(feedback_db: Path) -> None:
    asked = "Can the exam be taken online?"
    at = ask(open_app(), asked)

    offered = [unescape(label) for label in follow_ups(at)]
    assert 2 <= len(offered) <= 3
    assert asked not in offered
    assert all(q in HEADINGS for q in offered)  # cited a FAQ: its neighbours, FAQ questions
    assert all(q.endswith("?") for q in offered)

    at.button(key="follow-up-0").click().run()
    assert not at.exception
    assert len(at.chat_message) == 4
    assert at.chat_message[2].text[0].value == offered[0]
    assert "**Sources**" in texts(at.chat_message[3])
    # New suggestions under the new answer, none left under the first one.
    assert offered[0] not in [unescape(label) for label in follow_ups(at)]
    assert follow_ups(at.chat_message[3]) and not follow_ups(at.chat_message[1])


def test_follow_ups_of_a_section_put_faq_questions_first(feedback_db: Path) -> None:
    at = ask(open_app(), "What is the Foundation level?")

    offered = [unescape(label) for label in follow_ups(at)]
    assert 2 <= len(offered) <= 3
    faq = [q.endswith("?") for q in offered]
    assert faq == sorted(faq, reverse=True) and faq[0]  # FAQ questions first
    # The FAQ that names the section is offered first unless the answer already quotes it
    # (`follow_ups`' doctest): a question the answer has answered is not offered again.
    prerequisites = "Does the Foundation level have any prerequisites?"
    if "no formal prerequisites" in texts(at.chat_message[1]):
        assert prerequisites not in offered
    else:
        assert offered[0] == prerequisites, offered
    for question in offered[faq.count(True) :]:  # the others name a heading of the course
        heading = re.fullmatch(r"Tell me about (.+?)(?: \((.+)\))?", question)
        assert heading and heading[1].casefold() in {h.casefold() for h in HEADINGS}, question


def test_a_refusal_offers_the_course_team_when_configured(
    feedback_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ui.resources import load_settings

    monkeypatch.setenv("CERT_ASSISTANT_CONTACT_URL", "mailto:course-team@example.com")
    load_settings.clear()
    at = ask(open_app(), "What's the weather in Paris tomorrow?")

    [contact] = at.chat_message[1].link_button
    assert (contact.proto.label, contact.proto.url) == (
        "Ask the course team", "mailto:course-team@example.com",
    )  # fmt: skip
    ask(at, "Can the exam be taken online?")  # an answer needs no contact route
    assert len(at.link_button) == 1


def test_a_bad_contact_url_is_explained(feedback_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ui.resources import load_settings

    monkeypatch.setenv("CERT_ASSISTANT_CONTACT_URL", "javascript:alert(1)")
    load_settings.clear()
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()

    assert not at.exception
    assert "CERT_ASSISTANT_CONTACT_URL" in at.error[0].value
    assert not at.chat_input


def test_a_question_is_shown_as_text_not_markdown(feedback_db: Path) -> None:
    question = "![](http://127.0.0.1:9/x.png) **Can** the exam be taken online?"
    at = ask(open_app(), question)

    user = at.chat_message[0]
    assert user.text[0].value == question
    assert not user.markdown
    at.run()  # and so it stays when the conversation is replayed
    assert at.chat_message[0].text[0].value == question


def test_conversation_ids_are_128_random_bits() -> None:
    from ui.conversation_memory import new_conversation_id

    ids = [uuid.UUID(new_conversation_id()).int for _ in range(1000)]
    assert len(set(ids)) == 1000
    seen = 0
    for number in ids:
        seen |= number
    assert seen == 2**128 - 1  # every bit varies: no fixed version bits as in uuid4 (122)
