"""Dense search finds the truly nearest chunks, not an approximation of them: two ingests
of the same files answer alike although Chroma links its HNSW graph on several threads
(fake embedder, real embedded Chroma)."""

from __future__ import annotations

import random
from pathlib import Path

from cert_core.settings import Settings
from evals.ingest_bench import copy_course
from ingest import ingest, make_store

ROOT = Path(__file__).resolve().parents[1]


def test_dense_search_returns_the_exact_nearest_chunks(tmp_path: Path, fake_embedder):
    # Ten copies of the course: 840 chunks, each ten times over, which an approximate
    # search with Chroma's default breadth (100 candidates) gets wrong for about 1 in 20.
    course = copy_course(ROOT / "knowledge", tmp_path / "course", 10)
    store = make_store(Settings(data_dir=tmp_path / "data"))
    try:
        ingest([course], store, fake_embedder, model="fake", progress=False)
        ids = [stored.chunk.id for stored in store.chunks()]
        vectors = store.embeddings(ids)
        words = " ".join(stored.chunk.text for stored in store.chunks()).split()
        randomly = random.Random(7)
        wrong = []
        for _ in range(200):
            question = " ".join(randomly.sample(words, 4))
            vector = fake_embedder.embed_query(question)
            found = [hit.score for hit in store.query(vector, 5)]
            exact = sorted((_dot(vector, vectors[i]) for i in ids), reverse=True)[:5]
            if any(abs(a - b) > 1e-4 for a, b in zip(found, exact, strict=True)):
                wrong.append((question, found, exact))
        assert wrong == []
    finally:
        store.client.close()


def _dot(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))
