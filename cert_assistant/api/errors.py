"""Errors as clients see them: one JSON shape with a request id, never a stack trace."""

from __future__ import annotations

import logging
import re
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("cert_assistant.api")

REQUEST_ID_HEADER = "X-Request-ID"
_CLIENT_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
INTERNAL_ERROR = "Something went wrong on our side. Please try again later."
MISSING_BODY = "The request has no body; send a JSON object with Content-Type: application/json."


class APIError(Exception):
    """An error with its HTTP status and a message meant for the person using the client.

    Args:
        status: HTTP status code.
        message: What went wrong and, where possible, what to do.
        field: The request field at fault, if any (e.g. `question`).
        headers: Extra response headers (e.g. `Retry-After`).
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field
        self.headers = headers or {}


def request_id(request: Request) -> str:
    """The id the `RequestIdMiddleware` gave this request."""
    return request.scope.get("state", {}).get("request_id", "-")


def error_response(
    rid: str,
    status: int,
    message: str,
    *,
    field: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """The one error body: `{"error", "request_id", "field"?}`.

    A lone surrogate a validation message quotes from the request is written as its escape,
    so the body can always be encoded.
    """
    message = message.encode("utf-8", "backslashreplace").decode("utf-8")
    body: dict[str, Any] = {"error": message, "request_id": rid}
    if field is not None:
        body["field"] = field
    return JSONResponse(body, status_code=status, headers=headers)


class RequestIdMiddleware:
    """Gives every request an id and returns it as `X-Request-ID` on every response.

    A well-formed incoming `X-Request-ID` (from a proxy) is kept, so logs line up across
    hops. Outermost, so even refused CORS preflights carry the id.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = Headers(scope=scope).get(REQUEST_ID_HEADER, "")
        rid = incoming if _CLIENT_ID.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = rid

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = rid
            await send(message)

        await self.app(scope, receive, send_with_id)


class CatchAllMiddleware:
    """Turns any exception nothing else handled into a logged, plain JSON 500.

    Sits inside the CORS middleware, so a browser can read the error and its request id;
    the traceback goes only to the server log.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, send_watched)
        except Exception:
            rid = scope.get("state", {}).get("request_id", "-")
            log.exception("request %s failed: %s %s", rid, scope["method"], scope["path"])
            if not started:  # once a response has started, all we can do is end it
                await error_response(rid, 500, INTERNAL_ERROR)(scope, receive, send)


async def _api_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, APIError)
    return error_response(
        request_id(request), error.status, error.message, field=error.field, headers=error.headers
    )


async def _http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HTTPException)
    message = error.detail if isinstance(error.detail, str) else "Request refused."
    return error_response(request_id(request), error.status_code, message, headers=error.headers)


async def _validation_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    problems = error.errors()
    first = problems[0] if problems else {}
    if first.get("type") == "json_invalid":
        return error_response(request_id(request), 422, "The request body is not valid JSON.")
    if first.get("type") == "missing" and tuple(first.get("loc", ())) == ("body",):
        return error_response(request_id(request), 422, MISSING_BODY)
    field = ".".join(str(part) for part in first.get("loc", ()) if part != "body") or None
    message = first.get("msg", "The request is not valid.")
    if field:
        message = f"{field}: {message}"
    return error_response(request_id(request), 422, message, field=field)


def install_error_handlers(app: FastAPI) -> None:
    """Make every error the app raises answer in the one JSON shape."""
    app.add_exception_handler(APIError, _api_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
