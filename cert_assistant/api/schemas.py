"""The JSON the HTTP API accepts and returns, as pydantic models (they also make the OpenAPI)."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from pydantic import AfterValidator, BaseModel, Field, StringConstraints
from pydantic_core import PydanticCustomError

InteractionId = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32}$")]
"""An answer's id in the feedback log: 32 random lowercase hex digits, never a counter."""


def unicode_text(value: str) -> str:
    """`value` if it is Unicode text, else a validation error (a 422 naming the field).

    JSON's `"\\ud800"` decodes to a lone surrogate, which no UTF-8 log, database or
    response can hold; it is refused here, before anything tries to.

    >>> unicode_text("café ☕")
    'café ☕'
    >>> unicode_text("\\ud800")  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    PydanticCustomError: must be Unicode text
    """
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise PydanticCustomError(
            "unicode_text", "must be Unicode text, and a lone surrogate such as \\ud800 is not"
        ) from None
    return value


Text = Annotated[str, AfterValidator(unicode_text)]
"""A string a person wrote: any Unicode text, never a lone surrogate."""


class TurnIn(BaseModel):
    """One earlier message of the conversation."""

    role: Literal["user", "assistant"] = Field(description="Who wrote the message.")
    content: Text = Field(description="What was written.")


class ChatRequest(BaseModel):
    """A learner's question, with the conversation so far for follow-ups."""

    question: Text = Field(
        description="The question: some text that is not only spaces, at most "
        "CERT_ASSISTANT_MAX_QUESTION_CHARS characters (413 beyond).",
        examples=["What are the common mistakes at the Foundation level?"],
    )
    history: list[TurnIn] = Field(
        default_factory=list,
        description="Earlier turns, oldest first; at most CERT_ASSISTANT_MAX_HISTORY_TURNS "
        "(413 beyond).",
    )
    conversation_id: UUID | None = Field(
        None,
        description="Client-chosen UUID grouping the answers of one conversation in the feedback "
        "log; generated when missing.",
    )


class CitationOut(BaseModel):
    """A numbered source: the `[n]` markers in the answer point here."""

    n: int
    title: str
    section: str
    url: str = Field(description="The section on the course site (page plus anchor).")
    source: str = Field(description="The file the passage was indexed from.")
    text: str = Field(description="The passage quoted, verbatim.")


class SuggestionOut(BaseModel):
    """A related section offered when the course does not cover the question."""

    title: str
    section: str
    url: str


class ChatResponse(BaseModel):
    """The answer: the same keys as `cert-assistant ask --json`, plus ids for feedback."""

    answer: str = Field(description="Answer text with inline markers such as `[1]`.")
    citations: list[CitationOut]
    refused: bool = Field(description="True when the course content does not cover it.")
    suggestions: list[SuggestionOut]
    interaction_id: InteractionId | None = Field(
        description="Id to send feedback for this answer, with the conversation id; null if "
        "it could not be logged.",
        examples=["3f9c2a7e5b1d4c6f8a0e2b4d6c8f0a1b"],
    )
    conversation_id: str = Field(description="Send it back with the next question.")
    request_id: str


class TextPayload(BaseModel):
    """Data of a `text` stream event: the next sentence of the answer."""

    text: str


class CitationsPayload(BaseModel):
    """Data of the `citations` stream event."""

    citations: list[CitationOut]
    suggestions: list[SuggestionOut]
    refused: bool


class StreamErrorOut(BaseModel):
    """Data of the `error` event that ends a stream which failed after it started."""

    error: str
    request_id: str
    status: int = Field(description="The HTTP status the error would have had: 500, 503 or 504.")


class FeedbackRequest(BaseModel):
    """Thumbs up or down on one answer, with an optional comment."""

    interaction_id: InteractionId = Field(
        description="From the answer being rated: 32 lowercase hex digits.",
        examples=["3f9c2a7e5b1d4c6f8a0e2b4d6c8f0a1b"],
    )
    conversation_id: UUID = Field(
        description="The conversation id the answer came with; only the conversation that "
        "asked may rate it.",
    )
    rating: Literal["up", "down"]
    comment: Text | None = Field(None, max_length=2000, description="What was good or wrong.")


class FeedbackResponse(BaseModel):
    """Feedback was stored."""

    status: Literal["recorded"] = "recorded"
    request_id: str


class ExamplesOut(BaseModel):
    """Questions to offer before the first one, so a learner sees what the assistant answers."""

    questions: list[str] = Field(
        description="A few FAQ questions of the course, spread over the FAQ; empty when the "
        "course has none.",
        examples=[["How hard is the Certified MLOps Architect exam?"]],
    )
    request_id: str


class Health(BaseModel):
    """Whether this process can answer, and what its index holds."""

    status: Literal["ok", "unavailable"]
    index_loaded: bool
    chunks: int = 0
    documents: list[str] = Field(default_factory=list)
    model: str | None = None
    ingested_at: str | None = None
    store: str | None = None
    error: str | None = Field(None, description="Why the index is not usable, when it is not.")


class ErrorOut(BaseModel):
    """Every error the API returns: a message for people and the id found in the server log."""

    error: str
    request_id: str
    field: str | None = Field(None, description="The request field at fault, when there is one.")
