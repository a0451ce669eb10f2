"""What an answer is made of: citations, suggestions, conversation turns and stream events."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal


@dataclass(frozen=True)
class Turn:
    """One message of a conversation."""

    role: Literal["user", "assistant"]
    content: str


@dataclass(frozen=True)
class Citation:
    """A numbered source of an answer: the passage quoted and where it lives.

    Attributes:
        n: Number used by the inline markers `[n]` in the answer.
        title: Title of the document.
        section: Heading path of the section.
        url: Link to the section on the course site (page plus anchor).
        source: File the passage was indexed from.
        text: The exact passage quoted, verbatim from the course content.
    """

    n: int
    title: str
    section: str
    url: str
    source: str
    text: str


@dataclass(frozen=True)
class Suggestion:
    """A related section offered when a question is not covered."""

    title: str
    section: str
    url: str


@dataclass(frozen=True)
class Answer:
    """The reply to one question."""

    answer: str
    citations: list[Citation] = field(default_factory=list)
    refused: bool = False
    suggestions: list[Suggestion] = field(default_factory=list)
    query: str = ""

    def to_json(self) -> dict[str, Any]:
        """The public JSON shape shared by `ask --json`, the API and the evals."""
        return {
            "answer": self.answer,
            "citations": [asdict(c) for c in self.citations],
            "refused": self.refused,
            "suggestions": [asdict(s) for s in self.suggestions],
        }


@dataclass(frozen=True)
class TextEvent:
    """A piece of answer text, in order."""

    text: str
    type: Literal["text"] = "text"


@dataclass(frozen=True)
class CitationsEvent:
    """The citations of the answer, sent once after its text."""

    citations: list[Citation]
    suggestions: list[Suggestion]
    refused: bool
    type: Literal["citations"] = "citations"


@dataclass(frozen=True)
class DoneEvent:
    """The end of the stream, carrying the complete answer."""

    answer: Answer
    type: Literal["done"] = "done"


Event = TextEvent | CitationsEvent | DoneEvent
