"""Calls to the chat model that end with the request that made them.

In a worker thread of an AnyIO server (the HTTP API computes each answer in one), a call
runs on the server's event loop inside the request's cancel scope: a request that times
out or whose client goes away cancels its call, which closes the call's connection and
frees the thread at once. Elsewhere (CLI, Streamlit) the model is called in this thread.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")


def invoke(llm: Any, messages: list[Any]) -> Any:
    """The model's whole reply to `messages`.

    Raises:
        CancelledError: In the API, the request was given up on (timeout, client gone).
    """
    return _on_loop(llm.ainvoke, messages) if _on_request_thread() else llm.invoke(messages)


def stream_reply(llm: Any, messages: list[Any], limit: float | None = None) -> Iterator[str]:
    """The text of the model's reply, piece by piece as it is written.

    Closing the generator ends the call too.

    Args:
        llm: A LangChain chat model.
        messages: The prompt.
        limit: Seconds after which a call in the API is given up even if nothing cancels
            it; None for no limit.

    Raises:
        CancelledError: In the API, the request was given up on (timeout, client gone).
        TimeoutError: In the API, the reply took longer than `limit`.
    """
    if not _on_request_thread():
        yield from (str(chunk.content) for chunk in llm.stream(messages))
        return
    import anyio
    from anyio import from_thread

    reply = llm.astream(messages)
    deadline = None if limit is None else time.monotonic() + limit

    async def next_piece() -> str | None:
        with anyio.fail_after(None if deadline is None else deadline - time.monotonic()):
            chunk = await anext(reply, None)
        return None if chunk is None else str(chunk.content)

    async def close() -> None:
        with anyio.CancelScope(shield=True):
            await reply.aclose()

    try:
        while (piece := _on_loop(next_piece)) is not None:
            yield piece
    finally:
        # Even for a cancelled request. Closed on the loop's own thread, this cannot run and
        # need not: the loop finalises the async generators it iterated.
        with contextlib.suppress(RuntimeError):
            from_thread.run(close)


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
