"""An embedded index edited through overlays answers exactly as a fresh ingest of the same
files would, never writes the collections readers use, skips unchanged files, and survives
a kill during the overlay write and during compaction (fake embedder, real Chroma)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from cert_core.settings import Settings
from evals.ingest_bench import copy_course, edit_one_sentence
from ingest import IngestReport, Manifest, ingest, make_store
from retrieval.hybrid import HybridRetriever

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = ["How long is the exam?", "common mistakes at the foundation level", "lab hours"]
NOTE = "---\ntitle: Note\npage: /note\n---\n\n# Note\n\n## Retakes\n\nA retake costs nothing.\n"


@pytest.fixture
def course(tmp_path: Path) -> Path:
    """Four copies of the course (12 files, 336 chunks), files older than a few seconds."""
    folder = copy_course(ROOT / "knowledge", tmp_path / "course", 4)
    _age(folder)
    return folder


def _age(folder: Path) -> None:
    """Date every file a minute back, as files edited before this ingest are."""
    for path in folder.rglob("*.md"):
        stat = path.stat()
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns - 60 * 10**9))


def run(course: Path, data: Path, embedder, **options) -> IngestReport:
    """One `cert-assistant ingest` of `course` into the embedded store in `data`."""
    store = make_store(Settings(data_dir=data))
    try:
        return ingest([course], store, embedder, model="fake", progress=False, **options)
    finally:
        store.client.close()


def view(data: Path, embedder) -> dict:
    """Everything a reader can get from the index in `data` (the top 3 of each search)."""
    store = make_store(Settings(data_dir=data))
    try:
        manifest = store.require_manifest()
        units = store.units() or []
        chunks = store.chunks()
        ids = [s.chunk.id for s in chunks]
        langchain = store.as_langchain(embedder)
        hybrid = HybridRetriever(store=store, embedder=embedder, k=3)  # BM25, units and dense
        vector = embedder.embed_query
        return {
            "counts": (store.count(), manifest.chunks, manifest.documents),
            "chunks": [(s.chunk, s.content_hash) for s in chunks],
            "units": sorted((u.id, u.text, rounded(v)) for u, v in units),
            "vectors": {i: rounded(v) for i, v in store.embeddings(ids[:7] + ids[-7:]).items()},
            "unit_vectors": {i: rounded(v) for i, v in store.unit_vectors(ids[:7]).items()},
            "hits": [
                untied([(h.chunk.id, h.score) for h in store.query(vector(q), 3)])
                for q in QUESTIONS
            ],
            "nearest": [untied(store.nearest(vector(q), 3)) for q in QUESTIONS],  # ids only
            "hybrid": [
                untied([(s.chunk.id, s.score) for s in hybrid.search(q)]) for q in QUESTIONS
            ],
            "langchain": [
                untied([(d.metadata["chunk_id"], 1 - distance) for d, distance in found])
                for found in (langchain.similarity_search_with_score(q, 3) for q in QUESTIONS)
            ],
        }
    finally:
        store.client.close()


def untied(hits: list[tuple[str, float]]) -> list[tuple[float, str]]:
    """Hits (id, score) as a reader may get them, in order of score: the copies of the course
    tie, so those with the lowest score are any of them (only their number counts).

    >>> untied([("b", 0.9), ("a", 0.9), ("c", 0.5), ("d", 0.5)])
    [(-0.9, 'a'), (-0.9, 'b'), (-0.5, ''), (-0.5, '')]
    """
    scored = [(-round(score, 5), chunk_id) for chunk_id, score in hits]
    last = max(score for score, _ in scored)
    return sorted((score, "" if score == last else chunk_id) for score, chunk_id in scored)


class Vector(tuple):
    """A stored vector, equal to another within 1e-6: one copied between collections may
    differ in the 8th place (float32 normalised again), as it did before overlays."""

    def __eq__(self, other: object) -> bool:
        if len(self) != len(other):
            return False
        return all(abs(a - b) < 1e-6 for a, b in zip(self, other, strict=True))

    __hash__ = tuple.__hash__


def rounded(vector: list[float]) -> Vector:
    return Vector(vector)


def fresh_view(course: Path, tmp_path: Path, embedder) -> dict:
    """What a full ingest of the folder as it is now holds, in a store of its own."""
    data = tmp_path / f"fresh-{len(list(tmp_path.glob('fresh-*')))}"
    run(course, data, embedder)
    return view(data, embedder)


def manifest_of(data: Path) -> Manifest:
    store = make_store(Settings(data_dir=data))
    try:
        return store.require_manifest()
    finally:
        store.client.close()


def base_records(data: Path, name: str) -> int:
    store = make_store(Settings(data_dir=data))
    try:
        return store.client.get_collection(name).count()
    finally:
        store.client.close()


def test_edits_through_overlays_read_exactly_as_a_fresh_ingest(
    course: Path, tmp_path: Path, fake_embedder
):
    data = tmp_path / "data"
    run(course, data, fake_embedder)
    base = manifest_of(data).active
    base_size = base_records(data, base)

    steps = [
        lambda: (course / "c004" / "faq.md").unlink(),  # an overlay of no records, only hiding
        lambda: edit_one_sentence(course, 1),  # one chunk changed
        lambda: (course / "c002" / "note.md").write_text(NOTE),  # a file added
        lambda: edit_one_sentence(course, 2),  # the same chunk again, now in the overlay
        lambda: (course / "c003" / "faq.md").unlink(),  # a file gone
        lambda: (course / "c002" / "note.md").unlink(),  # a file added by an overlay, gone
    ]
    for step in steps:
        step()
        run(course, data, fake_embedder)
        manifest = manifest_of(data)

        assert (manifest.active, manifest.overlay.rsplit("-o", 1)[0]) == (
            base,
            base,
        )  # base kept, overlay on
        assert base_records(data, base) == base_size  # the collection readers use: untouched
        seen = view(data, fake_embedder)
        assert seen == fresh_view(course, tmp_path, fake_embedder)
        assert seen["nearest"] == seen["hits"]  # the ids-only query finds what `query` does


def test_an_overlay_past_a_quarter_of_the_base_is_compacted_into_a_new_generation(
    course: Path, tmp_path: Path, fake_embedder
):
    data = tmp_path / "data"
    run(course, data, fake_embedder)
    edit_one_sentence(course, 1)
    run(course, data, fake_embedder)
    first = manifest_of(data)

    for copy in ("c003", "c004"):  # half the course gone: far past a quarter
        for path in (course / copy).glob("*.md"):
            path.unlink()
    run(course, data, fake_embedder)
    compacted = manifest_of(data)

    assert compacted.active != first.active and compacted.overlay == ""
    assert view(data, fake_embedder) == fresh_view(course, tmp_path, fake_embedder)
    # the generation and overlay before stay for readers still on them; nothing older
    store = make_store(Settings(data_dir=data))
    try:
        assert store.generations() == [first.active, compacted.active]
    finally:
        store.client.close()


def test_unchanged_files_are_neither_read_nor_split_again(
    course: Path, tmp_path: Path, fake_embedder
):
    data = tmp_path / "data"
    first = run(course, data, fake_embedder)
    assert first.files_split == 12

    again = run(course, data, fake_embedder)
    assert (again.files_split, again.changed, again.unchanged) == (0, False, first.chunks)

    edit_one_sentence(course, 1)
    edited = run(course, data, fake_embedder)
    assert (edited.files_split, edited.updated, edited.added, edited.deleted) == (1, 1, 0, 0)
    assert (edited.chunks, edited.documents) == (first.chunks, 12)

    # Same bytes, new time (a checkout): hashed, not split, and nothing written.
    os.utime(course / "c004" / "guide.md")
    touched = run(course, data, fake_embedder)
    assert (touched.files_split, touched.changed) == (0, False)

    # Other chunking settings split every file again.
    resplit = run(course, data, fake_embedder, chunk_size=600)
    assert resplit.files_split == 12
    assert view(data, fake_embedder) == view_of_fresh(course, tmp_path, fake_embedder, 600)


def view_of_fresh(course: Path, tmp_path: Path, embedder, chunk_size: int) -> dict:
    data = tmp_path / "fresh-600"
    run(course, data, embedder, chunk_size=chunk_size)
    return view(data, embedder)


# --- kills -------------------------------------------------------------------------------

# An ingest in its own process that kills itself with SIGKILL during its Nth write to Chroma
# (`Collection.add`), after the add has run for the given seconds: always before the switch.
KILLED_INGEST = """
import os, signal, sys, threading
sys.path.insert(0, {tests!r})
from conftest import FakeEmbedder
from chromadb.api.models.Collection import Collection
from cert_core.settings import Settings
from ingest import ingest, make_store

real_add, calls = Collection.add, []

def add(self, *args, **kwargs):
    calls.append(self.name)
    if len(calls) == {nth}:
        writer = threading.Thread(target=real_add, args=(self, *args), kwargs=kwargs)
        writer.start()
        writer.join({seconds})
        os.kill(os.getpid(), signal.SIGKILL)
    return real_add(self, *args, **kwargs)

Collection.add = add
store = make_store(Settings(data_dir={data!r}))
ingest([{course!r}], store, FakeEmbedder(), model="fake", progress=False)
print("finished without a kill:", calls)
"""


def killed_ingest(course: Path, data: Path, nth: int, seconds: float) -> None:
    script = KILLED_INGEST.format(
        tests=str(ROOT / "tests"), nth=nth, seconds=seconds, data=str(data), course=str(course)
    )
    process = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, cwd=ROOT
    )
    assert process.returncode == -signal.SIGKILL, process.stdout + process.stderr


@pytest.mark.parametrize(
    ("change", "nth", "seconds"),
    [
        ("edit", 1, 0.0),  # the overlay's chunks
        ("edit", 2, 0.005),  # its units, midway
        ("edit", 2, 0.05),
        ("compact", 1, 0.01),  # the new generation's chunks, midway
        ("compact", 2, 0.02),  # its units
        ("compact", 2, 0.2),
    ],
)
def test_a_kill_during_the_overlay_write_or_compaction_leaves_the_last_index_whole(
    course: Path, tmp_path: Path, fake_embedder, change: str, nth: int, seconds: float
):
    data = tmp_path / "data"
    run(course, data, fake_embedder)
    edit_one_sentence(course, 1)
    run(course, data, fake_embedder)  # an overlay in use
    before = view(data, fake_embedder)
    good = manifest_of(data)

    edit_one_sentence(course, 2)
    if change == "compact":
        for path in (course / "c004").glob("*.md"):
            path.unlink()
        (course / "c003" / "guide.md").unlink()
    killed_ingest(course, data, nth, seconds)

    assert manifest_of(data) == good
    after = view(data, fake_embedder)
    assert after["counts"] == before["counts"]
    assert after == before  # whole, queryable, the old content

    report = run(course, data, fake_embedder)
    assert report.changed
    assert view(data, fake_embedder) == fresh_view(course, tmp_path, fake_embedder)
