"""BM25 over the indexed chunks, rebuilt from the Chroma collection it mirrors."""

from __future__ import annotations

from collections.abc import Sequence

from ingest.documents import Chunk
from retrieval.lexical import stem


class BM25Index:
    """A bm25s index over chunks (heading path and text), with stemming and stop words.

    Args:
        chunks: The chunks to index, e.g. every chunk of the active index generation.
    """

    def __init__(self, chunks: Sequence[Chunk]) -> None:
        import bm25s

        self.chunks = list(chunks)
        self._bm25 = bm25s.BM25()
        if self.chunks:
            corpus = [c.embedding_text for c in self.chunks]
            tokens = bm25s.tokenize(corpus, stopwords="en", stemmer=stem, show_progress=False)
            self._bm25.index(tokens, show_progress=False)

    def search(self, query: str, k: int) -> list[tuple[Chunk, float]]:
        """The `k` best chunks for the query with their BM25 scores; no zero-score chunks."""
        import bm25s

        if not self.chunks:
            return []
        tokens = bm25s.tokenize([query], stopwords="en", stemmer=stem, show_progress=False)
        if not tokens.ids[0]:
            return []
        ids, scores = self._bm25.retrieve(
            tokens,
            k=min(k, len(self.chunks)),
            show_progress=False,
            n_threads=0,  # no thread pool
        )
        return [
            (self.chunks[int(i)], float(s)) for i, s in zip(ids[0], scores[0], strict=True) if s > 0
        ]
