"""Ingest: only what changed is embedded, the index follows edits, deletions and bad files,
and an interrupted run leaves the index in use untouched (fake embedder, real Chroma)."""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from langchain_core.embeddings import Embeddings

from cert_core.settings import Settings
from ingest import Chunk, ChunkStore, IngestReport, ingest, make_store
from ingest.lock import _Lease
from ingest.pipeline import _embed

MODEL = "fake-bag-of-words-64"

COURSE = {
    "exam.md": (
        "---\ntitle: Exam\npage: /exam\n---\n\n# The exam\n\n"
        "## Format\n\nThe exam is taken online with proctoring.\n\n"
        "## Retakes\n\nA failed exam can be retaken after fourteen days.\n\n"
        "## Fees\n\n| Level | Fee |\n|---|---|\n"
        "| Foundation | 100 USD |\n| Professional | 200 USD |\n"
    ),
    "labs.md": (
        "---\ntitle: Labs\npage: /labs\n---\n\n# Labs\n\n"
        "## Tools\n\nThe labs use DVC for data versioning and Feast as the feature store.\n\n"
        "## Duration\n\nEach lab takes about two hours on a laptop.\n"
    ),
}
EXTRA = {"glossary.md": "# Glossary\n\n## Lineage\n\nLineage records where data came from.\n"}


@pytest.fixture
def course(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`course/` with two small documents, and `extra/` beside it, in the working folder."""
    monkeypatch.chdir(tmp_path)
    for folder, files in (("course", COURSE), ("extra", EXTRA)):
        (tmp_path / folder).mkdir()
        for name, text in files.items():
            (tmp_path / folder / name).write_text(text, encoding="utf-8")
    return tmp_path / "course"


def run(paths: list[Path], store: ChunkStore, embedder: Any, model: str = MODEL) -> IngestReport:
    return ingest(paths, store, embedder, model=model, chunk_size=300, progress=False)


def texts(store: ChunkStore) -> dict[str, str]:
    """Chunk text → source, for everything the active index holds."""
    return {s.chunk.text: s.chunk.source for s in store.chunks()}


def ranking(store: ChunkStore, embedder: Embeddings, question: str) -> list[tuple[float, str]]:
    """Every chunk ranked for the question; ties (common with bag-of-words) ordered by id."""
    hits = store.query(embedder.embed_query(question), store.count())
    return sorted((-round(h.score, 6), h.chunk.id) for h in hits)


def generations(store: ChunkStore) -> list[str]:
    """Chunk collections of the index generations on disk (not their units and words)."""
    names = (c.name for c in store.client.list_collections())
    return sorted(n for n in names if re.fullmatch(r".*-g\d+", n))


def satellites(store: ChunkStore) -> list[str]:
    """Units collections on disk."""
    names = (c.name for c in store.client.list_collections())
    return sorted(n for n in names if n.endswith("-units"))


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


# --- first and unchanged runs ------------------------------------------------------------------


def test_first_ingest_adds_every_chunk_and_makes_them_searchable(
    course, chunk_store, fake_embedder
):
    report = run([course], chunk_store, fake_embedder)

    assert report.documents == 2
    assert report.chunks == report.added == chunk_store.count() == 6
    assert report.units_embedded == 6  # each chunk here is one sentence
    assert fake_embedder.embedded == report.texts_embedded
    assert (report.updated, report.unchanged, report.deleted) == (0, 0, 0)
    assert report.changed and not report.skipped
    manifest = chunk_store.require_manifest()
    assert (manifest.model, manifest.documents, manifest.chunks) == (MODEL, 2, 6)
    assert set(texts(chunk_store).values()) == {"course/exam.md", "course/labs.md"}

    (hit,) = chunk_store.query(fake_embedder.embed_query("when can a failed exam be retaken"), 1)
    assert hit.chunk.text == "A failed exam can be retaken after fourteen days."
    assert hit.chunk.section == "Exam > Retakes"
    assert hit.chunk.url("https://x.org/c") == "https://x.org/c/exam#retakes"


def test_second_run_on_unchanged_files_embeds_nothing_and_loads_no_model(
    course, chunk_store, make_fake_embedder
):
    run([course], chunk_store, make_fake_embedder())
    before = chunk_store.require_manifest()
    built: list[Embeddings] = []

    def build() -> Embeddings:
        built.append(make_fake_embedder())
        return built[-1]

    report = run([course], chunk_store, build)

    assert built == []  # the model factory was never called
    counter = make_fake_embedder()
    assert not run([course], chunk_store, counter).changed
    assert counter.embedded == 0
    assert not report.changed
    assert (report.added, report.updated, report.deleted) == (0, 0, 0)
    assert report.unchanged == report.chunks == chunk_store.count() == 6
    after = chunk_store.require_manifest()
    assert (after.active, after.generation, after.ingested_at) == (
        before.active,
        before.generation,
        before.ingested_at,
    )


# --- following changes -------------------------------------------------------------------------


def test_editing_one_section_re_embeds_only_that_section(
    course, chunk_store, fake_embedder, make_fake_embedder
):
    run([course], chunk_store, fake_embedder)
    untouched = {s.chunk.id: s.chunk.text for s in chunk_store.chunks()}
    vectors = chunk_store.embeddings(list(untouched))
    edit(course / "exam.md", "after fourteen days", "after thirty days")
    counter = make_fake_embedder()

    report = run([course], chunk_store, counter)

    assert (report.added, report.updated, report.deleted, report.unchanged) == (0, 1, 0, 5)
    # the chunk and its one sentence; nothing unchanged again
    assert (report.embedded, report.units_embedded) == (1, 1)
    assert counter.embedded == 2
    now = texts(chunk_store)
    assert "A failed exam can be retaken after thirty days." in now
    assert "A failed exam can be retaken after fourteen days." not in now
    (changed_id,) = [i for i, t in untouched.items() if "fourteen" in t]
    kept = [i for i in untouched if i != changed_id]
    assert chunk_store.embeddings(kept) == {i: vectors[i] for i in kept}  # not re-embedded
    (hit,) = chunk_store.query(counter.embed_query("retaken after thirty days"), 1)
    assert hit.chunk.id == changed_id and "thirty" in hit.chunk.text


def test_removing_a_section_drops_its_chunks(
    course, chunk_store, fake_embedder, make_fake_embedder
):
    run([course], chunk_store, fake_embedder)
    edit(course / "labs.md", "## Duration\n\nEach lab takes about two hours on a laptop.\n", "")

    report = run([course], chunk_store, make_fake_embedder())

    assert (report.added, report.updated, report.deleted) == (0, 0, 1)
    assert not any("two hours" in t for t in texts(chunk_store))
    assert chunk_store.count() == 5


def test_deleting_a_file_removes_its_chunks(course, chunk_store, fake_embedder, make_fake_embedder):
    run([course], chunk_store, fake_embedder)
    (course / "labs.md").unlink()

    report = run([course], chunk_store, make_fake_embedder())

    assert (report.documents, report.deleted, report.added, report.unchanged) == (1, 2, 0, 4)
    assert set(texts(chunk_store).values()) == {"course/exam.md"}
    assert chunk_store.require_manifest().documents == 1


def test_adding_a_file_embeds_only_the_new_file(
    course, chunk_store, fake_embedder, make_fake_embedder
):
    run([course], chunk_store, fake_embedder)
    (course / "renewal.md").write_text(
        "# Renewal\n\n## When\n\nRenew every two to three years.\n", "utf-8"
    )
    counter = make_fake_embedder()

    report = run([course], chunk_store, counter)

    assert (report.documents, report.added, report.unchanged, report.deleted) == (3, 1, 6, 0)
    assert (report.embedded, report.units_embedded) == (1, 1)
    assert counter.embedded == report.texts_embedded
    assert texts(chunk_store)["Renew every two to three years."] == "course/renewal.md"


def test_file_that_turns_bad_keeps_its_last_good_chunks_and_is_reported(
    course, chunk_store, fake_embedder, make_fake_embedder
):
    run([course], chunk_store, fake_embedder)
    before = texts(chunk_store)
    (course / "labs.md").write_text("---\ntitle: [oops\n---\n\n# Labs\n\nNew words.\n", "utf-8")
    edit(course / "exam.md", "with proctoring", "with remote proctoring")

    report = run([course], chunk_store, make_fake_embedder())

    assert [s.source for s in report.skipped] == ["course/labs.md"]
    assert "front matter is not valid YAML" in report.skipped[0].reason
    assert (report.updated, report.deleted) == (1, 0)
    after = texts(chunk_store)
    labs_before = {t for t, s in before.items() if s == "course/labs.md"}
    assert labs_before == {t for t, s in after.items() if s == "course/labs.md"}
    assert "The exam is taken online with remote proctoring." in after
    assert report.documents == chunk_store.require_manifest().documents == 2


def test_file_that_is_bad_when_the_model_changes_keeps_its_chunks_with_new_vectors(
    course, chunk_store, fake_embedder, make_fake_embedder
):
    run([course], chunk_store, fake_embedder, model="fake-a")
    (course / "labs.md").write_text("---\ntitle: Labs\n", encoding="utf-8")
    counter = make_fake_embedder()

    report = run([course], chunk_store, counter, model="fake-b")

    assert [s.source for s in report.skipped] == ["course/labs.md"]
    assert report.embedded == report.units_embedded == chunk_store.count() == 6
    assert counter.embedded == report.texts_embedded  # a new model: every unit again too
    assert "Each lab takes about two hours on a laptop." in texts(chunk_store)
    assert chunk_store.require_manifest().model == "fake-b"


def test_a_missing_folder_is_reported_and_does_not_empty_the_index(
    course, chunk_store, fake_embedder, make_fake_embedder
):
    run([course], chunk_store, fake_embedder)
    before = texts(chunk_store)
    course.rename(course.parent / "course-moved")

    report = run([course], chunk_store, make_fake_embedder())

    assert [(s.source, s.reason) for s in report.skipped] == [("course", "no such file or folder")]
    assert (report.deleted, report.documents) == (0, 2)
    assert texts(chunk_store) == before


def test_files_outside_the_ingested_paths_are_kept(
    course, chunk_store, fake_embedder, make_fake_embedder
):
    extra = course.parent / "extra"
    run([course, extra], chunk_store, fake_embedder)
    (course / "labs.md").unlink()

    report = run([course], chunk_store, make_fake_embedder())

    assert report.deleted == 2
    assert set(texts(chunk_store).values()) == {"course/exam.md", "extra/glossary.md"}
    assert report.documents == 2

    report = run([course / "exam.md"], chunk_store, make_fake_embedder())
    assert not report.changed
    assert set(texts(chunk_store).values()) == {"course/exam.md", "extra/glossary.md"}


def test_changing_the_model_re_embeds_everything_including_kept_files(
    course, chunk_store, fake_embedder, make_fake_embedder
):
    extra = course.parent / "extra"
    run([course, extra], chunk_store, fake_embedder, model="fake-a")
    counter = make_fake_embedder()

    report = run([course], chunk_store, counter, model="fake-b")

    assert report.embedded == report.chunks == chunk_store.count() == 7
    assert counter.embedded == report.texts_embedded
    assert (report.added, report.updated, report.deleted) == (0, 7, 0)
    assert chunk_store.require_manifest().model == "fake-b"
    assert texts(chunk_store)["Lineage records where data came from."] == "extra/glossary.md"
    assert not run([course], chunk_store, make_fake_embedder(), model="fake-b").changed


# --- interruptions and generations ---------------------------------------------------------------


class FailingEmbedder(Embeddings):
    """Embeds `limit` texts with `inner`, then raises `error` (as a crash or Ctrl-C would)."""

    def __init__(self, inner: Embeddings, limit: int, error: BaseException) -> None:
        self.inner, self.limit, self.error, self.embedded = inner, limit, error, 0

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if self.embedded + len(texts) > self.limit:
            raise self.error
        self.embedded += len(texts)
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        return self.inner.embed_query(text)


QUESTIONS = ["when can a failed exam be retaken", "which feature store do the labs use"]


def snapshot(store: ChunkStore, embedder: Embeddings) -> tuple:
    """What a reader sees: the manifest, every chunk, and full rankings for two questions."""
    return (
        store.require_manifest(),
        [(s.chunk, s.content_hash) for s in store.chunks()],
        [ranking(store, embedder, q) for q in QUESTIONS],
    )


@pytest.mark.parametrize("error", [KeyboardInterrupt(), RuntimeError("model crashed")])
def test_ingest_interrupted_while_embedding_leaves_the_index_in_use_unchanged(
    course, chunk_store, fake_embedder, error, make_fake_embedder
):
    run([course], chunk_store, fake_embedder)
    before = snapshot(chunk_store, fake_embedder)
    collections = generations(chunk_store)
    edit(course / "exam.md", "fourteen days", "thirty days")
    (course / "renewal.md").write_text("# Renewal\n\n## When\n\nEvery three years.\n", "utf-8")

    with pytest.raises(type(error)):
        run([course], chunk_store, FailingEmbedder(fake_embedder, limit=1, error=error))

    assert snapshot(chunk_store, fake_embedder) == before
    assert generations(chunk_store) == collections
    report = run([course], chunk_store, make_fake_embedder())
    assert (report.added, report.updated) == (1, 1)
    assert "A failed exam can be retaken after thirty days." in texts(chunk_store)


class _CrashingCollection:
    """A real collection whose `method` call is interrupted after half its records."""

    def __init__(self, collection: Any, method: str) -> None:
        self._collection = collection
        self._method = method

    def __getattr__(self, name: str) -> Any:
        real = getattr(self._collection, name)
        if name != self._method:
            return real

        def half_then_crash(**records: Any) -> None:
            real(**{key: value[: len(value) // 2] for key, value in records.items()})
            raise KeyboardInterrupt

        return half_then_crash


class _CrashingClient:
    """A real chromadb client whose index collections crash in `method` (`add`, `update`)."""

    def __init__(self, client: Any, method: str) -> None:
        self._client = client
        self._method = method

    def get_collection(self, *args: Any, **kwargs: Any) -> Any:
        return _CrashingCollection(self._client.get_collection(*args, **kwargs), self._method)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def raw_records(store: ChunkStore) -> tuple[int, int]:
    """Records in the index's chunk and units collections, visible to readers or not."""
    active = store.require_manifest().active
    return tuple(store.client.get_collection(n).count() for n in (active, f"{active}-units"))


def test_an_embedded_store_never_writes_the_generation_in_use(
    course, tmp_path, fake_embedder, make_fake_embedder
):
    # A kill while Chroma writes its vector index files in the ingest's own process can
    # leave that collection unreadable: never the one readers are using. An edit of this
    # six-chunk course is past a quarter of it, so it is compacted into a new generation
    # (smaller edits go to an overlay: tests/test_index_overlay.py).
    store = make_store(Settings(data_dir=tmp_path / "data"))
    try:
        run([course], store, fake_embedder)
        first = store.require_manifest().active
        edit(course / "labs.md", "two hours", "three hours")
        run([course], store, make_fake_embedder())
        assert store.require_manifest().active != first
        assert "Each lab takes about three hours on a laptop." in texts(store)
    finally:
        store.client.close()


@pytest.mark.parametrize("method", ["add", "update"])
def test_ingest_interrupted_while_writing_is_invisible_and_cleaned_up_next_time(
    course, chunk_store, fake_embedder, make_fake_embedder, method
):
    run([course], chunk_store, fake_embedder)
    before = snapshot(chunk_store, fake_embedder)
    clean = raw_records(chunk_store)
    edit(course / "labs.md", "two hours", "three hours")
    edit(course / "exam.md", "fourteen days", "thirty days")
    crashing = ChunkStore(
        _CrashingClient(chunk_store.client, method), prefix=chunk_store.prefix, in_place=True
    )

    with pytest.raises(KeyboardInterrupt):
        run([course], crashing, make_fake_embedder())

    # Half of the new records written (or half of the old ones marked superseded): the
    # reader sees exactly the version before.
    assert raw_records(chunk_store) > clean if method == "add" else raw_records(chunk_store)
    assert snapshot(chunk_store, fake_embedder) == before

    report = run([course], chunk_store, make_fake_embedder())

    assert report.updated == 2
    assert chunk_store.count() == 6
    assert "Each lab takes about three hours on a laptop." in texts(chunk_store)
    assert "A failed exam can be retaken after thirty days." in texts(chunk_store)
    assert "Each lab takes about two hours on a laptop." not in texts(chunk_store)
    # what the killed run left was removed: the live records and the two superseded ones
    assert raw_records(chunk_store)[0] == 6 + 2


def test_a_reader_of_the_version_before_keeps_it_whole_and_older_records_are_dropped(
    course, chunk_store, fake_embedder, make_fake_embedder
):
    reader = ChunkStore(chunk_store.client, prefix=chunk_store.prefix)
    run([course], chunk_store, fake_embedder)
    reader.refresh()
    first = reader.version
    old = sorted(s.chunk.text for s in reader.chunks())

    edit(course / "labs.md", "two hours", "three hours")
    run([course], chunk_store, make_fake_embedder())

    # A reader that loaded the manifest before the switch reads that version, whole ...
    question = fake_embedder.embed_query("How long does a lab take?")
    hits = reader.query(question, 6, refresh=False)
    assert sorted(h.chunk.text for h in hits) == old
    assert reader.version == first
    # ... and moves to the new text by itself at its next read.
    assert "Each lab takes about three hours on a laptop." in texts(reader)
    assert reader.version != first
    assert generations(chunk_store) == [chunk_store.require_manifest().active]

    edit(course / "labs.md", "three hours", "four hours")
    run([course], chunk_store, make_fake_embedder())
    run([course], chunk_store, make_fake_embedder())  # unchanged: nothing written

    # Records superseded two versions ago are gone; the last edit's are kept for readers.
    records = chunk_store.client.get_collection(chunk_store.require_manifest().active).get()
    labs = [d for d in records["documents"] if d.startswith("Each lab takes about")]
    assert sorted(labs) == [
        "Each lab takes about four hours on a laptop.",
        "Each lab takes about three hours on a laptop.",
    ]
    assert len(records["ids"]) == 6 + 1


def test_a_new_model_writes_a_new_generation_and_keeps_the_one_before_for_readers(
    course, chunk_store, fake_embedder, make_fake_embedder
):
    run([course], chunk_store, fake_embedder)
    first = chunk_store.require_manifest().active

    run([course], chunk_store, make_fake_embedder(), model="another-model")
    second = chunk_store.require_manifest().active
    assert generations(chunk_store) == sorted([first, second])
    assert satellites(chunk_store) == [f"{first}-units", f"{second}-units"]

    edit(course / "labs.md", "two hours", "three hours")
    run([course], chunk_store, make_fake_embedder(), model="another-model")

    assert generations(chunk_store) == [second]  # an edit in place: the old one is dropped
    assert satellites(chunk_store) == [f"{second}-units"]
    assert "Each lab takes about three hours on a laptop." in texts(chunk_store)


def test_index_survives_closing_and_reopening_the_store(
    course, chroma_path, open_chunk_store, fake_embedder, make_fake_embedder
):
    store = open_chunk_store(chroma_path)
    run([course], store, fake_embedder)
    before = snapshot(store, fake_embedder)
    store.client.close()

    reopened = open_chunk_store(chroma_path)

    assert snapshot(reopened, fake_embedder) == before
    assert not run([course], reopened, make_fake_embedder()).changed


# --- the time a large run will take -------------------------------------------------------------


def ticking(step: float) -> Callable[[], float]:
    """A clock that moves `step` seconds each time it is read (embedding at a known rate)."""
    return functools.partial(next, itertools.count(0.0, step))


def many_chunks(count: int) -> list[Chunk]:
    return [Chunk(f"c{n}", f"Sentence {n}.", "s.md", "T", "T > S", "s", "/p") for n in range(count)]


@pytest.mark.parametrize(
    ("step", "said"),
    [
        (4.0, "Embedding 3200 chunks: about 2 min left at 24.0 chunks/s"),
        (8.0, "Embedding 3200 chunks: about 4 min left at 12.0 chunks/s"),
    ],
)
def test_a_large_run_says_its_time_left_at_the_rate_of_its_first_batches(
    capsys, fake_embedder, step, said
):
    # three batches of 32 in `step` seconds; the rest (3104 chunks) at that rate
    vectors = _embed(many_chunks(3200), lambda: fake_embedder, True, clock=ticking(step))

    assert len(vectors) == 3200
    assert said in capsys.readouterr().err.splitlines()


@pytest.mark.parametrize(("count", "progress"), [(200, True), (3200, False)])
def test_a_short_or_quiet_run_says_nothing_of_its_time(capsys, fake_embedder, count, progress):
    _embed(many_chunks(count), lambda: fake_embedder, progress, clock=ticking(4.0))

    assert "left at" not in capsys.readouterr().err


def test_after_taking_over_a_lapsed_lease_the_edit_goes_to_a_new_generation(
    course, chunk_store, fake_embedder, make_fake_embedder
):
    # On a Chroma server, a writer whose lease lapsed (paused, or on a cut-off host) may
    # still write; whoever takes its lease over writes where it cannot reach.
    def leasing(wait: float) -> ChunkStore:
        return ChunkStore(chunk_store.client, chunk_store.prefix, "the store",
                          wait_seconds=wait, lease_seconds=0.3, in_place=True)  # fmt: skip

    writer = leasing(10)
    run([course], writer, fake_embedder)
    first = writer.require_manifest().active
    stalled = _Lease(leasing(0))
    stalled.acquire()
    stalled._stop.set()  # it stops renewing its lease
    edit(course / "labs.md", "two hours", "three hours")

    report = run([course], writer, make_fake_embedder())

    second = writer.require_manifest().active
    assert report.updated == 1 and second != first
    assert generations(chunk_store) == sorted([first, second])
    assert "Each lab takes about three hours on a laptop." in texts(writer)
    edit(course / "labs.md", "three hours", "four hours")
    run([course], writer, make_fake_embedder())  # a lease of its own: in place again
    assert generations(chunk_store) == [second]


def test_the_langchain_baseline_reads_only_the_version_in_use(
    course, chunk_store, fake_embedder, make_fake_embedder
):
    run([course], chunk_store, fake_embedder)
    edit(course / "labs.md", "two hours", "three hours")
    run([course], chunk_store, make_fake_embedder())  # the old sentence is kept for readers

    baseline = chunk_store.as_langchain(fake_embedder).as_retriever(search_kwargs={"k": 20})
    found = [d.page_content for d in baseline.invoke("How long does a lab take?")]

    assert sorted(found) == sorted(texts(chunk_store))
    assert "Each lab takes about two hours on a laptop." not in found
