"""Request bodies as the API reads them: UTF-8 JSON nested a few levels deep, else a clear 422."""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

MAX_DEPTH = 32
"""Deepest nesting of arrays and objects read; the API's own bodies need three levels."""

NOT_UTF8 = "The request body is not UTF-8 text; send JSON encoded as UTF-8."
TOO_DEEP = "The request body nests arrays and objects more than {} levels deep."


def read_json(body: bytes, max_depth: int = MAX_DEPTH) -> Any:
    """The JSON value of a request body.

    Raises:
        HTTPException: 422 when the body is not UTF-8 or nests deeper than `max_depth`.
        json.JSONDecodeError: When it is not JSON (FastAPI answers that as `json_invalid`).

    >>> read_json(b'{"question": "caf\\xc3\\xa9?"}')
    {'question': 'café?'}
    >>> read_json(b'{"question": "caf\\xe9?"}')
    Traceback (most recent call last):
    starlette.exceptions.HTTPException: 422: The request body is not UTF-8 text; send JSON encoded as UTF-8.
    >>> read_json(b"[[[1]]]", max_depth=2)
    Traceback (most recent call last):
    starlette.exceptions.HTTPException: 422: The request body nests arrays and objects more than 2 levels deep.
    """  # noqa: E501 - doctest output is one line
    try:
        text = body.decode("utf-8")  # RFC 8259: JSON exchanged between systems is UTF-8
    except UnicodeDecodeError:
        raise HTTPException(422, NOT_UTF8) from None
    try:
        value = json.loads(text)
    except RecursionError:  # hundreds of levels: the parser itself gives up
        raise HTTPException(422, TOO_DEEP.format(max_depth)) from None
    if depth(value, stop=max_depth + 1) > max_depth:
        raise HTTPException(422, TOO_DEEP.format(max_depth))
    return value


def depth(value: Any, stop: int) -> int:
    """How deeply lists and dicts nest in `value`, counted up to `stop` (scalars are 0).

    Iterative, so no body can exhaust the stack.

    >>> depth({"history": [{"role": "user"}]}, stop=10)
    3
    >>> depth([[[[[]]]]], stop=3)
    3
    >>> depth("text", stop=10)
    0
    """
    deepest = 0
    pending = [(value, 1)]
    while pending:
        item, level = pending.pop()
        if not isinstance(item, (list, dict)):
            continue
        deepest = max(deepest, level)
        if deepest >= stop:
            return stop
        children = item.values() if isinstance(item, dict) else item
        pending.extend((child, level + 1) for child in children)
    return deepest


class _StrictJSONRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = read_json(await self.body())
        return self._json


class StrictJSONRoute(APIRoute):
    """A route that reads its JSON body with `read_json` (FastAPI's custom-route hook).

    FastAPI passes an `HTTPException` from the body through to the app's error handler,
    where any other decoding failure would become a bare 400.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            return await handler(_StrictJSONRequest(request.scope, request.receive))

        return strict
