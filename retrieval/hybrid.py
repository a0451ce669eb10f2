"""Hybrid retrieval: dense (Chroma) and BM25 rankings fused by reciprocal rank, as a retriever."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from langchain_core.callbacks import (
    AsyncCallbackManagerForRetrieverRun,
    CallbackManagerForRetrieverRun,
)
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, PrivateAttr

from ingest.documents import Chunk
from ingest.units import Unit, split_units
from retrieval.adapter import PROBE_TEXT, QueryAdapter
from retrieval.bm25 import BM25Index
from retrieval.lexical import TermWeights, Vocabulary
from retrieval.neighbours import WordNeighbours
from retrieval.unit_index import UnitIndex

log = logging.getLogger(__name__)

Mode = Literal["hybrid", "dense", "bm25"]

RANKINGS_KEPT = 512
"""Most searches whose fused rankings are kept (a few MB); past it they are run afresh."""


@dataclass(frozen=True)
class ScoredChunk:
    """A retrieved chunk with its fused score and the scores behind it.

    Attributes:
        chunk: The chunk.
        score: Fused reciprocal-rank score (higher is better).
        dense: Cosine similarity of the whole chunk to the question, when the dense side
            found it.
        bm25: BM25 score, when the lexical side found it.
        unit: Cosine similarity of the chunk's closest unit to the question (a chunk is as
            close as its best sentence, item, row or answer), when units were searched.
        units: The chunk's units, in order, each with its similarity to the question.
    """

    chunk: Chunk
    score: float
    dense: float | None = None
    bm25: float | None = None
    unit: float | None = None
    units: tuple[tuple[Unit, float], ...] = ()

    @property
    def closeness(self) -> float:
        """How close in meaning: the best of the chunk's and its best unit's similarity."""
        return max(self.dense or 0.0, self.unit or 0.0)


@dataclass(frozen=True)
class Lexical:
    """What one index generation needs in memory besides the store: words and units."""

    version: str
    index: BM25Index
    weights: TermWeights
    vocabulary: Vocabulary
    units: UnitIndex
    chunks: Mapping[str, Chunk]  # by id: the store answers a vector query with ids


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
        dense_weight: Weight of the dense (whole chunk) ranking in the fusion.
        bm25_weight: Weight of the BM25 ranking in the fusion.
        unit_weight: Weight of the ranking by each chunk's closest unit in the fusion.
        rrf_k: Reciprocal-rank-fusion constant; larger flattens the rank curve.
        candidates: How many results each side contributes before fusion.
        model: The embedding model's name or path, naming the cached word vectors.
        word_cache: Folder for the course words' vectors (`neighbours`); None keeps them in
            memory only.
        adapter: The learned `QueryAdapter` applied to question vectors, or None. It is used
            only when it was trained with the embedder's model (checked on first search).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    store: Any
    embedder: Any
    site_base_url: str = "https://courses.example.com/certified-mlops-architect"
    k: int = 5
    mode: Mode = "hybrid"
    dense_weight: float = 0.0
    bm25_weight: float = 1.0
    unit_weight: float = 1.0
    rrf_k: int = 60
    candidates: int = 20
    model: str = ""
    word_cache: Path | None = None
    adapter: QueryAdapter | None = None

    _lexical: Lexical | None = PrivateAttr(default=None)
    _neighbours: tuple[str, WordNeighbours] | None = PrivateAttr(default=None)
    _adapter_fits: tuple[str, bool] | None = PrivateAttr(default=None)  # (digest, fits)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    # rankings by (index version, settings, mended query): the same query searched again (a
    # deeper search for a count, a learner asking a suggested question) costs no model call
    _ranked: dict[tuple[Any, ...], tuple[list[ScoredChunk], Any]] = PrivateAttr(
        default_factory=dict
    )

    def search(self, query: str, k: int | None = None) -> list[ScoredChunk]:
        """The best chunks for `query`, best first.

        Misspelt words and chat shorthand are mended against the corpus first.

        Args:
            query: The (standalone) question.
            k: How many to return; defaults to `self.k`.
        """
        return self.search_in(self.lexical(), query, k)

    def search_in(self, lexical: Lexical, query: str, k: int | None = None) -> list[ScoredChunk]:
        """`search` over a generation already read (`lexical()`): one manifest read a question."""
        k = k or self.k
        query = lexical.vocabulary.mend(query)
        key = (lexical.version, self._settings_key(), query)
        with self._lock:
            ranked = self._ranked.get(key)
        if ranked is None:
            ranked = self._rank(lexical, query)
            with self._lock:
                if len(self._ranked) >= RANKINGS_KEPT:
                    self._ranked.clear()
                self._ranked[key] = ranked
        fused, similarities = ranked
        if similarities is None:
            return fused[:k]
        return [_with_units(s, lexical.units, similarities) for s in fused[:k]]

    def _settings_key(self) -> tuple[object, ...]:
        """What a ranking depends on besides the index and the query: copies of a retriever
        in another mode share the kept rankings, each under its own key."""
        return (
            self.mode,
            self.dense_weight,
            self.bm25_weight,
            self.unit_weight,
            self.rrf_k,
            self.candidates,
            None if self.adapter is None else self.adapter.digest,
        )

    def forget(self) -> None:
        """Drop the kept rankings: the next search of every query runs afresh (benchmarks)."""
        with self._lock:
            self._ranked.clear()

    def _rank(self, lexical: Lexical, query: str) -> tuple[list[ScoredChunk], Any]:
        """Every chunk the rankings found for a mended query, fused, best first, with the
        similarity of every unit (None for BM25 alone)."""
        rankings: dict[str, tuple[list[tuple[Chunk, float]], float]] = {}
        similarities = None
        if self.mode != "bm25":
            vector = self._mapped(self.embedder.embed_query(query))
            # ids only: the generation's chunks are in memory already (lexical() read them)
            nearest = self.store.nearest(vector, self.candidates, refresh=False)
            hits = [(lexical.chunks[i], score) for i, score in nearest if i in lexical.chunks]
            weight = self.dense_weight if self.mode == "hybrid" else 1.0  # dense alone: it ranks
            rankings["dense"] = (hits, weight)
            similarities = lexical.units.similarities(vector)
            if self.mode == "hybrid":
                ranking = _by_best_unit(lexical, similarities)[: self.candidates]
                rankings["unit"] = (ranking, self.unit_weight)
        if self.mode != "dense":
            weight = self.bm25_weight if self.mode == "hybrid" else 1.0
            rankings["bm25"] = (lexical.index.search(query, self.candidates), weight)
        return _fuse(rankings, self.rrf_k), similarities

    def _mapped(self, vector: list[float]) -> list[float]:
        """The question vector through the adapter, when there is one trained for this model."""
        if self.adapter is None:
            return vector
        adapter = self.adapter
        if self._adapter_fits is None or self._adapter_fits[0] != adapter.digest:
            fits = adapter.fits(self.embedder.embed_query(PROBE_TEXT))  # checked once an adapter
            self._adapter_fits = (adapter.digest, fits)
            if not fits:
                log.warning(
                    "The query adapter was trained with another embedding model: questions are "
                    "searched without it. Retrain it with `python -m evals.train`."
                )
        return adapter.apply(vector) if self._adapter_fits[1] else vector

    def lexical(self) -> Lexical:
        """The BM25 index and term weights of the active index generation."""
        self.store.refresh()
        version = self.store.version
        with self._lock:
            if self._lexical is None or self._lexical.version != version:
                chunks = [s.chunk for s in self.store.chunks()]
                texts = [c.embedding_text for c in chunks]
                self._lexical = Lexical(
                    version,
                    BM25Index(chunks),
                    TermWeights(texts),
                    Vocabulary(texts),
                    UnitIndex(self._units(chunks)),
                    {c.id: c for c in chunks},
                )
            return self._lexical

    def neighbours(self, lexical: Lexical) -> WordNeighbours:
        """The generation's words in meaning (`retrieval.neighbours`), embedded on first use
        (or read from `word_cache`)."""
        with self._lock:
            if self._neighbours is None or self._neighbours[0] != lexical.version:
                texts = [c.embedding_text for c in lexical.index.chunks]
                found = WordNeighbours.build(texts, self.embedder, self.model, self.word_cache)
                self._neighbours = (lexical.version, found)
            return self._neighbours[1]

    def _units(self, chunks: list[Chunk]) -> list[tuple[Unit, list[float]]]:
        """The generation's units with vectors; embedded here for an index from before units."""
        stored = self.store.units()
        if stored is not None:
            return stored
        units = [u for c in chunks for u in split_units(c)]
        vectors = self.embedder.embed_documents([u.embedding_text for u in units]) if units else []
        return list(zip(units, vectors, strict=True))

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


def _by_best_unit(lexical: Lexical, similarities: Any) -> list[tuple[Chunk, float]]:
    """Chunks ranked by the similarity of their closest unit, best first."""
    best: dict[str, float] = {}
    for row, unit in enumerate(lexical.units.units):
        value = float(similarities[row])
        if value > best.get(unit.chunk_id, -2.0):
            best[unit.chunk_id] = value
    chunks = lexical.chunks
    ranked = sorted((v, i) for i, v in best.items() if i in chunks)
    return [(chunks[i], v) for v, i in reversed(ranked)]


def _with_units(scored: ScoredChunk, units: UnitIndex, similarities: Any) -> ScoredChunk:
    """The scored chunk with its units' similarities and its best one."""
    of_chunk = units.of_chunk(scored.chunk.id, similarities)
    best = max((s for _, s in of_chunk), default=None)
    return ScoredChunk(scored.chunk, scored.score, scored.dense, scored.bm25, best, of_chunk)


def _fuse(
    rankings: dict[str, tuple[list[tuple[Chunk, float]], float]], rrf_k: int
) -> list[ScoredChunk]:
    """Reciprocal-rank fusion: each ranking adds weight / (rrf_k + rank) to a chunk.

    Args:
        rankings: Name (`dense`, `unit`, `bm25`) → (chunks with scores best first, weight).
        rrf_k: The fusion constant.
    """
    fused: dict[str, dict[str, Any]] = {}
    for name, (ranking, weight) in rankings.items():
        for rank, (chunk, score) in enumerate(ranking, start=1):
            entry = fused.setdefault(chunk.id, {"chunk": chunk, "score": 0.0})
            entry["score"] += weight / (rrf_k + rank)
            entry[name] = score
    ranked = sorted(fused.values(), key=lambda e: (-e["score"], e["chunk"].id))
    return [ScoredChunk(**entry) for entry in ranked]
