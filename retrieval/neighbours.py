"""Soft matching: the course's own words nearest in meaning to a word it never uses.

A learner asks whether the exam is "tough"; the course says "difficult". Every word of the
course vocabulary is embedded at ingest; a question's unknown words are embedded when it
is asked, and each finds its nearest course words. Those count as matches of the unknown
word when coverage is measured, so synonyms stop counting as missing, while a "fee" with
no near word in the passage still does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from retrieval.lexical import stem

MIN_SIMILARITY = 0.55
"""Least similarity for a course word to stand in for a question's word ("tough" and
"difficult" are 0.70 with all-MiniLM-L6-v2; "fee" and "renewal" 0.41)."""
TOP = 5


class Neighbours:
    """The course vocabulary's vectors, searched for the words nearest to a new word.

    Args:
        words: Course words with their vectors, as the store keeps them.
        min_similarity: Least cosine similarity for a neighbour.
        top: Most neighbours per word.
    """

    def __init__(
        self,
        words: Sequence[tuple[str, Sequence[float]]],
        min_similarity: float = MIN_SIMILARITY,
        top: int = TOP,
    ) -> None:
        self.words = [w for w, _ in words]
        self.stems = stem(self.words)
        matrix = _matrix([v for _, v in words])
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        self._matrix = matrix / np.where(norms == 0, 1, norms)
        self.min_similarity = min_similarity
        self.top = top

    def of(self, vectors: Mapping[str, Sequence[float]]) -> dict[str, frozenset[str]]:
        """Word → stems of its nearest course words (possibly none)."""
        found: dict[str, frozenset[str]] = {}
        if not self.words:
            return {w: frozenset() for w in vectors}
        for word, vector in vectors.items():
            query = np.asarray(vector, dtype=np.float32)
            similarities = self._matrix @ (query / (float(np.linalg.norm(query)) or 1.0))
            best = np.argsort(-similarities)[: self.top]
            found[word] = frozenset(
                self.stems[i] for i in best if similarities[i] >= self.min_similarity
            )
        return found


def _matrix(vectors: Sequence[Sequence[float]]) -> np.ndarray:
    """Vectors as rows of a float32 matrix; an empty one has no rows (and one column)."""
    if not vectors:
        return np.zeros((0, 1), dtype=np.float32)
    return np.asarray(vectors, dtype=np.float32)
