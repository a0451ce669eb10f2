"""The one assistant and feedback store of an API process, called off the event loop."""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator
from typing import Any, TypeVar

import anyio
import anyio.to_thread

from cert_assistant.api.errors import APIError
from cert_core.errors import CertAssistantError, IndexMissingError, QuestionError
from cert_core.settings import Settings

log = logging.getLogger("cert_assistant.api")
T = TypeVar("T")

NOT_READY = "The assistant is not available right now. Please try again in a minute."
NO_INDEX = "No course index yet. Build it with: cert-assistant ingest"
WARM_UP = "What does the course cover?"
NO_SUCH_ANSWER = (
    "No answer with this interaction_id in this conversation. Send the interaction_id and "
    "conversation_id that came with the answer."
)


class AssistantService:
    """Answers, streams and feedback for the routes, each with a deadline and in a worker thread.

    The assistant (embedding model and index) is built once per process and shared by
    every request; it is thread-safe for reads. If it cannot be built at startup (e.g. the
    Chroma server is not up yet), the next request tries again.

    Args:
        settings: Limits, timeouts and where the index and feedback database live.
        assistant: A ready `retrieval.Assistant` (or a stand-in with `ask`/`stream`/`info`);
            built with `make_assistant(settings)` when None.
        feedback: A ready `FeedbackStore`; opened at `settings.feedback_url` when None.
        metrics: The process's `Metrics` to count answers and ratings in, if /metrics is on.
    """

    def __init__(
        self, settings: Settings, assistant: Any = None, feedback: Any = None, metrics: Any = None
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self._assistant = assistant
        self._feedback = feedback
        self._building = anyio.Lock()

    async def start(self) -> None:
        """Load the model and index and open the feedback store (at app startup)."""
        with contextlib.suppress(APIError):  # logged; /healthz says 503 until a build succeeds
            assistant = await self.assistant()
            await anyio.to_thread.run_sync(_warm_up, assistant)
        if self._feedback is None:
            from cert_assistant.feedback import FeedbackStore

            self._feedback = await anyio.to_thread.run_sync(
                FeedbackStore, self.settings.feedback_url
            )

    async def assistant(self) -> Any:
        """The shared assistant, built on first use.

        Raises:
            APIError: 503 when it cannot be built.
        """
        if self._assistant is not None:
            return self._assistant
        async with self._building:
            if self._assistant is None:
                from retrieval import make_assistant

                try:
                    self._assistant = await anyio.to_thread.run_sync(make_assistant, self.settings)
                except CertAssistantError as error:
                    log.error("cannot build the assistant: %s", error)
                    raise APIError(503, NOT_READY) from error
        return self._assistant

    async def answer(
        self, question: str, history: list[dict[str, str]], conversation_id: str | None
    ) -> dict[str, Any]:
        """The answer JSON of `ask --json`, logged for feedback, plus its ids.

        Raises:
            APIError: 422 for an unusable question, 503 without an index, 504 past the deadline.
        """
        assistant = await self.assistant()
        try:
            answer = await self._call(assistant.ask, question, history)
        except CertAssistantError as error:
            raise _as_api_error(error) from error
        return await self._logged(question, answer.to_json(), conversation_id, answer.query)

    async def stream(
        self, question: str, history: list[dict[str, str]], conversation_id: str | None
    ) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        """`(event, data)` pairs: `text` pieces, `citations`, then `done` with the logged answer.

        One deadline covers the whole stream. Errors are raised as `APIError` for the
        caller to send as an `error` event.
        """
        from retrieval import CitationsEvent, DoneEvent, TextEvent

        assistant = await self.assistant()
        events = assistant.stream(question, history)
        deadline = anyio.current_time() + self.settings.request_timeout_seconds
        try:
            while (event := await self._next(events, deadline)) is not None:
                if isinstance(event, TextEvent):
                    yield "text", {"text": event.text}
                elif isinstance(event, CitationsEvent):
                    yield "citations", _citations(event)
                elif isinstance(event, DoneEvent):
                    answer = event.answer.to_json()
                    query = event.answer.query
                    yield "done", await self._logged(question, answer, conversation_id, query)
        finally:  # the client left or the deadline passed: end the LLM call it may hold
            _close(events)

    async def open_stream(
        self, question: str, history: list[dict[str, str]], conversation_id: str | None
    ) -> AsyncGenerator[tuple[str, dict[str, Any]]]:
        """`stream`, started: its first event is computed before this returns.

        Raises:
            APIError: What `answer` raises, when the stream fails before its first event.
        """
        events = self.stream(question, history, conversation_id)
        first = await anext(events, None)
        return _after(first, events)

    async def _next(self, events: Iterator[T], deadline: float) -> T | None:
        """The next event, computed in a worker thread; None at the end.

        The cancel scope covers only the wait for one event, never a `yield` of the
        generator above (a scope left open across a yield would cancel the consumer).
        """
        try:
            with anyio.CancelScope(deadline=deadline) as scope:
                return await anyio.to_thread.run_sync(next, events, None, abandon_on_cancel=True)
        except CertAssistantError as error:
            raise _as_api_error(error) from error
        assert scope.cancelled_caught
        raise self._timed_out()

    async def record_feedback(
        self, interaction_id: str, conversation_id: str, rating: str, comment: str | None
    ) -> None:
        """Store thumbs and comment for an answer, rated from the conversation that asked.

        Raises:
            APIError: 404 when no answer has this id in this conversation (an unknown id and
                another conversation's answer look the same), 422 for a bad rating.
        """
        record = functools.partial(
            self._feedback.record_feedback, interaction_id, conversation_id, rating, comment
        )
        try:
            await anyio.to_thread.run_sync(record)
        except KeyError as error:
            raise APIError(404, NO_SUCH_ANSWER) from error
        except ValueError as error:
            raise APIError(422, f"rating: {error}", field="rating") from error
        if self.metrics is not None:
            self.metrics.count_rating(rating)

    async def index_manifest(self) -> Any | None:
        """The manifest of the index this process answers from (for /metrics), or None."""
        try:
            assistant = await self.assistant()
        except APIError:
            return None
        store = getattr(getattr(assistant, "retriever", None), "store", None)
        if store is None:  # a stand-in assistant without an index
            return None
        try:
            return await self._call(store.manifest)
        except (APIError, CertAssistantError):
            return None

    async def examples(self) -> list[str]:
        """A few questions the course answers (FAQ questions of the index), for an empty chat.

        Raises:
            APIError: 503 without an index or a reachable store, 504 past the deadline.
        """
        assistant = await self.assistant()
        try:
            return await self._call(assistant.examples)
        except CertAssistantError as error:
            raise _as_api_error(error) from error

    async def health(self) -> dict[str, Any]:
        """What `/healthz` shows; `index_loaded` is False when this process cannot answer."""
        try:
            assistant = await self.assistant()
            info = await self._call(assistant.info)
        except (APIError, CertAssistantError) as error:
            reason = NO_INDEX if isinstance(error, IndexMissingError) else NOT_READY
            if not isinstance(error, IndexMissingError):
                log.error("health check failed: %s", error)
            return {"status": "unavailable", "index_loaded": False, "error": reason}
        # No server paths: sources are names such as `knowledge/faq.md`, a model given as a
        # folder shows its name, and the store says only which kind it is.
        model = (
            info.model.rstrip("/").rsplit("/", 1)[-1] if info.model.startswith("/") else info.model
        )
        return {
            "status": "ok",
            "index_loaded": True,
            "chunks": info.chunks,
            "documents": info.documents,
            "model": model,
            "ingested_at": info.ingested_at,
            "store": "server" if self.settings.chroma_host else "embedded",
        }

    async def _call(self, func: Callable[..., T], *args: Any) -> T:
        """`func(*args)` in a worker thread, given up on (not killed) after the request timeout."""
        with anyio.move_on_after(self.settings.request_timeout_seconds) as scope:
            return await anyio.to_thread.run_sync(
                functools.partial(func, *args), abandon_on_cancel=True
            )
        assert scope.cancelled_caught
        raise self._timed_out()

    def _timed_out(self) -> APIError:
        seconds = self.settings.request_timeout_seconds
        return APIError(504, f"The answer took longer than {seconds:g} s. Please try again.")

    async def _logged(
        self,
        question: str,
        answer: dict[str, Any],
        conversation_id: str | None,
        query: str | None = None,
    ) -> dict[str, Any]:
        """The answer with the id of its feedback-log row; a failing log never loses an answer."""
        conversation_id = conversation_id or str(uuid.uuid4())
        if self.metrics is not None:
            self.metrics.count_answer(bool(answer.get("refused")))
        log_answer = functools.partial(
            self._feedback.log_answer, conversation_id, question, answer, query
        )
        try:
            interaction_id = await anyio.to_thread.run_sync(log_answer)
        except Exception:
            log.exception("could not log the answer for feedback")
            interaction_id = None
        return {**answer, "interaction_id": interaction_id, "conversation_id": conversation_id}


async def _after(first: T | None, rest: AsyncGenerator[T]) -> AsyncGenerator[T]:
    try:
        if first is not None:
            yield first
        async for item in rest:
            yield item
    finally:  # closed early (the client left): close the stream now, not when collected
        await rest.aclose()


def _close(events: Iterator[Any]) -> None:
    """Close an answer generator now, which cancels the LLM call it may hold open.

    One still running in a worker thread that was given up on is cancelled there.
    """
    if inspect.isgenerator(events):
        with contextlib.suppress(ValueError):  # "generator already executing"
            events.close()


def _warm_up(assistant: Any) -> None:
    """One question end to end, so the first learner does not pay for lazy loading."""
    try:
        assistant.ask(WARM_UP)
    except Exception as error:  # no index yet, store down, ...: requests will say so
        log.info("warm-up skipped: %s", error)


def _citations(event: Any) -> dict[str, Any]:
    from dataclasses import asdict

    return {
        "citations": [asdict(c) for c in event.citations],
        "suggestions": [asdict(s) for s in event.suggestions],
        "refused": event.refused,
    }


def _as_api_error(error: CertAssistantError) -> APIError:
    if isinstance(error, QuestionError):
        return APIError(422, str(error), field="question")
    if isinstance(error, IndexMissingError):
        return APIError(503, NO_INDEX)
    log.error("assistant unavailable: %s", error)
    return APIError(503, NOT_READY)
