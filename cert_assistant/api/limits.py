"""Abuse limits: per-client rate budgets (the `limits` library) and the size of a question."""

from __future__ import annotations

import logging
import math
import time

from limits import RateLimitItem, RateLimitItemPerMinute, RateLimitItemPerSecond
from limits.errors import StorageError
from limits.storage import Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cert_assistant.api.errors import APIError, error_response
from cert_assistant.api.schemas import ChatRequest
from cert_core.errors import QuestionError
from cert_core.settings import Settings
from retrieval.guard import check_history, check_question

log = logging.getLogger("cert_assistant.api")


class RateLimiter:
    """A budget per client kept in a `limits` storage, so processes sharing it share the budget.

    A client may make `per_minute` requests in any minute and, when `burst` is lower, no more
    than `burst` in the time the rate takes to earn them (20 in any 20 s at 60 a minute).
    Windows move with each request (`limits`' moving window), so the budget has no edge to
    game. With the in-memory storage each process keeps its own budgets; with Redis every
    process using that server counts against one budget per client.

    Args:
        per_minute: Requests a minute per client; 0 turns the limit off.
        burst: Requests a client may make at once before the rate applies.
        storage: Where the counts live (`make_rate_limit_storage`).
        name: Which budget this is (chat and feedback count apart).
    """

    def __init__(self, per_minute: int, burst: int, storage: Storage, name: str) -> None:
        self.items = budgets(per_minute, burst)
        self.name = name
        self._limiter = MovingWindowRateLimiter(storage)

    def take(self, client: str) -> float:
        """Spend one request of `client`'s allowance.

        A storage that cannot be reached lets the request through (logged): learners keep
        their answers while Redis is down, at the cost of the limit.

        Returns:
            0.0 when the request may go ahead, else the seconds until it may.
        """
        try:
            for item in self.items:
                if not self._limiter.hit(item, self.name, client):
                    reset = self._limiter.get_window_stats(item, self.name, client).reset_time
                    return max(reset - time.time(), 0.001)
        except StorageError as error:
            cause = type(getattr(error, "storage_error", error)).__name__  # not its text: a URL
            log.error("rate-limit storage unavailable (%s), request let through", cause)
        return 0.0

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


def budgets(per_minute: int, burst: int) -> list[RateLimitItem]:
    """The windows a client's requests must fit: the minute, and the burst when it is smaller.

    >>> [str(item) for item in budgets(60, 20)]
    ['60 per 1 minute', '20 per 20 second']
    >>> [str(item) for item in budgets(3, 20)], budgets(0, 20)
    (['3 per 1 minute'], [])
    """
    if per_minute <= 0:
        return []
    items: list[RateLimitItem] = [RateLimitItemPerMinute(per_minute)]
    if burst < per_minute:
        items.append(RateLimitItemPerSecond(burst, math.ceil(burst * 60 / per_minute)))
    return items


def make_rate_limit_storage(settings: Settings) -> Storage:
    """The storage of `settings.rate_limit_storage_url`: memory when unset, else Redis.

    The connection is made lazily; an unreachable server is logged at start (without its
    URL, which may hold a password) and requests go through until it answers.
    """
    url = settings.rate_limit_storage_url
    storage = storage_from_string(
        url.get_secret_value() if url else "memory://", wrap_exceptions=True
    )
    if url is not None and not _reachable(storage):
        log.error("the rate-limit storage does not answer; requests are not limited until it does")
    return storage


def _reachable(storage: Storage) -> bool:
    try:
        return bool(storage.check())
    except Exception:  # check() of some storages raises instead of returning False
        return False


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
