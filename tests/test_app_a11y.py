"""axe-core on the Streamlit chat, the chat embedded (`?embed=true`) and the signed-in staff
dashboard, each at desktop (1280x900) and mobile (390x844) size, and the chat in dark mode.

axe-core comes bundled in `axe-playwright-python` (nothing fetched). The gate is what axe
calls critical or serious: there must be none, and a failure lists each rule, its elements
and why. Every violation found, gating or not, is kept in `test-artifacts/axe-app-*.json`, and
each state is saved as `test-artifacts/a11y-*.png`.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browsers import violations_report
from playwright.sync_api import expect
from test_browser_app import (  # the chat's server and browser helpers
    ARTIFACTS,
    PAGE_SECONDS,
    App,
    ask_and_wait,
    browser,  # noqa: F401 - a fixture
    free_port,
    run_streamlit,
)
from test_staff_browser import STAFF_PASSWORD, Server, run_server

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
GATING = ("critical", "serious")
AXE_OPTIONS = {"resultTypes": ["violations"]}
VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "mobile": {"width": 390, "height": 844}}
REFUSED = "Can I pay the exam fee in bitcoin?"


@pytest.fixture(scope="module")
def chat(real_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    """The chat as `make run` serves it, with its own feedback file."""
    scratch = tmp_path_factory.mktemp("a11y")
    with run_streamlit("chat_server.py", real_index, scratch) as running:
        yield running


@pytest.fixture(scope="module")
def staff(chat: App, real_index: Path) -> Iterator[Server]:
    """`cert-assistant staff` on the chat's feedback file, holding a few answers, a refusal
    and a disliked follow-up."""
    feedback = chat.log.parent / "feedback.sqlite3"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERT_ASSISTANT_")} | {
        "CERT_ASSISTANT_DATA_DIR": str(real_index),
        "CERT_ASSISTANT_FEEDBACK_DB": str(feedback),
        "CERT_ASSISTANT_STAFF_PASSWORD": STAFF_PASSWORD,
        "HF_HUB_OFFLINE": "1",
    }
    port = free_port()
    command = [sys.executable, "-m", "cert_assistant.cli", "staff", "--port", str(port)]
    yield from run_server(command, env, chat.log.parent / "staff.log", port)


def check(page: Any, name: str) -> None:
    """Screenshot the page, run axe on it, and fail on any critical or serious violation."""
    from axe_playwright_python.sync_playwright import Axe

    ARTIFACTS.mkdir(exist_ok=True)
    page.wait_for_timeout(500)  # let the last frame paint
    page.screenshot(path=str(ARTIFACTS / f"a11y-{name}.png"), full_page=True)
    found = Axe().run(page, options=AXE_OPTIONS).response["violations"]
    (ARTIFACTS / f"axe-app-{name}.json").write_text(json.dumps(found, indent=1))
    gating = [v for v in found if v["impact"] in GATING]
    counts = {level: sum(v["impact"] == level for v in found) for level in GATING}
    print(f"\naxe {name}: {counts} ({len(found)} rules broken in all)")
    assert not gating, f"axe on {name}:\n{violations_report(gating)}"


@pytest.fixture(params=list(VIEWPORTS))
def page(request: pytest.FixtureRequest, browser) -> Iterator[Any]:  # noqa: F811
    """A fresh tab at desktop or mobile size; its name is `page.viewport_name`."""
    context = browser.new_context(viewport=VIEWPORTS[request.param])
    try:
        tab = context.new_page()
        tab.viewport_name = request.param
        yield tab
    finally:
        context.close()


def test_the_chat_with_an_answer(chat: App, page: Any) -> None:
    page.goto(chat.url, timeout=PAGE_SECONDS * 1000)
    ask_and_wait(page, "Can the exam be taken online?")
    check(page, f"chat-{page.viewport_name}")


def test_the_chat_in_dark_mode(chat: App, browser) -> None:  # noqa: F811
    """The dark theme has its own colours (accent, captions, sources): checked as the light."""
    context = browser.new_context(viewport=VIEWPORTS["desktop"], color_scheme="dark")
    try:
        page = context.new_page()
        page.goto(chat.url, timeout=PAGE_SECONDS * 1000)
        ask_and_wait(page, "Can the exam be taken online?")
        check(page, "chat-dark-desktop")
    finally:
        context.close()


def test_the_embedded_chat_welcome_and_a_refusal(chat: App, page: Any) -> None:
    page.goto(f"{chat.url}/?embed=true", timeout=PAGE_SECONDS * 1000)
    expect(page.get_by_text("Try one of these:")).to_be_visible(timeout=PAGE_SECONDS * 1000)
    check(page, f"embed-welcome-{page.viewport_name}")
    ask_and_wait(page, REFUSED)
    check(page, f"embed-refusal-{page.viewport_name}")


def test_the_signed_in_staff_dashboard(chat: App, staff: Server, page: Any) -> None:
    page.goto(chat.url, timeout=PAGE_SECONDS * 1000)
    ask_and_wait(page, "What is the Foundation level?")
    follow_up = ask_and_wait(page, "how long does it take?", turn=2)
    follow_up.get_by_role("radio", name="Thumbs down").click()
    expect(page.get_by_text("Thanks for the feedback!")).to_be_visible(timeout=30_000)
    ask_and_wait(page, REFUSED, turn=3)

    page.goto(staff.url, timeout=PAGE_SECONDS * 1000)
    password = page.get_by_label("Staff password")
    password.fill(STAFF_PASSWORD)
    password.press("Enter")
    expect(page.get_by_role("heading", name="Latest evaluation")).to_be_visible(
        timeout=PAGE_SECONDS * 1000
    )
    check(page, f"staff-{page.viewport_name}")
