"""The Chroma index: the only module that talks to chromadb.

The index is one *generation* (a chunks collection and a units collection) behind a
manifest, and the manifest names a *version* of it. Every record carries the version that
added it (`since`) and the one that superseded it (`until`, `LIVE` while in use); a reader
loads the manifest and filters every read and query to the records of its version. An
ingest that changes a sentence therefore writes in place, under the ingest lock, in an
order that no reader can see half of: the new records first (invisible: `since` is ahead
of every reader), then the superseded records marked (still visible to readers of the
version in use), then the manifest's version switched in one metadata update, and only
then are records superseded one ingest earlier deleted (the version before stays whole for
readers that have not switched yet). A kill at any point leaves the version in use whole;
the next ingest removes what an unfinished one added and clears the marks it made.

Why versions in place rather than a new generation each time (what this module did first)
or a generation per document: a new generation copies every unchanged vector, so a
one-sentence edit cost 15.5 s at 8,400 chunks against 0.5 s at 84; a generation per
document would make every question query hundreds of collections. With versions an edit
costs what it changes and a question stays one filtered query. A whole new generation is
still written when every vector changes anyway (first ingest, another embedding model),
for an index from before versions, and after a lapsed lease was taken over: the writer
that lost it may still be writing into the old generation (see `ingest.lock`), and a new
one is out of its reach. And an embedded store always writes a new generation: there the
ingest process itself writes Chroma's vector index files, and a kill in the middle of that
write was seen (1 in 20 kills of a large in-place add) to leave the live collection
unreadable, which a new generation cannot do to the version in use; a Chroma server writes
them in its own process, which a killed ingest does not interrupt.
Generations no reader can use are dropped after a switch, and an
embedded store gives their disk space back (`ChunkStore.reclaim`). One writer at a time is
`ingest.lock`'s job; the lease it uses on a Chroma server is a record kept here.
"""

from __future__ import annotations

import functools
import logging
import re
import sqlite3
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cert_core.errors import CertAssistantError, IndexMissingError, StoreUnavailableError
from ingest.chroma_files import compact_database, remove_unowned_folders
from ingest.documents import Chunk
from ingest.units import Unit
from ingest.versions import (
    LIVE,
    clear_unfinished,
    delete_where,
    records_of,
    supersede,
    unit_from_record,
    unit_metadata,
    visible_at,
    visible_records,
)
from ingest.versions import batches as _batches

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
    """What the active index holds and where it came from.

    `version` is the index version readers filter by (see the module's docstring); 0 is an
    index written before versions, whose records carry none and are all in use.
    """

    active: str
    generation: int
    model: str
    documents: int
    chunks: int
    ingested_at: str
    checked_at: str
    version: int = 0


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
        in_place: Write an ingest into the version in use when it can (see the module's
            docstring); `open_store` sets it for a Chroma server only.
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
        in_place: bool = False,
    ) -> None:
        self.client = client
        self.in_place = in_place
        self.prefix = prefix
        self.location = location
        self.path = path
        self.wait_seconds = wait_seconds
        self.lease_seconds = lease_seconds
        self._collection: Any = None
        self._active: str | None = None
        self._seen = 0  # the version read with the manifest at the last `refresh`
        self._lock = threading.Lock()
        self._leases: dict[str, Any] = {}
        self._own_leases: set[str] = set()
        self.took_over_lease = False  # broke another writer's lapsed lease (see write)

    # --- reading ---------------------------------------------------------------------------
    @_reports_damage
    def manifest(self) -> Manifest | None:
        """The manifest of the active generation, or None before the first ingest."""
        meta = self._manifest_collection().metadata or {}
        if "active" not in meta:
            return None
        return Manifest(**{k: meta[k] for k in Manifest.__dataclass_fields__ if k in meta})

    def require_manifest(self) -> Manifest:
        """The manifest; raises `IndexMissingError` when nothing was ingested yet."""
        manifest = self.manifest()
        if manifest is None:
            raise IndexMissingError(self.location or self.prefix)
        return manifest

    @_reports_damage
    def refresh(self) -> bool:
        """Follow the manifest to the version in use; True when it changed."""
        manifest = self.require_manifest()
        with self._lock:
            if (manifest.active, manifest.version) == (self._active, self._seen) and (
                self._collection is not None
            ):
                return False
            if manifest.active != self._active or self._collection is None:
                self._collection = self.client.get_collection(
                    manifest.active, embedding_function=None
                )
            self._active, self._seen = manifest.active, manifest.version
            return True

    @property
    def version(self) -> str | None:
        """The generation and version this store reads after the last `refresh`, e.g.
        `course-g000001@v12`: it changes with every ingest that changed the index."""
        return None if self._active is None else f"{self._active}@v{self._seen}"

    @_reports_damage
    def count(self) -> int:
        """Chunks in the version in use."""
        self.refresh()
        if not self._seen:
            return self._collection.count()
        return len(visible_records(self._collection, self._seen, []))

    @_reports_damage
    def chunks(self) -> list[StoredChunk]:
        """Every chunk of the version in use, in a stable order."""
        self.refresh()
        stored = [
            StoredChunk(Chunk.from_record(m.get("chunk_id", i), d, m), m.get("content_hash", ""))
            for i, m, d in visible_records(self._collection, self._seen, ["documents"])
        ]
        return sorted(stored, key=lambda s: (s.chunk.source, s.chunk.id))

    @_reports_damage
    def embeddings(self, ids: Sequence[str]) -> dict[str, list[float]]:
        """Stored vectors of the given chunk ids in the version in use."""
        if not ids:
            return {}
        self.refresh()
        if not self._seen:  # an index from before versions: record ids are chunk ids
            records = self._collection.get(ids=list(ids), include=["embeddings"])
            pairs = zip(records["ids"], records["embeddings"], strict=True)
            return {i: list(map(float, e)) for i, e in pairs}
        found = records_of(self._collection, ids, self._seen, ["embeddings"])
        return {m["chunk_id"]: list(map(float, e)) for m, e in found}

    @_reports_damage
    def units(self) -> list[tuple[Unit, list[float]]] | None:
        """Every unit of the version in use with its vector; None for an index written
        before units were embedded (ingest again to add them)."""
        self.refresh()
        collection = self._units_collection()
        if collection is None:
            return None
        found = visible_records(collection, self._seen, ["documents", "embeddings"])
        return [(unit_from_record(d, m), list(map(float, e))) for _, m, d, e in found]

    @_reports_damage
    def unit_vectors(self, chunk_ids: Sequence[str]) -> dict[str, list[float]]:
        """Vectors of the units of some chunks in the version in use, by unit id (what an
        edit of those chunks can keep)."""
        self.refresh()
        collection = self._units_collection()
        if collection is None or not chunk_ids:
            return {}
        found = records_of(collection, chunk_ids, self._seen, ["embeddings", "documents"])
        return {unit_from_record(d, m).id: list(map(float, e)) for m, e, d in found}

    def _units_collection(self) -> Any:
        try:
            return self.client.get_collection(_units_name(self._active), embedding_function=None)
        except Exception:  # no units collection: an index from before units
            return None

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
                    where=visible_at(self._seen),
                    include=["documents", "metadatas", "distances"],
                )
                break
            except Exception:  # a generation dropped under us by another ingest
                self._active = None
                if attempt:
                    raise
        return [
            Hit(Chunk.from_record(m.get("chunk_id", i), d, m), 1.0 - float(dist))
            for i, d, m, dist in zip(
                result["ids"][0],
                result["documents"][0],
                result["metadatas"][0],
                result["distances"][0],
                strict=True,
            )
        ]

    def as_langchain(self, embedder: Any) -> Any:
        """The version in use as a plain LangChain `Chroma` vector store (the baseline); its
        retrievers filter to that version's records as ours do."""
        from langchain_chroma import Chroma

        self.refresh()
        where = visible_at(self._seen)

        class VersionedChroma(Chroma):
            def as_retriever(self, **kwargs: Any) -> Any:
                if where is not None:
                    kwargs["search_kwargs"] = {"filter": where, **kwargs.get("search_kwargs", {})}
                return super().as_retriever(**kwargs)

        return VersionedChroma(
            client=self.client, collection_name=self._active, embedding_function=embedder
        )

    # --- writing ---------------------------------------------------------------------------
    def updatable(self, model: str) -> bool:
        """Whether an ingest with `model` can write the version in use in place, rather
        than a whole new generation (see the module's docstring for when it cannot)."""
        manifest = self.manifest()
        return (
            self.in_place
            and manifest is not None
            and manifest.version > 0
            and manifest.model == model
            and not self.took_over_lease
            and self.has_units()
        )

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
        """Write a complete new generation, then make it the one in use.

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
        version = (previous.version if previous else 0) + 1
        name = f"{self.prefix}-g{generation:06d}"
        collection = self.client.create_collection(
            name, configuration={"hnsw": {"space": "cosine"}}, embedding_function=None
        )
        units_collection = self.client.create_collection(
            _units_name(name), configuration={"hnsw": {"space": "cosine"}}, embedding_function=None
        )
        self._add(collection, units_collection, items, units, version)
        if before_switch is not None:
            before_switch()
        now = _now()
        manifest = Manifest(name, generation, model, documents, len(items), now, now, version)
        self._manifest_collection().modify(metadata=manifest.__dict__)
        self._drop_generations(keep={name, previous.active if previous else name})
        self.took_over_lease = False  # a writer that lost its lease cannot reach this one
        self.reclaim()
        return manifest

    @_reports_damage
    def write_changes(
        self,
        items: Sequence[tuple[Chunk, Sequence[float]]],
        *,
        superseded: Sequence[str],
        documents: int,
        chunks: int,
        units: Sequence[tuple[Unit, Sequence[float]]] = (),
        before_switch: Callable[[], None] | None = None,
    ) -> Manifest:
        """Write the next version of the index in place: only what changed is written.

        In this order, so that no reader sees half of it (see the module's docstring):
        what an unfinished ingest left is cleared; the new chunks and units are added for
        the next version; the records they replace are marked superseded from it; the
        manifest switches to it; records superseded before the version that was in use
        are deleted. Only `updatable` indexes can be written so.

        Args:
            items: The new and changed chunks with their vectors.
            superseded: Ids of the chunks in use that are changed or deleted.
            documents: Number of source documents after the change.
            chunks: Number of chunks after the change.
            units: The quotable units of `items` with their vectors.
            before_switch: Called just before the switch; raising there leaves the
                version in use as it was.

        Returns:
            The manifest now in force.
        """
        previous = self.require_manifest()
        in_use, version = previous.version, previous.version + 1
        collections = [
            self.client.get_collection(name, embedding_function=None)
            for name in (previous.active, _units_name(previous.active))
        ]
        for collection in collections:
            clear_unfinished(collection, in_use)
        self._add(*collections, items, units, version)
        for collection in collections:
            supersede(collection, superseded, in_use, version)
        if before_switch is not None:
            before_switch()
        now = _now()
        counts = {"documents": documents, "chunks": chunks}
        manifest = replace(previous, version=version, ingested_at=now, checked_at=now, **counts)
        self._manifest_collection().modify(metadata=manifest.__dict__)
        for collection in collections:
            delete_where(collection, {"until": {"$lte": in_use}})
        self._drop_generations(keep={previous.active})
        self.reclaim()
        return manifest

    def _add(
        self,
        collection: Any,
        units_collection: Any,
        items: Sequence[tuple[Chunk, Sequence[float]]],
        units: Sequence[tuple[Unit, Sequence[float]]],
        version: int,
    ) -> None:
        """Add chunks and units as records of `version` (ids `<id>@<version>`, unique, as
        Chroma silently ignores an id it already holds)."""
        span = {"since": version, "until": LIVE}
        for batch in _batches(items, self._batch_size()):
            collection.add(
                ids=[f"{c.id}@{version}" for c, _ in batch],
                embeddings=[list(v) for _, v in batch],
                documents=[c.text for c, _ in batch],
                metadatas=[{**c.metadata(), "chunk_id": c.id, **span} for c, _ in batch],
            )
        for batch in _batches(units, self._batch_size()):
            units_collection.add(
                ids=[f"{u.id}@{version}" for u, _ in batch],
                embeddings=[list(v) for _, v in batch],
                documents=[u.text for u, _ in batch],
                metadatas=[unit_metadata(u) | span for u, _ in batch],
            )

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
        self._own_leases.add(str(collection.id))
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
        if lease_id not in self._own_leases:
            self.took_over_lease = True  # its writer may still write: see `updatable`
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

    # --- pages fetched from the course site (see ingest.web) -----------------------------
    @_reports_damage
    def web_pages(self) -> dict[str, tuple[str, dict[str, str]]]:
        """What `ingest.web` keeps per requested URL beside the index: the page's Markdown,
        and in plain strings its final URL, title and validators (ETag, Last-Modified)."""
        records = self._web_pages_collection().get(include=["documents", "metadatas"])
        found = zip(records["ids"], records["documents"], records["metadatas"], strict=True)
        return {i: (d, {k: str(v) for k, v in (m or {}).items()}) for i, d, m in found}

    @_reports_damage
    def save_web_pages(
        self, pages: dict[str, tuple[str, dict[str, str]]], drop: Sequence[str] = ()
    ) -> None:
        """Record fetched pages (see `web_pages`) and forget the URLs in `drop`."""
        collection = self._web_pages_collection()
        if drop:
            collection.delete(ids=list(drop))
        for batch in _batches(sorted(pages), self._batch_size()):
            collection.upsert(
                ids=list(batch),
                documents=[pages[url][0] for url in batch],
                metadatas=[pages[url][1] or {"page": url} for url in batch],
                # Chroma wants a vector per record; these records are looked up, never searched.
                embeddings=[[0.0] for _ in batch],
            )

    def _web_pages_collection(self) -> Any:
        return self.client.get_or_create_collection(
            f"{self.prefix}-web-pages", embedding_function=None
        )

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
        return ChunkStore(
            client, settings.collection, settings.store_location, in_place=True, **waits
        )
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


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
