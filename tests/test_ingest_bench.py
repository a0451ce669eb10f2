"""The ingest benchmark measures what it says: copies of the course are new chunks, and its
edit changes one chunk of one copy (fake embedder, real Chroma)."""

from __future__ import annotations

from pathlib import Path

from evals.ingest_bench import IngestFigures, copy_course, edit_one_sentence, format_table
from ingest import ChunkStore, ingest

ROOT = Path(__file__).resolve().parents[1]


def test_copies_are_indexed_apart_and_an_edit_updates_one_chunk(
    tmp_path: Path, chunk_store: ChunkStore, fake_embedder
):
    course = copy_course(ROOT / "knowledge", tmp_path, 2)
    first = ingest([course], chunk_store, fake_embedder, model="fake", progress=False)

    assert first.documents == 6
    assert first.added == first.chunks == len({s.chunk.id for s in chunk_store.chunks()})
    assert len({s.chunk.text for s in chunk_store.chunks()}) == first.chunks / 2  # same words
    for number in (1, 2):
        edit_one_sentence(course, number)
        report = ingest([course], chunk_store, fake_embedder, model="fake", progress=False)
        assert (report.added, report.updated, report.deleted) == (0, 1, 0)
    assert "30 to 92 days" in (course / "c001" / "faq.md").read_text(encoding="utf-8")


def test_the_table_compares_full_ingest_with_the_encode_only_floor():
    figures = [
        IngestFigures("after", 10, 840, 40.0, 0.5, 0.8, 30_000_000, 32.0),
        IngestFigures("before", 10, 840, 50.0, 0.5, 5.0, 60_000_000, None),
    ]

    rows = format_table(figures).splitlines()[2:]

    assert rows[0] == "| after | 10 | 840 | 40.0 | 21.0 | 32.0 | 1.25x | 0.50 | 0.80 | 30.0 |"
    assert rows[1] == "| before | 10 | 840 | 50.0 | 16.8 | 32.0 | 1.56x | 0.50 | 5.00 | 60.0 |"
