"""The staff page: what learners ask, what the course misses, which answers they disliked."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any

import altair as alt
import streamlit as st

from cert_assistant.feedback import FeedbackStore
from ui.resources import load_assistant, load_feedback_store, load_settings
from ui.safe_markdown import escape, link
from ui.staff_tables import chart_days, local_time, recent_table, refused_table, staff_zone

log = logging.getLogger("ui.staff")  # pages run as __main__: name the logger

RECENT = 50
REFUSED_SHOWN = 20
REFUSED_EXPORTED = 100_000  # every group, in practice
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
    """Bars of questions per UTC day, a week at least, so one day of data reads as a day."""
    st.header("Questions per day")
    days = chart_days(store.per_day(), datetime.now(UTC).date())
    chart = (
        alt.Chart(days, height=220)
        .mark_bar(size=28)
        .encode(
            x=alt.X("day:N", sort=None, title="day (UTC)", axis=alt.Axis(labelAngle=0)),
            y=alt.Y("questions:Q", title="questions", axis=alt.Axis(tickMinStep=1)),
            tooltip=["day", "questions"],
        )
    )
    st.altair_chart(chart, width="stretch")


def render_refused(store: FeedbackStore, zone: tzinfo) -> None:
    """Refused questions grouped (the gaps in the course content), and all of them as CSV."""
    st.header("Refused questions, grouped")
    st.caption("What learners look for and the course content does not cover.")
    shown = refused_table(store.refused_groups(REFUSED_SHOWN), zone)
    if shown.empty:
        st.write("No refused questions.")
        return
    st.dataframe(
        shown,
        hide_index=True,
        column_config={"last asked": f"last asked ({zone})"},
        key="refused-groups",
    )
    exported = refused_table(store.refused_groups(REFUSED_EXPORTED), zone)
    st.download_button(
        "Download the refused questions (CSV)",
        exported.to_csv(index=False).encode("utf-8"),
        file_name="refused-questions.csv",
        mime="text/csv",
        icon=":material/download:",
        key="refused-csv",
    )


def render_thumbs_down(store: FeedbackStore, zone: tzinfo) -> None:
    """Answers learners rated down, with their comment and sources; a follow-up with the
    question it followed and what the assistant searched for."""
    st.header("Thumbs-down answers")
    rows = store.thumbs_down()
    if not rows:
        st.write("No answer rated down.")
        return
    for row in rows:
        # Learners typed the question and comment: shown as plain text, never as Markdown
        # (a Markdown image would make the staff's browser fetch a URL of their choosing).
        with st.expander(f"{_plain(row['question'])}  ·  {local_time(row['time'], zone)}"):
            if row["comment"]:
                st.markdown(f"**Learner's comment:** {_plain(row['comment'])}")
            before = _turns_before(store, row)
            if before:
                st.markdown(f"**Follow-up to:** {_plain(before[-1]['question'])}")
                if searched := _searched(row, before):
                    st.markdown(f"**Searched the course for:** {_plain(searched)}")
            st.markdown(f"**Answer:** {row['answer']}")
            for c in row["citations"]:
                source = escape(c["source"])
                st.markdown(f"- [{c['n']}] {link(c['section'], c['url'])} ({source})")


def render_recent(store: FeedbackStore, zone: tzinfo) -> None:
    """The latest questions, each once with how often it was asked; a row selected shows its
    whole answer."""
    st.header("Recent questions")
    table = recent_table(store.recent(RECENT), zone)
    st.caption("Select a row to read its whole answer.")
    picked = st.dataframe(
        table,
        hide_index=True,
        column_config={
            "last asked": f"last asked ({zone})",
            "answer": st.column_config.TextColumn("answer", width="large"),
        },
        on_select="rerun",
        selection_mode="single-row",
        key="recent-questions",
    )
    for n in picked.selection.rows:
        chosen = table.iloc[n]
        with st.container(border=True, key="recent-answer"):
            st.markdown(f"**{_plain(chosen['question'])}** · {chosen['last asked']}")
            st.markdown(chosen["answer"])


def render_eval_report(path: Path) -> None:
    """The latest evaluation report, or how to make one."""
    st.header("Latest evaluation")
    if not path.is_file():
        st.info(
            "No evaluation report yet. Run `cert-assistant eval` on the server that holds the "
            "index; its report appears here.",
            icon=":material/insights:",
        )
        return
    st.caption(escape(str(path)))
    # The report's charts are files next to it, which Markdown in the browser cannot reach.
    parts = _IMAGE.split(path.read_text(encoding="utf-8"))
    for n in range(0, len(parts), 3):
        st.markdown(parts[n])
        if n + 2 < len(parts):
            alt_text, image = parts[n + 1], path.parent / parts[n + 2]
            if image.resolve().is_relative_to(path.parent.resolve()) and image.is_file():
                st.image(str(image), caption=alt_text)


def _turns_before(store: FeedbackStore, row: dict[str, Any]) -> list[dict[str, Any]]:
    """The turns of `row`'s conversation asked before it; empty for a first question."""
    turns = store.conversation_turns(row["conversation_id"])
    place = next((n for n, turn in enumerate(turns) if turn["id"] == row["id"]), 0)
    return turns[:place]


def _searched(row: dict[str, Any], before: list[dict[str, Any]]) -> str | None:
    """What the assistant searched for a follow-up: the query kept with the answer, or for
    an answer logged before queries were kept, the one it would search today; None when
    that is the question itself or the assistant cannot start here."""
    question = row["question"]
    if row.get("query"):
        return row["query"] if row["query"] != question.strip() else None
    history = []
    for turn in before:
        history += [
            {"role": "user", "content": turn["question"]},
            {"role": "assistant", "content": turn["answer"]},
        ]
    try:
        query = load_assistant().ask(question, history[-load_settings().max_history_turns :]).query
    except Exception:  # no index on this machine: the dashboard still shows the rest
        log.exception("Rebuilding the search of a follow-up failed")
        return None
    return query if query and query != question.strip() else None


def _plain(text: str) -> str:
    """Learner text with Markdown's special characters escaped, so it shows literally."""
    return _MARKDOWN.sub(r"\\\1", text)


settings = load_settings()
store = load_feedback_store()
zone = staff_zone(st.context.timezone)  # the staff's browser: times read as their clock
st.title("What learners ask")
# Plain text, not `code`: code's colour in a caption is under 4.5:1.
st.caption(f"Feedback database: {escape(settings.feedback_location)} · times in {zone}")
if render_summary(store):
    render_per_day(store)
    render_refused(store, zone)
    render_thumbs_down(store, zone)
    render_recent(store, zone)
render_eval_report(settings.data_dir / "eval-report" / "report.md")
