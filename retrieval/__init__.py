"""Retrieval and answering: hybrid search over the index, cited answers, follow-ups, refusals."""

from retrieval.assistant import Assistant, IndexInfo, make_assistant, make_retriever
from retrieval.hybrid import HybridRetriever, ScoredChunk
from retrieval.types import (
    Answer,
    Citation,
    CitationsEvent,
    DoneEvent,
    Event,
    Suggestion,
    TextEvent,
    Turn,
)

__all__ = [
    "Answer",
    "Assistant",
    "Citation",
    "CitationsEvent",
    "DoneEvent",
    "Event",
    "HybridRetriever",
    "IndexInfo",
    "ScoredChunk",
    "Suggestion",
    "TextEvent",
    "Turn",
    "make_assistant",
    "make_retriever",
]
