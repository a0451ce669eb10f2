"""The OpenAPI document: FastAPI's, plus the limits this process enforces and the stream events."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from cert_assistant.api.schemas import (
    ChatResponse,
    CitationsPayload,
    ErrorOut,
    StreamErrorOut,
    TextPayload,
)
from cert_core.settings import Settings

REF = "#/components/schemas/{model}"
ERROR_SCHEMA = {"schema": {"$ref": REF.format(model="ErrorOut")}}
"""A JSON error body (`ErrorOut`), as a media type object of a response."""

STREAM_EVENTS: dict[str, type[BaseModel]] = {
    "text": TextPayload,
    "citations": CitationsPayload,
    "done": ChatResponse,
    "error": StreamErrorOut,
}
"""Each event `POST /api/chat/stream` sends, and the JSON in its `data`."""

# The characters `str.strip()` removes (`str.isspace()`); spelled out because JSON Schema's
# `\s` (ECMA-262) and Python's differ at the edges (U+001C-U+001F, U+0085, U+FEFF).
_BLANK = r"\t\n\x0b\x0c\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"


def install_openapi(app: FastAPI, settings: Settings) -> None:
    """Make `app.openapi()`, and so `/openapi.json`, describe what this process enforces.

    Replacing `app.openapi` is FastAPI's documented way to extend the document.
    """
    fastapi_document = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = fastapi_document()  # also kept in app.openapi_schema
            _describe_limits(document, settings)
            _describe_stream(document)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def question_limits(settings: Settings) -> dict[str, Any]:
    """The JSON Schema of `question` as the API checks it: not blank, at most so many characters.

    "Not blank" is a `not` of an all-blank pattern rather than a pattern of one non-blank
    character, so that Schemathesis still tries the length limits.

    >>> limits = question_limits(Settings(max_question_chars=300))
    >>> limits["minLength"], limits["maxLength"]
    (1, 300)
    >>> import re  # blank to the schema exactly when blank to `str.strip()`
    >>> blank = [chr(c).isspace() for c in range(0x3001)]  # U+3000 is the last space
    >>> blank == [bool(re.search(limits["not"]["pattern"], chr(c))) for c in range(0x3001)]
    True
    """
    return {
        "minLength": 1,
        "maxLength": settings.max_question_chars,
        "not": {"pattern": f"^[{_BLANK}]*$"},
    }


def _describe_limits(document: dict[str, Any], settings: Settings) -> None:
    """Write the question and history limits of `settings` into the chat request's schema."""
    body = document["paths"]["/api/chat"]["post"]["requestBody"]["content"]["application/json"]
    name = body["schema"]["$ref"].rsplit("/", 1)[-1]
    fields = document["components"]["schemas"][name]["properties"]
    fields["question"].update(question_limits(settings))
    fields["history"]["maxItems"] = settings.max_history_turns


def _describe_stream(document: dict[str, Any]) -> None:
    """Name each event of the stream and the schema of its data (`itemSchema`, OpenAPI 3.2)."""
    models = [*STREAM_EVENTS.values(), ErrorOut]
    _, schemas = models_json_schema([(m, "serialization") for m in models], ref_template=REF)
    components = document.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in schemas.get("$defs", {}).items():
        components.setdefault(name, schema)
    ok = document["paths"]["/api/chat/stream"]["post"]["responses"]["200"]
    ok["description"] = "The answer as events: `text`..., `citations`, `done`; or `error`."
    ok["content"]["text/event-stream"]["itemSchema"] = {
        "type": "object",
        "required": ["event", "data"],
        "oneOf": [
            {
                "properties": {
                    "event": {"const": event},
                    "data": {
                        "type": "string",
                        "contentMediaType": "application/json",
                        "contentSchema": {"$ref": REF.format(model=model.__name__)},
                    },
                }
            }
            for event, model in STREAM_EVENTS.items()
        ],
    }
