"""The learner's page: ask about the course, read the cited answer as it streams, copy it, rate
it, and ask one of the follow-up questions it suggests. The conversation goes on after a
reload or on the next course page (`ui/conversation_memory.py`)."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import streamlit as st

from cert_assistant.feedback import FeedbackStore
from cert_core.errors import CertAssistantError, IndexMissingError, QuestionError
from cert_core.settings import Settings
from retrieval import Answer, Assistant, DoneEvent, Event, IndexInfo, TextEvent
from ui.conversation_memory import kept_conversation, new_conversation_id
from ui.coverage import CoveredPage, assistant_contents
from ui.followups import assistant_follow_ups
from ui.messages import (
    RATINGS,
    as_markdown,
    queue_question,
    render_answer_text,
    render_assistant_message,
    render_user_message,
)
from ui.resources import load_assistant, load_feedback_store, load_settings
from ui.safe_markdown import escape, link

log = logging.getLogger("ui.chat")  # pages run as __main__: name the logger

COURSE = "Certified MLOps Architect"
EXAMPLES = (
    "How long does it usually take to get certified?",
    "What is the Foundation level?",
    "Which certifications are recommended for a Security Engineer?",
    "Can the exam be taken online?",
)
SORRY = "Sorry, something went wrong while answering. Please try again in a moment."


# --- state ----------------------------------------------------------------------------------
def start_conversation() -> None:
    """Forget the conversation and start a new one under a fresh random id."""
    st.session_state.messages = []
    st.session_state.conversation_id = new_conversation_id()
    st.session_state.resuming = False  # the browser keeps this one from now on


def resume_conversation(conversation_id: str, store: FeedbackStore, assistant: Assistant) -> None:
    """Go on with the conversation the browser kept: its turns from the store, as they were
    shown, ratings included; the questions to ask next under its last answer."""
    try:
        turns = store.conversation_turns(conversation_id)
    except Exception:  # the learner still gets the chat, under the same conversation
        log.exception("Reading a kept conversation from the feedback store failed")
        turns = []
    messages: list[dict[str, Any]] = []
    for turn in turns:
        answer = {k: turn[k] for k in ("answer", "citations", "refused", "suggestions")}
        messages += [
            {"role": "user", "content": turn["question"]},
            {"role": "assistant", "content": turn["answer"], "answer": answer,
             "interaction_id": turn["interaction_id"]},
        ]  # fmt: skip
        if turn["rating"] in RATINGS:
            st.session_state[f"rating-{turn['interaction_id']}"] = RATINGS.index(turn["rating"])
            st.session_state[f"comment-{turn['interaction_id']}"] = turn["comment"] or ""
    if messages:
        asked = [t["question"] for t in turns]
        last = messages[-1]["answer"]
        messages[-1]["follow_ups"] = _follow_ups(
            assistant, last["refused"], last["citations"], asked
        )
    st.session_state.conversation_id = conversation_id
    st.session_state.messages = messages
    st.session_state.resuming = False


# --- rendering ------------------------------------------------------------------------------
def render_sidebar(pages: list[CoveredPage], updated: str) -> None:
    """What the assistant covers: the course's pages and their sections, linked, and when the
    content last changed (nothing about files, models or servers)."""
    with st.sidebar:
        st.subheader("What I can answer")
        st.caption("Questions about these course pages:")
        for page in pages:
            with st.expander(escape(page.title)):
                lines = [link("Open the page", page.url)] if page.url else []
                lines += [f"- {_place(s.title, s.url)}" for s in page.sections]
                st.markdown("\n".join(lines))
        st.caption(f"Course content last updated {_when(updated)}")


def render_welcome(embedded: bool) -> None:
    """First visit: what this is, and a few questions to click."""
    if not embedded:
        st.markdown(
            "Ask anything about the course. Every answer quotes the course pages and links "
            "to the sections it comes from."
        )
    st.caption("Try one of these:")
    for n, question in enumerate(EXAMPLES):
        st.button(question, key=f"example-{n}", on_click=queue_question, args=(question,))


# --- asking ---------------------------------------------------------------------------------
def ask(question: str, assistant: Assistant, store: FeedbackStore, settings: Settings) -> None:
    """Answer one question in the chat, streaming it, then log it for feedback.

    The streamed text is replaced, once the answer is complete, by the same text with its
    markers linked (the citations come after the text). A question the assistant rejects
    (empty, too long) leaves a message instead of a turn; any other failure is logged with
    details and the learner sees a short apology.
    """
    messages = st.session_state.messages
    turns = settings.max_history_turns
    history = [{"role": m["role"], "content": m["content"]} for m in messages][-turns:]
    turn = st.empty()
    try:
        with turn.container():
            with st.chat_message("user"):
                render_user_message(question)
            with st.chat_message("assistant"):
                events = assistant.stream(question, history)
                with st.spinner("Searching the course…"):
                    first = next(events)  # the question is checked before the first event
                done: list[Answer] = []
                text = st.empty()
                with text.container():
                    st.write_stream(_texts(first, events, done))
                message = _remember(question, done[0], store, assistant)
                with text.container():
                    render_answer_text(message)
                key = len(st.session_state.messages) - 1
                render_assistant_message(message, key, store, settings.contact_url, latest=True)
    except QuestionError as error:
        turn.empty()
        st.warning(str(error), icon=":material/edit_note:")
    except Exception:
        log.exception("Answering a question of %d characters failed", len(question))
        turn.empty()
        st.error(SORRY, icon=":material/error:")


def _texts(first: Event, events: Iterator[Event], done: list[Answer]) -> Iterator[str]:
    """The answer's text pieces for `st.write_stream`; the final answer lands in `done`."""
    for event in itertools.chain([first], events):
        if isinstance(event, TextEvent):
            yield as_markdown(event.text) + " "
        elif isinstance(event, DoneEvent):
            done.append(event.answer)


def _remember(
    question: str, answer: Answer, store: FeedbackStore, assistant: Assistant
) -> dict[str, Any]:
    """Add the turn to the conversation, with the questions to suggest next, and log it;
    returns the assistant's message."""
    payload = answer.to_json()
    try:
        conversation = st.session_state.conversation_id
        interaction_id = store.log_answer(conversation, question, payload, query=answer.query)
    except Exception:  # an answer is still worth showing when the log is unavailable
        log.exception("Logging an answer to the feedback store failed")
        interaction_id = None
    searched = answer.query if answer.query and answer.query != question.strip() else None
    asked = [m["content"] for m in st.session_state.messages if m["role"] == "user"]
    message = {
        "role": "assistant",
        "content": answer.answer,
        "answer": payload,
        "searched": searched,
        "interaction_id": interaction_id,
        "follow_ups": _follow_ups(
            assistant, answer.refused, payload["citations"], [*asked, question.strip()]
        ),
    }
    st.session_state.messages += [{"role": "user", "content": question.strip()}, message]
    return message


def _follow_ups(
    assistant: Assistant, refused: bool, citations: list[dict[str, Any]], asked: list[str]
) -> list[str]:
    """Questions to suggest after an answer; none after a refusal, or when they fail."""
    if refused or not citations:
        return []
    try:
        return assistant_follow_ups(assistant, [c["section"] for c in citations], asked)
    except Exception:  # an answer is still worth showing without suggestions
        log.exception("Building follow-up questions failed")
        return []


# --- helpers --------------------------------------------------------------------------------
def _when(iso: str) -> str:
    """An ISO time as a day: "26 November 2026"."""
    try:
        day = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    return f"{day.day} {day:%B %Y}"


def _place(title: str, url: str | None) -> str:
    """A section's name, linked to the course site when there is one."""
    return link(title, url) if url else escape(title)


def open_assistant() -> tuple[Assistant, IndexInfo]:
    """The assistant and what it knows; stops the page with instructions when it cannot work
    (a bad setting included)."""
    try:
        load_settings()  # a bad CERT_ASSISTANT_* value is explained below, not a traceback
        assistant = load_assistant()
        return assistant, assistant.info()
    except IndexMissingError as error:
        st.title(f"{COURSE} assistant")
        st.info(
            f"{error}\n\nThe course index has not been built yet. From the project folder, "
            "run:\n\n```\ncert-assistant ingest\n```\n\nthen reload this page.",
            icon=":material/build:",
        )
    except CertAssistantError as error:
        st.error(str(error), icon=":material/error:")
    except Exception:
        log.exception("The assistant could not start")
        st.error("The assistant could not start. The server log has the details.")
    st.stop()
    raise AssertionError("unreachable")  # st.stop() ends the run


# --- the page -------------------------------------------------------------------------------
assistant, info = open_assistant()
settings = load_settings()
store = load_feedback_store()
embedded = bool(st.context.is_embedded)
if "messages" not in st.session_state:
    start_conversation()
    st.session_state.resuming = True  # until the browser says which conversation it kept
elif "resuming" not in st.session_state:  # a session whose turns were set before this page ran
    st.session_state.resuming = False
kept = kept_conversation(
    st.session_state.conversation_id,
    starting=st.session_state.resuming and not st.session_state.messages,
)
if kept is not None and st.session_state.resuming and not st.session_state.messages:
    resume_conversation(kept, store, assistant)

typed = st.chat_input("Ask about the course…", key="question", submit_mode="disable")
question = typed if typed is not None else st.session_state.pop("pending_question", None)

if not embedded:
    render_sidebar(assistant_contents(assistant), info.ingested_at)
    st.title(f"{COURSE} assistant")
if st.session_state.messages or question is not None:
    st.button(
        "New conversation", key="new-conversation", icon=":material/restart_alt:",
        type="tertiary", on_click=start_conversation,
    )  # fmt: skip
else:
    render_welcome(embedded)

last = len(st.session_state.messages) - 1
for n, message in enumerate(st.session_state.messages):
    with st.chat_message(message["role"]):
        if message["role"] == "user":
            render_user_message(message["content"])
        else:
            render_answer_text(message)
            latest = n == last and question is None  # a new question replaces the suggestions
            render_assistant_message(message, n, store, settings.contact_url, latest)

if question is not None:
    ask(question, assistant, store, settings)
