"""The FastAPI app: routes, pages, abuse limits, CORS, headers and errors wired; `serve` runs it."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from cert_assistant.api import routes
from cert_assistant.api.errors import (
    REQUEST_ID_HEADER,
    CatchAllMiddleware,
    RequestIdMiddleware,
    install_error_handlers,
)
from cert_assistant.api.headers import SecurityHeadersMiddleware
from cert_assistant.api.limits import BodyLimitMiddleware, RateLimiter, make_rate_limit_storage
from cert_assistant.api.metrics import Metrics, MetricsMiddleware, add_metrics
from cert_assistant.api.openapi import install_openapi
from cert_assistant.api.pages import add_pages
from cert_assistant.api.service import AssistantService
from cert_core.settings import Settings

DESCRIPTION = """Answers questions about the Certified MLOps Architect course, citing the
course sections each answer comes from. Embed the chat widget on a course page with:

    <script src="https://ASSISTANT/widget.js" data-api="https://ASSISTANT" defer></script>
"""


def create_app(settings: Settings, assistant: Any = None, feedback: Any = None) -> FastAPI:
    """The HTTP API and the widget, for one process.

    Args:
        settings: Limits, allowed origins, timeouts, and where the index lives.
        assistant: A ready assistant to share; by default one is built at startup.
        feedback: A ready `FeedbackStore`; by default `settings.feedback_url` is opened.

    Returns:
        The app; run it with uvicorn (`cert-assistant serve`) or `fastapi.testclient`.
    """
    metrics = Metrics() if settings.metrics_token is not None else None  # off: nothing counted
    service = AssistantService(settings, assistant, feedback, metrics)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await service.start()  # model and index load once, before the first request
        yield

    app = FastAPI(
        title="cert-assistant",
        version=_version(),
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served by `add_pages` only when settings.api_docs asks for it
        redoc_url=None,  # ReDoc loads its script and fonts from other hosts too
    )
    app.state.settings = settings
    app.state.service = service
    budgets = make_rate_limit_storage(settings)  # memory, or Redis shared by every host
    per_minute, burst = settings.rate_limit_per_minute, settings.rate_limit_burst
    app.state.chat_limiter = RateLimiter(per_minute, burst, budgets, "chat")
    app.state.feedback_limiter = RateLimiter(per_minute, burst, budgets, "feedback")
    install_error_handlers(app)
    app.include_router(routes.router)
    add_pages(app, settings)
    if metrics is not None:
        add_metrics(app, settings, metrics)
    install_openapi(app, settings)
    # Added last = outermost. Request ids and security headers go on every response; CORS
    # headers on every response from the app, errors included, so a browser can read them.
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(CatchAllMiddleware)
    if metrics is not None:
        app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_methods=["GET", "POST"],
        allow_headers=["Content-Type", REQUEST_ID_HEADER],
        expose_headers=[REQUEST_ID_HEADER, "Retry-After"],
        max_age=600,
    )
    app.add_middleware(RequestIdMiddleware)
    app.add_middleware(SecurityHeadersMiddleware)
    return app


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

    Raises:
        FeedbackDatabaseError: The feedback database cannot be opened or migrated; it is
            opened (and migrated, once) before any worker starts.
    """
    import uvicorn

    from cert_assistant.feedback import FeedbackStore

    _configure_logging()
    feedback = FeedbackStore(settings.feedback_url)
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
        uvicorn.run(create_app(settings, feedback=feedback), **options)


def _configure_logging() -> None:
    handler = logging.StreamHandler()
    handler.setLevel(logging.INFO)  # libraries that set DEBUG on their own logger stay quiet
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler])
