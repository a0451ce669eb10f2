"""Shared fixtures: a fake embedder, Chroma stores (embedded and served) and the real model.

Fast tests use `fake_embedder` and `chunk_store` (embedded Chroma in `tmp_path`). Tests
marked `integration` use `real_embedder`; tests marked `server` use `chroma_server`.
"""

from __future__ import annotations

import faulthandler
import hashlib
import math
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import chromadb
import pytest
from api_process import stop_process
from langchain_core.embeddings import Embeddings

from ingest import ChunkStore, SentenceTransformerEmbedder

ROOT = Path(__file__).resolve().parents[1]
KNOWLEDGE_DIR = ROOT / "knowledge"
SERVER_START_SECONDS = 60
EXIT_GRACE_SECONDS = 120


def pytest_unconfigure(config: pytest.Config) -> None:
    """A run must end: if a thread left waiting keeps the process alive `EXIT_GRACE_SECONDS`
    after the session, every thread's stack is written to stderr and the run fails (exit
    status 1) instead of holding CI until its time limit."""
    faulthandler.dump_traceback_later(EXIT_GRACE_SECONDS, exit=True, file=sys.__stderr__)


def chroma_settings() -> chromadb.Settings:
    """Fresh client settings for each client: chromadb writes the client's kind into the
    object it is given, so one shared object made every PersistentClient created after an
    HttpClient talk to that server instead of its folder."""
    return chromadb.Settings(anonymized_telemetry=False)


class FakeEmbedder(Embeddings):
    """Hashed bag-of-words vectors: deterministic, instant, and similar for shared words.

    Attributes:
        embedded: Number of texts passed to `embed_documents` so far.
        queries: Number of texts passed to `embed_query` so far.
        calls: Number of calls to the model (either method) so far.
    """

    def __init__(self, dims: int = 256) -> None:
        self.dims = dims
        self.embedded = 0
        self.queries = 0
        self.calls = 0

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed passages, counting them."""
        self.embedded += len(texts)
        self.calls += 1
        return [self._vector(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        """Embed one question, counting it apart from passages."""
        self.queries += 1
        self.calls += 1
        return self._vector(text)

    def _vector(self, text: str) -> list[float]:
        vector = [0.0] * self.dims
        for word in re.findall(r"[a-z0-9]+", text.lower()):
            digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
            vector[int.from_bytes(digest, "big") % self.dims] += 1.0
        norm = math.sqrt(sum(v * v for v in vector))
        if norm == 0:
            vector[0], norm = 1.0, 1.0
        return [v / norm for v in vector]


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    """A fresh `FakeEmbedder` with its counters at zero."""
    return FakeEmbedder()


@pytest.fixture
def make_fake_embedder() -> type[FakeEmbedder]:
    """The `FakeEmbedder` class, for tests that need several fresh counters."""
    return FakeEmbedder


@pytest.fixture
def open_chunk_store() -> Iterator[Callable[[Path], ChunkStore]]:
    """Open a `ChunkStore` over an embedded Chroma folder; every client is closed after the test.

    Call it twice on one folder (after closing the first store's client) to check that
    what was written persists.
    """
    clients: list = []

    def open_store(path: Path) -> ChunkStore:
        client = chromadb.PersistentClient(path=str(path), settings=chroma_settings())
        clients.append(client)
        # Written in place as a Chroma server's store is, so that the fast tests cover the
        # version mechanics; `make_store` (the CLI's) writes new generations on disk.
        return ChunkStore(client, prefix="course", location=str(path), in_place=True)

    yield open_store
    for client in clients:
        client.close()


@pytest.fixture
def chroma_path(tmp_path: Path) -> Path:
    """Folder of a fresh embedded Chroma store."""
    return tmp_path / "chroma"


@pytest.fixture
def chunk_store(open_chunk_store: Callable[[Path], ChunkStore], chroma_path: Path) -> ChunkStore:
    """A `ChunkStore` over a fresh embedded Chroma in `tmp_path`."""
    return open_chunk_store(chroma_path)


@pytest.fixture
def knowledge_copy(tmp_path: Path) -> Path:
    """A private copy of `knowledge/` that a test may edit."""
    target = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE_DIR, target)
    return target


@pytest.fixture(scope="session")
def real_embedder() -> Iterator[SentenceTransformerEmbedder]:
    """The real bundled all-MiniLM-L6-v2, offline, loaded once per session."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")
        patch.setenv("TRANSFORMERS_OFFLINE", "1")
        embedder = SentenceTransformerEmbedder()
        embedder.embed_query("warm up")  # load now, so no single test pays for it
        yield embedder


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """A real Chroma server on loopback for the session; yields `(host, port)`.

    The server is the `chroma` executable installed next to this Python; its output goes
    to a log file that is shown when it fails to start.
    """
    executable = Path(sys.executable).parent / "chroma"
    if not executable.exists():
        pytest.fail(f"the chroma executable is missing at {executable}")
    folder = tmp_path_factory.mktemp("chroma-server")
    log_path = folder / "server.log"
    host, port = "127.0.0.1", _free_port()
    command = [str(executable), "run", "--path", str(folder / "data")]
    command += ["--host", host, "--port", str(port)]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_for_heartbeat(process, host, port, log_path)
        yield host, port
    finally:
        stop_process(process)


def _wait_for_heartbeat(process: subprocess.Popen, host: str, port: int, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(
                f"chroma server exited with code {process.returncode} before answering:\n"
                f"{log.read_text(errors='replace')}"
            )
        try:
            chromadb.HttpClient(host=host, port=port, settings=chroma_settings()).heartbeat()
            return
        except Exception as error:  # not listening yet
            last_error = error
            time.sleep(0.2)
    pytest.fail(
        f"chroma server on {host}:{port} did not answer a heartbeat within "
        f"{SERVER_START_SECONDS} s (last error: {last_error}):\n{log.read_text(errors='replace')}"
    )


# --- a tiny course, ingested (appended for the retrieval and answering tests) --------------

TINY_COURSE = {
    "syllabus.md": """---
title: Syllabus
page: /syllabus
---

# Syllabus

## Levels

The course has two levels: Foundation and Professional.

## Foundation level

The Foundation level introduces data pipelines for machine learning.

### Preparation plan

- Most learners finish the Foundation level preparation in 20 days.
- Each Foundation level lab takes about two hours.

### Common mistakes

- A common Foundation level mistake is skipping data validation before training.
- A common Foundation level mistake is leaving datasets without version control.

## Professional level

The Professional level teaches feature stores and automated validation.

The Professional level preparation takes about 60 days.

## Tracks

| Track | Level | Audience |
|---|---|---|
| Core | Foundation level | Data engineers |
| Governance | Professional level | Senior data leads |
""",
    "faq.md": """---
title: FAQ
page: /faq
---

# FAQ

## General questions

### How hard is the exam?

The exam is rated moderately difficult. It covers automation, data and machine learning.

### Which tools do the labs use?

The labs use DVC for data versioning and Feast as the feature store.

### Can the exam be taken online?

The exam is delivered through secure online proctoring.
""",
    "guide.md": """---
title: Guide
page: /guide
---

# Guide

## SRE path

The SRE path sets Service Level Objectives (SLOs) for model predictions.

The SRE path teaches monitoring of models in production.

## FinOps path

The FinOps path teaches cost optimisation of training infrastructure.
""",
}
"""Three small course documents: levels and lists, an FAQ, a table and learning paths."""

TINY_MODEL = "fake-bag-of-words-256"


@pytest.fixture
def tiny_course(tmp_path: Path) -> Path:
    """A folder holding `TINY_COURSE`, which a test may edit and ingest again."""
    folder = tmp_path / "tiny-course"
    folder.mkdir()
    for name, text in TINY_COURSE.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def tiny_index(
    tiny_course: Path, chunk_store: ChunkStore, fake_embedder: FakeEmbedder
) -> ChunkStore:
    """`chunk_store` with `tiny_course` ingested through `fake_embedder`."""
    from ingest import ingest

    ingest([tiny_course], chunk_store, fake_embedder, model=TINY_MODEL, progress=False)
    return chunk_store


@pytest.fixture(scope="session")
def real_index(
    tmp_path_factory: pytest.TempPathFactory, real_embedder: SentenceTransformerEmbedder
) -> Path:
    """A data folder holding the real `knowledge/` ingested with the real model, once a session.

    Point `Settings(data_dir=...)` or `CERT_ASSISTANT_DATA_DIR` at it; tests must not write to it.
    """
    from cert_core.settings import Settings
    from ingest import ensure_onnx, ingest, make_store, model_id

    settings = Settings(data_dir=tmp_path_factory.mktemp("real-index"), knowledge_dir=KNOWLEDGE_DIR)
    store = make_store(settings)
    ingest([KNOWLEDGE_DIR], store, real_embedder, model=model_id(settings), progress=False)
    store.client.close()
    ensure_onnx(settings)  # as `cert-assistant ingest` does: questions embed through ONNX
    return settings.data_dir


@pytest.fixture
def searches(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every query the retriever is asked to search, in order."""
    log: list[str] = []
    from retrieval.hybrid import HybridRetriever

    search_in = HybridRetriever.search_in

    def recording(self, lexical, query, k=None):
        log.append(query)
        return search_in(self, lexical, query, k)

    monkeypatch.setattr(HybridRetriever, "search_in", recording)
    return log


# --- shared state across hosts (issue 12): real Redis and PostgreSQL servers ---------------


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `redis-server` on loopback for the session; yields `redis://127.0.0.1:PORT/0`."""
    from servers import running_redis

    with running_redis(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A real PostgreSQL server on loopback for the session; yields its SQLAlchemy URL."""
    from servers import running_postgres

    with running_postgres() as url:
        yield url


@pytest.fixture
def postgres_url(postgres_server: str) -> str:
    """A fresh, empty database on the session's PostgreSQL server, as a SQLAlchemy URL."""
    from servers import new_database

    return new_database(postgres_server)
