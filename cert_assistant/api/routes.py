"""The endpoints: chat, streamed chat, feedback, examples, health; the service does the work."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, AsyncIterable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from fastapi.sse import EventSourceResponse, ServerSentEvent

from cert_assistant.api.body import MAX_DEPTH, StrictJSONRoute
from cert_assistant.api.errors import INTERNAL_ERROR, APIError, log, request_id
from cert_assistant.api.limits import RateLimiter, check_chat
from cert_assistant.api.openapi import ERROR_SCHEMA
from cert_assistant.api.schemas import (
    ChatRequest,
    ChatResponse,
    ErrorOut,
    ExamplesOut,
    FeedbackRequest,
    FeedbackResponse,
    Health,
)
from cert_assistant.api.service import AssistantService

router = APIRouter(route_class=StrictJSONRoute)

_ERROR_DESCRIPTIONS = {
    413: "Question, history or body too large (`field` names which).",
    422: "Malformed JSON (also: not UTF-8, or arrays and objects nested more than "
    f"{MAX_DEPTH} levels), wrong types, text with a lone surrogate, or an empty question "
    "(`field` names which).",
    429: "Rate limit reached; see `Retry-After`.",
    500: "An unexpected failure; the `request_id` finds it in the server log.",
    503: "No index, or the store cannot be reached.",
    504: "The answer took longer than the request timeout.",
}
_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": description}
    for status, description in _ERROR_DESCRIPTIONS.items()
}
# The stream's errors before its first event are plain JSON like every other error; FastAPI
# would list a `model` under the route's own media type, text/event-stream.
_STREAM_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"description": description, "content": {"application/json": ERROR_SCHEMA}}
    for status, description in _ERROR_DESCRIPTIONS.items()
}


def _service(request: Request) -> AssistantService:
    return request.app.state.service


def _client(request: Request) -> str:
    # Behind a trusted proxy, uvicorn has already put the X-Forwarded-For address here.
    return request.client.host if request.client else "unknown"


def _limit_chat(request: Request) -> None:
    limiter: RateLimiter = request.app.state.chat_limiter
    limiter.check(_client(request))


def _limit_feedback(request: Request) -> None:
    limiter: RateLimiter = request.app.state.feedback_limiter
    limiter.check(_client(request))


def _checked(chat: ChatRequest, request: Request) -> ChatRequest:
    return check_chat(chat, request.app.state.settings)


Chat = Annotated[ChatRequest, Depends(_checked)]


def _history(chat: ChatRequest) -> list[dict[str, str]]:
    return [turn.model_dump() for turn in chat.history]


def _conversation(chat: ChatRequest) -> str | None:
    return str(chat.conversation_id) if chat.conversation_id else None


async def _opened(chat: Chat, request: Request) -> AsyncGenerator[tuple[str, dict[str, Any]]]:
    """The answer stream with its first event computed, before the response starts.

    So a stream that cannot start (no index, store down, past the deadline) is a plain JSON
    error with its status, as `POST /api/chat` gives, rather than an error event.
    """
    service = _service(request)
    return await service.open_stream(chat.question, _history(chat), _conversation(chat))


Opened = Annotated[AsyncGenerator[tuple[str, dict[str, Any]]], Depends(_opened)]


@router.post(
    "/api/chat",
    response_model=ChatResponse,
    responses=_ERRORS,
    dependencies=[Depends(_limit_chat)],
    summary="Answer a question, with citations",
)
async def chat(chat: Chat, request: Request) -> dict[str, Any]:
    """The complete answer: the JSON of `cert-assistant ask --json` plus feedback ids."""
    service = _service(request)
    answer = await service.answer(chat.question, _history(chat), _conversation(chat))
    return {**answer, "request_id": request_id(request)}


@router.post(
    "/api/chat/stream",
    response_class=EventSourceResponse,
    responses=_STREAM_ERRORS,
    dependencies=[Depends(_limit_chat)],
    summary="Answer a question as Server-Sent Events",
)
async def chat_stream(events: Opened, request: Request) -> AsyncIterable[ServerSentEvent]:
    """The answer as it is written.

    Events, in order: `text` (`{"text"}`, once per sentence; joined with spaces they make the
    answer), `citations` (`{"citations", "suggestions", "refused"}`), `done` (the same JSON
    as `POST /api/chat`). An error before the first event is a JSON error response with its
    status, as for `POST /api/chat`; one after it ends the stream with an `error` event
    (`{"error", "request_id", "status"}`).
    """
    rid = request_id(request)
    try:
        async with contextlib.aclosing(events):  # a client that leaves ends the answer
            async for name, data in events:
                if name == "done":
                    data = {**data, "request_id": rid}
                yield ServerSentEvent(event=name, data=data)
    except APIError as error:
        yield ServerSentEvent(
            event="error", data={"error": error.message, "request_id": rid, "status": error.status}
        )
    except Exception:
        log.exception("request %s: the answer stream failed", rid)
        yield ServerSentEvent(
            event="error", data={"error": INTERNAL_ERROR, "request_id": rid, "status": 500}
        )


_FEEDBACK_ERRORS: dict[int | str, dict[str, Any]] = {
    **_ERRORS,
    404: {
        "model": ErrorOut,
        "description": "No answer with this `interaction_id` in this `conversation_id`: an "
        "unknown id and another conversation's answer get the same reply.",
    },
    422: {
        "model": ErrorOut,
        "description": "Malformed JSON, an `interaction_id` that is not 32 lowercase hex "
        "digits, a `conversation_id` that is not a UUID, or a bad rating (`field` names which).",
    },
}


@router.post(
    "/api/feedback",
    response_model=FeedbackResponse,
    responses=_FEEDBACK_ERRORS,
    dependencies=[Depends(_limit_feedback)],
    summary="Rate an answer",
)
async def feedback(body: FeedbackRequest, request: Request) -> dict[str, Any]:
    """Thumbs up or down, and an optional comment, for an answer's `interaction_id`.

    Only the conversation that asked may rate: send the `conversation_id` the answer came
    with. Rating again adds a rating; the latest is the one that counts.
    """
    service = _service(request)
    conversation = str(body.conversation_id)
    await service.record_feedback(body.interaction_id, conversation, body.rating, body.comment)
    return {"status": "recorded", "request_id": request_id(request)}


@router.get(
    "/api/examples",
    response_model=ExamplesOut,
    responses={status: _ERRORS[status] for status in (500, 503, 504)},
    summary="Example questions for an empty chat",
)
async def examples(request: Request) -> dict[str, Any]:
    """A few questions the course answers, taken from its FAQ: the widget offers them in its
    empty panel, so they follow the course instead of being written into the page."""
    questions = await _service(request).examples()
    return {"questions": questions, "request_id": request_id(request)}


@router.get(
    "/healthz",
    response_model=Health,
    responses={503: {"model": Health, "description": "This process cannot answer."}},
    summary="Whether the index is loaded",
)
async def healthz(request: Request) -> JSONResponse:
    """200 with the index's size when this process can answer, else 503 with the reason."""
    health = Health(**await _service(request).health())
    return JSONResponse(health.model_dump(), status_code=200 if health.index_loaded else 503)
