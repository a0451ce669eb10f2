"""What the browser tests share: Debian's headless Chromium driven by Playwright, and axe's
violations written out as what to fix."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
# Headless, and nothing fetched from outside hosts: no updates, no sync, no background traffic.
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """Debian's Chromium, headless, through Playwright; closed on the way out."""
    if not CHROMIUM.exists():
        pytest.fail("Chromium is missing: apt-get install -y chromium chromium-driver")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()


def violations_report(violations: list[dict[str, Any]]) -> str:
    """One line per rule broken, then one per element with axe's reason: what to fix."""
    lines = []
    for violation in violations:
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']}")
        for node in violation["nodes"]:
            target = " >>> ".join(
                " ".join(part) if isinstance(part, list) else part for part in node["target"]
            )
            why = " ".join(node.get("failureSummary", "").splitlines()[1:2]).strip()
            lines.append(f"  {target}: {why}")
    return "\n".join(lines)
