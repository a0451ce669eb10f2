"""The chat as `make run` serves it (`streamlit run chat_server.py`) on loopback, driven by
headless Chromium, alone and in an iframe.

Every page records the requests it makes: the app must reach nothing but its own server (no
fonts, icons or images from outside hosts). Screenshots go to `test-artifacts/`; the times
from the server's start and from the page load to the first answer on screen, with and without
the start-up warm-up, are written to `test-artifacts/time-to-first-answer.json`.
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
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from api_process import stop_process
from browsers import chromium
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
SERVER_START_SECONDS = 90  # chat_server.py loads the model and the index before it listens
PAGE_SECONDS = 60  # `streamlit run app.py` loads them on the first page load (about 12 s)
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
    """`streamlit run chat_server.py` (as `make run`) on a free loopback port, stopped after
    the module's tests."""
    scratch = tmp_path_factory.mktemp("browser")
    with run_streamlit("chat_server.py", real_index, scratch) as running:
        yield running


@contextlib.contextmanager
def run_streamlit(script: str, index: Path, scratch: Path) -> Iterator[App]:
    """`streamlit run SCRIPT` on a free loopback port until healthy; stopped on exit."""
    port = free_port()
    log = scratch / f"{Path(script).stem}.log"
    env = {
        **os.environ,
        "CERT_ASSISTANT_DATA_DIR": str(index),
        "CERT_ASSISTANT_FEEDBACK_DB": str(scratch / "feedback.sqlite3"),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }
    command = [sys.executable, "-m", "streamlit", "run", script, "--server.headless", "true"]
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
        stop_process(process, grace=15, then=15)


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
    with chromium() as browser:
        yield browser


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


FIRST_ANSWERS: dict[str, dict[str, float]] = {}  # server → its timings, for the JSON file


def time_first_answer(app: App, page) -> object:
    """Open the chat, ask, and time both from the page load and from the server's start.

    Returns the locator of the answer.
    """
    loading = time.perf_counter()
    app.timings["page_load_after_start_s"] = loading - app.started
    open_chat(page, app.url)
    app.timings["chat_ready_after_page_load_s"] = time.perf_counter() - loading
    answer = ask_and_wait(page, QUESTION)
    app.timings["first_answer_after_page_load_s"] = time.perf_counter() - loading
    app.timings["first_answer_after_start_s"] = time.perf_counter() - app.started
    return answer


def record_first_answer(server: str, app: App, artifacts: Path) -> None:
    """Print the timings and write every server's so far to the JSON file."""
    FIRST_ANSWERS[server] = {k: round(v, 2) for k, v in app.timings.items()}
    (artifacts / "time-to-first-answer.json").write_text(json.dumps(FIRST_ANSWERS, indent=2))
    after_load = app.timings["first_answer_after_page_load_s"]
    print(
        f"\n{server}: first answer {after_load:.1f} s after the page load {FIRST_ANSWERS[server]}"
    )


def test_chat_answers_with_source_links(app: App, browser, artifacts: Path) -> None:
    # The module's first visit: the first page load of a just-started server.
    with visit(browser) as visited:
        page = visited.page
        answer = time_first_answer(app, page)
        record_first_answer("streamlit run chat_server.py", app, artifacts)

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


def test_without_the_warm_up_the_first_visitor_waits_for_the_model(
    real_index: Path, tmp_path: Path, browser, artifacts: Path
) -> None:
    """The comparison for the timings file: `streamlit run app.py` loads the model and the
    index in the first session. A ratio of the two is printed, never asserted."""
    with run_streamlit("app.py", real_index, tmp_path) as cold, visit(browser) as visited:
        answer = time_first_answer(cold, visited.page)
        record_first_answer("streamlit run app.py", cold, artifacts)
        assert "30 to 90 days" in answer.inner_text()
    warm = FIRST_ANSWERS.get("streamlit run chat_server.py")
    if warm:
        key = "first_answer_after_page_load_s"
        print(
            f"without / with the warm-up, after the page load: {cold.timings[key] / warm[key]:.1f}x"
        )


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
    """Static course pages (faq.html, guide.html) on another loopback port that embed the app
    in an iframe; yields the FAQ's address."""
    for name in ("faq.html", "guide.html"):
        (tmp_path / name).write_text(COURSE_PAGE.format(iframe=iframe_snippet(app.url)))
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


KEPT = "cert-assistant.conversation"  # the localStorage key of ui/conversation_memory.py


def chat_frame(page, app: App) -> object:
    """The assistant's frame in a course page (to run script in it)."""
    return next(f for f in page.frames if f.url.startswith(app.url))


def test_the_embedded_conversation_and_its_ratings_survive_a_reload_and_a_move_to_another_page(
    app: App, course_site: str, browser, artifacts: Path
) -> None:
    questions = ["Can the exam be taken online?", "how hard is it?"]
    with visit(browser) as visited:
        page = visited.page
        page.goto(course_site, timeout=PAGE_SECONDS * 1000)
        frame = page.frame_locator("iframe#course-assistant")
        ask_and_wait(frame, questions[0])
        second = ask_and_wait(frame, questions[1], turn=2)
        second.get_by_role("radio", name="Thumbs up").click()
        expect(frame.get_by_text("Thanks for the feedback!")).to_be_visible(timeout=30_000)
        kept = chat_frame(page, app).evaluate(f"localStorage.getItem('{KEPT}')")
        assert len(uuid.UUID(kept).hex) == 32

        for move in ("reload", "guide.html"):
            if move == "reload":
                page.reload(timeout=PAGE_SECONDS * 1000)
            else:
                page.goto(course_site.replace("faq.html", move), timeout=PAGE_SECONDS * 1000)
            frame = page.frame_locator("iframe#course-assistant")
            messages = frame.get_by_test_id("stChatMessage")
            expect(messages).to_have_count(4, timeout=PAGE_SECONDS * 1000)
            asked = [messages.nth(n).get_by_test_id("stText").inner_text() for n in (0, 2)]
            assert asked == questions
            assert "online proctoring" in messages.nth(1).inner_text()
            expect(messages.nth(3).get_by_role("button", name="Copy the answer")).to_be_visible()
            # The learner's rating is kept with the answer, not asked again.
            expect(messages.nth(3).get_by_role("radio", name="Thumbs up")).to_be_checked()
            expect(messages.nth(1).get_by_role("radio", name="Thumbs up")).not_to_be_checked()
        page.screenshot(path=str(artifacts / "embed-after-reload.png"), full_page=True)

        # "New conversation" is kept too: a reload then shows the empty chat.
        frame.get_by_role("button", name="New conversation").click()
        expect(frame.get_by_text("Try one of these:")).to_be_visible(timeout=PAGE_SECONDS * 1000)
        page.reload(timeout=PAGE_SECONDS * 1000)
        frame = page.frame_locator("iframe#course-assistant")
        expect(frame.get_by_text("Try one of these:")).to_be_visible(timeout=PAGE_SECONDS * 1000)
        page.wait_for_timeout(1_000)  # time for a wrongly kept conversation to come back
        assert frame.get_by_test_id("stChatMessage").count() == 0
        assert chat_frame(page, app).evaluate(f"localStorage.getItem('{KEPT}')") != kept

    # Another browser sees nothing of it, and a made-up id shows an empty chat; only the
    # holder of the id sees the turns.
    with visit(browser) as other:
        page = other.page
        for held, turns in ((str(uuid.uuid4()), 0), (kept, 4)):
            page.goto(course_site, timeout=PAGE_SECONDS * 1000)
            frame = page.frame_locator("iframe#course-assistant")
            expect(frame.get_by_text("Try one of these:")).to_be_visible(timeout=60_000)
            chat_frame(page, app).evaluate(f"id => localStorage.setItem('{KEPT}', id)", held)
            page.reload(timeout=PAGE_SECONDS * 1000)
            frame = page.frame_locator("iframe#course-assistant")
            frame.get_by_test_id("stChatInputTextArea").wait_for(timeout=PAGE_SECONDS * 1000)
            messages = frame.get_by_test_id("stChatMessage")
            expect(messages).to_have_count(turns, timeout=PAGE_SECONDS * 1000)
            page.wait_for_timeout(1_000)
            assert messages.count() == turns
        assert visited.outside() == [] and other.outside() == []


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
