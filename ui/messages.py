"""How the chat's messages are drawn: the learner's question as plain text; the answer with its
markers linked, then its sources (or the next step after a refusal), the questions to ask next,
and its copy and rating buttons."""

from __future__ import annotations

import logging
from typing import Any

import streamlit as st

from cert_assistant.feedback import MAX_COMMENT_CHARS, FeedbackStore
from ui.copy_button import copy_button
from ui.safe_markdown import escape, link, link_markers

log = logging.getLogger("ui.messages")

RATINGS = ("down", "up")  # st.feedback("thumbs") returns 0 for down, 1 for up


def queue_question(question: str) -> None:
    """Ask `question` on the next run (example and follow-up buttons)."""
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


def render_user_message(question: str) -> None:
    """The learner's question as they typed it: plain text, never Markdown (an image in it
    would make the browser fetch its URL)."""
    st.text(question)


def render_answer_text(message: dict[str, Any]) -> None:
    """The answer's text, each marker `[n]` a link to the section it cites."""
    answer = message["answer"]
    addresses = {c["n"]: c["url"] for c in answer["citations"]}
    st.markdown(link_markers(as_markdown(answer["answer"]), addresses))


def render_assistant_message(
    message: dict[str, Any], key: int, store: FeedbackStore, contact: str | None, latest: bool
) -> None:
    """The details under an answer: what was searched, sources or the next step after a
    refusal, the follow-up questions (under the latest answer only), copy and feedback.

    Args:
        message: The assistant's message, as `_remember` keeps it.
        key: The message's place in the conversation, for its widgets' keys.
        store: Where ratings go.
        contact: `Settings.contact_url`, offered after a refusal; None offers none.
        latest: Whether this is the last answer of the conversation.
    """
    answer = message["answer"]
    if message.get("searched"):  # rebuilt from the learner's own words: shown literally
        st.caption(f":material/search: Searched the course for: *{escape(message['searched'])}*")
    if answer["refused"]:
        render_next_step(answer["suggestions"], contact)
    else:
        render_sources(answer["citations"])
    if latest:
        render_follow_ups(message.get("follow_ups", []))
    with st.container(horizontal=True, vertical_alignment="center", gap="small"):
        copy_button(_plain(answer), key=f"copy-{key}")
        if message.get("interaction_id") is not None:
            render_rating(message["interaction_id"], store)
    if message.get("interaction_id") is not None:
        render_comment(message["interaction_id"], store)


def render_next_step(suggestions: list[dict[str, Any]], contact: str | None) -> None:
    """After a refusal: the closest sections of the course and, when set, the course team."""
    st.caption(":material/search_off: Not covered by the course content: no sources.")
    if suggestions:
        links = [f"- {link(_path(s), s['url'])}" for s in suggestions]
        st.markdown("**Closest sections in the course:**\n" + "\n".join(links))
    if contact:
        st.link_button("Ask the course team", contact, icon=":material/contact_support:")


def render_follow_ups(questions: list[str]) -> None:
    """Questions to ask next; clicking one asks it."""
    if not questions:
        return
    with st.container(gap="xxsmall"):
        st.caption("Ask next:")
        for n, question in enumerate(questions):
            st.button(  # a label is Markdown: the heading is shown as it is written
                escape(question), key=f"follow-up-{n}", type="tertiary",
                icon=":material/subdirectory_arrow_right:", on_click=queue_question,
                args=(question,),
            )  # fmt: skip


def render_sources(citations: list[dict[str, Any]]) -> None:
    """Each source: number, title and section linked to the course page, quoted passage."""
    if not citations:
        return
    st.markdown("**Sources**")
    for c in citations:
        st.markdown(f"**[{c['n']}]** {link(_path(c), c['url'])}")
        with st.expander(f"Quoted passage [{c['n']}]", expanded=False):
            st.markdown("\n".join(f"> {as_markdown(line)}" for line in c["text"].splitlines()))


def render_rating(interaction_id: str, store: FeedbackStore) -> None:
    """Thumbs up/down for one answer."""
    st.feedback(
        "thumbs",
        key=f"rating-{interaction_id}",
        on_change=save_feedback,
        args=(store, interaction_id),
    )


def render_comment(interaction_id: str, store: FeedbackStore) -> None:
    """An optional comment, once a thumb is chosen."""
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


# --- helpers --------------------------------------------------------------------------------
def as_markdown(text: str) -> str:
    """Text shown as Markdown without `$` turning into maths."""
    return text.replace("$", "\\$")


def _plain(answer: dict[str, Any]) -> str:
    """An answer as the clipboard gets it: its text, then its numbered sources with links."""
    sources = [f"[{c['n']}] {_path(c)}: {c['url']}" for c in answer["citations"]]
    return answer["answer"] + ("\n\nSources:\n" + "\n".join(sources) if sources else "")


def _path(place: dict[str, Any]) -> str:
    """ "Title › Section › Subsection" for a citation or suggestion."""
    return place["section"].replace(" > ", " › ") or place["title"]
