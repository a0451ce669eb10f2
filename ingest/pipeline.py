"""Ingestion: load → split → embed what changed → write it as the next index version."""

from __future__ import annotations

import functools
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from langchain_core.embeddings import Embeddings

from ingest.documents import Chunk
from ingest.fingerprints import FileCheck, FileRecord, read_files, write_files
from ingest.loaders import LoadResult, Skipped, load_documents
from ingest.lock import hold_index
from ingest.sources import MAX_FILE_BYTES
from ingest.splitter import split_documents
from ingest.store import ChunkStore, StoredChunk
from ingest.units import Unit, split_units

LARGE_RUN_SECONDS = 60.0  # an embedding run expected to take longer announces its estimate
_MEASURED_BATCHES = 3  # batches timed before that estimate is made


@dataclass
class IngestReport:
    """What an ingest did, for the summary line and for tests."""

    documents: int = 0
    chunks: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    units_embedded: int = 0
    files_split: int = 0  # files read and split again (unchanged files are not)
    seconds: float = 0.0
    skipped: list[Skipped] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)

    @property
    def embedded(self) -> int:
        """Chunks whose vectors were computed in this run."""
        return self.added + self.updated

    @property
    def texts_embedded(self) -> int:
        """Texts the model embedded in this run: chunks and units."""
        return self.embedded + self.units_embedded

    @property
    def changed(self) -> bool:
        """Whether the index content changed."""
        return bool(self.added or self.updated or self.deleted)


def ingest(
    paths: Sequence[Path],
    store: ChunkStore,
    embedder: Embeddings | Callable[[], Embeddings],
    *,
    model: str,
    chunk_size: int = 900,
    chunk_overlap: int = 120,
    progress: bool = True,
    root: Path | None = None,
    max_file_bytes: int = MAX_FILE_BYTES,
    follow_links_outside: bool = False,
    load: Callable[[], LoadResult] | None = None,
) -> IngestReport:
    """Bring the index in step with the documents under `paths`.

    Files unchanged since the index took their chunks are not read again (see
    `ingest.fingerprints`). Chunks whose content and model are unchanged keep their stored
    vectors; changed and new chunks are embedded; chunks of deleted files, and of sections
    that no longer exist, are dropped. Files outside `paths` keep their chunks, and so do
    files that fail to load (their last good version stays searchable). When nothing changed, no
    model is loaded and nothing is written. Sources are named relative to the knowledge
    folder (`root`), so a run from another folder or with an absolute path finds the same
    chunks; chunks stored under an absolute path (the names before that) are dropped.

    Args:
        paths: Files and folders to index.
        store: The Chroma index.
        embedder: Embeddings, or a callable that builds them, called only when needed.
        model: Id of the embedding model, recorded in the index; a change re-embeds all.
        chunk_size: Largest chunk in characters.
        chunk_overlap: Characters carried between chunks of a section.
        progress: Show a progress bar while embedding.
        root: The knowledge folder sources are named after (see `ingest.sources`).
        max_file_bytes: Largest file read; a larger one is skipped.
        follow_links_outside: Follow symbolic links that lead out of the knowledge folder.
        load: Loads the documents instead of `paths`, called holding the index (pages
            fetched from the course site: `ingest.web`); its `scopes` say what it covers.

    Returns:
        Counts of what changed and what was skipped.

    Raises:
        IndexBusyError: Another ingest kept the index for longer than the store's
            `wait_seconds` (it holds the index from reading the manifest to the switch).
    """
    started = time.perf_counter()
    # One writer from reading the manifest to the switch: see ingest.lock.
    with hold_index(store) as hold:
        manifest = store.manifest()
        same_model = manifest is not None and manifest.model == model
        split = f"{chunk_size}/{chunk_overlap}"
        # Only an index written from what changed can skip the unchanged files.
        stored = read_files(manifest.files, split) if manifest else None
        if load is not None or not store.updatable(model):
            stored = None
        check = FileCheck(stored or {}, max_file_bytes)
        if load is not None:
            loaded = load()
        else:
            loaded = load_documents(
                paths,
                root=root,
                max_file_bytes=max_file_bytes,
                follow_links_outside=follow_links_outside,
                unchanged=check,
            )
        report = IngestReport(skipped=loaded.skipped, ignored=loaded.ignored)
        report.files_split = len(loaded.documents)
        fresh = {c.id: c for c in split_documents(loaded.documents, chunk_size, chunk_overlap)}

        failed = {s.source for s in loaded.skipped if s.keep_indexed}
        if stored is None:  # read every chunk: a whole generation may be written
            old = {s.chunk.id: s for s in store.chunks()} if manifest else {}
            kept = _kept_outside_scope(old.values(), loaded.scopes, failed)
            untouched: dict[str, FileRecord] = {}
        else:  # read only the chunks of files that changed or are gone
            untouched = _untouched(stored, loaded.unchanged, loaded.scopes, failed)
            old = {s.chunk.id: s for s in store.chunks_of(sorted(stored.keys() - untouched))}
            kept = {}
            report.unchanged = sum(stored[s].chunks for s in loaded.unchanged)

        to_embed: list[Chunk] = []
        for chunk_id, chunk in fresh.items():
            before = old.get(chunk_id)
            if before is None:
                report.added += 1
                to_embed.append(chunk)
            elif not same_model or before.content_hash != chunk.content_hash:
                report.updated += 1
                to_embed.append(chunk)
            else:
                report.unchanged += 1
        report.deleted = len(old.keys() - fresh.keys() - kept.keys())
        if not same_model:
            # Chunks kept from elsewhere need the new model too; they stay in the index.
            report.updated += len(kept)
            to_embed += [s.chunk for s in kept.values()]

        all_chunks = {**{i: s.chunk for i, s in kept.items()}, **fresh}
        files = _file_records(all_chunks.values(), untouched, check)
        report.chunks = sum(r.chunks for r in files.values())
        report.documents = len(files)
        listed = write_files(files, split)
        model_once = _once(embedder)  # built only when something needs embedding
        if not (report.changed or manifest is None or not store.has_units()):
            store.mark_checked(files=listed)
        elif stored is not None or store.updatable(model):
            # An edit costs what it changes: see ingest.store for how readers stay whole.
            vectors = _embed(to_embed, model_once, progress)
            units = [u for chunk in to_embed for u in split_units(chunk)]
            carried = store.unit_vectors([c.id for c in to_embed if c.id in old])
            unit_vectors = _unit_vectors(units, carried, model_once, progress)
            report.units_embedded = unit_vectors.embedded
            store.write_changes(
                [(chunk, vectors[chunk.id]) for chunk in to_embed],
                superseded=sorted(i for i in old if i in vectors or i not in all_chunks),
                documents=report.documents,
                chunks=report.chunks,
                units=[(u, unit_vectors.vectors[u.id]) for u in units],
                files=listed,
                before_switch=hold.check,
            )
        else:
            # Every vector new anyway, or an index that cannot be written in place.
            vectors = _embed(to_embed, model_once, progress)
            carried = [i for i in all_chunks if i not in vectors]
            vectors.update(store.embeddings(carried))
            items = [(chunk, vectors[i]) for i, chunk in sorted(all_chunks.items())]
            units = [u for _, chunk in sorted(all_chunks.items()) for u in split_units(chunk)]
            stored_units = {u.id: v for u, v in (store.units() or [])} if same_model else {}
            unit_vectors = _unit_vectors(units, stored_units, model_once, progress)
            report.units_embedded = unit_vectors.embedded
            store.write_generation(
                items,
                model=model,
                documents=report.documents,
                units=[(u, unit_vectors.vectors[u.id]) for u in units],
                files=listed,
                before_switch=hold.check,
            )
    report.seconds = time.perf_counter() - started
    return report


def _untouched(
    stored: dict[str, FileRecord], unchanged: Sequence[str], scopes: Sequence[str], failed: set[str]
) -> dict[str, FileRecord]:
    """The sources whose chunks this run keeps without reading them: files found unchanged,
    and sources outside `scopes` or of files that failed (see `_kept_outside_scope`)."""
    kept = {s: stored[s] for s in unchanged if s in stored}
    kept.update((s, r) for s, r in stored.items() if _outside_run(s, scopes, failed))
    return kept


def _file_records(
    chunks: Iterable[Chunk], untouched: dict[str, FileRecord], check: FileCheck
) -> dict[str, FileRecord]:
    """What the index will hold of each source: the chunks of this run by source, with the
    fingerprint found before the file was read ("" for a source with no file), and the
    sources kept untouched, with the fingerprint found now when the file was looked at."""
    counts = Counter(chunk.source for chunk in chunks)
    records = {}
    for source, count in counts.items():
        size, mtime_ns, sha = check.found.get(source, (0, 0, ""))
        records[source] = FileRecord(size, mtime_ns, sha, count)
    for source, record in untouched.items():
        size, mtime_ns, sha = check.found.get(source, record.fingerprint())
        records[source] = FileRecord(size, mtime_ns, sha, record.chunks)
    return records


def _kept_outside_scope(
    stored: Iterable[StoredChunk], scopes: Sequence[str], failed: set[str]
) -> dict[str, StoredChunk]:
    """Stored chunks this run must not touch: outside `scopes`, or from files that failed.

    `scopes` are the names of the files and folders this run read; a source in one of them
    that was not found again is gone. A path that does not exist (a mistyped folder) has
    no scope, so a typo never empties the index. A source stored under an absolute path
    is never kept: that was a server path, and its file, if still wanted, is indexed
    again under its name.
    """
    return {s.chunk.id: s for s in stored if _outside_run(s.chunk.source, scopes, failed)}


def _outside_run(source: str, scopes: Sequence[str], failed: set[str]) -> bool:
    """Whether a stored source is one this run must not touch (see `_kept_outside_scope`)."""
    if source.startswith("/"):  # a server path from before sources were named: never kept
        return False
    return not _under(source, scopes) or _under(source, failed)


def _under(source: str, names: Iterable[str]) -> bool:
    """Whether a source is one of `names` or lies in a folder of that name.

    A URL (a page of the course site, `ingest.web`) names only itself, since one page's URL
    can begin another's; `…/*` names the pages below a folder (what a sitemap speaks for).

    >>> _under("knowledge/faq.md", ["knowledge"]), _under("knowledge-old/faq.md", ["knowledge"])
    (True, False)
    >>> page = "https://x.org/c/faq"
    >>> _under(page, ["https://x.org/c"]), _under(page, ["https://x.org/c/*"]), _under(page, [page])
    (False, True, True)
    """
    for name in names:
        if name.endswith("/*"):
            folder: str | None = name[:-1]
        else:
            folder = None if "://" in name else f"{name}/"
        if source == name or (folder is not None and source.startswith(folder)):
            return True
    return False


def _once(embedder: Embeddings | Callable[[], Embeddings]) -> Callable[[], Embeddings]:
    """A getter that builds the embedder on first use and keeps it."""
    if isinstance(embedder, Embeddings):
        return lambda: embedder
    return functools.cache(embedder)


@dataclass(frozen=True)
class _Vectors:
    """Vectors by id, and how many of them had to be embedded in this run."""

    vectors: dict[str, list[float]]
    embedded: int


def _unit_vectors(
    units: Sequence[Unit],
    stored: dict[str, list[float]],
    embedder: Callable[[], Embeddings],
    progress: bool,
) -> _Vectors:
    """Vectors of every unit: stored ones (by unit id, same model) carried over, the rest
    embedded."""
    vectors = {u.id: stored[u.id] for u in units if u.id in stored}
    missing = list({u.id: u for u in units if u.id not in vectors}.values())
    vectors.update(_embed(missing, embedder, progress, what="unit"))
    return _Vectors(vectors, len(missing))


def _embed(
    items: Sequence[Chunk] | Sequence[Unit],
    embedder: Callable[[], Embeddings],
    progress: bool,
    what: str = "chunk",
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, list[float]]:
    """Vectors of chunks or units by id, in batches, with a progress bar.

    A run that will take a while more than `LARGE_RUN_SECONDS` at the rate of its first
    batches says so once, above the bar (which keeps showing the time left as it goes).
    """
    if not items:
        return {}
    from tqdm import tqdm

    model = embedder()
    vectors: dict[str, list[float]] = {}
    batch = 32
    started = clock()
    with tqdm(total=len(items), desc=f"Embedding {what}s", unit=what, disable=not progress) as bar:
        for number, start in enumerate(range(0, len(items), batch), start=1):
            part = items[start : start + batch]
            texts = [item.embedding_text for item in part]
            for item, vector in zip(part, model.embed_documents(texts), strict=True):
                vectors[item.id] = vector
            bar.update(len(part))
            done = start + len(part)
            if progress and number == _MEASURED_BATCHES and done < len(items):
                seconds = clock() - started
                if seconds > 0 and (len(items) - done) * seconds / done >= LARGE_RUN_SECONDS:
                    bar.write(estimate(what, done, len(items), seconds), file=bar.fp)
    return vectors


def estimate(what: str, done: int, total: int, seconds: float) -> str:
    """What is left of an embedding run, at the rate measured over its first `done` texts.

    >>> estimate("chunk", 96, 30_000, 2.6)
    'Embedding 30000 chunks: about 13 min left at 36.9 chunks/s'
    >>> estimate("unit", 96, 3_000, 2.0)
    'Embedding 3000 units: about 60 s left at 48.0 units/s'
    """
    rate = done / seconds
    left = (total - done) / rate
    when = f"{left / 60:.0f} min" if left >= 90 else f"{left:.0f} s"
    return f"Embedding {total} {what}s: about {when} left at {rate:.1f} {what}s/s"
