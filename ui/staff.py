"""The staff page: what learners ask, what the course misses, which answers they disliked."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import streamlit as st

from cert_assistant.feedback import FeedbackStore
from ui.resources import load_feedback_store, load_settings
from ui.safe_markdown import escape, link

RECENT = 50
_IMAGE = re.compile(r"^!\[([^\]]*)\]\(([^)\s:]+)\)\s*$", re.MULTILINE)  # a local image line
_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|~<>$:])")


def render_summary(store: FeedbackStore) -> bool:
    """Headline numbers; False when nobody has asked anything yet."""
    summary = store.summary()
    if not summary["questions"]:
        st.info("No questions yet. They appear here as soon as learners ask.")
        return False
    asked, answered, refused, up, down = (
        summary[k] for k in ("questions", "answered", "refused", "thumbs_up", "thumbs_down")
    )
    share = summary["share_refused"]
    columns = st.columns(4)
    columns[0].metric("Questions", asked)
    columns[1].metric("Answered", answered, f"{1 - share:.0%}", "off", delta_arrow="off")
    columns[2].metric("Refused", refused, f"{share:.0%}", "off", delta_arrow="off")
    columns[3].metric("Thumbs up / down", f"{up} / {down}")
    return True


def render_per_day(store: FeedbackStore) -> None:
    """Bar chart of questions per UTC day."""
    st.subheader("Questions per day")
    st.bar_chart(pd.DataFrame(store.per_day()), x="day", y="questions", x_label="day (UTC)")


def render_refused(store: FeedbackStore) -> None:
    """Refused questions grouped: the gaps in the course content."""
    st.subheader("Refused questions, grouped")
    st.caption("What learners look for and the course content does not cover.")
    groups = store.refused_groups()
    if not groups:
        st.write("No refused questions.")
        return
    table = pd.DataFrame(groups)[["count", "question", "last_asked"]]
    st.dataframe(
        table,
        hide_index=True,
        column_config={"question": "latest wording", "last_asked": "last asked (UTC)"},
        key="refused-groups",
    )


def render_thumbs_down(store: FeedbackStore) -> None:
    """Answers learners rated down, with their comment and the sources used."""
    st.subheader("Thumbs-down answers")
    rows = store.thumbs_down()
    if not rows:
        st.write("No answer rated down.")
        return
    for row in rows:
        # Learners typed the question and comment: shown as plain text, never as Markdown
        # (a Markdown image would make the staff's browser fetch a URL of their choosing).
        with st.expander(f"{_plain(row['question'])}  ·  {row['time'][:16].replace('T', ' ')}"):
            if row["comment"]:
                st.markdown(f"**Learner's comment:** {_plain(row['comment'])}")
            st.markdown(f"**Answer:** {row['answer']}")
            for c in row["citations"]:
                source = escape(c["source"])
                st.markdown(f"- [{c['n']}] {link(c['section'], c['url'])} ({source})")


def render_recent(store: FeedbackStore) -> None:
    """The latest questions with their outcome and rating."""
    st.subheader("Recent questions")
    table = pd.DataFrame(store.recent(RECENT))
    table = table[["time", "question", "refused", "rating", "comment", "answer"]]
    st.dataframe(table, hide_index=True, key="recent-questions")


def render_eval_report(path: Path) -> None:
    """The latest evaluation report, when one has been written."""
    if not path.is_file():
        return
    st.subheader("Latest evaluation")
    st.caption(f"`{path}`")
    # The report's charts are files next to it, which Markdown in the browser cannot reach.
    parts = _IMAGE.split(path.read_text(encoding="utf-8"))
    for n in range(0, len(parts), 3):
        st.markdown(parts[n])
        if n + 2 < len(parts):
            alt, image = parts[n + 1], path.parent / parts[n + 2]
            if image.resolve().is_relative_to(path.parent.resolve()) and image.is_file():
                st.image(str(image), caption=alt)


def _plain(text: str) -> str:
    """Learner text with Markdown's special characters escaped, so it shows literally."""
    return _MARKDOWN.sub(r"\\\1", text)


settings = load_settings()
store = load_feedback_store()
st.title("What learners ask")
st.caption(f"Feedback database: `{settings.feedback_path}`")
if render_summary(store):
    render_per_day(store)
    render_refused(store)
    render_thumbs_down(store)
    render_recent(store)
render_eval_report(settings.data_dir / "eval-report" / "report.md")
