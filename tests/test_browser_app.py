"""A real `streamlit run app.py` on loopback, driven by headless Chromium, alone and in an iframe.

Every page records the requests it makes: the app must reach nothing but its own server (no
fonts, icons or images from outside hosts). Screenshots go to `test-artifacts/`; the time from
`streamlit run` to the first answer on screen is written to
`test-artifacts/time-to-first-answer.json`.
"""

from __future__ import annotations

import contextlib
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
import tomllib
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
SERVER_START_SECONDS = 30
PAGE_SECONDS = 60  # the first page load also loads the query model (about 12 s)
ANSWER_SECONDS = 30
QUESTION = "How long does it usually take to get certified?"
FAQ_ANCHOR = "/faq#how-long-does-it-usually-take-to-get-certified"
LOCAL_HOSTS = {"127.0.0.1", "localhost"}


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
    command += ["--server.fileWatcherType", "none"]  # as `make run` starts it
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


@dataclass
class Visit:
    """A page in its own browser context, with every request it made (frames included)."""

    page: object
    requests: list[str]

    def outside(self) -> list[str]:
        """The requests that left the machine: any network address but loopback's."""
        return [u for u in self.requests if not _local(u)]


def _local(address: str) -> bool:
    parts = urlsplit(address)
    if parts.scheme in ("data", "blob", "about"):  # drawn in the page, no request goes out
        return True
    return parts.hostname in LOCAL_HOSTS


@contextlib.contextmanager
def visit(browser, **options: object) -> Iterator[Visit]:
    """A fresh browser context (its own cookies, colour scheme, permissions) and one page."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, **options)
    requests: list[str] = []
    context.on("request", lambda request: requests.append(request.url))
    try:
        yield Visit(context.new_page(), requests)
    finally:
        context.close()


def open_chat(page, url: str) -> None:
    """Open the app and wait until the chat takes questions."""
    page.goto(url, timeout=PAGE_SECONDS * 1000)
    page.get_by_test_id("stChatInputTextArea").wait_for(timeout=PAGE_SECONDS * 1000)


def ask_and_wait(root, question: str, turn: int = 1) -> object:
    """Type a question into the chat input of `root` (a page or frame) and wait for its answer,
    the `turn`-th of the conversation, to be complete (its copy button drawn).

    Returns the locator of the answer's chat message.
    """
    box = root.get_by_test_id("stChatInputTextArea")
    box.wait_for(timeout=PAGE_SECONDS * 1000)
    box.fill(question)
    box.press("Enter")
    answer = root.get_by_test_id("stChatMessage").nth(2 * turn - 1)
    answer.get_by_role("button", name="Copy the answer").wait_for(timeout=ANSWER_SECONDS * 1000)
    return answer


def test_chat_answers_with_source_links(app: App, browser, artifacts: Path) -> None:
    with visit(browser) as visited:
        page = visited.page
        open_chat(page, app.url)
        app.timings["chat_ready_s"] = time.perf_counter() - app.started
        answer = ask_and_wait(page, QUESTION)
        app.timings["first_answer_s"] = time.perf_counter() - app.started

        assert "30 to 90 days" in answer.inner_text()
        # The marker [1] in the text links to the cited section, as the source below does.
        text = answer.get_by_test_id("stMarkdownContainer").first
        marker = text.get_by_role("link", name="[1]").first
        assert marker.is_visible() and marker.get_attribute("href").endswith(FAQ_ANCHOR)
        source = answer.get_by_role("link", name="How long does it usually take to get certified?")
        assert source.get_attribute("href").endswith(FAQ_ANCHOR)
        assert answer.get_by_text("Quoted passage [1]").is_visible()
        feedback = page.get_by_test_id("stFeedback")
        feedback.first.wait_for(timeout=ANSWER_SECONDS * 1000)  # drawn once streaming ends
        assert feedback.count() == 1
        page.wait_for_timeout(500)  # let the last frame paint
        page.screenshot(path=str(artifacts / "chat.png"), full_page=True)
        assert visited.outside() == []
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
    with visit(browser, permissions=["clipboard-read", "clipboard-write"]) as visited:
        page = visited.page
        page.set_viewport_size({"width": 1100, "height": 900})
        page.goto(course_site, timeout=PAGE_SECONDS * 1000)
        frame = page.frame_locator("iframe#course-assistant")
        frame.get_by_test_id("stChatInputTextArea").wait_for(timeout=PAGE_SECONDS * 1000)
        assert frame.get_by_text("Try one of these:").is_visible()
        assert frame.get_by_test_id("stSidebar").count() == 0  # compact: no sidebar
        assert frame.locator("h1").count() == 0  # and no title

        answer = ask_and_wait(frame, "Can the exam be taken online?")
        assert "online proctoring" in answer.inner_text()
        assert answer.locator('a[href*="/faq#can-the-exam-be-taken-online"]').count() >= 2
        copy = answer.get_by_role("button", name="Copy the answer")  # allow="clipboard-write"
        copy.click()
        copy.get_by_text("Copied", exact=True).wait_for(timeout=5_000)
        assert "online proctoring" in page.evaluate("navigator.clipboard.readText()")
        page.wait_for_timeout(500)
        page.screenshot(path=str(artifacts / "course-page-iframe.png"), full_page=True)
        assert visited.outside() == []


def test_the_copy_button_copies_the_answer_with_its_sources(app: App, browser) -> None:
    with visit(browser, permissions=["clipboard-read", "clipboard-write"]) as visited:
        page = visited.page
        open_chat(page, app.url)
        answer = ask_and_wait(page, QUESTION)

        copy = answer.get_by_role("button", name="Copy the answer")
        copy.click()
        copy.get_by_text("Copied", exact=True).wait_for(timeout=5_000)  # says it is done
        copied = page.evaluate("navigator.clipboard.readText()")
        text, sources = copied.split("\n\nSources:\n")
        assert "30 to 90 days" in text and "[1]" in text
        assert sources.startswith("[1] Frequently asked questions › ")
        assert sources.endswith(FAQ_ANCHOR)
        assert visited.outside() == []


class RecordingHandler(http.server.BaseHTTPRequestHandler):
    """Answers every request with 404 and records its path in `self.server.paths`."""

    def do_GET(self) -> None:
        self.server.paths.append(self.path)
        self.send_error(404)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[tuple[str, list[str]]]:
    """An HTTP server on loopback that records the paths it is asked for: (address, paths)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RecordingHandler)
    server.paths = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", server.paths
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_a_question_is_shown_as_text_and_fetches_nothing(app: App, browser, recorder) -> None:
    address, requested = recorder
    first = f"![]({address}/first.png) Can the exam be taken online?"
    second = f"![]({address}/second.png) and how hard is it?"  # a follow-up: rebuilt, shown
    with visit(browser) as visited:
        page = visited.page
        open_chat(page, app.url)
        ask_and_wait(page, first)
        ask_and_wait(page, second, turn=2)
        page.wait_for_timeout(500)  # time for an image request to arrive, were there one

        messages = page.get_by_test_id("stChatMessage")
        assert first in messages.nth(0).inner_text()  # the learner's words, as typed
        assert second in messages.nth(2).inner_text()
        assert page.locator("[data-testid=stChatMessage] img").count() == 0
    assert requested == []


THEMES = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())["theme"]
ACCENT_SHOWN = """([testId, accent]) => [...document.querySelectorAll(`[data-testid=${testId}] *`)]
    .some((element) => getComputedStyle(element).borderTopColor === accent)"""


def rgb(hex_color: str) -> str:
    """A `#rrggbb` colour as the browser's computed style writes it."""
    red, green, blue = (int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgb({red}, {green}, {blue})"


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_theme_follows_the_system_with_a_readable_accent(
    app: App, browser, artifacts: Path, scheme: str
) -> None:
    accent = rgb(THEMES[scheme]["primaryColor"])
    with visit(browser, color_scheme=scheme) as visited:
        page = visited.page
        open_chat(page, app.url)
        page.get_by_test_id("stChatInputTextArea").focus()  # the focus ring takes the accent
        page.wait_for_function(ACCENT_SHOWN, arg=["stChatInput", accent], timeout=5_000)

        background = page.evaluate(
            "getComputedStyle(document.querySelector('[data-testid=stApp]')).backgroundColor"
        )
        red, green, blue = (int(v) for v in background[4:-1].split(",")[:3])
        assert ((red + green + blue) / 3 < 128) == (scheme == "dark"), background
        page.screenshot(path=str(artifacts / f"chat-{scheme}.png"))
        assert visited.outside() == []


def test_the_app_logged_no_errors(app: App) -> None:
    log = app.log.read_text(errors="replace")
    assert "Traceback" not in log, log


@pytest.fixture(scope="module", autouse=True)
def _keep_app_log(app: App, artifacts: Path) -> Iterator[None]:
    """Copy the server's log next to the screenshots, for reading after a failure."""
    yield
    shutil.copy(app.log, artifacts / "streamlit.log")
