"""The Chroma index: the only module that talks to chromadb (with its lease records,
`ingest.leases`).

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
one is out of its reach. An embedded store never writes the collections in use: there the
ingest process itself writes Chroma's vector index files, and a kill in the middle of that
write was seen (1 in 20 kills of a large in-place add) to leave the live collection
unreadable; a Chroma server writes them in its own process, which a killed ingest does not
interrupt. So on disk an edit goes into a fresh *overlay* beside the base generation
(`ingest.overlay`), and readers here query both; an overlay grown past a quarter of its
base is compacted into a new generation. Generations and overlays no reader can use are
dropped after a switch, and an embedded store gives their disk space back
(`ChunkStore.reclaim`). One writer at a time is `ingest.lock`'s job; the lease it uses on
a Chroma server is a record kept by `ingest.leases`.
"""

from __future__ import annotations

import functools
import logging
import re
import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cert_core.errors import CertAssistantError, IndexMissingError, StoreUnavailableError
from ingest.chroma_files import compact_database, remove_unowned_folders
from ingest.documents import Chunk
from ingest.leases import LeaseRecords
from ingest.overlay import (
    Overlay,
    add_records,
    carried_records,
    chunk_ids_in,
    merge_hits,
    overlay_metadata,
    overlay_name,
    should_compact,
    superseded_of,
)
from ingest.units import Unit
from ingest.versions import (
    IN_LIMIT,
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

# HNSW search is approximate, and Chroma builds its graph on several threads, so the same
# records can be linked differently in two ingests. A course index holds hundreds to a few
# thousand records: exploring 500 candidates per search (Chroma's default: 100) finds the
# true nearest ones every time at a cost of a few milliseconds, so two ingests of the same
# files answer alike. A wider build (200) keeps the graph well connected for bigger courses.
HNSW = {"space": "cosine", "ef_search": 500, "ef_construction": 200}

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
    index written before versions, whose records carry none and are all in use. `overlay`
    names the overlay on top of the `active` generation of an embedded store (see
    `ingest.overlay`), "" when none. `files` is what the index holds of each source file
    (see `ingest.fingerprints`), "" for an index from before it.
    """

    active: str
    generation: int
    model: str
    documents: int
    chunks: int
    ingested_at: str
    checked_at: str
    version: int = 0
    overlay: str = ""
    files: str = ""


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


class ChunkStore(LeaseRecords):
    """Generations of chunks in Chroma, behind one manifest.

    Args:
        client: A chromadb client (`PersistentClient` or `HttpClient`).
        prefix: Name prefix of the collections.
        location: Where the store lives, for messages.
        path: Folder of an embedded store (its lock file goes beside it, and `reclaim`
            cleans it); None for a Chroma server, whose writers hold a lease instead.
        wait_seconds: Longest an ingest waits for another one writing this index.
        lease_seconds: How long a writer's lease lasts unrenewed (Chroma server).
        in_place: Write an ingest's changes into the version in use (a Chroma server:
            `make_store` sets it); otherwise into an overlay (see the module's docstring).
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
        self._overlay: Overlay | None = None
        self._active: str | None = None
        self._seen = 0  # the version read with the manifest at the last `refresh`
        self._lock = threading.Lock()
        LeaseRecords.__init__(self)

    # --- reading ---------------------------------------------------------------------------
    @_reports_damage
    def manifest(self) -> Manifest | None:
        """The manifest of the active generation, or None before the first ingest."""
        meta = self._manifest_metadata()
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
            self._overlay = self._open_overlay(manifest.overlay)
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
        return len(self._records(units=False, include=[]))

    @_reports_damage
    def chunks(self) -> list[StoredChunk]:
        """Every chunk of the version in use, in a stable order."""
        self.refresh()
        return _stored_chunks(self._records(units=False, include=["documents"]))

    @_reports_damage
    def chunks_of(self, sources: Sequence[str]) -> list[StoredChunk]:
        """The chunks of some source files in the version in use (what an ingest compares
        a changed file with), without reading the others."""
        self.refresh()
        if not self._seen:
            return [s for s in self.chunks() if s.chunk.source in set(sources)]
        rows = []
        for batch in _batches(sorted(set(sources)), IN_LIMIT):
            where = {"source": {"$in": list(batch)}}
            rows += self._records(units=False, include=["documents"], where=where)
        return _stored_chunks(rows)

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
        found = []
        for collection, wanted in self._sides(ids, units=False):
            found += records_of(collection, wanted, self._seen, ["embeddings"])
        return {m["chunk_id"]: list(map(float, e)) for m, e in found}

    @_reports_damage
    def units(self) -> list[tuple[Unit, list[float]]] | None:
        """Every unit of the version in use with its vector; None for an index written
        before units were embedded (ingest again to add them)."""
        self.refresh()
        if self._units_collection() is None:
            return None
        found = self._records(units=True, include=["documents", "embeddings"])
        return [(unit_from_record(d, m), list(map(float, e))) for _, m, d, e in found]

    @_reports_damage
    def unit_vectors(self, chunk_ids: Sequence[str]) -> dict[str, list[float]]:
        """Vectors of the units of some chunks in the version in use, by unit id (what an
        edit of those chunks can keep)."""
        self.refresh()
        if self._units_collection() is None or not chunk_ids:
            return {}
        found = []
        for collection, wanted in self._sides(chunk_ids, units=True):
            found += records_of(collection, wanted, self._seen, ["embeddings", "documents"])
        return {unit_from_record(d, m).id: list(map(float, e)) for m, e, d in found}

    def _units_collection(self) -> Any:
        try:
            return self.client.get_collection(_units_name(self._active), embedding_function=None)
        except Exception:  # no units collection: an index from before units
            return None

    def _open_overlay(self, name: str) -> Overlay | None:
        if not name:
            return None
        chunks = self.client.get_collection(name, embedding_function=None)
        units = self.client.get_collection(_units_name(name), embedding_function=None)
        return Overlay(name, chunks, units, superseded_of(chunks))

    def _records(
        self, *, units: bool, include: list[str], where: dict[str, Any] | None = None
    ) -> list[tuple[Any, ...]]:
        """(id, metadata, *include) of the chunk or unit records in use: the base's, less
        those an overlay supersedes, and the overlay's."""
        base = self._units_collection() if units else self._collection
        rows = visible_records(base, self._seen, include, where)
        overlay = self._overlay
        if overlay is None:
            return rows
        rows = [row for row in rows if row[1].get("chunk_id") not in overlay.superseded]
        extra = overlay.units if units else overlay.chunks
        return rows + visible_records(extra, self._seen, include, where)

    def _sides(self, chunk_ids: Sequence[str], *, units: bool) -> list[tuple[Any, list[str]]]:
        """Where the records of some chunks in use are: (collection, chunk ids) for the base
        (less superseded chunks) and, when there is one, the overlay."""
        base = self._units_collection() if units else self._collection
        overlay = self._overlay
        if overlay is None:
            return [(base, list(chunk_ids))]
        kept = [i for i in chunk_ids if i not in overlay.superseded]
        return [(base, kept), (overlay.units if units else overlay.chunks, list(chunk_ids))]

    @_reports_damage
    def query(self, embedding: Sequence[float], k: int, refresh: bool = True) -> list[Hit]:
        """The `k` chunks nearest to `embedding`, best first.

        Args:
            embedding: The question's vector.
            k: How many chunks.
            refresh: Read the manifest first; False when the caller just did.
        """
        found = self._search(self._nearest, _chunk_id, embedding, k, refresh)
        return [Hit(chunk, 1.0 - distance) for chunk, distance in found]

    @_reports_damage
    def nearest(
        self, embedding: Sequence[float], k: int, refresh: bool = True
    ) -> list[tuple[str, float]]:
        """`query` for a caller that holds the chunks already (the retriever does, for BM25):
        the same `k` nearest, best first, but their ids only, the text left in the store.
        Reading the texts back is half the cost of a query.

        Returns:
            (chunk id, similarity) pairs.
        """
        found = self._search(self._nearest_ids, str, embedding, k, refresh)
        return [(chunk_id, 1.0 - distance) for chunk_id, distance in found]

    def _search(
        self,
        nearest: Callable[[Any, Sequence[float], int], list[tuple[Any, float]]],
        chunk_id: Callable[[Any], str],
        embedding: Sequence[float],
        k: int,
        refresh: bool,
    ) -> list[tuple[Any, float]]:
        """The `k` records nearest to a vector in the version in use, base and overlay, as
        `nearest` reads them from a collection: (record, cosine distance), best first."""
        if refresh or self._collection is None:
            self.refresh()
        try:
            return self._search_in_use(nearest, chunk_id, embedding, k)
        except Exception:  # a generation dropped under us by another ingest: follow the manifest
            self._active = None
            self.refresh()
            return self._search_in_use(nearest, chunk_id, embedding, k)

    def _search_in_use(self, nearest: Any, chunk_id: Any, embedding: Any, k: int) -> Any:
        """`_search` in the version read last (see there)."""
        overlay = self._overlay
        # Over-fetch the base by what an overlay hides: see ingest.overlay.
        hidden = len(overlay.superseded) if overlay else 0
        found = nearest(self._collection, embedding, k + hidden)
        if overlay is not None:
            on_top = nearest(overlay.chunks, embedding, k)
            found = merge_hits(found, on_top, overlay.superseded, chunk_id, k)
        return found

    def _nearest_ids(
        self, collection: Any, embedding: Sequence[float], k: int
    ) -> list[tuple[str, float]]:
        """(chunk id, cosine distance) of the `k` records nearest to a vector (record ids
        are `<chunk id>@<version>`, see `_add`)."""
        result = collection.query(
            query_embeddings=[list(embedding)],
            n_results=k,
            where=visible_at(self._seen),
            include=["distances"],
        )
        return [
            (record.rsplit("@", 1)[0], float(distance))
            for record, distance in zip(result["ids"][0], result["distances"][0], strict=True)
        ]

    def _nearest(
        self, collection: Any, embedding: Sequence[float], k: int
    ) -> list[tuple[Chunk, float]]:
        """(chunk, cosine distance) of the `k` records of a collection nearest to a vector."""
        result = collection.query(
            query_embeddings=[list(embedding)],
            n_results=k,
            where=visible_at(self._seen),
            include=["documents", "metadatas", "distances"],
        )
        return [
            (Chunk.from_record(m.get("chunk_id", i), d, m), float(dist))
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
        retrievers filter to that version's records as ours do, and with an overlay they
        search base and overlay as `query` does."""
        from langchain_chroma import Chroma

        self.refresh()
        where = visible_at(self._seen)
        overlay = self._overlay
        client = self.client

        class VersionedChroma(Chroma):
            def as_retriever(self, **kwargs: Any) -> Any:
                if where is not None:
                    kwargs["search_kwargs"] = {"filter": where, **kwargs.get("search_kwargs", {})}
                return super().as_retriever(**kwargs)

            def similarity_search_with_score(
                self, query: str, k: int = 4, **kwargs: Any
            ) -> list[tuple[Any, float]]:
                if overlay is None:
                    return super().similarity_search_with_score(query, k, **kwargs)
                base = super().similarity_search_with_score(
                    query, k + len(overlay.superseded), **kwargs
                )
                on_top = Chroma(
                    client=client, collection_name=overlay.name, embedding_function=embedder
                ).similarity_search_with_score(query, k, **kwargs)
                chunk_id = lambda document: document.metadata["chunk_id"]  # noqa: E731
                return merge_hits(base, on_top, overlay.superseded, chunk_id, k)

        return VersionedChroma(
            client=self.client, collection_name=self._active, embedding_function=embedder
        )

    # --- writing ---------------------------------------------------------------------------
    def updatable(self, model: str) -> bool:
        """Whether an ingest with `model` can write only what changed (in place, or as an
        overlay), rather than a whole new generation (see the module's docstring for when
        it cannot)."""
        manifest = self.manifest()
        return (
            manifest is not None
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
        files: str = "",
        before_switch: Callable[[], None] | None = None,
    ) -> Manifest:
        """Write a complete new generation, then make it the one in use.

        Nothing changes for readers until the manifest update. The generation before (and
        its overlay) is kept for readers in other processes that have not switched yet;
        older ones, and unfinished ones left by a crashed ingest, are dropped.

        Args:
            items: Every chunk of the new index with its vector.
            units: Every quotable unit of those chunks with its vector.
            model: Embedding model id the vectors came from.
            documents: Number of source documents.
            files: What the index holds of each source file (`ingest.fingerprints`).
            before_switch: Called just before the switch; raising there leaves the
                generation in use as it was (the writer's lock uses it to check its hold).

        Returns:
            The manifest now in force.
        """
        previous = self.manifest()
        generation = max(previous.generation if previous else 0, self._newest_generation()) + 1
        version = (previous.version if previous else 0) + 1
        name = f"{self.prefix}-g{generation:06d}"
        collection, units_collection = self._create_pair(name)
        self._add(collection, units_collection, items, units, version)
        if before_switch is not None:
            before_switch()
        now = _now()
        manifest = Manifest(
            name, generation, model, documents, len(items), now, now, version, "", files
        )
        self._manifest_collection().modify(metadata=manifest.__dict__)
        self._drop_generations(keep={name, *_collections_of(previous)})
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
        files: str = "",
        before_switch: Callable[[], None] | None = None,
    ) -> Manifest:
        """Write the next version of the index from what changed only.

        On a Chroma server (`in_place`) the changes go into the version in use as versioned
        records (`_write_in_place`); on disk into a new overlay (`_write_overlay`, see
        `ingest.overlay`), or, when that would outgrow a share of the base, into a whole new
        generation. Either way no reader sees half of it. Only `updatable` indexes can be
        written so.

        Args:
            items: The new and changed chunks with their vectors.
            superseded: Ids of the chunks in use that are changed or deleted.
            documents: Number of source documents after the change.
            chunks: Number of chunks after the change.
            units: The quotable units of `items` with their vectors.
            files: What the index holds of each source file (`ingest.fingerprints`).
            before_switch: Called just before the switch; raising there leaves the
                version in use as it was.

        Returns:
            The manifest now in force.
        """
        change = _Change(items, superseded, documents, chunks, units, files, before_switch)
        if self.in_place:
            return self._write_in_place(change)
        return self._write_overlay(change)

    def _write_in_place(self, change: _Change) -> Manifest:
        """The changes as versioned records of the version in use, in this order: what an
        unfinished ingest left is cleared; the new chunks and units are added for the next
        version; the records they replace are marked superseded from it; the manifest
        switches to it; records superseded before the version that was in use are
        deleted."""
        previous = self.require_manifest()
        in_use, version = previous.version, previous.version + 1
        collections = [
            self.client.get_collection(name, embedding_function=None)
            for name in (previous.active, _units_name(previous.active))
        ]
        for collection in collections:
            clear_unfinished(collection, in_use)
        self._add(*collections, change.items, change.units, version)
        for collection in collections:
            supersede(collection, change.superseded, in_use, version)
        if change.before_switch is not None:
            change.before_switch()
        manifest = self._switch(previous, version, change, overlay="")
        for collection in collections:
            delete_where(collection, {"until": {"$lte": in_use}})
        self._drop_generations(keep={previous.active})
        self.reclaim()
        return manifest

    def _write_overlay(self, change: _Change) -> Manifest:
        """The changes as a new overlay over the base in use: the previous overlay's
        records still in use are copied into it with the new ones, and the base chunks it
        hides are recorded with it (see `ingest.overlay`); or, past `COMPACT_FRACTION` of
        the base, everything as a new generation."""
        previous = self.require_manifest()
        version = previous.version + 1
        dropped = set(change.superseded)
        self.refresh()
        before = self._overlay
        in_overlay = chunk_ids_in(before.chunks) if before else set()
        hidden = (before.superseded if before else frozenset()) | (dropped - in_overlay)
        base_chunks = self._collection.count()
        kept = len(in_overlay - dropped) + len(change.items)
        if should_compact(base_chunks, kept, len(hidden)):
            return self._compact(previous, change)
        name = overlay_name(previous.active, version)
        self._delete_collections([name, _units_name(name)])  # left by a killed ingest
        collection, units_collection = self._create_pair(
            name, overlay_metadata(previous.active, sorted(hidden))
        )
        if before is not None:
            size = self._batch_size()
            add_records(collection, carried_records(before.chunks, dropped), size)
            add_records(units_collection, carried_records(before.units, dropped), size)
        self._add(collection, units_collection, change.items, change.units, version)
        if change.before_switch is not None:
            change.before_switch()
        manifest = self._switch(previous, version, change, overlay=name)
        self._drop_generations(keep={previous.active, name, *_collections_of(previous)})
        self.reclaim(whole=False)  # the rest of the text index waits for a compaction
        return manifest

    def _compact(self, previous: Manifest, change: _Change) -> Manifest:
        """Base, overlay and changes written as one new generation, as a full ingest of the
        same files would write it (the same order of chunks and units)."""
        dropped = set(change.superseded)
        chunks = {s.chunk.id: s.chunk for s in self.chunks() if s.chunk.id not in dropped}
        vectors = self.embeddings(sorted(chunks))
        items = [(chunk, vectors[i]) for i, chunk in sorted(chunks.items())]
        items = sorted([*items, *change.items], key=lambda item: item[0].id)
        units = [(u, v) for u, v in self.units() or [] if u.chunk_id not in dropped]
        by_chunk: dict[str, list[tuple[Unit, Sequence[float]]]] = {}
        for unit, vector in [*units, *change.units]:
            by_chunk.setdefault(unit.chunk_id, []).append((unit, vector))
        ordered = [
            pair
            for chunk, _ in items
            for pair in sorted(by_chunk.get(chunk.id, []), key=lambda p: p[0].order)
        ]
        return self.write_generation(
            items,
            model=previous.model,
            documents=change.documents,
            units=ordered,
            files=change.files,
            before_switch=change.before_switch,
        )

    def _switch(self, previous: Manifest, version: int, change: _Change, overlay: str) -> Manifest:
        """Make `version` the one in use: one update of the manifest's metadata."""
        now = _now()
        manifest = replace(
            previous,
            version=version,
            ingested_at=now,
            checked_at=now,
            documents=change.documents,
            chunks=change.chunks,
            overlay=overlay,
            files=change.files or previous.files,
        )
        self._manifest_collection().modify(metadata=manifest.__dict__)
        return manifest

    def _create_pair(self, name: str, metadata: dict[str, Any] | None = None) -> tuple[Any, Any]:
        """A new chunks collection and its units collection, cosine space."""
        return tuple(  # type: ignore[return-value]
            self.client.create_collection(
                collection_name,
                metadata=metadata,
                configuration={"hnsw": HNSW},
                embedding_function=None,
            )
            for collection_name in (name, _units_name(name))
        )

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
    def mark_checked(self, files: str = "") -> None:
        """Record that an ingest found nothing to change (and, in `files`, the fingerprints
        it found the files with, see `ingest.fingerprints`)."""
        manifest = self.require_manifest()
        updated = {**manifest.__dict__, "checked_at": _now(), "files": files or manifest.files}
        self._manifest_collection().modify(metadata=updated)

    def generations(self) -> list[str]:
        """Names of the generations in the store, oldest first (normally the active one and
        the one before it, kept for readers that have not switched yet)."""
        names = self._generation_names()
        return sorted(names, key=names.get)

    # --- disk ------------------------------------------------------------------------------
    def reclaim(self, whole: bool = True) -> None:
        """Give the disk space of dropped generations back (embedded store; call it holding
        the writer's lock, as `write_generation` is called).

        Chroma deletes a collection's rows but leaves its vector folder behind, and SQLite
        keeps freed pages and the full-text index's deleted entries inside the file. So the
        folders no segment owns are removed, the full-text index is merged (`whole`, else a
        bounded part of it: after an overlay, see `compact_database`), and the file is
        vacuumed when a tenth of it is free. Failures are logged, never raised: the ingest
        they follow is already done, and the next one tries again.
        """
        if self.path is None:
            return
        try:
            remove_unowned_folders(self.path)
            compact_database(self.path / "chroma.sqlite3", whole)
        except (OSError, sqlite3.Error) as error:
            logger.warning("Could not reclaim the disk space of old index generations: %s", error)

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
    def _manifest_metadata(self) -> dict[str, Any]:
        """The manifest collection's metadata. Read on every question, so through the plain
        lookup (a third of the cost of `get_or_create_collection`); a missing collection, or
        any error, goes the careful way, which creates it or names what is wrong."""
        try:
            collection = self.client.get_collection(
                f"{self.prefix}-manifest", embedding_function=None
            )
        except Exception:
            collection = self._manifest_collection()
        return collection.metadata or {}

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
        """Delete every generation and overlay but `keep`: older ones and unfinished ones
        left by a crash, and lease records whose writer died between renaming and deleting
        them."""
        names = self._collection_names()
        overlays = re.compile(rf"^{re.escape(self.prefix)}-g\d+-o\d+$")
        for name in sorted(names):
            if (name in self._generation_names() or overlays.match(name)) and name not in keep:
                self._delete_collections([name, _units_name(name)], names)
            elif name.startswith(f"{self._lease_name}-ended-"):
                self.client.delete_collection(name)

    def _delete_collections(self, doomed: Sequence[str], names: set[str] | None = None) -> None:
        """Delete those of some collections that exist."""
        names = self._collection_names() if names is None else names
        for name in doomed:
            if name in names:
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


@dataclass(frozen=True)
class _Change:
    """What `ChunkStore.write_changes` was asked to write (see its arguments)."""

    items: Sequence[tuple[Chunk, Sequence[float]]]
    superseded: Sequence[str]
    documents: int
    chunks: int
    units: Sequence[tuple[Unit, Sequence[float]]]
    files: str
    before_switch: Callable[[], None] | None


def _collections_of(manifest: Manifest | None) -> set[str]:
    """The generation and overlay a manifest names (kept for its readers)."""
    if manifest is None:
        return set()
    return {manifest.active, manifest.overlay} - {""}


def _chunk_id(chunk: Chunk) -> str:
    return chunk.id


def _stored_chunks(rows: list[tuple[Any, ...]]) -> list[StoredChunk]:
    """Chunks from (id, metadata, document) records, in a stable order."""
    stored = [
        StoredChunk(Chunk.from_record(m.get("chunk_id", i), d, m), m.get("content_hash", ""))
        for i, m, d in rows
    ]
    return sorted(stored, key=lambda s: (s.chunk.source, s.chunk.id))


def _units_name(generation: str | None) -> str:
    """The collection of a generation's units, e.g. `course-g000003-units`."""
    return f"{generation}-units"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
