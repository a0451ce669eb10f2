"""The Chroma index: the only module that talks to chromadb.

Every ingest writes a complete new *generation* collection, then switches a manifest to
it in one metadata update. Readers always follow the manifest, so a crashed or
interrupted ingest leaves the previous generation untouched and queryable, and readers in
other processes (or on a Chroma server) see the new text as soon as the switch is made.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from cert_assistant.errors import IndexMissingError, StoreUnavailableError
from ingest.documents import Chunk
from ingest.units import Unit

if TYPE_CHECKING:
    from cert_assistant.settings import Settings


@dataclass(frozen=True)
class Manifest:
    """What the active index holds and where it came from."""

    active: str
    generation: int
    model: str
    documents: int
    chunks: int
    ingested_at: str
    checked_at: str


@dataclass(frozen=True)
class StoredChunk:
    """A chunk as kept in the index, with the hash that decides whether to embed it again."""

    chunk: Chunk
    content_hash: str


@dataclass(frozen=True)
class Hit:
    """A chunk found by a vector query; `score` is cosine similarity (1 is identical)."""

    chunk: Chunk
    score: float


class ChunkStore:
    """Generations of chunks in Chroma, behind one manifest.

    Args:
        client: A chromadb client (`PersistentClient` or `HttpClient`).
        prefix: Name prefix of the collections.
        location: Where the store lives, for messages.
    """

    def __init__(self, client: Any, prefix: str = "course", location: str = "") -> None:
        self.client = client
        self.prefix = prefix
        self.location = location
        self._collection: Any = None
        self._active: str | None = None
        self._lock = threading.Lock()

    # --- reading ---------------------------------------------------------------------------
    def manifest(self) -> Manifest | None:
        """The manifest of the active generation, or None before the first ingest."""
        meta = self._manifest_collection().metadata or {}
        if "active" not in meta:
            return None
        return Manifest(**{k: meta[k] for k in Manifest.__dataclass_fields__})

    def require_manifest(self) -> Manifest:
        """The manifest; raises `IndexMissingError` when nothing was ingested yet."""
        manifest = self.manifest()
        if manifest is None:
            raise IndexMissingError(self.location or self.prefix)
        return manifest

    def refresh(self) -> bool:
        """Follow the manifest to the active generation; True when it changed."""
        active = self.require_manifest().active
        with self._lock:
            if active == self._active and self._collection is not None:
                return False
            self._collection = self.client.get_collection(active, embedding_function=None)
            self._active = active
            return True

    @property
    def version(self) -> str | None:
        """Name of the generation this store reads, after the last `refresh`."""
        return self._active

    def count(self) -> int:
        """Chunks in the active generation."""
        self.refresh()
        return self._collection.count()

    def chunks(self) -> list[StoredChunk]:
        """Every chunk of the active generation, in a stable order."""
        self.refresh()
        records = self._collection.get(include=["documents", "metadatas"])
        stored = [
            StoredChunk(Chunk.from_record(i, d, m), m.get("content_hash", ""))
            for i, d, m in zip(
                records["ids"], records["documents"], records["metadatas"], strict=True
            )
        ]
        return sorted(stored, key=lambda s: (s.chunk.source, s.chunk.id))

    def embeddings(self, ids: Sequence[str]) -> dict[str, list[float]]:
        """Stored vectors of the given chunk ids in the active generation."""
        if not ids:
            return {}
        self.refresh()
        records = self._collection.get(ids=list(ids), include=["embeddings"])
        return {
            i: list(map(float, e))
            for i, e in zip(records["ids"], records["embeddings"], strict=True)
        }

    def units(self) -> list[tuple[Unit, list[float]]] | None:
        """Every unit of the active generation with its vector; None for an index written
        before units were embedded (ingest again to add them)."""
        self.refresh()
        try:
            name = _units_name(self._active)
            collection = self.client.get_collection(name, embedding_function=None)
        except Exception:  # no units collection: an index from before units
            return None
        records = collection.get(include=["documents", "metadatas", "embeddings"])
        return [
            (
                Unit(m["chunk_id"], int(m["order"]), d, m["kind"], m["section"]),
                list(map(float, e)),
            )
            for d, m, e in zip(
                records["documents"], records["metadatas"], records["embeddings"], strict=True
            )
        ]

    def query(self, embedding: Sequence[float], k: int, refresh: bool = True) -> list[Hit]:
        """The `k` chunks nearest to `embedding`, best first.

        Args:
            embedding: The question's vector.
            k: How many chunks.
            refresh: Read the manifest first; False when the caller just did.
        """
        for attempt in range(2):
            if refresh or attempt or self._collection is None:
                self.refresh()
            try:
                result = self._collection.query(
                    query_embeddings=[list(embedding)],
                    n_results=k,
                    include=["documents", "metadatas", "distances"],
                )
                break
            except Exception:  # a generation dropped under us by another ingest
                self._active = None
                if attempt:
                    raise
        return [
            Hit(Chunk.from_record(i, d, m), 1.0 - float(dist))
            for i, d, m, dist in zip(
                result["ids"][0],
                result["documents"][0],
                result["metadatas"][0],
                result["distances"][0],
                strict=True,
            )
        ]

    def as_langchain(self, embedder: Any) -> Any:
        """The active generation as a plain LangChain `Chroma` vector store (the baseline)."""
        from langchain_chroma import Chroma

        self.refresh()
        return Chroma(client=self.client, collection_name=self._active, embedding_function=embedder)

    # --- writing ---------------------------------------------------------------------------
    def write_generation(
        self,
        items: Sequence[tuple[Chunk, Sequence[float]]],
        *,
        model: str,
        documents: int,
        units: Sequence[tuple[Unit, Sequence[float]]] = (),
    ) -> Manifest:
        """Write a complete new generation, then make it the active one.

        Nothing changes for readers until the manifest update. The generation before is
        kept for readers in other processes that have not switched yet; older ones, and
        unfinished ones left by a crashed ingest, are dropped.

        Args:
            items: Every chunk of the new index with its vector.
            units: Every quotable unit of those chunks with its vector.
            model: Embedding model id the vectors came from.
            documents: Number of source documents.

        Returns:
            The manifest now in force.
        """
        previous = self.manifest()
        generation = max(previous.generation if previous else 0, self._newest_generation()) + 1
        name = f"{self.prefix}-g{generation:06d}"
        collection = self.client.create_collection(
            name, configuration={"hnsw": {"space": "cosine"}}, embedding_function=None
        )
        for batch in _batches(items, self._batch_size()):
            collection.add(
                ids=[c.id for c, _ in batch],
                embeddings=[list(v) for _, v in batch],
                documents=[c.text for c, _ in batch],
                metadatas=[c.metadata() for c, _ in batch],
            )
        units_collection = self.client.create_collection(
            _units_name(name), configuration={"hnsw": {"space": "cosine"}}, embedding_function=None
        )
        for batch in _batches(units, self._batch_size()):
            units_collection.add(
                ids=[u.id for u, _ in batch],
                embeddings=[list(v) for _, v in batch],
                documents=[u.text for u, _ in batch],
                metadatas=[
                    {"chunk_id": u.chunk_id, "order": u.order, "kind": u.kind, "section": u.section}
                    for u, _ in batch
                ],
            )
        now = _now()
        manifest = Manifest(name, generation, model, documents, len(items), now, now)
        self._manifest_collection().modify(metadata=manifest.__dict__)
        self._drop_generations(keep={name, previous.active if previous else name})
        return manifest

    def mark_checked(self) -> None:
        """Record that an ingest found nothing to change."""
        manifest = self.require_manifest()
        updated = {**manifest.__dict__, "checked_at": _now()}
        self._manifest_collection().modify(metadata=updated)

    # --- internals -------------------------------------------------------------------------
    def _manifest_collection(self) -> Any:
        try:
            return self.client.get_or_create_collection(
                f"{self.prefix}-manifest", embedding_function=None
            )
        except Exception as error:
            raise StoreUnavailableError(
                f"Cannot reach the Chroma store at {self.location}: {error}"
            ) from error

    def has_units(self) -> bool:
        """Whether the active generation has its units embedded."""
        self.refresh()
        return _units_name(self._active) in self._collection_names()

    def _collection_names(self) -> set[str]:
        return {getattr(c, "name", c) for c in self.client.list_collections()}

    def _generation_names(self) -> dict[str, int]:
        pattern = re.compile(rf"^{re.escape(self.prefix)}-g(\d+)$")
        names = {}
        for name in self._collection_names():
            if match := pattern.match(name):
                names[name] = int(match.group(1))
        return names

    def _newest_generation(self) -> int:
        return max(self._generation_names().values(), default=0)

    def _drop_generations(self, keep: set[str]) -> None:
        """Delete every generation but `keep`: older ones and unfinished ones left by a crash."""
        names = self._collection_names()
        for name in self._generation_names():
            if name not in keep:
                self.client.delete_collection(name)
                if _units_name(name) in names:
                    self.client.delete_collection(_units_name(name))

    def _batch_size(self) -> int:
        try:
            return min(self.client.get_max_batch_size(), 1000)
        except Exception:  # older servers do not say
            return 500


def make_store(settings: Settings) -> ChunkStore:
    """Open the configured Chroma store: a server when a host is set, else embedded on disk.

    Raises:
        StoreUnavailableError: The server cannot be reached.
    """
    import chromadb

    chroma_settings = chromadb.Settings(anonymized_telemetry=False)
    if settings.chroma_host:
        try:
            client = chromadb.HttpClient(
                host=settings.chroma_host, port=settings.chroma_port, settings=chroma_settings
            )
        except Exception as error:
            raise StoreUnavailableError(
                f"Cannot reach the Chroma server at {settings.store_location}: {error}"
            ) from error
    else:
        settings.chroma_path.mkdir(parents=True, exist_ok=True)
        client = chromadb.PersistentClient(path=str(settings.chroma_path), settings=chroma_settings)
    return ChunkStore(client, settings.collection, settings.store_location)


def _units_name(generation: str | None) -> str:
    """The collection of a generation's units, e.g. `course-g000003-units`."""
    return f"{generation}-units"


def _batches(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
