"""The staff dashboard is its own app: no learner session reaches it, and staff must sign in.

A real `streamlit run app.py` (the learner app) and a real `cert-assistant staff` (the
dashboard) on two loopback ports, sharing one feedback file, driven by headless Debian
Chromium as in `test_browser_app.py`. Screenshots go to `test-artifacts/staff-*.png`.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from api_process import stop_process
from browsers import chromium
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
SERVER_START_SECONDS = 90
PAGE_SECONDS = 120  # the learner app's first page load also loads the embedding model
STAFF_PASSWORD = "correct horse battery staple"
# Words only the staff app shows: its sign-in or its dashboard.
STAFF_WORDS = (
    "What learners ask",
    "Feedback database",
    "Thumbs-down",
    "Staff dashboard",
    "Sign in",
)
# What a learner might try; each must end on the chat page or on no page at all.
LEARNER_PATHS = (
    "/staff", "/Staff", "/STAFF", "/staff/", "/staff?embed=true", "/?page=staff",
    "/?page=Staff", "/?page=ui/staff.py", "/staff.py", "/ui/staff", "/ui/staff.py",
    "/staff_app", "/ui/staff_app.py", "/feedback",
)  # fmt: skip


@dataclass
class Server:
    """A Streamlit server on loopback: where it listens and what it logged."""

    url: str
    log: Path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("staff-browser")


@pytest.fixture(scope="module")
def server_env(real_index: Path, scratch: Path) -> dict[str, str]:
    """The environment both apps share: the session's index and one fresh feedback file."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERT_ASSISTANT_")}
    return env | {
        "CERT_ASSISTANT_DATA_DIR": str(real_index),
        "CERT_ASSISTANT_FEEDBACK_DB": str(scratch / "feedback.sqlite3"),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }


@pytest.fixture(scope="module")
def learner_app(server_env: dict[str, str], scratch: Path) -> Iterator[Server]:
    """`streamlit run app.py`, as `make run` starts it. The staff password is set here too,
    so that nothing but the app's own pages keeps staff data away from learners."""
    port = free_port()
    command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true"]
    command += ["--server.port", str(port), "--server.address", "127.0.0.1"]
    env = server_env | {"CERT_ASSISTANT_STAFF_PASSWORD": STAFF_PASSWORD}
    yield from run_server(command, env, scratch / "learner.log", port)


@pytest.fixture(scope="module")
def staff_app(server_env: dict[str, str], scratch: Path) -> Iterator[Server]:
    """`cert-assistant staff`, as `make staff` starts it (the CLI becomes the server)."""
    port = free_port()
    command = [sys.executable, "-m", "cert_assistant.cli", "staff", "--port", str(port)]
    env = server_env | {"CERT_ASSISTANT_STAFF_PASSWORD": STAFF_PASSWORD}
    yield from run_server(command, env, scratch / "staff.log", port)


def run_server(command: list[str], env: dict[str, str], log: Path, port: int) -> Iterator[Server]:
    """Start `command` from the project folder, wait until healthy, stop it afterwards."""
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for_health(process, url, log)
        yield Server(url, log)
    finally:
        stop_process(process, grace=15, then=15)


def wait_for_health(process: subprocess.Popen, url: str, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the server exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.read().strip() == b"ok":
                    return
        except OSError:
            time.sleep(0.25)
    pytest.fail(f"the server was not healthy within {SERVER_START_SECONDS} s:\n{log.read_text()}")


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Headless Debian Chromium through Playwright."""
    with chromium() as browser:
        yield browser


@pytest.fixture
def page(browser) -> Iterator[object]:
    """A fresh tab (own cookies and storage) at desktop size."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture(scope="module")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def wait_for_chat(page, embedded: bool = False) -> None:
    """Wait until the learner's chat page is drawn: its input, its sidebar, its welcome."""
    page.get_by_test_id("stChatInputTextArea").wait_for(timeout=PAGE_SECONDS * 1000)
    if not embedded:  # embedded in the course site, the chat has no sidebar
        page.get_by_text("Course content last updated").wait_for(timeout=PAGE_SECONDS * 1000)
    page.get_by_text("Try one of these:").wait_for(timeout=PAGE_SECONDS * 1000)


# The sidebar's open expander has finished opening: its last link is inside its box.
OPENED = """() => {
  const open = document.querySelector('[data-testid="stSidebar"] details[open]');
  const links = open ? open.querySelectorAll("a") : [];
  const last = links[links.length - 1];
  return !!last && last.getBoundingClientRect().bottom <= open.getBoundingClientRect().bottom;
}"""


def assert_no_staff_data(page) -> None:
    text = page.locator("body").inner_text()
    assert not [w for w in STAFF_WORDS if w in text], text
    hrefs = page.locator("a[href]").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    assert not [h for h in hrefs if "staff" in h.lower()], hrefs


def test_the_learner_page_shows_what_it_covers_and_no_way_to_staff_data(
    learner_app: Server, page, artifacts: Path
) -> None:
    page.goto(learner_app.url, timeout=60_000)
    wait_for_chat(page)

    assert_no_staff_data(page)
    assert page.get_by_test_id("stSidebarNav").count() == 0  # no page list at all
    sidebar = page.get_by_test_id("stSidebar")
    shown = sidebar.inner_text()
    for private in ("knowledge/", ".md", "MiniLM", "Embedding", "LLM", "sqlite", "chroma", "/tmp"):
        assert private not in shown, f"{private!r} in the sidebar:\n{shown}"
    for title in ("Course guide", "Frequently asked questions", "Syllabus"):
        assert title in shown
    sidebar.get_by_text("Syllabus", exact=True).click()
    section = sidebar.get_by_role("link", name="Foundation level", exact=True)
    section.wait_for(timeout=30_000)
    assert section.get_attribute("href").endswith("/syllabus#foundation-level")
    hrefs = page.locator("a[href]").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    outside = [h for h in hrefs if not h.startswith(("https://courses.example.com/", "#"))]
    assert not outside, outside  # every link goes to the course site or stays on the page
    page.wait_for_function(OPENED, timeout=30_000)
    page.screenshot(path=str(artifacts / "staff-learner-sidebar.png"), full_page=True)


@pytest.mark.parametrize("path", LEARNER_PATHS)
def test_no_url_of_the_learner_app_opens_the_staff_page(
    learner_app: Server, page, path: str
) -> None:
    page.goto(learner_app.url + path, timeout=60_000)
    # Either the app starts and draws the chat (its only page), or, under a path its assets
    # do not load from, it never starts. Requests stop in both cases.
    page.wait_for_load_state("networkidle", timeout=60_000)
    if page.get_by_test_id("stApp").count():
        wait_for_chat(page, embedded="embed=true" in path)
    assert_no_staff_data(page)


def test_a_page_switch_by_history_stays_on_the_chat(learner_app: Server, page) -> None:
    page.goto(learner_app.url, timeout=60_000)
    wait_for_chat(page)
    for name in ("staff", "Staff", "ui/staff"):
        page.evaluate(
            "name => { history.pushState({}, '', '/' + name);"
            " window.dispatchEvent(new PopStateEvent('popstate')); }",
            name,
        )
        page.wait_for_url(re.compile(r"/$"), timeout=30_000)  # the app knows no such page
        wait_for_chat(page)
        assert_no_staff_data(page)


def test_staff_dashboard_asks_for_the_password_and_refuses_a_wrong_one(
    learner_app: Server, staff_app: Server, page, artifacts: Path
) -> None:
    # A learner asks first, so that the dashboard has something to show.
    page.goto(learner_app.url, timeout=60_000)
    wait_for_chat(page)
    box = page.get_by_test_id("stChatInputTextArea")
    box.fill("Can the exam be taken online?")
    box.press("Enter")
    page.get_by_test_id("stChatMessage").filter(has_text="Sources").last.wait_for(
        timeout=PAGE_SECONDS * 1000
    )
    page.get_by_test_id("stFeedback").first.wait_for(timeout=PAGE_SECONDS * 1000)  # logged

    page.goto(staff_app.url, timeout=60_000)
    password = page.get_by_label("Staff password")
    password.wait_for(timeout=PAGE_SECONDS * 1000)
    assert "What learners ask" not in page.locator("body").inner_text()
    assert page.get_by_test_id("stMetric").count() == 0
    page.screenshot(path=str(artifacts / "staff-sign-in.png"), full_page=True)

    password.fill(STAFF_PASSWORD[:-1])
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("Wrong password.").wait_for(timeout=30_000)
    assert "What learners ask" not in page.locator("body").inner_text()
    expect(password).to_have_value("")  # the form forgets what was typed
    page.screenshot(path=str(artifacts / "staff-wrong-password.png"), full_page=True)

    password.fill(STAFF_PASSWORD)
    password.press("Enter")
    page.get_by_role("heading", name="What learners ask").wait_for(timeout=60_000)
    questions = page.get_by_test_id("stMetric").filter(has_text="Questions")
    expect(questions.get_by_test_id("stMetricValue")).to_have_text("1", timeout=30_000)
    assert STAFF_PASSWORD not in page.content()
    page.get_by_role("heading", name="Recent questions").wait_for(timeout=30_000)
    page.screenshot(path=str(artifacts / "staff-dashboard.png"), full_page=True)

    # A reload is a new session: the password is asked again.
    page.reload()
    page.get_by_label("Staff password").wait_for(timeout=60_000)
    assert "What learners ask" not in page.locator("body").inner_text()


def ask_in_chat(page, question: str, turn: int) -> object:
    """Ask in the learner's chat and wait for the `turn`-th answer to be complete."""
    box = page.get_by_test_id("stChatInputTextArea")
    box.fill(question)
    box.press("Enter")
    answer = page.get_by_test_id("stChatMessage").nth(2 * turn - 1)
    answer.get_by_role("button", name="Copy the answer").wait_for(timeout=PAGE_SECONDS * 1000)
    return answer


def sign_in(page, staff_app: Server) -> None:
    page.goto(staff_app.url, timeout=60_000)
    password = page.get_by_label("Staff password")
    password.fill(STAFF_PASSWORD)
    password.press("Enter")
    page.get_by_role("heading", name="What learners ask").wait_for(timeout=60_000)


def test_the_dashboard_reads_well_and_exports_the_refused_questions(
    learner_app: Server, staff_app: Server, browser, artifacts: Path, tmp_path: Path
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, timezone_id="Asia/Tokyo")
    try:
        page = context.new_page()
        page.goto(learner_app.url, timeout=60_000)
        wait_for_chat(page)
        ask_in_chat(page, "What is the Foundation level?", 1)
        follow_up = ask_in_chat(page, "how long does it take?", 2)
        follow_up.get_by_role("radio", name="Thumbs down").click()
        page.get_by_text("Thanks for the feedback!").wait_for(timeout=30_000)
        ask_in_chat(page, "Can I pay the exam fee in bitcoin?", 3)
        ask_in_chat(page, "can i pay the exam fee in Bitcoin", 4)

        sign_in(page, staff_app)
        body = page.locator("body")
        expect(body).to_contain_text("times in Asia/Tokyo")
        # The last section: drawn once the follow-up's search is rebuilt (the model loads).
        expect(page.get_by_text("No evaluation report yet")).to_be_visible(
            timeout=PAGE_SECONDS * 1000
        )
        assert "+00:00" not in body.inner_text()

        # The disliked follow-up: the question before it and what was searched.
        page.get_by_test_id("stExpander").filter(has_text="how long does it take?").click()
        expect(page.get_by_text("Follow-up to: What is the Foundation level?")).to_be_visible()
        searched = page.get_by_test_id("stMarkdownContainer").filter(
            has_text="Searched the course for:"
        )
        expect(searched).to_contain_text("Foundation")  # the subject the follow-up leaned on

        # Selecting a recent question shows its whole answer under the table.
        recent = page.get_by_test_id("stDataFrame").last
        recent.scroll_into_view_if_needed()
        box = recent.bounding_box()
        page.mouse.click(box["x"] + 12, box["y"] + 35 + 17)  # the newest row's checkbox
        shown = page.locator(".st-key-recent-answer")
        expect(shown).to_contain_text("can i pay the exam fee in Bitcoin", timeout=30_000)
        expect(shown).to_contain_text("Sorry, the course content doesn't cover that.")
        page.screenshot(path=str(artifacts / "staff-dashboard-polish.png"), full_page=True)

        with page.expect_download() as download:
            page.get_by_role("button", name="Download the refused questions (CSV)").click()
        saved = tmp_path / "refused.csv"
        download.value.save_as(saved)
        assert download.value.suggested_filename == "refused-questions.csv"
        header, *rows = saved.read_text(encoding="utf-8").splitlines()
        assert header == "times asked,latest wording,last asked"
        assert rows[0].startswith("2,can i pay the exam fee in Bitcoin,")  # both wordings
        assert "+00:00" not in rows[0] and "T" not in rows[0].split(",")[-1]
    finally:
        context.close()


def test_the_servers_logged_no_errors_and_never_the_password(
    learner_app: Server, staff_app: Server
) -> None:
    for server in (learner_app, staff_app):
        log = server.log.read_text(errors="replace")
        assert "Traceback" not in log, log
        assert STAFF_PASSWORD not in log
    staff_log = staff_app.log.read_text(errors="replace")
    assert "sign-in: staff password (CERT_ASSISTANT_STAFF_PASSWORD)" in staff_log
