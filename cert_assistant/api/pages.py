"""What the API serves besides JSON: the widget script, the demo course page and, if on, /docs."""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from cert_assistant.api.errors import error_response, request_id
from cert_assistant.api.headers import CSP, inline_script_hashes, page_policy
from cert_core.settings import Settings

WIDGET = Path(__file__).with_name("static") / "widget.js"
WIDGET_CACHE = "public, max-age=300"  # course pages pick up a new widget within five minutes
SWAGGER_CDN = "https://cdn.jsdelivr.net"  # where FastAPI's Swagger UI page loads its assets

# The demo's own <style> and the widget's shadow-root <style> are inline; scripts are not.
DEMO_SOURCES = {"styles": ["'self'", "'unsafe-inline'"], "images": ["'self'", "data:"]}


def add_pages(app: FastAPI, settings: Settings) -> None:
    """The widget at /widget.js, the demo at /demo/ and, with `settings.api_docs`, /docs."""

    @app.api_route("/widget.js", methods=["GET", "HEAD"], include_in_schema=False)
    async def widget(request: Request) -> Response:
        stat = WIDGET.stat()
        headers = {
            "Cache-Control": WIDGET_CACHE,
            "ETag": content_etag(WIDGET, stat.st_mtime_ns, stat.st_size),
            "Cross-Origin-Resource-Policy": "cross-origin",  # course sites load it
        }
        if etag_matches(request.headers.get("if-none-match"), headers["ETag"]):
            return Response(status_code=304, headers=headers)
        return FileResponse(WIDGET, media_type="text/javascript; charset=utf-8", headers=headers)

    def demo_page(request: Request) -> Response:
        page = settings.demo_dir / "index.html" if settings.demo_dir else None
        if page is None or not page.is_file():
            return error_response(request_id(request), 404, "The demo page is turned off.")
        html = page.read_text(encoding="utf-8")
        scripts = ["'self'", *inline_script_hashes(html)]
        policy = page_policy(scripts=scripts, connect=["'self'"], **DEMO_SOURCES)
        return HTMLResponse(html, headers={CSP: policy})

    @app.get("/demo", include_in_schema=False)
    async def demo_root() -> Response:
        return RedirectResponse("/demo/")  # so the page's relative links stay under /demo/

    @app.get("/demo/", include_in_schema=False)
    async def demo(request: Request) -> Response:
        return demo_page(request)

    @app.get("/demo/{page}", include_in_schema=False)
    async def demo_subpage(request: Request, page: str) -> Response:
        """Every page of the demo site is the same file, so citation links land somewhere."""
        return demo_page(request)

    if settings.api_docs:

        @app.get("/docs", include_in_schema=False)
        async def docs() -> Response:
            page = get_swagger_ui_html(
                openapi_url=app.openapi_url or "/openapi.json",
                title=f"{app.title} - API docs",
                swagger_favicon_url="data:,",
            )
            html = bytes(page.body).decode("utf-8")
            policy = page_policy(
                scripts=[SWAGGER_CDN, *inline_script_hashes(html)],
                styles=[SWAGGER_CDN],
                images=["'self'", "data:"],
                connect=["'self'"],
            )
            return HTMLResponse(html, headers={CSP: policy})


@functools.lru_cache(maxsize=8)
def content_etag(path: Path, mtime_ns: int, size: int) -> str:
    """A strong ETag from the file's bytes, so every server of a deployment gives the same one.

    Keyed by modification time and size too, so an edited file gets a new tag.
    """
    return f'"{hashlib.sha256(path.read_bytes()).hexdigest()[:32]}"'


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """Whether an `If-None-Match` header names `etag` (the weak comparison RFC 9110 asks for).

    >>> etag_matches('W/"abc", "def"', '"abc"')
    True
    >>> etag_matches('"abc"', '"abcd"'), etag_matches("*", '"x"'), etag_matches(None, '"x"')
    (False, True, False)
    """
    if not if_none_match:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in tags or etag in tags
