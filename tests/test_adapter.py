"""The query adapter: fitting learns a way back from learners' words to the units that answer them,
the file round-trips and names what is wrong with it, and the retriever uses an adapter only
with the model it was trained for (tiny corpora, toy vectors)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from evals.adapt import Examples, cross_validate, fit_adapter
from ingest import ChunkStore, ingest
from retrieval import HybridRetriever
from retrieval.adapter import (
    ADAPTER_FILE,
    PROBE_TEXT,
    AdapterError,
    QueryAdapter,
    adapter_path,
    load_adapter,
)
from tests.test_retrieval_unit import CONCEPT_OF, CONCEPTS, ConceptEmbedder

UNITS = 8
DIMENSION = 16


def scrambled(seed: int) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Units, and questions that sit next to the wrong unit: question i is asked about unit
    i but lies near unit (i + 1) % UNITS, the way a learner's word can sit near another
    section's in a general model."""
    rng = np.random.RandomState(0)
    units = rng.normal(size=(UNITS, DIMENSION))
    noise = np.random.RandomState(seed).normal(scale=0.1, size=(UNITS, DIMENSION))
    questions = np.roll(units, -1, axis=0) + noise
    return units, questions, list(range(UNITS))


def nearest(questions: np.ndarray, units: np.ndarray) -> list[int]:
    u = units / np.linalg.norm(units, axis=1, keepdims=True)
    return list(np.argmax(questions @ u.T, axis=1))


def test_fitting_moves_new_questions_to_the_units_that_answer_them() -> None:
    units, seen, answers = scrambled(seed=1)
    questions = np.vstack([seen, scrambled(seed=2)[1]])
    down, up = fit_adapter(questions, units, [[a] for a in answers * 2], rank=DIMENSION, epochs=300)
    unseen = scrambled(seed=3)[1]  # asked again in other words

    assert nearest(unseen, units) != answers  # the model's own vectors get them wrong
    adapter = QueryAdapter(down, up, np.zeros(DIMENSION))
    assert nearest(np.array([adapter.apply(q) for q in unseen]), units) == answers


def test_cross_validation_reports_the_ranking_before_and_after() -> None:
    units, seen, answers = scrambled(seed=1)
    questions = np.vstack([seen, scrambled(seed=2)[1], scrambled(seed=3)[1]])
    examples = Examples(
        questions.astype(np.float32),
        units.astype(np.float32),
        [[a] for a in answers * 3],
        [f"chunk-{i}" for i in range(UNITS)],
        [{f"chunk-{a}"} for a in answers * 3],
    )
    figures = cross_validate(examples, folds=3, rank=DIMENSION, epochs=300)

    assert figures["cases"] == 3 * UNITS
    assert figures["mrr@10_before"] < 0.5 < figures["mrr@10_after"]


def test_an_adapter_file_round_trips(tmp_path: Path) -> None:
    rng = np.random.RandomState(0)
    adapter = QueryAdapter(
        rng.normal(size=(4, 2)), rng.normal(size=(2, 4)), rng.normal(size=4), {"cases": 3}
    )
    path = tmp_path / "adapter.npz"
    adapter.save(path)
    loaded = load_adapter(path)

    assert loaded is not None and loaded.info == {"cases": 3}
    assert np.allclose(loaded.apply([1.0, 2.0, 3.0, 4.0]), adapter.apply([1.0, 2.0, 3.0, 4.0]))


def test_a_broken_adapter_file_is_named_with_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "adapter.npz"
    path.write_bytes(b"not an archive")
    with pytest.raises(AdapterError, match=r"adapter\.npz.*CERT_ASSISTANT_QUERY_ADAPTER=none"):
        load_adapter(path)
    with pytest.raises(AdapterError, match="missing.npz"):
        load_adapter(tmp_path / "missing.npz")


def test_matrices_that_do_not_fit_together_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "adapter.npz"
    QueryAdapter(np.zeros((4, 2)), np.zeros((3, 4)), np.zeros(4)).save(path)
    with pytest.raises(AdapterError, match="do not fit together"):
        load_adapter(path)


def test_the_setting_names_the_bundled_file_a_path_or_none(tmp_path: Path) -> None:
    assert adapter_path("default") == ADAPTER_FILE
    assert adapter_path(" None ") is None and adapter_path("") is None
    assert adapter_path(str(tmp_path / "a.npz")) == tmp_path / "a.npz"


# --- in the retriever ------------------------------------------------------------------------

COST, MONITORING = CONCEPT_OF["cost"], CONCEPT_OF["monitoring"]
SRE = "Guide > SRE path"


def cost_means_monitoring(probe: list[float]) -> QueryAdapter:
    """An adapter that reads the cost concept as monitoring (a toy of what training learns)."""
    dimension = len(CONCEPTS) + 1
    down = np.zeros((dimension, 1))
    up = np.zeros((1, dimension))
    down[COST, 0] = 1.0
    up[0, COST], up[0, MONITORING] = -1.0, 3.0
    return QueryAdapter(down, up, np.asarray(probe))


@pytest.fixture
def concept_index(tiny_course: Path, chunk_store: ChunkStore) -> ChunkStore:
    ingest([tiny_course], chunk_store, ConceptEmbedder(), model="concepts", progress=False)
    return chunk_store


def dense_sections(store: ChunkStore, adapter: QueryAdapter | None) -> list[str]:
    retriever = HybridRetriever(
        store=store, embedder=ConceptEmbedder(), mode="dense", adapter=adapter
    )
    return [r.chunk.section for r in retriever.search("what about the budget")]


def test_the_retriever_searches_with_the_adapted_question(concept_index: ChunkStore) -> None:
    probe = ConceptEmbedder().embed_query(PROBE_TEXT)

    assert dense_sections(concept_index, None)[0] != SRE
    assert dense_sections(concept_index, cost_means_monitoring(probe))[0] == SRE


def test_an_adapter_of_another_model_is_not_used(
    concept_index: ChunkStore, caplog: pytest.LogCaptureFixture
) -> None:
    other_model = [0.0] * len(CONCEPTS) + [1.0]
    other_model[COST] = 5.0
    with caplog.at_level(logging.WARNING):
        found = dense_sections(concept_index, cost_means_monitoring(other_model))

    assert found == dense_sections(concept_index, None)
    assert "trained with another embedding model" in caplog.text
