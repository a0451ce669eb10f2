"""Overlays: an edit of an embedded index written beside it, never into it.

An embedded store's ingest process writes Chroma's vector index files itself, so a kill in
the middle of a write to the collection readers use can leave that collection unreadable
(seen in 1 of 20 kills of an in-place add). So an ingest of an embedded index never writes
the collections in use. The big *base* generation stays as it was written; each ingest
writes a fresh, small *overlay* (a chunks and a units collection): the previous overlay's
records still in use, and the changed and new chunks with their units. The overlay's
metadata names the base chunk ids it supersedes (changed or deleted since the base was
written). The manifest switch names base and overlay in one step, so a kill before it
leaves the last good index untouched, and readers switch at once.

A reader queries both and drops superseded base records: a vector query over-fetches the
base by the number superseded, so the `k` best of base and overlay together are exactly
those of a fresh ingest of the same files. When the overlay (its records and the base
records it hides) outgrows `COMPACT_FRACTION` of the base, the ingest writes a whole new
generation instead, as the first ingest does: an edit then costs what it changes plus a
copy of an overlay at most that fraction of the base, and a question costs two queries.

Why not the alternatives: writing versioned records in place (what a Chroma server does,
see `ingest.store`) is the failure above; a generation per document makes a question
query hundreds of collections; alternating two overlay collections written in place
would save the copy, but a killed write leaves one of them for the next ingest to rebuild
and a reader of the version before may still be on it. This module takes Chroma
collections from the store and imports nothing of chromadb itself.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

COMPACT_FRACTION = 0.25  # an overlay past this share of the base is compacted into a new base


@dataclass(frozen=True)
class Overlay:
    """The overlay of the version in use: its two collections and the base chunks it hides."""

    name: str
    chunks: Any
    units: Any
    superseded: frozenset[str]


def overlay_name(base: str, version: int) -> str:
    """The overlay written for `version` of a base generation.

    >>> overlay_name("course-g000002", 7)
    'course-g000002-o000007'
    """
    return f"{base}-o{version:06d}"


def overlay_metadata(base: str, superseded: Sequence[str]) -> dict[str, Any]:
    """What an overlay's collection records about itself (written once, at its creation)."""
    return {"base": base, "superseded": json.dumps(sorted(superseded))}


def superseded_of(collection: Any) -> frozenset[str]:
    """The base chunk ids an overlay collection supersedes."""
    return frozenset(json.loads((collection.metadata or {}).get("superseded", "[]")))


def should_compact(base_chunks: int, overlay_chunks: int, superseded: int) -> bool:
    """Whether an overlay has grown too large to copy at every ingest.

    >>> should_compact(8400, 3, 2), should_compact(84, 20, 5), should_compact(0, 1, 0)
    (False, True, True)
    """
    return overlay_chunks + superseded > base_chunks * COMPACT_FRACTION


def carried_records(collection: Any, dropped: set[str]) -> dict[str, list[Any]]:
    """The records of a previous overlay collection to copy into the next one: all but
    those of the chunks in `dropped` (changed or deleted again), as Chroma's `add` takes
    them."""
    found = collection.get(include=["embeddings", "documents", "metadatas"])
    keep = [i for i, m in enumerate(found["metadatas"]) if m.get("chunk_id") not in dropped]
    return {
        "ids": [found["ids"][i] for i in keep],
        "embeddings": [list(map(float, found["embeddings"][i])) for i in keep],
        "documents": [found["documents"][i] for i in keep],
        "metadatas": [found["metadatas"][i] for i in keep],
    }


def add_records(collection: Any, records: dict[str, list[Any]], size: int) -> None:
    """Add records as `carried_records` returns them, in batches of `size`."""
    for start in range(0, len(records["ids"]), size):
        part = {key: values[start : start + size] for key, values in records.items()}
        collection.add(**part)


def chunk_ids_in(collection: Any) -> set[str]:
    """The chunk ids an overlay collection holds."""
    return {m["chunk_id"] for m in collection.get(include=["metadatas"])["metadatas"]}


def merge_hits(
    base: list[tuple[Any, float]],
    overlay: list[tuple[Any, float]],
    superseded: frozenset[str],
    chunk_id: Any,
    k: int,
) -> list[tuple[Any, float]]:
    """The `k` nearest of base and overlay hits (item, distance), superseded base hits out.

    >>> merge_hits([("a", 0.1), ("b", 0.3)], [("b2", 0.2)], frozenset("b"), str, 2)
    [('a', 0.1), ('b2', 0.2)]
    """
    kept = [hit for hit in base if chunk_id(hit[0]) not in superseded]
    return sorted(kept + overlay, key=lambda hit: hit[1])[:k]
