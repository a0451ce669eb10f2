"""A fake OpenAI-compatible chat endpoint on 127.0.0.1, slow when asked, that counts its
open connections: for tests of the LLM answerer through the real `langchain-openai` client."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Iterator
from typing import Any

DRIP_SECONDS = 0.1  # a stalled stream sends an empty chunk this often, as a slow model does


class FakeOpenAI:
    """`POST /v1/chat/completions` answered with `reply`, streamed word by word when asked to.

    Every response closes its connection, so `open_connections` is 0 whenever no call is
    running. With `stall` > 0 each response stays open that many seconds unless the client
    goes away first: a stream after its last word (sending empty chunks meanwhile), a whole
    reply before it is sent.

    Attributes:
        url: Base URL for an OpenAI client (`http://127.0.0.1:PORT/v1`).
        reply: What the model says.
        stall: Seconds each response is held open.
        open_connections: Connections open right now.
        requests: Request bodies received, in order.
    """

    def __init__(self) -> None:
        self.reply = "NOT_COVERED"
        self.stall = 0.0
        self.open_connections = 0
        self.requests: list[dict[str, Any]] = []
        self.url = ""

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One request on one connection."""
        self.open_connections += 1
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                int(line.split(b":", 1)[1])
                for line in head.lower().split(b"\r\n")
                if line.startswith(b"content-length:")
            )
            body = json.loads(await reader.readexactly(length))
            self.requests.append(body)
            if body.get("stream"):
                await self._stream(reader, writer)
            else:
                await self._complete(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client went away: what a cancelled call does
        finally:
            writer.close()
            self.open_connections -= 1

    async def _complete(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if await _client_left(reader, self.stall):
            return
        message = {"role": "assistant", "content": self.reply}
        payload = json.dumps(
            {
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "created": 0,
                "model": "fake",
                "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            }
        ).encode()
        head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
        writer.write(f"{head}Content-Length: {len(payload)}\r\n\r\n".encode() + payload)
        await writer.drain()

    async def _stream(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
        writer.write(head.encode())
        words = self.reply.split(" ")
        for n, word in enumerate(words):
            await _send(writer, {"content": word + (" " if n < len(words) - 1 else "")})
        for _ in range(round(self.stall / DRIP_SECONDS)):
            if await _client_left(reader, DRIP_SECONDS):
                return
            await _send(writer, {"content": ""})
        await _send(writer, {}, finish="stop")
        writer.write(b"data: [DONE]\n\n")
        await writer.drain()


async def _send(
    writer: asyncio.StreamWriter, delta: dict[str, str], finish: str | None = None
) -> None:
    chunk = {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "fake",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    writer.write(f"data: {json.dumps(chunk)}\n\n".encode())
    await writer.drain()


async def _client_left(reader: asyncio.StreamReader, seconds: float) -> bool:
    """Whether the client closed its side within `seconds` (it sends nothing after its request)."""
    if seconds <= 0:
        return False
    try:
        return await asyncio.wait_for(reader.read(1), seconds) == b""
    except TimeoutError:
        return False


async def _cancel_the_rest() -> None:
    rest = asyncio.all_tasks() - {asyncio.current_task()}
    for task in rest:
        task.cancel()
    await asyncio.gather(*rest, return_exceptions=True)


@contextlib.contextmanager
def running_fake_openai() -> Iterator[FakeOpenAI]:
    """A `FakeOpenAI` listening on a free port of 127.0.0.1, in a thread of its own."""
    fake = FakeOpenAI()
    loop = asyncio.new_event_loop()
    ready = threading.Event()

    async def serve() -> None:
        server = await asyncio.start_server(fake.handle, "127.0.0.1", 0)
        fake.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1"
        ready.set()
        async with server:
            await server.serve_forever()

    main = loop.create_task(serve())

    def run() -> None:
        with contextlib.suppress(asyncio.CancelledError):
            loop.run_until_complete(main)
        loop.run_until_complete(_cancel_the_rest())  # calls still open when the test ended
        loop.close()

    thread = threading.Thread(target=run, name="fake-openai", daemon=True)
    thread.start()
    assert ready.wait(5), "the fake OpenAI server did not start"
    try:
        yield fake
    finally:
        loop.call_soon_threadsafe(main.cancel)
        thread.join(5)
