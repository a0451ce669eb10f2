"""axe-core on the demo course page with the widget closed and open, on desktop and mobile.

axe-core comes bundled in `axe-playwright-python` (nothing fetched) and reads into the
widget's open shadow root. The issue asks for no critical or serious violation; the page
and widget have none of any impact, so any violation fails, listing each rule, its
elements and why. All violations found are kept in `test-artifacts/axe-<state>.json`,
and each state is saved as a screenshot there too.
"""

# ruff: noqa: F811 - the fixtures imported from widget_site are the tests' parameters
from __future__ import annotations

import json
from typing import Any

import pytest
from browsers import violations_report
from widget_site import (
    ANSWER_MS,
    ARTIFACTS,
    DESKTOP,
    MOBILE,
    CourseSite,
    browser,  # noqa: F401 - a fixture
    course,  # noqa: F401 - a fixture
    screenshot,
)

QUESTION = "How hard is the Certified MLOps Architect exam?"
# Off by default in axe-core (experimental), on here: a control's name must contain its label.
AXE_OPTIONS = {
    "resultTypes": ["violations"],
    "rules": {"label-content-name-mismatch": {"enabled": True}},
}
VIEWPORTS = {"desktop": DESKTOP, "mobile": MOBILE}


def run_axe(page: Any, name: str) -> list[dict[str, Any]]:
    """The violations on the page now, also written to `test-artifacts/axe-<name>.json`."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, options=AXE_OPTIONS).response
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"axe-{name}.json").write_text(json.dumps(results["violations"], indent=1))
    return results["violations"]


def open_empty(page: Any, mobile: bool) -> None:
    """Open the widget and wait for the example questions of its empty panel."""
    from playwright.sync_api import expect

    launcher = page.get_by_role("button", name="Open the course assistant")
    launcher.tap() if mobile else launcher.click()
    expect(page.get_by_role("list", name="Example questions")).to_be_visible()


def show_an_answer(page: Any, mobile: bool) -> None:
    """Open the widget, ask, wait for the cited answer and open its first quoted passage."""
    from playwright.sync_api import expect

    open_empty(page, mobile)
    box = page.get_by_role("textbox", name="Your question")
    box.fill(QUESTION)
    box.press("Enter")
    answer = page.locator("cert-assistant-chat .msg.bot").first
    expect(answer.get_by_role("button", name="Helpful", exact=True)).to_be_visible(
        timeout=ANSWER_MS
    )
    answer.locator(".quote-toggle").first.click()
    expect(answer.locator(".quote").first).to_be_visible()


@pytest.mark.browser
@pytest.mark.parametrize("theme", ["light", "dark"])
@pytest.mark.parametrize("state", ["closed", "empty", "answer"])
@pytest.mark.parametrize("device", list(VIEWPORTS))
def test_no_accessibility_violations(
    browser: Any,
    course: CourseSite,
    device: str,
    state: str,
    theme: str,
) -> None:
    context = browser.new_context(**VIEWPORTS[device], color_scheme=theme)
    try:
        page = context.new_page()
        page.goto(f"{course.url}/")
        page.locator("cert-assistant-chat").wait_for(state="attached")
        if state == "empty":
            open_empty(page, mobile=device == "mobile")
        elif state == "answer":
            show_an_answer(page, mobile=device == "mobile")
        name = f"widget-{state}-{device}-{theme}"
        screenshot(page, name)
        found = run_axe(page, name)
    finally:
        context.close()
    assert not found, f"axe on the demo page, {name}:\n{violations_report(found)}"


def test_a_failure_names_each_rule_and_element_with_the_reason() -> None:
    found = [
        {
            "id": "color-contrast",
            "impact": "serious",
            "help": "Elements must meet minimum color contrast ratio thresholds",
            "nodes": [
                {
                    "target": [["cert-assistant-chat", ".note"]],  # inside the shadow root
                    "failureSummary": "Fix any of the following:\n  contrast of 2.56 (#94a3b8)",
                },
                {"target": ["#page-title"], "failureSummary": "Fix all of the following:\n  x"},
            ],
        }
    ]
    assert violations_report(found).splitlines() == [
        "color-contrast (serious): Elements must meet minimum color contrast ratio thresholds",
        "  cert-assistant-chat .note: contrast of 2.56 (#94a3b8)",
        "  #page-title: x",
    ]
