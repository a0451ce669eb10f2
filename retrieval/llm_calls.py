"""Calls to the chat model that end with the request that made them, or at their time limit.

In a worker thread of an AnyIO server (the HTTP API computes each answer in one), a call
runs on the server's event loop inside the request's cancel scope: a request that times
out or whose client goes away cancels its call, which closes the call's connection and
frees the thread at once. Elsewhere (CLI, Streamlit) a call with a time limit runs on one
private event loop of the process (`_PrivateLoop`), so reaching the limit cancels it the
same way instead of leaving a thread waiting on the model; the caller gets
`LLMTimeoutError` and answers without the model.

The limit is the model's own (`TimeLimited`, from `CERT_ASSISTANT_LLM_TIMEOUT_SECONDS`),
and for an answer also the API's request timeout, whichever is shorter.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from typing import Any, TypeVar

T = TypeVar("T")

log = logging.getLogger(__name__)


class LLMTimeoutError(TimeoutError):
    """The model did not finish its reply within the time limit."""

    def __init__(self, seconds: float) -> None:
        super().__init__(
            f"The language model did not reply within {seconds:g} s "
            "(CERT_ASSISTANT_LLM_TIMEOUT_SECONDS); answering from the course text instead."
        )


class TimeLimited:
    """A chat model with the longest time one call to it may take.

    Everything else is the model's own, so it stands wherever the model does.

    Args:
        model: A LangChain chat model.
        seconds: Time limit of each call (condense or answer).
    """

    def __init__(self, model: Any, seconds: float) -> None:
        self.model = model
        self.seconds = seconds

    def __getattr__(self, name: str) -> Any:
        return getattr(self.model, name)


def invoke(llm: Any, messages: list[Any]) -> Any:
    """The model's whole reply to `messages`.

    Raises:
        CancelledError: In the API, the request was given up on (timeout, client gone).
        LLMTimeoutError: The reply took longer than the model's time limit.
    """
    model, limit = _limited(llm, None)
    if _on_request_thread():
        import anyio

        async def reply() -> Any:
            with _limit_reached(limit), anyio.fail_after(limit):
                return await model.ainvoke(messages)

        return _on_loop(reply)
    if limit is None:
        return model.invoke(messages)

    async def private_reply() -> Any:
        with _limit_reached(limit):
            async with asyncio.timeout(limit):
                return await model.ainvoke(messages)

    return _PrivateLoop.get().run(private_reply())


def stream_reply(llm: Any, messages: list[Any], limit: float | None = None) -> Iterator[str]:
    """The text of the model's reply, piece by piece as it is written.

    Closing the generator ends the call too.

    Args:
        llm: A LangChain chat model (`TimeLimited`: with its own limit too).
        messages: The prompt.
        limit: Seconds after which the call is given up even if nothing cancels it (the
            API's request timeout); None for the model's own limit alone.

    Raises:
        CancelledError: In the API, the request was given up on (timeout, client gone).
        LLMTimeoutError: The reply took longer than the shorter limit.
    """
    model, limit = _limited(llm, limit)
    if not _on_request_thread():
        if limit is None:
            yield from (str(chunk.content) for chunk in model.stream(messages))
        else:
            yield from _stream_on_private_loop(model, messages, limit)
        return
    import anyio
    from anyio import from_thread

    reply = model.astream(messages)
    deadline = None if limit is None else time.monotonic() + limit
    ended = False

    async def close() -> None:
        nonlocal ended
        ended = True
        with anyio.CancelScope(shield=True):
            await reply.aclose()

    async def next_piece() -> str | None:
        nonlocal ended
        try:
            with _limit_reached(limit):
                with anyio.fail_after(None if deadline is None else deadline - time.monotonic()):
                    chunk = await anext(reply, None)
        except BaseException:
            # Closed here, on the loop, so that the thread need not come back to it: once
            # its request is given up on, the loop may be busy or stopping for good.
            await close()
            raise
        if chunk is None:
            ended = True  # the reply is over: nothing is left to close
            return None
        return str(chunk.content)

    try:
        while (piece := _on_loop(next_piece)) is not None:
            yield piece
    finally:
        # The reader stopped early. Closed on the loop's own thread, this cannot run and
        # need not: the loop finalises the async generators it iterated.
        if not ended:
            with contextlib.suppress(RuntimeError):
                from_thread.run(close)


def _stream_on_private_loop(model: Any, messages: list[Any], limit: float) -> Iterator[str]:
    """`stream_reply` outside the API: each piece awaited on the private loop, all of them
    within `limit` seconds; closing the generator closes the call."""
    loop = _PrivateLoop.get()
    reply = model.astream(messages)
    deadline = time.monotonic() + limit

    async def next_piece() -> str | None:
        with _limit_reached(limit):
            async with asyncio.timeout(deadline - time.monotonic()):
                chunk = await anext(reply, None)
        return None if chunk is None else str(chunk.content)

    try:
        while (piece := loop.run(next_piece())) is not None:
            yield piece
    finally:
        with contextlib.suppress(Exception):
            loop.run(reply.aclose())


class _PrivateLoop:
    """One event loop in a daemon thread, started on first use, for timed calls outside a
    server: a call given up on is cancelled there, closing its connection."""

    _instance: _PrivateLoop | None = None
    _guard = threading.Lock()

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, name="llm-calls", daemon=True).start()

    @classmethod
    def get(cls) -> _PrivateLoop:
        with cls._guard:
            if cls._instance is None:
                cls._instance = cls()
            return cls._instance

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """`await coroutine` on the loop; an interrupted caller (Ctrl-C) cancels it."""
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        try:
            return future.result()
        except BaseException:
            future.cancel()
            raise


def _limited(llm: Any, limit: float | None) -> tuple[Any, float | None]:
    """The model itself, and the shorter of `limit` and its own time limit."""
    if isinstance(llm, TimeLimited):
        limits = [s for s in (limit, llm.seconds) if s is not None]
        return llm.model, min(limits)
    return llm, limit


@contextlib.contextmanager
def _limit_reached(limit: float | None) -> Iterator[None]:
    """Turn the timeout of a call into `LLMTimeoutError`, said once in the log."""
    try:
        yield
    except TimeoutError as error:
        timeout = LLMTimeoutError(limit or 0.0)
        log.warning("%s", timeout)
        raise timeout from error


def _on_request_thread() -> bool:
    """Whether this is an AnyIO worker thread; raises if its request was given up on."""
    from anyio import NoEventLoopError, from_thread

    try:
        from_thread.check_cancelled()
    except NoEventLoopError:
        return False
    return True


def _on_loop(func: Callable[..., Awaitable[T]], *args: Any) -> T:
    """`await func(*args)` on the event loop of this worker thread, in its request's cancel
    scope; the request's cancellation is raised here."""
    from anyio import from_thread

    # A call started after its scope was cancelled would not be cancelled (anyio #1427).
    from_thread.check_cancelled()
    try:
        return from_thread.run(func, *args)
    except concurrent.futures.CancelledError:
        from_thread.check_cancelled()
        raise
