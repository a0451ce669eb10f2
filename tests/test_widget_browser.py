"""The chat widget in headless Chromium, on a course page served from another origin.

The API runs as `cert-assistant serve` on one loopback port; a stand-in course site on
another port serves the demo page with the README's script tag pointing at the API. So the
test covers what a real course site gets: a cross-origin script, CORS, streaming over
fetch, citation links into the site, feedback, and the conversation surviving navigation.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from api_process import ApiProcess, api_env, free_port, running_api

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOT = ROOT / "test-artifacts" / "widget.png"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DEMO_TAG = '<script src="/widget.js" defer></script>'
QUESTION = "How hard is the Certified MLOps Architect exam?"
ANCHOR = "/faq#how-hard-is-the-certified-mlops-architect-exam"
INJECTION = "<img src=x onerror=alert(1)>"
ANSWER_SECONDS = 60_000  # ms; generous: the machine is shared


def _serve_course_site(port: int, api_url: str) -> ThreadingHTTPServer:
    """Every path of the site is the demo page, with the one script tag pointing at the API."""
    snippet = f'<script src="{api_url}/widget.js" data-api="{api_url}" defer></script>'
    html = (ROOT / "demo" / "index.html").read_text(encoding="utf-8")
    assert DEMO_TAG in html
    page = html.replace(DEMO_TAG, snippet).encode()

    class CoursePage(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's hook name
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), CoursePage)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="module")
def course(
    real_index: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, ApiProcess, Path]]:
    """`(course site URL, API process, feedback file)` on two loopback origins."""
    if not CHROMIUM.exists():
        pytest.skip("needs Chromium: apt-get install -y chromium chromium-driver")
    folder = tmp_path_factory.mktemp("widget")
    port = free_port()
    site = f"http://127.0.0.1:{port}"
    feedback = folder / "feedback.sqlite3"
    env = api_env(data_dir=real_index, feedback_db=feedback, site_base_url=site,
                  allowed_origins=site)  # fmt: skip
    with running_api(env, folder / "api.log") as api:
        server = _serve_course_site(port, api.url)
        try:
            yield site, api, feedback
        finally:
            server.shutdown()
            server.server_close()


@pytest.fixture
def page(course: tuple[str, ApiProcess, Path]) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        try:
            yield browser.new_page(viewport={"width": 1280, "height": 800})
        finally:
            browser.close()


def test_widget_streams_a_cited_answer_and_keeps_the_conversation(page, course) -> None:
    from playwright.sync_api import expect

    site, api, feedback = course
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on(
        "dialog", lambda dialog: (problems.append(f"dialog: {dialog.message}"), dialog.dismiss())
    )
    streamed: list[str] = []
    page.on("response", lambda r: streamed.append(r.headers.get("content-type", ""))
            if r.url.endswith("/api/chat/stream") else None)  # fmt: skip

    page.goto(f"{site}/")
    launcher = page.get_by_role("button", name="Open the course assistant")
    launcher.click()
    box = page.get_by_role("textbox", name="Your question")
    expect(box).to_be_focused()
    page.evaluate(_COUNT_UPDATES)  # count how often the answer bubble is redrawn
    box.fill(QUESTION)
    box.press("Enter")

    answer = page.locator("cert-assistant-chat .msg.bot").first
    expect(answer.get_by_role("button", name="Helpful", exact=True)).to_be_visible(
        timeout=ANSWER_SECONDS
    )
    expect(answer).to_contain_text("moderately difficult")
    assert streamed and streamed[0].startswith("text/event-stream")
    assert page.evaluate("window.__answerUpdates") >= 3  # text pieces, citations, done
    marker = answer.locator("a.cite").first
    expect(marker).to_have_text("[1]")
    assert marker.get_attribute("href") == f"{site}{ANCHOR}"
    source = answer.locator(".sources a").first
    assert source.get_attribute("href") == f"{site}{ANCHOR}"

    answer.get_by_role("button", name="Helpful", exact=True).click()
    expect(answer).to_contain_text("Thanks for the feedback.")
    with sqlite3.connect(feedback) as db:
        assert db.execute("SELECT question, rating FROM interactions WHERE rating IS NOT NULL")\
            .fetchall() == [(QUESTION, "up")]  # fmt: skip

    box.fill(INJECTION)
    box.press("Enter")
    reply = page.locator("cert-assistant-chat .msg.bot, cert-assistant-chat .msg.error").nth(1)
    expect(reply.get_by_role("button", name="Helpful", exact=True)).to_be_visible(
        timeout=ANSWER_SECONDS
    )
    expect(page.locator("cert-assistant-chat .msg.user").last).to_have_text(INJECTION)
    assert page.locator("cert-assistant-chat img").count() == 0
    page.wait_for_timeout(300)  # an injected onerror would have fired by now
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT))

    marker.click()  # a citation leads into the course site; the conversation comes along
    page.wait_for_url(f"{site}{ANCHOR}")
    restored = page.locator("cert-assistant-chat .msg.user")
    expect(restored.first).to_have_text(QUESTION)
    expect(restored).to_have_count(2)
    expect(page.locator("cert-assistant-chat .msg.bot a.cite").first).to_have_attribute(
        "href", f"{site}{ANCHOR}"
    )
    expect(page.get_by_role("textbox", name="Your question")).to_be_visible()
    assert problems == []
    assert "Traceback" not in api.log_text()


_COUNT_UPDATES = """() => {
  window.__answerUpdates = 0;
  const log = document.querySelector("cert-assistant-chat").shadowRoot.querySelector(".log");
  new MutationObserver((changes) => {
    for (const change of changes)
      for (const node of change.addedNodes)
        if (node.classList && node.classList.contains("bot") && node.textContent.trim())
          window.__answerUpdates += 1;
  }).observe(log, { childList: true });
}"""
