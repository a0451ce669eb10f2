"""Hybrid retrieval on a tiny course: exact terms and paraphrases, fusion, top-k, modes,
citation metadata, and a BM25 side that follows every ingest (fake embedders, real Chroma)."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
from langchain_core.embeddings import Embeddings

from ingest import Chunk, ChunkStore, ingest
from retrieval import HybridRetriever
from retrieval.hybrid import _fuse

BASE_URL = "https://learn.example.org/mlops/"

# A toy "meaning" model: words map to concepts, so paraphrases meet without sharing a word.
# Like a real embedding model, it knows nothing of rare product names (DVC, Feast, SLO).
CONCEPTS = [
    {"hard", "difficult", "tough", "difficulty"},
    {"exam", "test", "assessment"},
    {"online", "remote", "home", "proctoring"},
    {"tools", "tool", "labs", "lab", "software"},
    {"versioning", "version", "control"},
    {"mistake", "mistakes", "pitfalls", "errors"},
    {"foundation", "beginner", "entry"},
    {"professional"},
    {"level", "levels", "stage"},
    {"days", "long", "duration", "hours", "weeks"},
    {"path", "track", "tracks"},
    {"cost", "finops", "budget", "price"},
    {"monitoring", "reliability", "sre", "objectives"},
]
CONCEPT_OF = {word: i for i, words in enumerate(CONCEPTS) for word in words}


class ConceptEmbedder(Embeddings):
    """Counts concepts, plus a constant so texts with no known concept stay comparable."""

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self.embed_query(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        vector = [0.0] * (len(CONCEPTS) + 1)
        vector[-1] = 0.5
        for word in re.findall(r"[a-z]+", text.lower()):
            if word in CONCEPT_OF:
                vector[CONCEPT_OF[word]] += 1.0
        norm = math.sqrt(sum(v * v for v in vector))
        return [v / norm for v in vector]


@pytest.fixture
def concept_index(tiny_course: Path, chunk_store: ChunkStore) -> ChunkStore:
    ingest([tiny_course], chunk_store, ConceptEmbedder(), model="concepts", progress=False)
    return chunk_store


def retriever_over(store: ChunkStore, **options) -> HybridRetriever:
    return HybridRetriever(
        store=store, embedder=ConceptEmbedder(), site_base_url=BASE_URL, **options
    )


def sections(results) -> list[str]:
    return [r.chunk.section for r in results]


LABS = "FAQ > General questions > Which tools do the labs use?"
HARD = "FAQ > General questions > How hard is the exam?"
SRE = "Guide > SRE path"


# --- what each side finds ------------------------------------------------------------------------


@pytest.mark.parametrize(("term", "section"), [("DVC", LABS), ("Feast", LABS), ("SLOs", SRE)])
def test_exact_terms_the_dense_side_misses_are_found_by_bm25_and_hybrid(
    concept_index, term, section
):
    dense = retriever_over(concept_index, mode="dense").search(term)
    bm25 = retriever_over(concept_index, mode="bm25").search(term)
    hybrid = retriever_over(concept_index).search(term)

    assert sections(dense)[0] != section  # the meaning model has never seen the word
    assert sections(bm25)[0] == section
    assert sections(hybrid)[0] == section


def test_a_paraphrase_bm25_misses_is_found_by_dense_and_hybrid(concept_index):
    question = "is the test tough?"  # no word in common with "How hard is the exam?"

    bm25 = retriever_over(concept_index, mode="bm25").search(question)
    dense = retriever_over(concept_index, mode="dense").search(question)
    hybrid = retriever_over(concept_index).search(question)

    assert HARD not in sections(bm25)
    assert sections(dense)[0] == HARD
    assert sections(hybrid)[0] == HARD


def test_singular_acronym_finds_its_plural_in_the_text(concept_index):
    # Learners type "SLO"; the guide says "SLOs".
    assert sections(retriever_over(concept_index, mode="bm25").search("SLO"))[0] == SRE


# --- fusion --------------------------------------------------------------------------------------


def chunk(name: str) -> Chunk:
    return Chunk(name, f"text {name}", "s.md", "S", f"S > {name}", name, "/s")


A, B, C = chunk("a"), chunk("b"), chunk("c")


def sides(dense: list, sparse: list, dense_weight: float, bm25_weight: float) -> dict:
    """The dense and BM25 rankings with their weights, as `_fuse` takes them."""
    return {"dense": (dense, dense_weight), "bm25": (sparse, bm25_weight)}


def test_fuse_adds_reciprocal_ranks_of_both_sides():
    fused = _fuse(sides([(A, 0.9), (B, 0.8), (C, 0.7)], [(C, 5.0), (A, 2.0)], 1.0, 1.0), 60)

    assert [f.chunk.id for f in fused] == ["a", "c", "b"]
    assert fused[0].score == pytest.approx(1 / 61 + 1 / 62)
    assert fused[1].score == pytest.approx(1 / 63 + 1 / 61)
    assert fused[2].score == pytest.approx(1 / 62)
    assert (fused[0].dense, fused[0].bm25) == (0.9, 2.0)
    assert (fused[2].dense, fused[2].bm25) == (0.8, None)


def test_fuse_weights_favour_one_side():
    dense, sparse = [(A, 0.9), (B, 0.8), (C, 0.7)], [(C, 5.0), (A, 2.0)]

    by_words = _fuse(sides(dense, sparse, 1.0, 3.0), rrf_k=60)
    by_meaning_only = _fuse(sides(dense, sparse, 1.0, 0.0), rrf_k=60)

    assert [f.chunk.id for f in by_words] == ["c", "a", "b"]
    assert by_words[0].score == pytest.approx(1 / 63 + 3 / 61)
    assert [f.chunk.id for f in by_meaning_only] == ["a", "b", "c"]


def test_fuse_rrf_k_decides_between_one_top_rank_and_two_middling_ones():
    # A is first on one side only; C is fifth on both sides.
    fillers = [chunk(f"x{i}") for i in range(3)]
    dense = [(A, 1.0), (fillers[0], 0.9), (fillers[1], 0.8), (fillers[2], 0.7), (C, 0.6)]
    sparse = [(fillers[2], 9.0), (fillers[1], 8.0), (fillers[0], 7.0), (B, 6.0), (C, 5.0)]

    steep = _fuse(sides(dense, sparse, 1.0, 1.0), rrf_k=1)
    flat = _fuse(sides(dense, sparse, 1.0, 1.0), rrf_k=60)

    assert [f.chunk.id for f in steep].index("a") < [f.chunk.id for f in steep].index("c")
    assert [f.chunk.id for f in flat].index("c") < [f.chunk.id for f in flat].index("a")


def test_fuse_breaks_ties_by_chunk_id_and_handles_empty_sides():
    assert [f.chunk.id for f in _fuse(sides([(B, 0.5)], [(A, 1.0)], 1.0, 1.0), 60)] == ["a", "b"]
    assert _fuse(sides([], [], 1.0, 1.0), 60) == []


def test_fuse_takes_the_best_unit_ranking_as_a_third_side():
    unit_ranking = [(B, 0.7), (A, 0.6)]
    rankings = {**sides([(A, 0.9)], [(A, 2.0)], 0.0, 1.0), "unit": (unit_ranking, 1.0)}

    fused = _fuse(rankings, 60)

    assert [f.chunk.id for f in fused] == ["a", "b"]
    assert fused[0].score == pytest.approx(1 / 61 + 1 / 62)  # a whole-chunk rank of weight 0
    assert (fused[0].unit, fused[1].unit) == (0.6, 0.7)


# --- top-k, modes, documents ---------------------------------------------------------------------


def test_top_k_is_respected_by_search_and_invoke(concept_index):
    retriever = retriever_over(concept_index, k=3)

    assert len(retriever.search("foundation level")) == 3
    assert len(retriever.search("foundation level", k=1)) == 1
    assert len(retriever.invoke("foundation level")) == 3
    assert len(retriever.invoke("foundation level", k=2)) == 2
    assert len(retriever.search("foundation level", k=50)) == concept_index.count()


def test_modes_use_one_side_or_both(concept_index):
    question = "DVC labs for the foundation level"
    dense = retriever_over(concept_index, mode="dense").search(question)
    bm25 = retriever_over(concept_index, mode="bm25").search(question)
    hybrid = retriever_over(concept_index, mode="hybrid").search(question)

    assert dense and all(r.dense is not None and r.bm25 is None for r in dense)
    assert bm25 and all(r.bm25 is not None and r.dense is None for r in bm25)
    assert any(r.dense is not None and r.bm25 is not None for r in hybrid)
    assert retriever_over(concept_index, mode="bm25").search("weather in Paris") == []


def test_documents_carry_what_a_citation_needs(concept_index):
    retriever = retriever_over(concept_index)

    document = retriever.invoke("Which tools do the labs use?")[0]

    assert "The labs use DVC for data versioning" in document.page_content
    meta = document.metadata
    assert meta["source"].endswith("faq.md")
    assert meta["title"] == "FAQ"
    assert meta["section"] == LABS
    assert meta["anchor"] == "which-tools-do-the-labs-use"
    assert meta["url"] == "https://learn.example.org/mlops/faq#which-tools-do-the-labs-use"
    assert meta["kind"] == "faq"
    assert isinstance(meta["score"], float) and meta["score"] > 0


def test_invoke_returns_the_search_results_in_the_same_order(concept_index):
    retriever = retriever_over(concept_index)

    for question in ["foundation level mistakes", "DVC", "is the test tough?", "SRE path"]:
        searched = retriever.search(question)
        documents = retriever.invoke(question)
        assert [d.id for d in documents] == [s.chunk.id for s in searched]
        assert [d.metadata["score"] for d in documents] == [s.score for s in searched]
        assert [d.page_content for d in documents] == [s.chunk.text for s in searched]


# --- the BM25 side follows every ingest ----------------------------------------------------------


class CountingEmbedder(ConceptEmbedder):
    def __init__(self) -> None:
        self.queries: list[str] = []

    def embed_query(self, text: str) -> list[float]:
        self.queries.append(text)
        return super().embed_query(text)


def test_a_query_searched_again_costs_no_model_call_and_finds_the_same(concept_index):
    embedder = CountingEmbedder()
    retriever = HybridRetriever(store=concept_index, embedder=embedder, site_base_url=BASE_URL)
    first = retriever.search("how tough is the exam", k=2)
    deeper = retriever.search("how tough is the exam", k=30)  # a deeper look at one question
    assert embedder.queries == ["how tough is the exam"]
    assert [r.chunk.id for r in deeper[:2]] == [r.chunk.id for r in first]
    assert sections(first)[0] == HARD
    retriever.forget()
    assert retriever.search("how tough is the exam", k=2) == first
    assert len(embedder.queries) == 2


def test_a_copy_in_another_mode_ranks_by_its_own_mode_not_the_kept_ranking(concept_index):
    hybrid = retriever_over(concept_index)
    hybrid.search("how tough is the exam")
    copy = hybrid.model_copy(update={"mode": "bm25"})  # how the eval builds its variants

    assert copy.search("how tough is the exam") == retriever_over(
        concept_index, mode="bm25"
    ).search("how tough is the exam")
    assert copy.search("how tough is the exam") != hybrid.search("how tough is the exam")


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


@pytest.mark.parametrize("writer", ["same store", "another store on the same folder"])
def test_an_edited_section_is_found_by_its_new_text_and_never_its_old(
    tiny_course, chunk_store, open_chunk_store, chroma_path, writer
):
    embedder = ConceptEmbedder()
    ingest([tiny_course], chunk_store, embedder, model="concepts", progress=False)
    retrievers = {mode: retriever_over(chunk_store, mode=mode) for mode in ("hybrid", "bm25")}
    assert sections(retrievers["bm25"].search("DVC"))[0] == LABS  # BM25 index built now
    assert retrievers["bm25"].search("LakeFS") == []

    edit(tiny_course / "faq.md", "The labs use DVC", "The labs use LakeFS")
    store = chunk_store if writer == "same store" else open_chunk_store(chroma_path)
    ingest([tiny_course], store, embedder, model="concepts", progress=False)

    for mode, retriever in retrievers.items():  # the same objects, no rebuild asked for
        found = retriever.search("LakeFS")
        assert sections(found)[0] == LABS, mode
        assert "The labs use LakeFS" in found[0].chunk.text
        for question in ("DVC", "Which tools do the labs use? DVC", "LakeFS"):
            assert all("DVC" not in r.chunk.text for r in retriever.search(question, k=50)), mode
    dense = retriever_over(chunk_store, mode="dense").search("which tools do the labs use", k=50)
    assert all("DVC" not in r.chunk.text for r in dense)
