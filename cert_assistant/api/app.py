"""The FastAPI app: wiring of routes, abuse limits, CORS and errors; and `serve` to run it."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, RedirectResponse, Response

from cert_assistant.api import routes
from cert_assistant.api.errors import (
    REQUEST_ID_HEADER,
    CatchAllMiddleware,
    RequestIdMiddleware,
    error_response,
    install_error_handlers,
    request_id,
)
from cert_assistant.api.limits import BodyLimitMiddleware, RateLimiter
from cert_assistant.api.service import AssistantService
from cert_assistant.settings import Settings

WIDGET = Path(__file__).with_name("static") / "widget.js"

DESCRIPTION = """Answers questions about the Certified MLOps Architect course, citing the
course sections each answer comes from. Embed the chat widget on a course page with:

    <script src="https://ASSISTANT/widget.js" data-api="https://ASSISTANT" defer></script>
"""


def create_app(settings: Settings, assistant: Any = None, feedback: Any = None) -> FastAPI:
    """The HTTP API and the widget, for one process.

    Args:
        settings: Limits, allowed origins, timeouts, and where the index lives.
        assistant: A ready assistant to share; by default one is built at startup.
        feedback: A ready `FeedbackStore`; by default `settings.feedback_path` is opened.

    Returns:
        The app; run it with uvicorn (`cert-assistant serve`) or `fastapi.testclient`.
    """
    service = AssistantService(settings, assistant, feedback)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await service.start()  # model and index load once, before the first request
        yield

    app = FastAPI(
        title="cert-assistant",
        version=_version(),
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.service = service
    app.state.chat_limiter = RateLimiter(settings.rate_limit_per_minute, settings.rate_limit_burst)
    app.state.feedback_limiter = RateLimiter(
        settings.rate_limit_per_minute, settings.rate_limit_burst
    )
    install_error_handlers(app)
    app.include_router(routes.router)
    _add_pages(app, settings)
    # Added last = outermost. Request ids go on every response; CORS headers on every
    # response from the app, errors included, so a browser can read them.
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(CatchAllMiddleware)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_methods=["GET", "POST"],
        allow_headers=["Content-Type", REQUEST_ID_HEADER],
        expose_headers=[REQUEST_ID_HEADER, "Retry-After"],
        max_age=600,
    )
    app.add_middleware(RequestIdMiddleware)
    return app


def _add_pages(app: FastAPI, settings: Settings) -> None:
    """The widget script and, when configured, the demo course page."""

    @app.get("/widget.js", include_in_schema=False)
    async def widget() -> Response:
        headers = {
            "Cache-Control": "public, max-age=300",
            "Cross-Origin-Resource-Policy": "cross-origin",  # course sites load it
        }
        return FileResponse(WIDGET, media_type="text/javascript; charset=utf-8", headers=headers)

    def demo_page(request: Request) -> Response:
        page = settings.demo_dir / "index.html" if settings.demo_dir else None
        if page is None or not page.is_file():
            return error_response(request_id(request), 404, "The demo page is turned off.")
        return FileResponse(page, media_type="text/html; charset=utf-8")

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


def _version() -> str:
    try:
        return version("cert-assistant")
    except PackageNotFoundError:
        return "0"


def app_from_environment() -> FastAPI:
    """The app for each uvicorn worker process: every worker reads the same environment."""
    _configure_logging()
    return create_app(Settings())


def serve(settings: Settings, *, host: str, port: int, workers: int = 1) -> None:
    """Run the API with uvicorn until interrupted.

    With one worker the app is built from `settings`; with more, each worker process
    builds its own (one model and index each) from the same environment.
    """
    import uvicorn

    _configure_logging()
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "proxy_headers": True,
        "forwarded_allow_ips": settings.forwarded_allow_ips,
        "server_header": False,
        "timeout_graceful_shutdown": int(settings.request_timeout_seconds) + 5,
    }
    if workers > 1:
        target = f"{__name__}:app_from_environment"
        uvicorn.run(target, factory=True, workers=workers, **options)
    else:
        uvicorn.run(create_app(settings), **options)


def _configure_logging() -> None:
    handler = logging.StreamHandler()
    handler.setLevel(logging.INFO)  # libraries that set DEBUG on their own logger stay quiet
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler])
