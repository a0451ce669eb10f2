"""Hybrid retrieval: dense (Chroma) and BM25 rankings fused by reciprocal rank, as a retriever."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Literal

from langchain_core.callbacks import (
    AsyncCallbackManagerForRetrieverRun,
    CallbackManagerForRetrieverRun,
)
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, PrivateAttr

from ingest.documents import Chunk
from retrieval.bm25 import BM25Index
from retrieval.lexical import TermWeights, Vocabulary

Mode = Literal["hybrid", "dense", "bm25"]


@dataclass(frozen=True)
class ScoredChunk:
    """A retrieved chunk with its fused score and the scores behind it.

    Attributes:
        chunk: The chunk.
        score: Fused reciprocal-rank score (higher is better).
        dense: Cosine similarity to the question, when the dense side found it.
        bm25: BM25 score, when the lexical side found it.
    """

    chunk: Chunk
    score: float
    dense: float | None = None
    bm25: float | None = None


@dataclass(frozen=True)
class _Lexical:
    version: str
    index: BM25Index
    weights: TermWeights
    vocabulary: Vocabulary


class HybridRetriever(BaseRetriever):
    """Finds course chunks for a question by meaning and by exact words.

    The BM25 side is rebuilt from the Chroma collection whenever the index generation
    changes, so both sides always answer from the same text.

    Args:
        store: The `ChunkStore` to read.
        embedder: LangChain `Embeddings` for questions (same model as the index).
        site_base_url: Base of the citation URLs.
        k: Documents returned.
        mode: `hybrid`, or one side alone (`dense`, `bm25`) for comparison.
        dense_weight: Weight of the dense ranking in the fusion.
        bm25_weight: Weight of the BM25 ranking in the fusion.
        rrf_k: Reciprocal-rank-fusion constant; larger flattens the rank curve.
        candidates: How many results each side contributes before fusion.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    store: Any
    embedder: Any
    site_base_url: str = "https://courses.example.com/certified-mlops-architect"
    k: int = 5
    mode: Mode = "hybrid"
    dense_weight: float = 1.0
    bm25_weight: float = 1.0
    rrf_k: int = 60
    candidates: int = 20

    _lexical: _Lexical | None = PrivateAttr(default=None)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def search(self, query: str, k: int | None = None) -> list[ScoredChunk]:
        """The best chunks for `query`, best first.

        Misspelt words and chat shorthand are mended against the corpus first.

        Args:
            query: The (standalone) question.
            k: How many to return; defaults to `self.k`.
        """
        k = k or self.k
        lexical = self.lexical()
        query = lexical.vocabulary.mend(query)
        dense: list[tuple[Chunk, float]] = []
        if self.mode != "bm25":
            vector = self.embedder.embed_query(query)
            hits = self.store.query(vector, self.candidates, refresh=False)  # lexical() did
            dense = [(h.chunk, h.score) for h in hits]
        sparse = lexical.index.search(query, self.candidates) if self.mode != "dense" else []
        return _fuse(dense, sparse, self.dense_weight, self.bm25_weight, self.rrf_k)[:k]

    def lexical(self) -> _Lexical:
        """The BM25 index and term weights of the active index generation."""
        self.store.refresh()
        version = self.store.version
        with self._lock:
            if self._lexical is None or self._lexical.version != version:
                chunks = [s.chunk for s in self.store.chunks()]
                texts = [c.embedding_text for c in chunks]
                self._lexical = _Lexical(
                    version, BM25Index(chunks), TermWeights(texts), Vocabulary(texts)
                )
            return self._lexical

    def to_document(self, scored: ScoredChunk) -> Document:
        """A LangChain `Document` carrying everything a citation needs."""
        chunk = scored.chunk
        metadata = {
            "id": chunk.id,
            "source": chunk.source,
            "title": chunk.title,
            "section": chunk.section,
            "anchor": chunk.anchor,
            "url": chunk.url(self.site_base_url),
            "kind": chunk.kind,
            "score": scored.score,
            "dense_score": scored.dense,
            "bm25_score": scored.bm25,
        }
        return Document(page_content=chunk.text, metadata=metadata, id=chunk.id)

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        k = kwargs.get("k", self.k)
        return [self.to_document(s) for s in self.search(query, k)]

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        from langchain_core.runnables.config import run_in_executor

        k = kwargs.get("k", self.k)
        scored = await run_in_executor(None, self.search, query, k)
        return [self.to_document(s) for s in scored]


def _fuse(
    dense: list[tuple[Chunk, float]],
    sparse: list[tuple[Chunk, float]],
    dense_weight: float,
    bm25_weight: float,
    rrf_k: int,
) -> list[ScoredChunk]:
    """Reciprocal-rank fusion: each ranking adds weight / (rrf_k + rank) to a chunk."""
    fused: dict[str, dict[str, Any]] = {}
    for name, ranking, weight in (("dense", dense, dense_weight), ("bm25", sparse, bm25_weight)):
        for rank, (chunk, score) in enumerate(ranking, start=1):
            entry = fused.setdefault(chunk.id, {"chunk": chunk, "score": 0.0})
            entry["score"] += weight / (rrf_k + rank)
            entry[name] = score
    ranked = sorted(fused.values(), key=lambda e: (-e["score"], e["chunk"].id))
    return [ScoredChunk(**entry) for entry in ranked]
