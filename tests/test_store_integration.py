"""The real model on the real knowledge base, in a real Chroma: embedded on disk and served
over HTTP. The index answers a known question, and a new client sees the same results."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from uuid import uuid4

import chromadb
import pytest
from langchain_core.embeddings import Embeddings

from ingest import ChunkStore, IngestReport, ingest, model_id
from ingest.store import Hit

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[1]
KNOWLEDGE_DIR = ROOT / "knowledge"
QUESTION = "what are the common mistakes at the foundation level"
COMMON_MISTAKES = "Syllabus > Foundation level > Common mistakes"
MODEL = "sentence-transformers/all-MiniLM-L6-v2"
QUESTIONS = [
    QUESTION,
    "how long does it take to get certified",
    "which track requires the professional level",
]


class CachingEmbedder(Embeddings):
    """The real model's vectors, each text embedded once per module (the CPU is the cost)."""

    def __init__(self, inner: Embeddings) -> None:
        self.inner = inner
        self.cache: dict[str, list[float]] = {}

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        missing = [t for t in dict.fromkeys(texts) if t not in self.cache]
        self.cache.update(zip(missing, self.inner.embed_documents(missing), strict=True))
        return [self.cache[t] for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]


@pytest.fixture(scope="module")
def embedder(real_embedder: Embeddings) -> CachingEmbedder:
    return CachingEmbedder(real_embedder)


@pytest.fixture
def in_project(monkeypatch: pytest.MonkeyPatch) -> None:
    """Work from the project folder, so sources read `knowledge/<name>` as users see them."""
    monkeypatch.chdir(ROOT)


def index(store: ChunkStore, embedder: Embeddings) -> IngestReport:
    return ingest([KNOWLEDGE_DIR], store, embedder, model=MODEL, progress=False)


def results(store: ChunkStore, embedder: Embeddings) -> list[list[tuple]]:
    """For each question: the top 5 as (id, section, score to 4 places)."""
    return [[_brief(hit) for hit in store.query(embedder.embed_query(q), 5)] for q in QUESTIONS]


def _brief(hit: Hit) -> tuple[str, str, float]:
    return hit.chunk.id, hit.chunk.section, round(hit.score, 4)


def assert_finds_common_mistakes(store: ChunkStore, embedder: Embeddings) -> None:
    hits = store.query(embedder.embed_query(QUESTION), 3)
    sections = [h.chunk.section for h in hits]
    assert COMMON_MISTAKES in sections, sections
    hit = next(h for h in hits if h.chunk.section == COMMON_MISTAKES)
    assert hit.chunk.source == "knowledge/syllabus.md"
    assert hit.chunk.anchor == "common-mistakes"
    assert "neglecting automated data validation checks" in hit.chunk.text
    assert 0.3 < hit.score <= 1.0


def test_the_default_model_id_is_the_bundled_minilm():
    from cert_core.settings import Settings

    assert model_id(Settings(embedding_model="")) == MODEL


def test_embedded_store_finds_the_section_and_keeps_it_after_reopening(
    in_project, embedder, open_chunk_store: Callable[[Path], ChunkStore], tmp_path: Path
):
    path = tmp_path / "chroma"
    store = open_chunk_store(path)

    report = index(store, embedder)

    assert report.documents == 3
    assert report.added == report.chunks == store.count() > 50
    assert_finds_common_mistakes(store, embedder)
    before = results(store, embedder)
    store.client.close()

    reopened = open_chunk_store(path)

    assert reopened.require_manifest().model == MODEL
    assert results(reopened, embedder) == before
    assert_finds_common_mistakes(reopened, embedder)
    again = index(reopened, embedder)
    assert not again.changed and again.unchanged == report.chunks


@pytest.mark.server
def test_chroma_server_finds_the_section_and_a_second_client_sees_the_same(
    in_project, embedder, chroma_server, tmp_path: Path, open_chunk_store
):
    host, port = chroma_server
    settings = chromadb.Settings(anonymized_telemetry=False)
    prefix = f"it-{uuid4().hex[:8]}"  # the server lives for the whole session
    writer = ChunkStore(
        chromadb.HttpClient(host=host, port=port, settings=settings),
        prefix=prefix,
        location=f"http://{host}:{port}",
    )

    report = index(writer, embedder)

    assert report.documents == 3 and report.added == report.chunks
    assert_finds_common_mistakes(writer, embedder)
    reader = ChunkStore(chromadb.HttpClient(host=host, port=port, settings=settings), prefix=prefix)
    assert reader.require_manifest() == writer.require_manifest()
    assert results(reader, embedder) == results(writer, embedder)
    assert_finds_common_mistakes(reader, embedder)

    # The server returns what the embedded store returns for the same files and model.
    embedded = open_chunk_store(tmp_path / "chroma")
    index(embedded, embedder)
    assert _ids(results(reader, embedder)) == _ids(results(embedded, embedder))


def _ids(ranked: list[list[tuple]]) -> list[list[str]]:
    return [[item[0] for item in hits] for hits in ranked]
