"""Ingest does not fill the disk: dropped generations give their space back, and exports of
the query model that were killed before they finished are removed by the next run.

Target: after 50 incremental ingests (each changing one small file) the data folder is under
twice its size after one.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from filelock import FileLock

import ingest.onnx_embeddings as onnx_embeddings
from cert_core.settings import Settings
from ingest import ensure_onnx, ingest, make_store
from ingest.chroma_files import folder_bytes
from ingest.onnx_embeddings import onnx_folder, remove_unfinished_exports

INGESTS = 50
REAL_INGESTS = 10


def segment_folders(settings: Settings) -> list[str]:
    """Chroma's vector folders (one per collection that holds vectors) in the store."""
    return sorted(p.name for p in settings.chroma_path.iterdir() if _is_uuid(p.name))


def _is_uuid(name: str) -> bool:
    try:
        return str(uuid.UUID(name)) == name
    except ValueError:
        return False


def ingest_once(settings: Settings, knowledge: Path, embedder, model: str) -> None:
    """One `cert-assistant ingest`: its own client, closed at the end."""
    store = make_store(settings)
    try:
        ingest([knowledge], store, embedder, model=model, progress=False)
    finally:
        store.client.close()


def edit(knowledge: Path, number: int) -> None:
    """Change one small file, as a staff member fixing a sentence would."""
    guide = knowledge / "guide.md"
    text = guide.read_text(encoding="utf-8").split("\n\nLast edit: ")[0]
    guide.write_text(f"{text}\n\nLast edit: number {number}.\n", encoding="utf-8")


def grow(settings: Settings, knowledge: Path, embedder, model: str, runs: int) -> tuple[int, int]:
    """The data folder's size after the first of `runs` ingests and after the last."""
    ingest_once(settings, knowledge, embedder, model)
    first = folder_bytes(settings.data_dir)
    for number in range(1, runs):
        edit(knowledge, number)
        ingest_once(settings, knowledge, embedder, model)
    return first, folder_bytes(settings.data_dir)


def assert_whole(settings: Settings, knowledge: Path, embedder, runs: int = INGESTS) -> None:
    """The index in use holds the last edit, and what the version before used (a generation,
    or an overlay over the same base) is still readable."""
    store = make_store(settings)
    try:
        manifest = store.require_manifest()
        assert store.count() == manifest.chunks
        assert f"Last edit: number {runs - 1}." in " ".join(s.chunk.text for s in store.chunks())
        names = {getattr(c, "name", c) for c in store.client.list_collections()}
        in_use = {manifest.active, manifest.overlay} - {""}
        before = sorted(n for n in names - in_use if "-g" in n and not n.endswith("-units"))
        assert len(before) == 1, names  # the version before's: nothing older
        old = store.client.get_collection(before[0], embedding_function=None)
        hits = old.query(query_embeddings=[embedder.embed_query("exam")], n_results=3)
        assert hits["ids"][0]  # a reader still on it gets answers
    finally:
        store.client.close()


@pytest.mark.parametrize("course", ["tiny_course", "knowledge_copy"])
def test_fifty_ingests_keep_the_data_folder_under_twice_its_size_after_one(
    tmp_path: Path, course: str, request: pytest.FixtureRequest, fake_embedder
):
    # An edit of the tiny course is past a quarter of it: a new generation each time; one of
    # knowledge/ goes into an overlay (ingest.overlay).
    settings = Settings(data_dir=tmp_path / "data")
    knowledge = request.getfixturevalue(course)

    first, last = grow(settings, knowledge, fake_embedder, "fake", INGESTS)

    # The base generation and its overlay in use, and the overlay (or generation) the
    # version before used, each a chunks and a units collection; before, every dropped
    # generation left its two folders behind.
    assert len(segment_folders(settings)) <= 6
    assert last < 2 * first, f"{first} bytes after one ingest, {last} after {INGESTS}"
    assert_whole(settings, knowledge, fake_embedder)


@pytest.mark.integration
def test_ingests_with_the_real_model_keep_the_data_folder_under_twice_its_size(
    tmp_path: Path, knowledge_copy: Path, real_embedder
):
    # The size is steady from the third ingest on (1.89 times the first after 50 with
    # knowledge/ and the real model); ten keep this tier quick.
    settings = Settings(data_dir=tmp_path / "data")

    first, last = grow(settings, knowledge_copy, real_embedder, "real", REAL_INGESTS)

    assert len(segment_folders(settings)) <= 6
    assert last < 2 * first, f"{first} bytes after one ingest, {last} after {REAL_INGESTS}"
    assert_whole(settings, knowledge_copy, real_embedder, REAL_INGESTS)


def test_folders_that_are_not_chromas_are_left_alone(tmp_path: Path, tiny_course, fake_embedder):
    settings = Settings(data_dir=tmp_path / "data")
    ingest_once(settings, tiny_course, fake_embedder, "fake")
    mine = settings.chroma_path / "backup-notes"
    mine.mkdir()
    (mine / "note.txt").write_text("kept")

    edit(tiny_course, 1)
    ingest_once(settings, tiny_course, fake_embedder, "fake")

    assert (mine / "note.txt").read_text() == "kept"


# --- the query model's export ------------------------------------------------------------------


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


def leftovers(settings: Settings) -> list[Path]:
    """Working folders as a killed export leaves them: a half-written one and a moved-aside one."""
    models = onnx_folder(settings).parent
    made = []
    for kind in ("tmp", "old"):
        folder = models / f".{onnx_folder(settings).name}.{kind}-0123abcd"
        folder.mkdir(parents=True)
        (folder / "model.onnx").write_bytes(b"\0" * 1000)
        made.append(folder)
    return made


def fake_export(calls: list[str]):
    def export(name: str, folder: Path) -> Path:
        calls.append(name)
        folder.mkdir(parents=True)
        return folder

    return export


def test_the_next_ingest_removes_what_a_killed_export_left(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
):
    left = leftovers(settings)
    other = onnx_folder(settings).parent / "some-other-model"
    other.mkdir()
    calls: list[str] = []
    monkeypatch.setattr(onnx_embeddings, "export_onnx", fake_export(calls))

    assert ensure_onnx(settings) == onnx_folder(settings)

    assert not any(folder.exists() for folder in left)
    assert other.is_dir()  # only export working folders are removed
    assert len(calls) == 1


def test_an_export_in_progress_keeps_its_folder(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, caplog
):
    left = leftovers(settings)
    calls: list[str] = []
    monkeypatch.setattr(onnx_embeddings, "export_onnx", fake_export(calls))
    monkeypatch.setattr(onnx_embeddings, "_EXPORT_WAIT_SECONDS", 0.3)

    exporting = FileLock(onnx_folder(settings).parent / ".export.lock")  # another process
    with exporting, caplog.at_level(logging.WARNING, logger="ingest.onnx_embeddings"):
        assert ensure_onnx(settings) is None

    assert all(folder.is_dir() for folder in left)
    assert calls == []
    assert "another process has been exporting" in caplog.text


def test_remove_unfinished_exports_names_what_it_removed(tmp_path: Path):
    models = tmp_path / "models"
    (models / ".m.tmp-0a1b2c3d").mkdir(parents=True)
    (models / "m").mkdir()
    (models / ".export.lock").write_text("")

    assert remove_unfinished_exports(models) == [".m.tmp-0a1b2c3d"]
    assert sorted(p.name for p in models.iterdir()) == [".export.lock", "m"]
    assert remove_unfinished_exports(tmp_path / "none") == []


@pytest.mark.integration
def test_an_export_killed_midway_is_cleaned_up_by_the_next_ingest(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
):
    """The real export in a process killed while it writes, then `ensure_onnx` again."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    models = onnx_folder(settings).parent
    script = (
        "from cert_core.settings import Settings; from ingest import ensure_onnx; "
        f"ensure_onnx(Settings(data_dir={str(settings.data_dir)!r}))"
    )
    process = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.monotonic() + 180
    while not (models.is_dir() and any(models.glob(".*.tmp-*/model.onnx"))):
        assert process.poll() is None, "the export ended before it could be killed"
        assert time.monotonic() < deadline, "the export never started writing"
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    left = list(models.glob(".*.tmp-*"))
    assert left  # what the issue found: up to 87 MB each, never removed

    assert ensure_onnx(settings) == onnx_folder(settings)

    assert not any(folder.exists() for folder in left)
    assert sorted(p.name for p in models.iterdir() if not p.name.endswith(".lock")) == [
        onnx_folder(settings).name
    ]
