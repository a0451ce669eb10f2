"""The chat widget in headless Chromium, on a course page served from another origin.

What a learner sees and does, on a desktop and on a phone (390 x 844, touch): a streamed
answer with citation links, each source's quoted passage opened by touch or keyboard, the
course's example questions in the empty panel, a retry after a network error, "New chat"
asking before it clears a long conversation, a full-screen panel that keeps the keyboard
inside, a citation tap that opens the section with the chat out of the way, and the light
and dark themes. Each state is saved as a screenshot in `test-artifacts/`.
"""

# ruff: noqa: F811 - the fixtures imported from widget_site are the tests' parameters
from __future__ import annotations

import sqlite3
from typing import Any

import httpx
import pytest
from widget_site import (
    ANSWER_MS,
    DESKTOP,
    MOBILE,
    browser,  # noqa: F401 - a fixture
    course,  # noqa: F401 - a fixture
    screenshot,
)

pytestmark = pytest.mark.browser

QUESTION = "How hard is the Certified MLOps Architect exam?"
ANCHOR = "/faq#how-hard-is-the-certified-mlops-architect-exam"
INJECTION = "<img src=x onerror=alert(1)>"
FOLLOW_UPS = ["Can the exam be taken online?", "What is the Foundation level?"]
TOUCH_PX = 44  # the smallest touch target on a phone (WCAG 2.5.5)
HOST = "cert-assistant-chat"


@pytest.fixture
def open_page(browser: Any) -> Any:
    """`open_page(device, url, **context options)`: a fresh browser context's page, at `url`;
    page errors and JavaScript dialogs are collected in `page.problems`."""
    contexts = []

    def open_page(device: dict[str, Any], url: str, **options: Any) -> Any:
        context = browser.new_context(**device, **options)
        contexts.append(context)
        page = context.new_page()
        page.problems = []
        page.on("pageerror", lambda error: page.problems.append(f"page error: {error}"))
        page.on("dialog", lambda d: (page.problems.append(f"dialog: {d.message}"), d.dismiss()))
        page.goto(url)
        page.locator(HOST).wait_for(state="attached")
        return page

    yield open_page
    for context in contexts:
        context.close()


def open_widget(page: Any, touch: bool = False) -> Any:
    """Open the panel with its launcher; returns the question box."""
    launcher = page.get_by_role("button", name="Open the course assistant")
    launcher.tap() if touch else launcher.click()
    return page.get_by_role("textbox", name="Your question")


def ask(page: Any, question: str) -> Any:
    """Type and send `question`; returns its answer once complete (thumbs shown)."""
    box = page.get_by_role("textbox", name="Your question")
    box.fill(question)
    box.press("Enter")
    return answer_to(page, page.locator(f"{HOST} .msg.user").count())


def answer_to(page: Any, nth: int) -> Any:
    """The `nth` (1-based) reply, once complete."""
    from playwright.sync_api import expect

    reply = page.locator(f"{HOST} .msg.bot, {HOST} .msg.error").nth(nth - 1)
    expect(reply.get_by_role("button", name="Helpful", exact=True)).to_be_visible(timeout=ANSWER_MS)
    return reply


def in_panel(page: Any) -> bool:
    """Whether the keyboard focus is on a control inside the widget's panel."""
    return page.evaluate(
        """(tag) => {
          const root = document.querySelector(tag).shadowRoot;
          const active = root.activeElement;
          return !!active && root.getElementById("panel").contains(active);
        }""",
        HOST,
    )


def focused_name(page: Any) -> str:
    """The class or label of the control focused in the widget, for messages."""
    return page.evaluate(
        """(tag) => {
          const a = document.querySelector(tag).shadowRoot.activeElement;
          return a ? (a.getAttribute("aria-label") || a.className || a.tagName) : "nothing";
        }""",
        HOST,
    )


def panel_colour(page: Any) -> str:
    return page.evaluate(
        """(tag) => getComputedStyle(
          document.querySelector(tag).shadowRoot.getElementById("panel")).backgroundColor""",
        HOST,
    )


def test_widget_streams_a_cited_answer_and_keeps_the_conversation(open_page, course) -> None:
    from playwright.sync_api import expect

    streamed: list[str] = []
    page = open_page(DESKTOP, f"{course.url}/")
    page.on("response", lambda r: streamed.append(r.headers.get("content-type", ""))
            if r.url.endswith("/api/chat/stream") else None)  # fmt: skip
    box = open_widget(page)
    expect(box).to_be_focused()
    page.evaluate(_COUNT_UPDATES)  # count how often the answer bubble is redrawn
    answer = ask(page, QUESTION)

    expect(answer).to_contain_text("moderately difficult")
    assert streamed and streamed[0].startswith("text/event-stream")
    assert page.evaluate("window.__answerUpdates") >= 3  # text pieces, citations, done
    marker = answer.locator("a.cite").first
    expect(marker).to_have_text("[1]")
    assert marker.get_attribute("href") == f"{course.url}{ANCHOR}"
    source = answer.locator(".sources a").first
    assert source.get_attribute("href") == f"{course.url}{ANCHOR}"

    answer.get_by_role("button", name="Helpful", exact=True).click()
    expect(answer).to_contain_text("Thanks for the feedback.")
    with sqlite3.connect(course.feedback) as db:
        assert db.execute("SELECT question, rating FROM interactions WHERE rating IS NOT NULL")\
            .fetchall() == [(QUESTION, "up")]  # fmt: skip

    ask(page, INJECTION)
    expect(page.locator(f"{HOST} .msg.user").last).to_have_text(INJECTION)
    assert page.locator(f"{HOST} img").count() == 0
    page.wait_for_timeout(300)  # an injected onerror would have fired by now
    screenshot(page, "widget-conversation-desktop")

    marker.click()  # a citation leads into the course site; the conversation comes along
    page.wait_for_url(f"{course.url}{ANCHOR}")
    restored = page.locator(f"{HOST} .msg.user")
    expect(restored.first).to_have_text(QUESTION)
    expect(restored).to_have_count(2)
    expect(page.locator(f"{HOST} .msg.bot a.cite").first).to_have_attribute(
        "href", f"{course.url}{ANCHOR}"
    )
    expect(page.get_by_role("textbox", name="Your question")).to_be_visible()
    assert page.problems == []
    assert "Traceback" not in course.api.log_text()


def test_a_sources_quoted_passage_opens_by_keyboard_and_by_touch(open_page, course) -> None:
    from playwright.sync_api import expect

    page = open_page(DESKTOP, f"{course.url}/")
    open_widget(page)
    answer = ask(page, QUESTION)
    toggle = answer.get_by_role("button", name="Quote from source 1")
    passage = answer.locator(f"#{toggle.get_attribute('aria-controls')}")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(passage).to_be_hidden()

    toggle.focus()
    page.keyboard.press("Enter")
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(passage).to_be_visible()
    expect(passage).to_contain_text("rated moderately difficult")
    screenshot(page, "widget-quote-desktop")
    page.keyboard.press("Space")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(passage).to_be_hidden()

    phone = open_page(MOBILE, f"{course.url}/")
    open_widget(phone, touch=True)
    answer = ask(phone, QUESTION)
    toggle = answer.get_by_role("button", name="Quote from source 1")
    toggle.tap()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(answer.locator("blockquote").first).to_contain_text("rated moderately difficult")
    screenshot(phone, "widget-quote-mobile")
    assert page.problems == phone.problems == []


def test_the_empty_panel_offers_the_courses_example_questions(open_page, course) -> None:
    from playwright.sync_api import expect

    offered = httpx.get(f"{course.api.url}/api/examples", timeout=30).json()["questions"]
    assert len(offered) >= 2 and all(q.endswith("?") for q in offered)

    page = open_page(DESKTOP, f"{course.url}/")
    open_widget(page)
    examples = page.get_by_role("list", name="Example questions").get_by_role("button")
    expect(examples).to_have_text(offered)
    screenshot(page, "widget-examples-desktop")

    examples.first.click()
    answer = answer_to(page, 1)
    expect(page.locator(f"{HOST} .msg.user")).to_have_text([offered[0]])
    expect(answer.locator(".sources a").first).to_be_visible()
    expect(page.get_by_role("list", name="Example questions")).to_have_count(0)
    assert page.problems == []


def test_a_network_error_offers_a_retry_that_answers(open_page, course) -> None:
    from playwright.sync_api import expect

    page = open_page(DESKTOP, f"{course.url}/")
    box = open_widget(page)
    stream = f"{course.api.url}/api/chat/stream"
    page.route(stream, lambda route: route.abort("internetdisconnected"))
    box.fill(QUESTION)
    box.press("Enter")

    failed = page.locator(f"{HOST} .msg.error")
    expect(failed.get_by_role("alert")).to_contain_text("Could not reach the assistant")
    retry = failed.get_by_role("button", name="Try again", exact=True)
    expect(retry).to_be_visible()
    expect(box).to_be_focused()  # the learner can also just type on
    screenshot(page, "widget-network-error-desktop")

    page.unroute(stream)
    retry.click()
    answer = answer_to(page, 1)
    expect(answer).to_contain_text("moderately difficult")
    expect(page.locator(f"{HOST} .msg.user")).to_have_text([QUESTION])  # asked once, not twice
    expect(page.locator(f"{HOST} .msg.error")).to_have_count(0)
    assert page.problems == []


def test_new_chat_stays_in_reach_and_asks_before_clearing_a_long_chat(open_page, course) -> None:
    from playwright.sync_api import expect

    page = open_page(MOBILE, f"{course.url}/")
    open_widget(page, touch=True)
    for question in [QUESTION, *FOLLOW_UPS]:
        ask(page, question)
    log_scrolls = page.evaluate(
        f"""() => {{ const log = document.querySelector("{HOST}").shadowRoot
            .querySelector(".log"); return log.scrollHeight > log.clientHeight; }}"""
    )
    assert log_scrolls, "three answers should make a chat longer than the screen"

    new_chat = page.get_by_role("button", name="New chat", exact=True)  # name = visible label
    expect(new_chat).to_have_text("New chat")
    expect(new_chat).to_be_in_viewport(ratio=1)
    new_chat.tap()
    confirm = page.get_by_role("alertdialog", name="Start a new chat?")
    expect(confirm).to_be_visible()
    screenshot(page, "widget-new-chat-confirm-mobile")
    confirm.get_by_role("button", name="Keep it").tap()
    expect(confirm).to_be_hidden()
    expect(page.locator(f"{HOST} .msg.user")).to_have_count(3)
    expect(new_chat).to_be_focused()

    new_chat.tap()
    confirm.get_by_role("button", name="Clear conversation").tap()
    expect(page.locator(f"{HOST} .msg")).to_have_count(0)
    expect(page.get_by_role("list", name="Example questions")).to_be_visible()
    expect(page.get_by_role("textbox", name="Your question")).to_be_focused()

    ask(page, QUESTION)  # a short conversation clears at once
    new_chat.tap()
    expect(page.locator(f"{HOST} .msg")).to_have_count(0)
    expect(confirm).to_be_hidden()
    assert page.problems == []


def test_the_phone_panel_keeps_focus_inside_and_has_thumb_sized_controls(open_page, course) -> None:
    from playwright.sync_api import expect

    page = open_page(MOBILE, f"{course.url}/")
    box = open_widget(page, touch=True)
    expect(box).to_be_focused()
    assert float(box.evaluate("b => parseFloat(getComputedStyle(b).fontSize)")) >= 16
    dialog = page.get_by_role("dialog", name="Course assistant")
    expect(dialog).to_have_attribute("aria-modal", "true")
    answer = ask(page, QUESTION)
    answer.get_by_role("button", name="Quote from source 1").tap()
    answer.get_by_role("button", name="Not helpful").tap()
    expect(answer.get_by_role("textbox")).to_be_visible()  # the comment field

    controls = page.locator(
        f"{HOST} .panel :is(button, input, textarea, a[href]):not(.cite):visible"
    )
    small = [
        f"{c.get_attribute('aria-label') or c.text_content()!r}: {size['width']}x{size['height']}"
        for c in controls.all()
        if (size := c.bounding_box()) and min(size["width"], size["height"]) < TOUCH_PX
    ]
    assert controls.count() >= 8 and small == [], f"touch targets under 44 px: {small}"

    box.focus()
    stops = controls.count() + 3  # once round and beyond: focus must never leave the panel
    for _ in range(stops):
        page.keyboard.press("Tab")
        assert in_panel(page), f"Tab left the panel after {focused_name(page)}"
    for _ in range(stops):
        page.keyboard.press("Shift+Tab")
        assert in_panel(page), f"Shift+Tab left the panel after {focused_name(page)}"

    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    launcher = page.get_by_role("button", name="Open the course assistant")
    expect(launcher).to_be_focused()
    assert page.problems == []


def test_a_citation_tap_on_a_phone_opens_the_section_with_the_chat_closed(
    open_page, course
) -> None:
    from playwright.sync_api import expect

    page = open_page(MOBILE, f"{course.url}/")
    open_widget(page, touch=True)
    answer = ask(page, QUESTION)
    screenshot(page, "widget-answer-before-citation-tap-mobile")
    answer.locator("a.cite").first.tap()
    page.wait_for_url(f"{course.url}{ANCHOR}")

    expect(page.get_by_role("dialog", name="Course assistant")).to_be_hidden()
    launcher = page.get_by_role("button", name="Open the course assistant")
    expect(launcher).to_be_visible()
    expect(page.get_by_role("heading", name="Frequently asked questions")).to_be_in_viewport()
    screenshot(page, "widget-after-citation-tap-mobile")

    launcher.tap()  # the conversation is still there
    expect(page.locator(f"{HOST} .msg.user")).to_have_text([QUESTION])
    assert page.problems == []


@pytest.mark.parametrize(
    ("system", "attribute", "dark"),
    [
        ("light", None, False),
        ("dark", None, True),  # auto follows the system
        ("dark", "auto", True),
        ("dark", "light", False),  # the site's choice wins over the system's
        ("light", "dark", True),
    ],
)
def test_the_theme_follows_the_system_unless_the_site_sets_one(
    open_page, course, system: str, attribute: str | None, dark: bool
) -> None:
    query = f"?theme={attribute}" if attribute else ""
    page = open_page(DESKTOP, f"{course.url}/{query}", color_scheme=system)
    open_widget(page)
    red, green, blue = (int(v) for v in panel_colour(page)[4:-1].split(",")[:3])
    assert (red + green + blue < 3 * 80) is dark, panel_colour(page)
    screenshot(page, f"widget-theme-{system}-system-{attribute or 'unset'}")
    assert page.problems == []


def test_a_theme_that_is_none_is_named_and_the_system_followed(open_page, course) -> None:
    page = open_page(DESKTOP, f"{course.url}/", color_scheme="dark")
    with page.expect_console_message(lambda m: m.type == "warning") as warning:
        page.evaluate(
            """(tag) => {
              document.querySelector(tag).remove();
              const themed = document.createElement(tag);  // as a site may place it itself
              themed.setAttribute("data-theme", "purple");
              document.body.appendChild(themed);
            }""",
            HOST,
        )
    assert 'data-theme must be light, dark or auto, not "purple"' in warning.value.text
    assert page.locator(HOST).get_attribute("data-theme") == "auto"
    open_widget(page)
    assert panel_colour(page) == "rgb(17, 24, 39)"  # dark, as the system is


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
