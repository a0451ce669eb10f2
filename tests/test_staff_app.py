"""The staff dashboard under AppTest: its own app behind a sign-in, and out of the learner app."""

from __future__ import annotations

import base64
import doctest
import json
import re
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from streamlit.dataframe_util import convert_arrow_bytes_to_pandas_df
from streamlit.proto.TextInput_pb2 import TextInput as TextInputProto
from streamlit.testing.v1 import AppTest

from cert_assistant import staff_access
from ui.staff_tables import chart_days, recent_table

pytestmark = pytest.mark.ui

ROOT = Path(__file__).resolve().parents[1]
LEARNER_APP = ROOT / "app.py"
STAFF_APP = ROOT / "ui" / "staff_app.py"
TIMEOUT = 180  # the learner app's first run loads the embedding model
PASSWORD = "correct horse battery staple"
PNG = base64.b64decode(  # a 1x1 white PNG
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4//8/AAX+Av4N70a4AAAAAElFTkSuQmCC"
)
AUTH = {
    "redirect_uri": "http://localhost:8502/oauth2callback",
    "cookie_secret": "not-a-real-cookie-secret-0123456789",
    "client_id": "dashboard",
    "client_secret": "not-a-real-secret",
    "server_metadata_url": "https://id.school.example/.well-known/openid-configuration",
}
DASHBOARD = "What learners ask"


@pytest.fixture
def feedback_db(
    real_index: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """Both apps on the session's index, a fresh feedback file and the staff password.

    A developer's own `.streamlit/secrets.toml` must not change these tests: no identity
    provider unless a test sets `at.secrets`.
    """
    from ui.resources import load_feedback_store, load_settings, load_sign_in_throttle

    db = tmp_path / "feedback.sqlite3"
    monkeypatch.syspath_prepend(str(ROOT))
    monkeypatch.setenv("CERT_ASSISTANT_DATA_DIR", str(real_index))
    monkeypatch.setenv("CERT_ASSISTANT_FEEDBACK_DB", str(db))
    monkeypatch.setenv("CERT_ASSISTANT_STAFF_PASSWORD", PASSWORD)
    monkeypatch.delenv("CERT_ASSISTANT_STAFF_EMAILS", raising=False)
    real_auth_secrets = staff_access.auth_secrets
    monkeypatch.setattr(staff_access, "auth_secrets", lambda: _test_secrets(real_auth_secrets))
    caches = (load_settings, load_feedback_store, load_sign_in_throttle)
    for cache in caches:
        cache.clear()
    yield db
    for cache in caches:
        cache.clear()


def _test_secrets(read: Callable[[], dict | None]) -> dict | None:
    """The `[auth]` of `at.secrets` when a test set one (AppTest swaps `st.secrets`), else none."""
    import streamlit as st
    from streamlit.runtime.secrets import secrets_singleton

    return None if st.secrets is secrets_singleton else read()


@pytest.fixture
def provider(monkeypatch: pytest.MonkeyPatch) -> None:
    """Staff sign in through an identity provider (Authlib itself is never called here)."""
    monkeypatch.setattr(staff_access, "_authlib_installed", lambda: True)
    monkeypatch.setenv("CERT_ASSISTANT_STAFF_EMAILS", "ana@school.example,@staff.example")


def open_staff(user: dict | None = None, secrets: dict | None = None) -> AppTest:
    at = AppTest.from_file(str(STAFF_APP), default_timeout=TIMEOUT)
    if secrets is not None:
        at.secrets["auth"] = secrets
    if user is not None:
        at.user = user
    at.run()
    assert not at.exception
    return at


def sign_in(at: AppTest, password: str) -> AppTest:
    at.text_input(key="staff-password").input(password)
    at.button(key="staff-sign-in-button").click().run()
    assert not at.exception
    return at


def signed_in() -> AppTest:
    at = sign_in(open_staff(), PASSWORD)
    assert at.title[0].value == DASHBOARD
    return at


def texts(block) -> str:
    return "\n".join([m.value for m in block.markdown] + [c.value for c in block.caption])


def ask(at: AppTest, question: str) -> AppTest:
    at.chat_input(key="question").set_value(question).run()
    assert not at.exception
    return at


def open_learner() -> AppTest:
    at = AppTest.from_file(str(LEARNER_APP), default_timeout=TIMEOUT)
    at.run()
    assert not at.exception
    return at


def rows(db: Path) -> list[sqlite3.Row]:
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        return conn.execute("SELECT * FROM interactions ORDER BY id").fetchall()


# --- the learner app ------------------------------------------------------------------------
def test_the_learner_app_has_no_staff_page_to_switch_to(feedback_db: Path) -> None:
    at = open_learner()

    for page in ("ui/staff.py", "ui/staff_app.py"):
        with pytest.raises(ValueError, match="Could not find a navigation page") as raised:
            at.switch_page(page)
        assert "staff" not in str(raised.value).split("Known pages")[-1]
    assert not at.get("page_link")
    assert DASHBOARD not in texts(at) + "".join(t.value for t in at.title)


# --- the staff app: which sign-in, and refusals ---------------------------------------------
def test_without_a_sign_in_the_dashboard_says_what_to_set(
    feedback_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CERT_ASSISTANT_STAFF_PASSWORD")
    at = open_staff()

    assert "CERT_ASSISTANT_STAFF_PASSWORD" in at.error[0].value
    assert not at.text_input and not at.metric and DASHBOARD not in texts(at)


def test_the_password_opens_the_dashboard_and_a_wrong_one_does_not(feedback_db: Path) -> None:
    at = open_staff()
    assert at.title[0].value == "Staff dashboard"
    assert at.text_input(key="staff-password").proto.type == TextInputProto.PASSWORD
    assert not at.metric and not at.sidebar.button

    sign_in(at, PASSWORD[:-1])
    assert at.error[0].value == "Wrong password."
    assert not at.metric and at.title[0].value == "Staff dashboard"

    sign_in(at, PASSWORD)
    assert at.title[0].value == DASHBOARD and not at.error
    assert "No questions yet" in at.info[0].value
    assert PASSWORD not in str(at.session_state.to_dict())  # nothing keeps it

    at.button(key="sign-out").click().run()
    assert not at.exception
    assert at.title[0].value == "Staff dashboard" and at.text_input(key="staff-password")


def test_guessing_is_throttled_for_every_session(feedback_db: Path) -> None:
    for _ in range(5):
        sign_in(open_staff(), "a wrong guess, again")
    at = sign_in(open_staff(), PASSWORD)  # right, but too soon

    assert "Too many wrong passwords" in at.error[0].value
    assert not at.metric


def test_a_provider_login_opens_the_dashboard_for_staff_only(
    feedback_db: Path, provider: None
) -> None:
    at = open_staff(user={"is_logged_in": False}, secrets=AUTH)
    assert [b.label for b in at.button] == ["Sign in"]
    assert not at.text_input and not at.metric  # no password form: the provider decides

    at = open_staff(user={"is_logged_in": True, "email": "bo@staff.example"}, secrets=AUTH)
    assert at.title[0].value == DASHBOARD
    assert "Signed in as bo@staff\\.example" in texts(at.sidebar)

    for email, verified in (("eve@learners.example", True), ("bo@staff.example", False)):
        user = {"is_logged_in": True, "email": email, "email_verified": verified}
        at = open_staff(user=user, secrets=AUTH)
        assert "is not on the staff list" in at.error[0].value
        assert not at.metric and DASHBOARD not in [t.value for t in at.title]


def test_named_providers_each_get_a_button(feedback_db: Path, provider: None) -> None:
    keys = {k: AUTH[k] for k in ("client_id", "client_secret", "server_metadata_url")}
    auth = {"redirect_uri": AUTH["redirect_uri"], "cookie_secret": AUTH["cookie_secret"]}
    at = open_staff(user={"is_logged_in": False}, secrets={**auth, "google": keys, "okta": keys})

    assert [b.label for b in at.button] == ["Sign in with google", "Sign in with okta"]


# --- the dashboard, once signed in ----------------------------------------------------------
def test_staff_page_shows_questions_refusals_ratings_and_eval_report(
    feedback_db: Path, real_index: Path
) -> None:
    at = ask(open_learner(), "Can the exam be taken online?")
    answered = rows(feedback_db)[0]["public_id"]
    at.feedback(key=f"rating-{answered}").set_value(0).run()
    at.text_input(key=f"comment-{answered}").input("![x](http://tracker.example/p.png)").run()
    ask(at, "What's the weather in Paris?!")
    at.button(key="new-conversation").click().run()
    ask(at, "whats the weather in   paris")
    report = real_index / "eval-report" / "report.md"
    report.parent.mkdir(exist_ok=True)
    report.write_text(
        "# Eval report\n\nHit rate: **0.97**\n\n![metrics per category](report.png)\n\nEnd.\n",
        encoding="utf-8",
    )
    (report.parent / "report.png").write_bytes(PNG)
    try:
        at = signed_in()
    finally:
        shutil.rmtree(report.parent)
    assert not at.exception

    assert [m.value for m in at.metric] == ["3", "1", "2", "0 / 1"]
    assert [s.value for s in at.header] == [
        "Questions per day", "Refused questions, grouped", "Thumbs-down answers",
        "Recent questions", "Latest evaluation",
    ]  # fmt: skip
    groups, recent = (frame.value for frame in at.dataframe)
    # Both wordings of the weather question are one row, counted twice, in the latest wording.
    assert recent["question"].tolist() == [
        "whats the weather in   paris", "Can the exam be taken online?",
    ]  # fmt: skip
    assert recent["times asked"].tolist() == [2, 1]
    assert answered not in recent.to_csv()  # staff see answers, never the ids that rate them
    assert groups["times asked"].tolist() == [2]
    assert groups["latest wording"].tolist() == ["whats the weather in   paris"]
    (disliked,) = at.expander
    assert disliked.label.startswith("Can the exam be taken online?")
    # The learner's comment is shown literally, not rendered as an image.
    assert "\\!\\[x\\]\\(http\\://tracker\\.example/p\\.png\\)" in texts(disliked)
    assert "Hit rate: **0.97**" in texts(at) and "End." in texts(at)
    assert len(at.image) == 1  # the chart next to the report, shown as an image


def test_staff_page_renders_before_any_question(feedback_db: Path) -> None:
    at = signed_in()

    assert "No questions yet" in at.info[0].value


# --- the dashboard's polish (issue 10) ------------------------------------------------------
def test_times_are_local_and_missing_values_blank(feedback_db: Path) -> None:
    ask(open_learner(), "Can the exam be taken online?")
    asked = datetime.fromisoformat(rows(feedback_db)[0]["time"])
    at = AppTest.from_file(str(STAFF_APP), default_timeout=TIMEOUT)
    at.context = {"timezone": "Asia/Kolkata"}  # UTC+05:30: no clock shows the UTC time there
    sign_in(at.run(), PASSWORD)

    [recent] = [frame.value for frame in at.dataframe]
    shown = recent["last asked"].iloc[0]
    assert shown == f"{asked.astimezone(ZoneInfo('Asia/Kolkata')):%Y-%m-%d %H:%M}"
    assert "+00:00" not in recent.to_csv() and "T" not in shown
    assert (recent["rating"].iloc[0], recent["comment"].iloc[0]) == ("", "")  # not "None"
    assert "times in Asia/Kolkata" in texts(at)


def test_a_disliked_follow_up_shows_the_question_before_and_the_search(feedback_db: Path) -> None:
    at = ask(open_learner(), "What is the Foundation level?")
    ask(at, "how long does it take?")
    follow_up = rows(feedback_db)[1]["public_id"]
    at.feedback(key=f"rating-{follow_up}").set_value(0).run()

    at = signed_in()

    (disliked,) = at.expander
    shown = texts(disliked)
    assert "**Follow-up to:** What is the Foundation level?" in shown
    searched = re.search(r"\*\*Searched the course for:\*\* (.+)", shown)
    assert searched and "Foundation" in searched[1], shown  # the subject borrowed from before
    shown_query = searched[1].strip().replace("\\", "")  # as Markdown-escaped on the page
    assert rows(feedback_db)[1]["query"] == shown_query  # the query kept with the answer


def test_one_day_of_questions_is_a_bar_among_a_week_and_the_refusals_export(
    feedback_db: Path,
) -> None:
    at = ask(open_learner(), "What's the weather in Paris?")
    ask(at, "what is the weather in paris")
    ask(at, "Can I pay the exam fee in bitcoin?")

    at = signed_in()

    [chart] = at.get("vega_lite_chart")
    spec = json.loads(chart.proto.spec)
    assert spec["mark"]["type"] == "bar" and spec["encoding"]["x"]["field"] == "day"
    days = convert_arrow_bytes_to_pandas_df(chart.proto.datasets[0].data.data)
    assert len(days) == 7 and days["questions"].tolist()[-1] == 3  # today among empty days
    [download] = at.get("download_button")
    assert download.label == "Download the refused questions (CSV)"
    assert "No evaluation report yet" in at.info[0].value  # and how to make one
    assert "cert-assistant eval" in at.info[0].value


def test_table_helpers_group_repeats_and_pad_the_chart() -> None:
    rows_ = [
        {"time": "2026-11-27T09:05:00+00:00", "question": "Is it ONLINE?", "refused": False,
         "rating": "down", "comment": None, "answer": "Yes. [1]"},
        {"time": "2026-11-26T08:00:00+00:00", "question": "is it online", "refused": False,
         "rating": None, "comment": None, "answer": "Yes. [1]"},
    ]  # fmt: skip
    table = recent_table(rows_, ZoneInfo("Europe/Paris"))
    assert table.to_dict("records") == [
        {"last asked": "2026-11-27 10:05", "question": "Is it ONLINE?", "times asked": 2,
         "outcome": "answered", "rating": "thumbs down", "comment": "", "answer": "Yes. [1]"},
    ]  # fmt: skip
    days = chart_days([{"day": "2026-11-20", "questions": 2}], date(2026, 11, 27))
    assert len(days) == 8 and days["questions"].sum() == 2  # up to today, empty days shown


def test_the_table_helpers_examples_hold() -> None:
    import ui.staff_tables

    failed, attempted = doctest.testmod(ui.staff_tables)
    assert attempted and not failed
