"""The Chroma index: the only module that talks to chromadb.

Every ingest writes a complete new *generation* collection, then switches a manifest to
it in one metadata update. Readers always follow the manifest, so a crashed or
interrupted ingest leaves the previous generation untouched and queryable, and readers in
other processes (or on a Chroma server) see the new text as soon as the switch is made.
Generations no reader can use are dropped after the switch, and an embedded store gives
their disk space back (`ChunkStore.reclaim`). One writer at a time is `ingest.lock`'s job;
the lease it uses on a Chroma server is a record kept here.
"""

from __future__ import annotations

import functools
import logging
import re
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cert_core.errors import CertAssistantError, IndexMissingError, StoreUnavailableError
from ingest.chroma_files import compact_database, remove_unowned_folders
from ingest.documents import Chunk
from ingest.units import Unit

if TYPE_CHECKING:
    from cert_core.settings import Settings

logger = logging.getLogger(__name__)

# What SQLite says about a damaged file, as chromadb passes it on (codes 11 and 26).
_DAMAGE_SIGNS = ("malformed", "not a database", "(code: 11)", "(code: 26)")


class IndexDamagedError(CertAssistantError):
    """The index's files are damaged (a corrupt chroma.sqlite3): it must be built again."""

    def __init__(self, location: str, reason: str) -> None:
        super().__init__(
            f"The index at {location} is damaged ({reason}). Delete it and build it again "
            "with: cert-assistant ingest"
        )


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
class Lease:
    """Who holds the writer's lease on a Chroma server; `beat` counts its renewals."""

    lease_id: str
    owner: str
    beat: int
    since: str


@dataclass(frozen=True)
class Hit:
    """A chunk found by a vector query; `score` is cosine similarity (1 is identical)."""

    chunk: Chunk
    score: float


def _reports_damage(method: Callable[..., Any]) -> Callable[..., Any]:
    """Turn chromadb's errors about a damaged database file into `IndexDamagedError`."""

    @functools.wraps(method)
    def checked(self: ChunkStore, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except CertAssistantError:
            raise
        except Exception as error:
            if _is_damage(error):
                raise IndexDamagedError(self.location or self.prefix, str(error)) from error
            raise

    return checked


class ChunkStore:
    """Generations of chunks in Chroma, behind one manifest.

    Args:
        client: A chromadb client (`PersistentClient` or `HttpClient`).
        prefix: Name prefix of the collections.
        location: Where the store lives, for messages.
        path: Folder of an embedded store (its lock file goes beside it, and `reclaim`
            cleans it); None for a Chroma server, whose writers hold a lease instead.
        wait_seconds: Longest an ingest waits for another one writing this index.
        lease_seconds: How long a writer's lease lasts unrenewed (Chroma server).
    """

    def __init__(
        self,
        client: Any,
        prefix: str = "course",
        location: str = "",
        *,
        path: Path | None = None,
        wait_seconds: float = 600.0,
        lease_seconds: float = 30.0,
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.location = location
        self.path = path
        self.wait_seconds = wait_seconds
        self.lease_seconds = lease_seconds
        self._collection: Any = None
        self._active: str | None = None
        self._lock = threading.Lock()
        self._leases: dict[str, Any] = {}

    # --- reading ---------------------------------------------------------------------------
    @_reports_damage
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

    @_reports_damage
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

    @_reports_damage
    def count(self) -> int:
        """Chunks in the active generation."""
        self.refresh()
        return self._collection.count()

    @_reports_damage
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

    @_reports_damage
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

    @_reports_damage
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

    @_reports_damage
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
    @_reports_damage
    def write_generation(
        self,
        items: Sequence[tuple[Chunk, Sequence[float]]],
        *,
        model: str,
        documents: int,
        units: Sequence[tuple[Unit, Sequence[float]]] = (),
        before_switch: Callable[[], None] | None = None,
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
            before_switch: Called just before the switch; raising there leaves the
                generation in use as it was (the writer's lock uses it to check its hold).

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
        if before_switch is not None:
            before_switch()
        now = _now()
        manifest = Manifest(name, generation, model, documents, len(items), now, now)
        self._manifest_collection().modify(metadata=manifest.__dict__)
        self._drop_generations(keep={name, previous.active if previous else name})
        self.reclaim()
        return manifest

    @_reports_damage
    def mark_checked(self) -> None:
        """Record that an ingest found nothing to change."""
        manifest = self.require_manifest()
        updated = {**manifest.__dict__, "checked_at": _now()}
        self._manifest_collection().modify(metadata=updated)

    def generations(self) -> list[str]:
        """Names of the generations in the store, oldest first (normally the active one and
        the one before it, kept for readers that have not switched yet)."""
        names = self._generation_names()
        return sorted(names, key=names.get)

    # --- disk ------------------------------------------------------------------------------
    def reclaim(self) -> None:
        """Give the disk space of dropped generations back (embedded store; call it holding
        the writer's lock, as `write_generation` is called).

        Chroma deletes a collection's rows but leaves its vector folder behind, and SQLite
        keeps freed pages and the full-text index's deleted entries inside the file. So the
        folders no segment owns are removed, the full-text index is merged, and the file is
        vacuumed when a tenth of it is free. Failures are logged, never raised: the ingest
        they follow is already done, and the next one tries again.
        """
        if self.path is None:
            return
        try:
            remove_unowned_folders(self.path)
            compact_database(self.path / "chroma.sqlite3")
        except (OSError, sqlite3.Error) as error:
            logger.warning("Could not reclaim the disk space of old index generations: %s", error)

    # --- the writer's lease on a Chroma server (see ingest.lock) -------------------------
    def claim_lease(self, owner: str) -> str | None:
        """Create the lease record unless another writer holds it.

        Creating a collection by name succeeds for one caller only, so this is the atomic
        step of taking the lease.

        Returns:
            The new lease's id, or None when another writer holds the lease.
        """
        record = {"owner": owner, "beat": 0, "since": _now()}
        try:
            collection = self.client.create_collection(
                self._lease_name, metadata=record, embedding_function=None
            )
        except Exception as error:
            if self.lease_holder() is None and not _already_exists(error):
                raise StoreUnavailableError(
                    f"Cannot take the ingest lease in the Chroma store at {self.location}: {error}"
                ) from error
            return None
        self._leases[str(collection.id)] = collection
        return str(collection.id)

    def lease_holder(self) -> Lease | None:
        """The lease as it is now, or None when nobody holds it."""
        from chromadb.errors import NotFoundError

        try:
            collection = self.client.get_collection(self._lease_name, embedding_function=None)
        except NotFoundError:
            return None
        except Exception as error:  # an embedded client raises a plain error for a missing name
            if "does not exist" in str(error):
                return None
            raise
        self._leases[str(collection.id)] = collection
        meta = collection.metadata or {}
        return Lease(
            str(collection.id), str(meta.get("owner")), int(meta.get("beat", 0)), meta.get("since")
        )

    def renew_lease(self, lease_id: str, beat: int) -> bool:
        """Record one more renewal of a lease this store took; False when it is gone."""
        collection = self._leases[lease_id]
        record = {**(collection.metadata or {}), "beat": beat}
        try:
            collection.modify(metadata=record)
        except Exception as error:
            if "does not exist" in str(error):
                return False
            raise
        holder = self.lease_holder()
        return holder is not None and holder.lease_id == lease_id

    def break_lease(self, lease_id: str) -> None:
        """End a lease (one's own, or one that lapsed).

        The record is first renamed by its id, so a writer that took the lease meanwhile
        keeps its own record; only then is it deleted under its private name.
        """
        collection = self._leases.pop(lease_id, None)
        if collection is None:
            return
        private = f"{self._lease_name}-ended-{uuid.uuid4().hex[:12]}"
        try:
            collection.modify(name=private)
        except Exception as error:
            if "does not exist" in str(error):
                return  # another writer ended it first
            raise
        self.client.delete_collection(private)

    @property
    def _lease_name(self) -> str:
        return f"{self.prefix}-lease"

    # --- internals -------------------------------------------------------------------------
    def _manifest_collection(self) -> Any:
        try:
            return self.client.get_or_create_collection(
                f"{self.prefix}-manifest", embedding_function=None
            )
        except Exception as error:
            if _is_damage(error):
                raise IndexDamagedError(self.location or self.prefix, str(error)) from error
            raise StoreUnavailableError(
                f"Cannot reach the Chroma store at {self.location}: {error}"
            ) from error

    @_reports_damage
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
        """Delete every generation but `keep`: older ones and unfinished ones left by a crash,
        and lease records whose writer died between renaming and deleting them."""
        names = self._collection_names()
        for name in self._generation_names():
            if name not in keep:
                self.client.delete_collection(name)
                if _units_name(name) in names:
                    self.client.delete_collection(_units_name(name))
        for name in names:
            if name.startswith(f"{self._lease_name}-ended-"):
                self.client.delete_collection(name)

    def _batch_size(self) -> int:
        try:
            return min(self.client.get_max_batch_size(), 1000)
        except Exception:  # older servers do not say
            return 500


def make_store(settings: Settings) -> ChunkStore:
    """Open the configured Chroma store: a server when a host is set, else embedded on disk.

    Raises:
        StoreUnavailableError: The server cannot be reached.
        IndexDamagedError: The embedded store's database file is damaged.
    """
    import chromadb

    chroma_settings = chromadb.Settings(anonymized_telemetry=False)
    waits = {"wait_seconds": settings.ingest_wait_seconds}
    if settings.chroma_host:
        try:
            client = chromadb.HttpClient(
                host=settings.chroma_host, port=settings.chroma_port, settings=chroma_settings
            )
        except Exception as error:
            raise StoreUnavailableError(
                f"Cannot reach the Chroma server at {settings.store_location}: {error}"
            ) from error
        waits["lease_seconds"] = settings.ingest_lease_seconds
        return ChunkStore(client, settings.collection, settings.store_location, **waits)
    settings.chroma_path.mkdir(parents=True, exist_ok=True)
    try:
        client = chromadb.PersistentClient(path=str(settings.chroma_path), settings=chroma_settings)
    except Exception as error:
        if _is_damage(error):
            raise IndexDamagedError(settings.store_location, str(error)) from error
        raise
    return ChunkStore(
        client, settings.collection, settings.store_location, path=settings.chroma_path, **waits
    )


def _is_damage(error: BaseException) -> bool:
    text = str(error)
    return any(sign in text for sign in _DAMAGE_SIGNS)


def _already_exists(error: BaseException) -> bool:
    return "already exists" in str(error)


def _units_name(generation: str | None) -> str:
    """The collection of a generation's units, e.g. `course-g000003-units`."""
    return f"{generation}-units"


def _batches(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
