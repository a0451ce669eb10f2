"""The learner's page: ask about the course, read the cited answer as it streams, rate it."""

from __future__ import annotations

import itertools
import logging
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import streamlit as st

from cert_assistant.errors import CertAssistantError, IndexMissingError, QuestionError
from cert_assistant.feedback import MAX_COMMENT_CHARS, FeedbackStore
from retrieval import Answer, Assistant, DoneEvent, Event, IndexInfo, TextEvent
from ui.coverage import CoveredPage, assistant_contents
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
RATINGS = ("down", "up")  # st.feedback("thumbs") returns 0 for down, 1 for up
SORRY = "Sorry, something went wrong while answering. Please try again in a moment."


# --- state ----------------------------------------------------------------------------------
def start_conversation() -> None:
    """Forget the conversation and start a new one under a fresh random id."""
    st.session_state.messages = []
    st.session_state.conversation_id = str(uuid.uuid4())


def queue_question(question: str) -> None:
    """Ask `question` on the next run (example buttons)."""
    st.session_state.pending_question = question


def save_feedback(store: FeedbackStore, interaction_id: str) -> None:
    """Store the rating (and comment, if any) the learner gave one answer of this conversation."""
    rating = st.session_state.get(f"rating-{interaction_id}")
    if rating is None:  # rating cleared: keep the last one given
        return
    comment = st.session_state.get(f"comment-{interaction_id}")
    try:
        conversation = st.session_state.conversation_id
        store.record_feedback(interaction_id, conversation, RATINGS[rating], comment)
    except Exception:
        log.exception("Saving feedback for interaction %s failed", interaction_id)
        st.toast("Sorry, your feedback could not be saved.", icon=":material/error:")
        return
    st.toast("Thanks for the feedback!", icon=":material/thumb_up:")


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


def render_assistant_message(message: dict[str, Any], store: FeedbackStore) -> None:
    """The details under an answer: what was searched, sources or suggestions, feedback."""
    answer = message["answer"]
    if message.get("searched"):
        st.caption(f":material/search: Searched the course for: *{_md(message['searched'])}*")
    if answer["refused"]:
        st.caption(":material/search_off: Not covered by the course content: no sources.")
        if answer["suggestions"]:
            links = [f"- {link(_path(s), s['url'])}" for s in answer["suggestions"]]
            st.markdown("**Closest sections in the course:**\n" + "\n".join(links))
    else:
        render_sources(answer["citations"])
    if message.get("interaction_id") is not None:
        render_feedback(message["interaction_id"], store)


def render_sources(citations: list[dict[str, Any]]) -> None:
    """Each source: number, title and section linked to the course page, quoted passage."""
    if not citations:
        return
    st.markdown("**Sources**")
    for c in citations:
        st.markdown(f"**[{c['n']}]** {link(_path(c), c['url'])}")
        with st.expander(f"Quoted passage [{c['n']}]", expanded=False):
            st.markdown("\n".join(f"> {_md(line)}" for line in c["text"].splitlines()))


def render_feedback(interaction_id: str, store: FeedbackStore) -> None:
    """Thumbs up/down, then an optional comment once a thumb is chosen."""
    st.feedback(
        "thumbs",
        key=f"rating-{interaction_id}",
        on_change=save_feedback,
        args=(store, interaction_id),
    )
    if st.session_state.get(f"rating-{interaction_id}") is not None:
        st.text_input(
            "Comment",
            key=f"comment-{interaction_id}",
            placeholder="Anything to add? (optional, press Enter to send)",
            max_chars=MAX_COMMENT_CHARS,
            label_visibility="collapsed",
            on_change=save_feedback,
            args=(store, interaction_id),
        )


# --- asking ---------------------------------------------------------------------------------
def ask(question: str, assistant: Assistant, store: FeedbackStore, max_turns: int) -> None:
    """Answer one question in the chat, streaming it, then log it for feedback.

    A question the assistant rejects (empty, too long) leaves a message instead of a turn;
    any other failure is logged with details and the learner sees a short apology.
    """
    messages = st.session_state.messages
    history = [{"role": m["role"], "content": m["content"]} for m in messages][-max_turns:]
    turn = st.empty()
    try:
        with turn.container():
            with st.chat_message("user"):
                st.markdown(_md(question))
            with st.chat_message("assistant"):
                events = assistant.stream(question, history)
                with st.spinner("Searching the course…"):
                    first = next(events)  # the question is checked before the first event
                done: list[Answer] = []
                st.write_stream(_texts(first, events, done))
                message = _remember(question, done[0], store)
                render_assistant_message(message, store)
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
            yield _md(event.text) + " "
        elif isinstance(event, DoneEvent):
            done.append(event.answer)


def _remember(question: str, answer: Answer, store: FeedbackStore) -> dict[str, Any]:
    """Add the turn to the conversation and log it; returns the assistant's message."""
    payload = answer.to_json()
    try:
        interaction_id = store.log_answer(st.session_state.conversation_id, question, payload)
    except Exception:  # an answer is still worth showing when the log is unavailable
        log.exception("Logging an answer to the feedback store failed")
        interaction_id = None
    searched = answer.query if answer.query and answer.query != question.strip() else None
    message = {
        "role": "assistant",
        "content": answer.answer,
        "answer": payload,
        "searched": searched,
        "interaction_id": interaction_id,
    }
    st.session_state.messages += [{"role": "user", "content": question.strip()}, message]
    return message


# --- helpers --------------------------------------------------------------------------------
def _md(text: str) -> str:
    """Text shown as Markdown without `$` turning into maths."""
    return text.replace("$", "\\$")


def _path(place: dict[str, Any]) -> str:
    """ "Title › Section › Subsection" for a citation or suggestion."""
    return place["section"].replace(" > ", " › ") or place["title"]


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
    """The assistant and what it knows; stops the page with instructions when it cannot work."""
    try:
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
settings = load_settings()
assistant, info = open_assistant()
store = load_feedback_store()
embedded = bool(st.context.is_embedded)
if "messages" not in st.session_state:
    start_conversation()

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

for message in st.session_state.messages:
    with st.chat_message(message["role"]):
        st.markdown(_md(message["content"]))
        if message["role"] == "assistant":
            render_assistant_message(message, store)

if question is not None:
    ask(question, assistant, store, settings.max_history_turns)
