"""Abuse limits: a per-client rate limit and the size limits of a question and its history."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cert_assistant.api.errors import APIError, error_response
from cert_assistant.api.schemas import ChatRequest
from cert_core.errors import QuestionError
from cert_core.settings import Settings
from retrieval.guard import check_history, check_question


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """A token bucket per client: `per_minute` requests a minute, up to `burst` at once.

    Each process keeps its own buckets, so N API processes behind a load balancer allow a
    client up to N times the rate; put a shared limit in the proxy if that matters.

    Args:
        per_minute: Sustained requests a minute per client; 0 turns the limit off.
        burst: Requests a client may make at once (the bucket's size).
        max_clients: Clients remembered; the least recently seen are forgotten first.
        clock: Monotonic seconds (a test can pass a fake one).

    >>> now = [0.0]
    >>> limiter = RateLimiter(per_minute=60, burst=2, clock=lambda: now[0])
    >>> [limiter.take("a"), limiter.take("a"), limiter.take("a"), limiter.take("b")]
    [0.0, 0.0, 1.0, 0.0]
    >>> now[0] = 1.0
    >>> limiter.take("a")
    0.0
    """

    def __init__(
        self,
        per_minute: int,
        burst: int,
        *,
        max_clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(max(burst, 1))
        self.max_clients = max_clients
        self.clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def take(self, client: str) -> float:
        """Spend one request of `client`'s allowance.

        Returns:
            0.0 when the request may go ahead, else the seconds until it may.
        """
        if self.rate <= 0:
            return 0.0
        now = self.clock()
        with self._lock:
            bucket = self._buckets.pop(client, None) or _Bucket(self.burst, now)
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
            self._buckets[client] = bucket  # re-inserted last: dict order is recency
            if len(self._buckets) > self.max_clients:
                del self._buckets[next(iter(self._buckets))]
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0.0
            return (1.0 - bucket.tokens) / self.rate

    def check(self, client: str) -> None:
        """Raise a 429 `APIError` with `Retry-After` when `client` is over its allowance."""
        wait = self.take(client)
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            raise APIError(
                429,
                f"Too many questions from your address; try again in {seconds} s.",
                headers={"Retry-After": str(seconds)},
            )


def check_chat(chat: ChatRequest, settings: Settings) -> ChatRequest:
    """The request with its question stripped, or an `APIError` naming the field at fault.

    The checks are the assistant's own (`retrieval.guard`), made before a response (or a
    stream) is started.

    The question's length is counted as sent, spaces around it included, as the OpenAPI
    document's `maxLength` says.

    Raises:
        APIError: 413 for a question or history over its limit, 422 for an empty question.
    """
    limit = settings.max_question_chars
    if len(chat.question) > limit:
        message = f"The question is {len(chat.question)} characters long; the limit is {limit}."
        raise APIError(413, f"{message} Please shorten it.", field="question")
    try:
        question = check_question(chat.question, settings.max_question_chars)
        check_history(chat.history, settings.max_history_turns, settings.max_question_chars)
    except QuestionError as error:
        raise APIError(413 if error.too_large else 422, str(error), field=error.field) from error
    return chat.model_copy(update={"question": question})


class BodyLimitMiddleware:
    """Refuses request bodies over `max_bytes` with a 413 in the API's JSON error shape.

    A declared `Content-Length` over the limit is refused before anything is read; a
    chunked body is counted as it arrives.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        message = f"The request body is larger than {self.max_bytes} bytes."
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            rid = scope.get("state", {}).get("request_id", "-")
            await error_response(rid, 413, message)(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            chunk = await receive()
            received += len(chunk.get("body", b""))
            if received > self.max_bytes:
                raise HTTPException(413, message)  # FastAPI passes HTTPException through
            return chunk

        await self.app(scope, counted, send)
