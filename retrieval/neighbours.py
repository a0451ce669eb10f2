"""Soft matching: the course words closest in meaning to a word the course never uses.

A learner asks whether the exam is "tough" where the FAQ says "hard", or which "jobs" it
leads to where the course says "careers". Counting only the words the passage shares with
the question calls those answers missing. Each course word is embedded once, with the
model of the index; a question word the course lacks is embedded when asked, and its
nearest course words stand in for it, as evidence weighed by how near they are: "fee" is
near "cost" too, so nearness is a feature of the learned answerability scorer, never a
replacement of the word.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.lexical import WeightedTerm, stem, words_of

log = logging.getLogger(__name__)

NEAREST = 3
"""How many course words stand in for one the course lacks."""

Near = tuple[tuple[str, float], ...]
"""Stems of the nearest course words with their cosine similarity, nearest first."""

SHORTLIST = 8
"""The words sorted for one asked word, as a multiple of NEAREST (see `_nearest_first`)."""

ASKED_KEPT = 4096
"""Most asked words whose vectors are kept (about 6 MB); past it they are embedded afresh."""

SYNONYM = 0.75
"""Cosine similarity from which a course word stands in for one the learner typed ("tough"
for "hard" 0.78, "jobs" for "careers" 0.81; "price" for "cost" 0.74 and "instructor" for
"teaches" 0.72 stay below: a price or a trainer is not what the course talks about)."""


COUNTED_ALIKE = 0.5
"""Cosine similarity from which a course word names the things a count asks about too:
"providers" for "companies" (0.54), "directions" for "ways" (0.59), "levels" for "tiers"
(0.59); "levels" for "questions" (0.40) or "exams" (0.41) stays below, as "stages" for
"modules" (0.13)."""


def synonyms(near: Mapping[str, Near]) -> dict[str, Near]:
    """Of each word's nearest course words, those near enough to stand in for it."""
    return {term: tuple(n for n in found if n[1] >= SYNONYM) for term, found in near.items()}


def softly_covered(
    own: Sequence[WeightedTerm], text_terms: set[str], near: Mapping[str, Near]
) -> float:
    """Weighted share of the terms the text holds, a term the course never uses counting as
    much as its nearest course term that the text holds is similar to it.

    >>> near = {"tough": (("hard", 0.8),)}
    >>> softly_covered([("tough", 2.0), ("exam", 1.0)], {"exam", "hard"}, near)
    0.8666666666666667
    """
    total = sum(w for _, w in own)
    if total <= 0:
        return 1.0
    found = 0.0
    for term, weight in own:
        if term in text_terms:
            found += weight
        else:
            similar = (s for t, s in near.get(term, ()) if t in text_terms)
            found += weight * max(similar, default=0.0)
    return found / total


class WordNeighbours:
    """The course's words as unit vectors, searched by one product per asked word.

    Args:
        words: The course's content words.
        vectors: One row per word (normalised here).
        embedder: LangChain `Embeddings` of the index's model, for the asked words.
    """

    def __init__(self, words: list[str], vectors: np.ndarray, embedder: Any) -> None:
        self.words = words
        self._stems = stem(words)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True) if len(words) else 1
        self._matrix = vectors / np.where(norms == 0, 1, norms) if len(words) else vectors
        self._embedder = embedder
        self._asked: dict[str, np.ndarray] = {}  # asked words' unit vectors, embedded once
        self._asked_lock = threading.Lock()

    @classmethod
    def build(
        cls, texts: Iterable[str], embedder: Any, model: str, cache: Path | None = None
    ) -> WordNeighbours:
        """Embed the content words of `texts`, or read them from `cache` when this model
        already embedded these words (about a second for a course's 700 words on two cores).
        """
        words = sorted({w for text in texts for w in words_of(text)})
        key = hashlib.sha256("\n".join([model, *words]).encode()).hexdigest()[:16]
        path = cache / f"words-{key}.npy" if cache else None
        if path is not None and path.is_file():
            try:
                vectors = np.load(path)
                if vectors.shape[0] == len(words):
                    return cls(words, vectors, embedder)
            except (OSError, ValueError):
                log.warning("ignoring an unreadable word-vector cache %s", path)
        vectors = np.asarray(embedder.embed_documents(words), dtype=np.float32).reshape(
            len(words), -1
        )
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                partial = path.with_suffix(f".{os.getpid()}.tmp")
                with partial.open("wb") as out:
                    np.save(out, vectors)
                partial.replace(path)
                for old in cache.glob("words-*.npy"):  # other words or models: not read again
                    if old != path:
                        old.unlink(missing_ok=True)
            except OSError as error:  # a read-only data folder only costs the second again
                log.warning("cannot cache word vectors in %s: %s", path, error)
        return cls(words, vectors, embedder)

    def alike(self, word: str, threshold: float = COUNTED_ALIKE) -> frozenset[str]:
        """Stems of the course words at least `threshold` similar to `word`, but its own:
        other words the course may use for the same things.

        >>> import numpy as np
        >>> class Toy:
        ...     def embed_documents(self, words):
        ...         return [{"companies": [1, 0.2]}[w] for w in words]
        >>> n = WordNeighbours(["providers", "cost"], np.array([[1.0, 0], [0, 1]]), Toy())
        >>> sorted(n.alike("companies"))
        ['provid']
        """
        if not self.words:
            return frozenset()
        similarities = self._matrix @ self._vectors([word])[0]
        own = stem([word])[0]
        return frozenset(self._stems[i] for i in np.flatnonzero(similarities >= threshold)) - {own}

    def vector(self, word: str) -> np.ndarray:
        """The unit vector of a word, embedded once (see `_vectors`)."""
        return self._vectors([word])[0]

    def _vectors(self, words: list[str]) -> np.ndarray:
        """Unit vectors of asked words, one row each. A word is embedded once: learners
        reuse their words ("tho", "cert", "fee"), and a model call costs milliseconds."""
        with self._asked_lock:
            known = {w: self._asked[w] for w in words if w in self._asked}
        new = [w for w in dict.fromkeys(words) if w not in known]
        if new:
            # a whole word of the model's vocabulary is looked up, not embedded (`word_vectors`)
            tabled = getattr(self._embedder, "word_vectors", None)
            found: dict[str, Any] = tabled(new) if tabled is not None else {}
            if missing := [w for w in new if w not in found]:
                found.update(zip(missing, self._embedder.embed_documents(missing), strict=True))
            vectors = np.asarray([found[w] for w in new], dtype=np.float32)
            vectors /= np.where((n := np.linalg.norm(vectors, axis=1, keepdims=True)) == 0, 1, n)
            known.update(zip(new, vectors, strict=True))
            with self._asked_lock:
                if len(self._asked) + len(new) > ASKED_KEPT:
                    self._asked.clear()
                self._asked.update(zip(new, vectors, strict=True))
        return np.stack([known[w] for w in words])

    def near(self, words: Iterable[str]) -> dict[str, Near]:
        """For each asked word, keyed by its stem: the stems of its nearest course words.

        >>> import numpy as np
        >>> class Toy:  # "hard" and "tough" point the same way, "cost" elsewhere
        ...     def embed_documents(self, words):
        ...         return [{"tough": [1, 0.1], "hard": [1, 0], "cost": [0, 1]}[w] for w in words]
        >>> n = WordNeighbours(["hard", "cost"], np.array([[1.0, 0], [0, 1]]), Toy())
        >>> n.near(["tough"])["tough"][0]
        ('hard', 0.995)
        """
        asked = list(dict.fromkeys(words))
        if not asked or not self.words:
            return {}
        similarities = self._vectors(asked) @ self._matrix.T
        found: dict[str, Near] = {}
        # Words share stems ("cost", "costs"): the NEAREST stems are among the nearest few
        # times as many words, so only those are sorted (the whole vocabulary when it is short).
        shortlist = min(len(self.words), NEAREST * SHORTLIST)
        for word, term, row in zip(asked, stem(asked), similarities, strict=True):
            best: dict[str, float] = {}
            for i in _nearest_first(row, shortlist):
                if len(best) == NEAREST:
                    break
                best.setdefault(self._stems[i], round(float(row[i]), 3))
            found.setdefault(term, tuple(best.items()))
            log.debug("%s is nearest to %s", word, best)
        return found


def _nearest_first(row: np.ndarray, shortlist: int) -> Iterable[int]:
    """Indices of a similarity row, highest first: the top `shortlist` found without sorting
    the whole row, the rest sorted only if a caller reads past them.

    >>> [int(i) for i in _nearest_first(np.array([0.1, 0.9, 0.5, 0.7]), 2)]
    [1, 3, 2, 0]
    """
    if shortlist >= len(row):
        yield from np.argsort(-row)
        return
    top = np.argpartition(-row, shortlist)[:shortlist]
    yield from top[np.argsort(-row[top])]
    rest = np.setdiff1d(np.arange(len(row)), top, assume_unique=True)
    yield from rest[np.argsort(-row[rest])]
