"""A stand-in course site with the widget's script tag, and Chromium, for the widget's tests.

The API runs as `cert-assistant serve` on one loopback port; the course site, on another,
serves the demo page with the README's script tag pointing at the API. So the browser tests
cover what a real course site gets: a cross-origin script, CORS and streaming over fetch.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from api_process import ApiProcess, api_env, free_port, running_api
from browsers import CHROMIUM, chromium

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
DEMO_TAG = '<script src="/widget.js" defer></script>'
ANSWER_MS = 60_000  # generous: the machine is shared
DESKTOP = {"viewport": {"width": 1280, "height": 800}}
MOBILE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 3,
    "is_mobile": True,
    "has_touch": True,
}
THEMES = ("light", "dark", "auto")


@dataclass
class CourseSite:
    """The course site's URL, the API behind its widget, and the API's feedback database."""

    url: str
    api: ApiProcess
    feedback: Path


def serve_course_site(port: int, api_url: str) -> ThreadingHTTPServer:
    """Every path of the site is the demo page, with the one script tag pointing at the API.

    `?theme=dark` (or light, auto) puts `data-theme` on the script tag, as a site would.
    """
    html = (ROOT / "demo" / "index.html").read_text(encoding="utf-8")
    assert DEMO_TAG in html

    def page(theme: str | None) -> bytes:
        themed = f' data-theme="{theme}"' if theme in THEMES else ""
        tag = f'<script src="{api_url}/widget.js" data-api="{api_url}"{themed} defer></script>'
        return html.replace(DEMO_TAG, tag).encode()

    class CoursePage(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's hook name
            theme = parse_qs(urlsplit(self.path).query).get("theme", [None])[0]
            body = page(theme)
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), CoursePage)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="module")
def course(real_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CourseSite]:
    """The course site and the API on two loopback origins, for a test module."""
    if not CHROMIUM.exists():
        pytest.skip("needs Chromium: apt-get install -y chromium chromium-driver")
    folder = tmp_path_factory.mktemp("widget")
    port = free_port()
    site = f"http://127.0.0.1:{port}"
    feedback = folder / "feedback.sqlite3"
    env = api_env(data_dir=real_index, feedback_db=feedback, site_base_url=site,
                  allowed_origins=site)  # fmt: skip
    with running_api(env, folder / "api.log") as api:
        server = serve_course_site(port, api.url)
        try:
            yield CourseSite(site, api, feedback)
        finally:
            server.shutdown()
            server.server_close()


@pytest.fixture(scope="module")
def browser(course: CourseSite) -> Iterator[object]:
    """Debian's Chromium, headless, driven by Playwright; one for the test module."""
    with chromium() as browser:
        yield browser


def screenshot(page: object, name: str) -> Path:
    """Save what the page shows now as `test-artifacts/<name>.png`; returns the path."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path
