"""The course site on loopback, for the tests of `ingest --url/--sitemap` (test_ingest_web.py).

`knowledge/` rendered to HTML pages under /course/ (navigation, a footer, headings with ids:
the FAQ's are `faq-<slug>`, so a citation can only land there by the page's own ids), a
sitemap, a robots.txt, and pages that misbehave: a 404, a 500, a slow page, a redirect, a
page robots.txt disallows, and a sitemap entry on a host outside the allowlist (`localhost`
instead of `127.0.0.1`). Pages answer ETag / If-None-Match with 304, and every request is
logged, so a test can see what was asked and answered.

Run it alone to ingest it by hand: `python tests/course_site.py` prints the sitemap URL.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from markdown_it import MarkdownIt

ROOT = Path(__file__).resolve().parents[1]
LAST_MODIFIED = "Wed, 25 Nov 2026 08:00:00 GMT"
SLOW_SECONDS = 3.0


@dataclass
class Request:
    """One request the site answered."""

    path: str
    status: int
    if_none_match: str | None
    started: float
    ended: float


@dataclass
class CourseSite:
    """Pages by path, what the sitemap lists, and the log of requests."""

    port: int = 0
    pages: dict[str, str] = field(default_factory=dict)
    listed: list[str] = field(default_factory=list)
    log: list[Request] = field(default_factory=list)
    robots: str = "User-agent: *\nDisallow: /course/private\n"
    redirects: dict[str, str] = field(default_factory=lambda: {"/course/moved": "/course/new-home"})
    failing: set[str] = field(default_factory=set)  # paths that answer 503 for now
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def sitemap_url(self) -> str:
        return f"{self.base}/course/sitemap.xml"

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    def requests(self, path: str) -> list[Request]:
        with self.lock:
            return [r for r in self.log if r.path == path]

    def sitemap(self) -> bytes:
        locs = "".join(
            f"<url><loc>{p if p.startswith('http') else self.url(p)}</loc></url>"
            for p in self.listed
        )
        xmlns = "http://www.sitemaps.org/schemas/sitemap/0.9"
        return f'<?xml version="1.0"?><urlset xmlns="{xmlns}">{locs}</urlset>'.encode()


def render_page(markdown_file: Path, id_prefix: str = "") -> str:
    """A knowledge file as the course site would serve it: headings with ids, in a layout."""
    from ingest.splitter import slugify

    text = markdown_file.read_text(encoding="utf-8").split("---", 2)[2]
    body = MarkdownIt("commonmark").enable("table").render(text)

    def with_id(match: re.Match[str]) -> str:
        level, inner = match.group(1), match.group(2)
        return f'<h{level} id="{id_prefix}{slugify(inner)}">{inner}</h{level}>'

    body = re.sub(r"<h([1-6])>(.*?)</h\1>", with_id, body)
    title = re.search(r"^title: (.+)$", markdown_file.read_text(encoding="utf-8"), re.M)
    return layout(title.group(1) if title else markdown_file.stem, body)


def layout(title: str, main: str) -> str:
    """A page of the site: navigation, the main content, a sidebar and a footer."""
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title>"
        "<script>var tracking = 'Cookie notice text';</script></head><body>"
        "<header><nav><a href='/course/faq'>FAQ</a> <a href='/course/guide'>Guide</a> "
        "Sign in to the learner portal</nav></header>"
        f"<main>{main}</main>"
        "<aside>Related courses: Certified Data Wrangler</aside>"
        "<footer>Copyright 2026 Course Ltd. Imprint and privacy policy.</footer></body></html>"
    )


def demo_site() -> CourseSite:
    """The site's pages and sitemap as the tests start from."""
    site = CourseSite()
    site.pages = {
        "/course/faq": render_page(ROOT / "knowledge" / "faq.md", id_prefix="faq-"),
        "/course/guide": render_page(ROOT / "knowledge" / "guide.md"),
        "/course/syllabus": render_page(ROOT / "knowledge" / "syllabus.md"),
        "/course/old-news": layout(
            "Old news",
            "<h1 id='news'>Old news</h1><h2 id='spring'>Spring intake</h2>"
            "<p>The spring intake of the course opened in March 2025.</p>",
        ),
        "/course/new-home": layout(
            "Study tips",
            "<article><h1>Study tips</h1><section id='tips-pacing'><h2>Pacing</h2>"
            "<p>Plan one lab a week and review the syllabus monthly.</p></section></article>",
        ),
        "/course/private/drafts": layout("Drafts", "<h1 id='d'>Drafts</h1><p>Unpublished.</p>"),
        "/course": layout("Course", "<h1 id='course'>Course home</h1><p>Welcome aboard.</p>"),
    }
    site.listed = [
        "/course/faq",
        "/course/guide",
        "/course/syllabus",
        "/course/old-news",
        "/course/moved",
        "/course/missing",
        "/course/broken",
        "/course/slow",
        "/course/private/drafts",
        "localhost",  # replaced by the localhost URL once the port is known
    ]
    return site


class _Handler(BaseHTTPRequestHandler):
    site: CourseSite

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        started = time.monotonic()
        status = self._answer()
        with self.site.lock:
            self.site.log.append(
                Request(
                    self.path,
                    status,
                    self.headers.get("If-None-Match"),
                    started,
                    time.monotonic(),
                )
            )

    def _answer(self) -> int:
        site, path = self.site, self.path
        if path == "/robots.txt":
            return self._send(200, site.robots.encode(), "text/plain")
        if path == "/course/sitemap.xml":
            return self._send(200, site.sitemap(), "application/xml")
        if path == "/sitemap-index.xml":  # a sitemap index at the root, listing the sitemap
            index = f"<sitemapindex><sitemap><loc>{site.sitemap_url}</loc></sitemap></sitemapindex>"
            return self._send(200, index.encode(), "application/xml")
        if path in site.failing:
            return self._send(503, b"maintenance", "text/plain")
        if path in site.redirects:
            self.send_response(301)
            self.send_header("Location", site.redirects[path])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return 301
        if path == "/course/broken":
            return self._send(500, b"oops", "text/plain")
        if path == "/course/slow":
            time.sleep(SLOW_SECONDS)
            return self._send(200, layout("Slow", "<h1>Slow</h1><p>Late.</p>").encode())
        if path not in site.pages:
            return self._send(404, b"not found", "text/plain")
        body = site.pages[path].encode()
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        if self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            self.send_header("ETag", etag)
            self.end_headers()
            return 304
        return self._send(200, body, "text/html; charset=utf-8", etag)

    def _send(self, status: int, body: bytes, kind: str = "text/html", etag: str = "") -> int:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        if etag:
            self.send_header("ETag", etag)
            self.send_header("Last-Modified", LAST_MODIFIED)
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(body)  # fails when the client gave up waiting (the slow page)
        return status

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        """Quiet: the test reads `site.log` instead."""


def serve(site: CourseSite) -> ThreadingHTTPServer:
    """Serve the site on a free port of 127.0.0.1 in a daemon thread; `shutdown()` ends it."""
    handler = type("Handler", (_Handler,), {"site": site})
    server = ThreadingHTTPServer(("127.0.0.1", site.port), handler)
    server.daemon_threads = True
    site.port = server.server_address[1]
    site.listed = [
        f"http://localhost:{site.port}/course/elsewhere" if p == "localhost" else p
        for p in site.listed
    ]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(ROOT))
    running = demo_site()
    running.port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    httpd = serve(running)
    print(running.sitemap_url, flush=True)
    threading.Event().wait()
