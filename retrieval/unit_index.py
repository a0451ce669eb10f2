"""Every quotable unit's vector in memory: how close each sentence, item, row or answer is."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ingest.units import Unit


class UnitIndex:
    """Unit vectors of one index generation as a matrix, searched by one product.

    A few hundred units of 384 numbers fit in well under a megabyte, so comparing a
    question with all of them costs microseconds, far less than a store round trip.

    Args:
        units: Units with their vectors, as the store keeps them.
    """

    def __init__(self, units: Sequence[tuple[Unit, Sequence[float]]]) -> None:
        self.units = [u for u, _ in units]
        matrix = _matrix([v for _, v in units])
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        self._matrix = matrix / np.where(norms == 0, 1, norms)
        self.rows: dict[str, list[int]] = {}
        for row, unit in enumerate(self.units):
            self.rows.setdefault(unit.chunk_id, []).append(row)

    def similarities(self, vector: Sequence[float]) -> np.ndarray:
        """Cosine similarity of every unit to the vector, in unit order."""
        if not self.units:
            return np.zeros(0, dtype=np.float32)
        query = np.asarray(vector, dtype=np.float32)
        norm = float(np.linalg.norm(query)) or 1.0
        return self._matrix @ (query / norm)

    def centre(self, chunk_ids: Sequence[str]) -> np.ndarray | None:
        """The mean direction of the units of some chunks (what a section is about), or None
        when they have no units."""
        rows = self._rows_of(chunk_ids)
        if not rows:
            return None
        mean = self._matrix[rows].mean(axis=0)
        return mean / (float(np.linalg.norm(mean)) or 1.0)

    def closest(self, chunk_ids: Sequence[str], vector: np.ndarray) -> float | None:
        """How close the nearest unit of some chunks comes to a unit vector (the one sentence
        of a section that says what a word means), or None when they have no units."""
        rows = self._rows_of(chunk_ids)
        return float((self._matrix[rows] @ vector).max()) if rows else None

    def _rows_of(self, chunk_ids: Sequence[str]) -> list[int]:
        """Matrix rows of the units of some chunks."""
        return [r for chunk_id in chunk_ids for r in self.rows.get(chunk_id, [])]

    def of_chunk(self, chunk_id: str, similarities: np.ndarray) -> tuple[tuple[Unit, float], ...]:
        """The units of one chunk, in order, with their similarities."""
        return tuple((self.units[r], float(similarities[r])) for r in self.rows.get(chunk_id, []))


def _matrix(vectors: Sequence[Sequence[float]]) -> np.ndarray:
    """Vectors as rows of a float32 matrix; an empty one has no rows (and one column)."""
    if not vectors:
        return np.zeros((0, 1), dtype=np.float32)
    return np.asarray(vectors, dtype=np.float32)
