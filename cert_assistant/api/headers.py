"""Security headers: `nosniff` and a Content-Security-Policy on every response, pages their own."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = "Content-Security-Policy"

API_POLICY = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
"""For everything that is not a page (JSON, the event stream, the widget script): it may load
nothing and be framed by nobody."""

_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL | re.IGNORECASE)


def page_policy(
    *,
    scripts: Iterable[str] = (),
    styles: Iterable[str] = (),
    images: Iterable[str] = (),
    connect: Iterable[str] = (),
) -> str:
    """A page's policy: nothing but the sources named, never in a frame.

    Args:
        scripts: `script-src` sources, e.g. `'self'` or an inline script's hash.
        styles: `style-src` sources.
        images: `img-src` sources.
        connect: `connect-src` sources (fetch, XHR).

    >>> page_policy(scripts=["'self'"])
    "default-src 'none'; script-src 'self'; base-uri 'none'; form-action 'none'; \
frame-ancestors 'none'"
    """
    directives = ["default-src 'none'"]
    for name, sources in (
        ("script-src", scripts),
        ("style-src", styles),
        ("img-src", images),
        ("connect-src", connect),
    ):
        if sources := list(sources):
            directives.append(f"{name} {' '.join(sources)}")
    directives += ["base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'"]
    return "; ".join(directives)


def inline_script_hashes(html: str) -> list[str]:
    """CSP sources allowing exactly the inline `<script>` blocks of `html`, and no others.

    >>> inline_script_hashes('<script src="/a.js"></script><script>go()</script>')
    ["'sha256-5KYv+PUboo5h+0+YAtGRPbwv5d/QxzHslP4YGnUaxRw='"]
    """
    return [
        f"'sha256-{base64.b64encode(hashlib.sha256(code.encode()).digest()).decode()}'"
        for code in _INLINE_SCRIPT.findall(html)
    ]


class SecurityHeadersMiddleware:
    """Puts `X-Content-Type-Options: nosniff` and, unless a page set its own, `API_POLICY`
    on every response, errors and CORS preflights included."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault(CSP, API_POLICY)
            await send(message)

        await self.app(scope, receive, send_with_headers)
