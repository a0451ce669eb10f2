"""A real `streamlit run app.py` on loopback, driven by headless Chromium, alone and in an iframe.

Screenshots go to `test-artifacts/`; the time from `streamlit run` to the first answer on
screen is written to `test-artifacts/time-to-first-answer.json`.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
SERVER_START_SECONDS = 90
ANSWER_SECONDS = 120  # the first page load also loads the embedding model
QUESTION = "How long does it usually take to get certified?"


@dataclass
class App:
    """The running app: where it listens, when `streamlit run` started, what it logged."""

    url: str
    started: float
    log: Path
    timings: dict[str, float] = field(default_factory=dict)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def app(real_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    """`streamlit run app.py` on a free loopback port, stopped after the module's tests."""
    port = free_port()
    scratch = tmp_path_factory.mktemp("browser")
    log = scratch / "streamlit.log"
    env = {
        **os.environ,
        "CERT_ASSISTANT_DATA_DIR": str(real_index),
        "CERT_ASSISTANT_FEEDBACK_DB": str(scratch / "feedback.sqlite3"),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }
    command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true"]
    command += ["--server.port", str(port), "--server.address", "127.0.0.1"]
    started = time.perf_counter()
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for_health(process, url, log)
        running = App(url, started, log)
        running.timings["server_ready_s"] = time.perf_counter() - started
        yield running
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


def wait_for_health(process: subprocess.Popen, url: str, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"streamlit exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.read().strip() == b"ok":
                    return
        except OSError:
            time.sleep(0.25)
    pytest.fail(f"streamlit was not healthy within {SERVER_START_SECONDS} s:\n{log.read_text()}")


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Headless Debian Chromium through Playwright."""
    if not CHROMIUM.exists():
        pytest.fail("Chromium is missing: apt-get install -y chromium chromium-driver")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def ask_and_wait(root, question: str) -> object:
    """Type a question into the chat input of `root` (a page or frame) and wait for its answer.

    Returns the locator of the answer's chat message.
    """
    box = root.get_by_test_id("stChatInputTextArea")
    box.wait_for(timeout=ANSWER_SECONDS * 1000)
    box.fill(question)
    box.press("Enter")
    answer = root.get_by_test_id("stChatMessage").filter(has_text="Sources").last
    answer.wait_for(timeout=ANSWER_SECONDS * 1000)
    return answer


def test_chat_answers_with_source_links(app: App, browser, artifacts: Path) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        page.goto(app.url, timeout=60_000)
        page.get_by_test_id("stChatInputTextArea").wait_for(timeout=ANSWER_SECONDS * 1000)
        app.timings["chat_ready_s"] = time.perf_counter() - app.started
        answer = ask_and_wait(page, QUESTION)
        app.timings["first_answer_s"] = time.perf_counter() - app.started

        assert "30 to 90 days" in answer.inner_text()
        link = answer.locator('a[href*="/faq#how-long-does-it-usually-take-to-get-certified"]')
        assert link.count() == 1 and link.first.is_visible()
        assert answer.get_by_text("Quoted passage [1]").is_visible()
        feedback = page.get_by_test_id("stFeedback")
        feedback.first.wait_for(timeout=ANSWER_SECONDS * 1000)  # drawn once streaming ends
        assert feedback.count() == 1
        page.wait_for_timeout(500)  # let the last frame paint
        page.screenshot(path=str(artifacts / "chat.png"), full_page=True)
    finally:
        page.close()
    (artifacts / "time-to-first-answer.json").write_text(
        json.dumps({k: round(v, 2) for k, v in app.timings.items()}, indent=2) + "\n"
    )
    print(f"\nstreamlit run → first answer: {app.timings['first_answer_s']:.1f} s {app.timings}")


COURSE_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>FAQ · Certified MLOps Architect</title>
<style>
  body {{ font-family: system-ui, sans-serif; margin: 0; background: #f6f7f9; color: #1d2430; }}
  header {{ background: #1d3557; color: white; padding: 1rem 2rem; }}
  main {{ max-width: 860px; margin: 1.5rem auto; padding: 0 1rem; }}
  iframe {{ width: 100%; height: 640px; border: 1px solid #d0d5dd; border-radius: 12px;
            background: white; }}
</style></head>
<body>
<header><strong>Certified MLOps Architect</strong> · Course site</header>
<main>
  <h1>Frequently asked questions</h1>
  <p>Questions about the exam, the levels and the labs? Ask the course assistant: every
     answer links to the section of the course it comes from.</p>
  {iframe}
</main>
</body></html>
"""


def iframe_snippet(app_url: str) -> str:
    """The snippet the README gives to the course site."""
    return (
        f'<iframe id="course-assistant" src="{app_url}/?embed=true" title="Course assistant" '
        'width="100%" height="640" style="border:1px solid #d0d5dd;border-radius:12px" '
        'allow="clipboard-write" loading="lazy"></iframe>'
    )


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves files without a line per request in the test output."""

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def course_site(tmp_path: Path, app: App) -> Iterator[str]:
    """A static course page on another loopback port that embeds the app in an iframe."""
    (tmp_path / "faq.html").write_text(COURSE_PAGE.format(iframe=iframe_snippet(app.url)))
    handler = functools.partial(QuietHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/faq.html"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_app_works_inside_an_iframe_on_the_course_page(
    app: App, course_site: str, browser, artifacts: Path
) -> None:
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    try:
        page.goto(course_site, timeout=60_000)
        frame = page.frame_locator("iframe#course-assistant")
        frame.get_by_test_id("stChatInputTextArea").wait_for(timeout=ANSWER_SECONDS * 1000)
        assert frame.get_by_text("Try one of these:").is_visible()
        assert frame.get_by_test_id("stSidebar").count() == 0  # compact: no sidebar
        assert frame.locator("h1").count() == 0  # and no title

        answer = ask_and_wait(frame, "Can the exam be taken online?")
        assert "online proctoring" in answer.inner_text()
        assert answer.locator('a[href*="/faq#can-the-exam-be-taken-online"]').count() == 1
        page.wait_for_timeout(500)
        page.screenshot(path=str(artifacts / "course-page-iframe.png"), full_page=True)
    finally:
        page.close()


def test_the_app_logged_no_errors(app: App) -> None:
    log = app.log.read_text(errors="replace")
    assert "Traceback" not in log, log


@pytest.fixture(scope="module", autouse=True)
def _keep_app_log(app: App, artifacts: Path) -> Iterator[None]:
    """Copy the server's log next to the screenshots, for reading after a failure."""
    yield
    shutil.copy(app.log, artifacts / "streamlit.log")
