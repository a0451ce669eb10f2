"""Hostile and careless knowledge files (issue 11): symbolic links, server paths in source
names, huge files, wide encodings and a `page` that breaks out of a link.

Each test runs `cert-assistant ingest` in-process on real files in a temporary project
(fake embedder, real Chroma) and checks what staff see and what the index holds.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

import ingest as ingest_package
from cert_assistant.cli import main
from ingest import ChunkStore, load_documents, make_store, split_documents
from ingest.documents import Chunk

GOOD = "---\ntitle: Exam\npage: /exam\n---\n\n# Exam\n\n## Format\n\nThe exam is online.\n"
SECRET = "SECRET-OUTSIDE-TEXT lives outside the knowledge folder.\n"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`project/knowledge/exam.md`, `project/data/`, and `outside/` beside the project."""
    for name in list(os.environ):
        if name.startswith("CERT_ASSISTANT_"):
            monkeypatch.delenv(name)
    root = tmp_path / "project"
    (root / "knowledge").mkdir(parents=True)
    (root / "knowledge" / "exam.md").write_text(GOOD, encoding="utf-8")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.md").write_text(SECRET, encoding="utf-8")
    monkeypatch.chdir(root)
    monkeypatch.setenv("CERT_ASSISTANT_DATA_DIR", str(root / "data"))
    monkeypatch.setenv("CERT_ASSISTANT_KNOWLEDGE_DIR", "knowledge")
    return root


@pytest.fixture
def cli(project: Path, fake_embedder, monkeypatch: pytest.MonkeyPatch, capsys):
    """Run `cert-assistant ARGS` with the fake embedder; returns `(code, stdout, stderr)`.

    The query model's ONNX export, which loads the real model, is left out.
    """
    monkeypatch.setattr(ingest_package, "make_embedder", lambda settings: fake_embedder)
    monkeypatch.setattr(ingest_package, "ensure_onnx", lambda settings: None)

    def run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return run


def stored(project: Path) -> list[Chunk]:
    """Every chunk the active index holds."""
    from cert_core.settings import Settings

    store = make_store(Settings(data_dir=project / "data"))
    try:
        return [s.chunk for s in store.chunks()]
    finally:
        store.client.close()


def indexed(project: Path) -> dict[str, str]:
    """Chunk text → source, for everything the active index holds."""
    return {chunk.text: chunk.source for chunk in stored(project)}


def skipped_lines(err: str) -> dict[str, str]:
    """`skipped NAME: REASON` lines of stderr, by name."""
    lines = [line for line in err.splitlines() if line.startswith("skipped ")]
    return dict(line.removeprefix("skipped ").split(": ", 1) for line in lines)


# --- symbolic links ---------------------------------------------------------------------------


def test_a_symlink_loop_is_skipped_with_its_reason_and_the_good_files_are_indexed(
    project: Path, cli
):
    knowledge = project / "knowledge"
    (knowledge / "a.md").symlink_to("b.md")
    (knowledge / "b.md").symlink_to("a.md")
    (knowledge / "self.md").symlink_to("self.md")

    code, out, err = cli("ingest", "--quiet")  # before: a raw RuntimeError traceback

    assert code == 1
    reasons = skipped_lines(err)
    assert set(reasons) == {"knowledge/a.md", "knowledge/b.md", "knowledge/self.md"}
    assert all(r.startswith("symbolic link loop") for r in reasons.values())
    assert out.startswith("1 documents, ")
    assert indexed(project)["The exam is online."] == "knowledge/exam.md"


def test_a_link_to_a_folder_above_does_not_walk_in_circles(project: Path, cli):
    (project / "knowledge" / "sub").mkdir()
    (project / "knowledge" / "sub" / "up").symlink_to("..", target_is_directory=True)
    (project / "knowledge" / "sub" / "labs.md").write_text("# Labs\n\nLabs use DVC.\n", "utf-8")

    code, out, err = cli("ingest", "--quiet")

    assert (code, err) == (0, "")
    assert sorted(set(indexed(project).values())) == ["knowledge/exam.md", "knowledge/sub/labs.md"]


def test_a_link_out_of_the_knowledge_folder_is_not_followed(project: Path, cli):
    (project / "knowledge" / "os-release.md").symlink_to(project.parent / "outside" / "secret.md")
    (project / "knowledge" / "elsewhere").symlink_to(
        project.parent / "outside", target_is_directory=True
    )

    code, out, err = cli("ingest", "--quiet")

    assert code == 1
    reasons = skipped_lines(err)
    assert set(reasons) == {"knowledge/os-release.md", "knowledge/elsewhere"}
    for reason in reasons.values():
        assert "outside the knowledge folder" in reason
        assert "CERT_ASSISTANT_FOLLOW_LINKS_OUTSIDE" in reason
    assert not any("SECRET-OUTSIDE" in text for text in indexed(project))
    assert out.startswith("1 documents, ")


def test_links_out_of_the_folder_are_followed_when_allowed_and_their_loops_are_skipped(
    project: Path, cli, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("CERT_ASSISTANT_FOLLOW_LINKS_OUTSIDE", "true")
    outside = project.parent / "outside"
    (outside / "back").symlink_to(outside, target_is_directory=True)  # a loop out there
    (project / "knowledge" / "shared").symlink_to(outside, target_is_directory=True)

    code, out, err = cli("ingest", "--quiet")

    assert code == 1
    reasons = skipped_lines(err)
    assert list(reasons) == ["knowledge/shared/back"]
    assert reasons["knowledge/shared/back"].startswith("symbolic link loop")
    text = next(t for t in indexed(project) if "SECRET-OUTSIDE" in t)
    assert indexed(project)[text] == "knowledge/shared/secret.md"  # the link's name, no path


def test_removing_a_link_deletes_its_chunks(project: Path, cli, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CERT_ASSISTANT_FOLLOW_LINKS_OUTSIDE", "true")
    link = project / "knowledge" / "secret.md"
    link.symlink_to(project.parent / "outside" / "secret.md")
    cli("ingest", "--quiet")
    assert "knowledge/secret.md" in indexed(project).values()

    link.unlink()
    code, out, _ = cli("ingest", "--quiet")  # before: the chunks stayed, "0 deleted"

    assert code == 0
    assert ", 1 deleted" in out
    assert set(indexed(project).values()) == {"knowledge/exam.md"}


def test_a_link_whose_target_is_gone_is_skipped_and_its_chunks_deleted(
    project: Path, cli, monkeypatch: pytest.MonkeyPatch
):
    target = project / "knowledge" / "drafts.txt"
    target.write_text("Draft notes about retakes.\n", encoding="utf-8")
    (project / "knowledge" / "notes.txt").symlink_to("drafts.txt")
    cli("ingest", "--quiet")
    assert "knowledge/notes.txt" in indexed(project).values()

    target.unlink()
    code, out, err = cli("ingest", "--quiet")

    assert code == 1
    assert skipped_lines(err)["knowledge/notes.txt"].startswith("symbolic link to a file or")
    assert ", 2 deleted" in out
    assert set(indexed(project).values()) == {"knowledge/exam.md"}


# --- names of sources ---------------------------------------------------------------------------


def test_sources_are_named_after_the_knowledge_folder_from_any_working_folder(
    project: Path, cli, monkeypatch: pytest.MonkeyPatch
):
    code, out, _ = cli("ingest", "--quiet")
    assert code == 0 and out.startswith("1 documents, 1 chunks: 1 added")

    monkeypatch.chdir(project.parent / "outside")
    monkeypatch.setenv("CERT_ASSISTANT_DATA_DIR", str(project / "data"))
    monkeypatch.setenv("CERT_ASSISTANT_KNOWLEDGE_DIR", str(project / "knowledge"))

    # before: every file added again under its absolute path, the old one deleted
    code, out, _ = cli("ingest", "--quiet")
    assert code == 0 and "0 added, 0 updated, 1 unchanged, 0 deleted" in out

    code, out, _ = cli("ingest", "--quiet", str(project / "knowledge" / "exam.md"))
    assert code == 0 and "0 added, 0 updated, 1 unchanged, 0 deleted" in out

    code, out, _ = cli("stats")
    assert "              knowledge/exam.md\n" in out
    assert set(indexed(project).values()) == {"knowledge/exam.md"}


def test_chunks_stored_under_an_absolute_path_are_replaced_by_the_named_source(
    project: Path, cli, fake_embedder
):
    from cert_core.settings import Settings

    old = Chunk("old-id", "The exam is online.", "/srv/course/knowledge/exam.md", "Exam",
                "Exam > Format", "format", "/exam")  # fmt: skip
    store: ChunkStore = make_store(Settings(data_dir=project / "data"))
    store.write_generation(
        [(old, fake_embedder.embed_documents([old.embedding_text])[0])],
        model="sentence-transformers/all-MiniLM-L6-v2",
        documents=1,
    )
    store.client.close()

    code, out, _ = cli("ingest", "--quiet")

    assert code == 0 and "1 added, 0 updated, 0 unchanged, 1 deleted" in out
    assert set(indexed(project).values()) == {"knowledge/exam.md"}


# --- sizes --------------------------------------------------------------------------------------


@pytest.mark.parametrize("line", ["x" * 250_000, "word " * 50_000])
def test_a_huge_single_line_file_is_split_hard_at_the_chunk_size(project: Path, cli, line: str):
    (project / "knowledge" / "dump.txt").write_text(line, encoding="utf-8")

    code, out, err = cli("ingest", "--quiet")

    assert (code, err) == (0, "")
    dump = [c.text for c in stored(project) if c.source == "knowledge/dump.txt"]
    assert len(dump) > 200  # before: one chunk of the whole file
    assert max(len(t) for t in dump) <= 900
    assert sum(len(t.replace(" ", "")) for t in dump) == len(line.replace(" ", ""))


def test_a_file_over_the_size_limit_is_skipped_naming_the_limit(
    project: Path, cli, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("CERT_ASSISTANT_MAX_FILE_BYTES", "100000")
    (project / "knowledge" / "huge.md").write_text("# Huge\n\n" + "More words. " * 20_000, "utf-8")

    code, out, err = cli("ingest", "--quiet")

    assert code == 1
    assert skipped_lines(err)["knowledge/huge.md"] == (
        "file is 0.2 MB, over the 0.1 MB limit; split it into smaller files or raise "
        "CERT_ASSISTANT_MAX_FILE_BYTES"
    )
    assert out.startswith("1 documents, ")
    assert set(indexed(project).values()) == {"knowledge/exam.md"}


# --- encodings ----------------------------------------------------------------------------------

TEXT = "# Renewal\n\nRenew the certification every three years.\n"


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("late-nul.txt", b"Course text. " * 1000 + b"\x00 hidden", "file looks binary"),
        ("le.md", TEXT.encode("utf-16"), "file is UTF-16 text: save it as UTF-8"),
        ("be.md", b"\xfe\xff" + TEXT.encode("utf-16-be"), "file is UTF-16 text: save it as UTF-8"),
        ("no-bom.md", TEXT.encode("utf-16-le"), "file is UTF-16 text: save it as UTF-8"),
        ("wide.md", TEXT.encode("utf-32"), "file is UTF-32 text: save it as UTF-8"),
    ],
)
def test_binary_and_wide_encodings_are_named(project: Path, cli, name: str, data: bytes, reason):
    (project / "knowledge" / name).write_bytes(data)

    code, out, err = cli("ingest", "--quiet")

    assert code == 1
    assert skipped_lines(err)[f"knowledge/{name}"].startswith(reason)
    assert set(indexed(project).values()) == {"knowledge/exam.md"}


# --- the page of a document ---------------------------------------------------------------------

BAD_PAGES = [
    "/x) ![t](http://host/p.png",
    "//evil.example/p",
    "https://evil.example/p",
    "javascript:alert(1)",
    "/exam day",
    "/faq#fees",
    "/guide?x=1",
    "/../admin",
    "/a<b>",
    "exam",
]


@pytest.mark.parametrize("page", BAD_PAGES)
def test_a_page_that_is_not_a_site_path_skips_the_file_with_a_named_error(
    project: Path, cli, page: str
):
    front = f"---\ntitle: Forged\npage: {page!r}\n---\n\n# Forged\n\nLearners click here.\n"
    (project / "knowledge" / "forged.md").write_text(front, encoding="utf-8")

    code, out, err = cli("ingest", "--quiet")

    assert code == 1
    reason = skipped_lines(err)["knowledge/forged.md"]
    assert reason.startswith("front matter `page` must be a path on the course site")
    assert repr(page) in reason
    assert set(indexed(project).values()) == {"knowledge/exam.md"}


@pytest.mark.parametrize("page", ["/syllabus", "/guides/exam-day", "/%C3%BCber", "/v1.2/faq_"])
def test_a_site_path_is_accepted_as_the_page(tmp_path: Path, page: str):
    (tmp_path / "ok.md").write_text(f"---\npage: {page}\n---\n\nText.\n", encoding="utf-8")

    (document,) = load_documents([tmp_path / "ok.md"]).documents

    assert document.page == page


def test_a_page_taken_from_a_file_name_is_escaped(tmp_path: Path):
    (tmp_path / "Exam day (draft).txt").write_text("Bring an ID.\n", encoding="utf-8")

    (document,) = load_documents([tmp_path]).documents

    assert document.page == "/Exam%20day%20%28draft%29"
    (chunk,) = split_documents([document])
    assert (
        chunk.url("https://x.org/c") == f"https://x.org/c/Exam%20day%20%28draft%29#{chunk.anchor}"
    )


def test_a_fifo_is_skipped_instead_of_hanging_the_ingest(project: Path, cli):
    fifo = project / "knowledge" / "pipe.md"
    os.mkfifo(fifo)
    # Reading a pipe blocks until a writer comes: this one connects and leaves at once, so
    # a reader shows up as a wrong reason here rather than as a test run that never ends.
    writer = threading.Thread(target=lambda: os.close(os.open(fifo, os.O_WRONLY)), daemon=True)
    writer.start()

    try:
        code, out, err = cli("ingest", "--quiet")
    finally:
        os.close(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK))  # lets a waiting writer go
        writer.join(timeout=10)

    assert code == 1
    assert skipped_lines(err)["knowledge/pipe.md"].startswith("not a regular file")
    assert out.startswith("1 documents, ")


# --- with the real model ------------------------------------------------------------------------


@pytest.mark.integration
def test_citations_name_the_source_not_its_server_path(
    knowledge_copy: Path, chunk_store: ChunkStore, real_embedder, monkeypatch, tmp_path: Path
):
    from cert_core.settings import Settings
    from retrieval import Assistant, HybridRetriever

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # ingest from another folder, given an absolute path
    ingest_package.ingest(
        [knowledge_copy.resolve()], chunk_store, real_embedder, model="real", progress=False
    )
    retriever = HybridRetriever(store=chunk_store, embedder=real_embedder)
    assistant = Assistant(retriever, Settings(data_dir=tmp_path / "data"))

    answer = assistant.ask("How hard is the Certified MLOps Architect exam?").to_json()

    assert [c["source"] for c in answer["citations"]][:1] == ["knowledge/faq.md"]
    assert str(tmp_path) not in json.dumps(answer)
    assert assistant.info().documents == [
        "knowledge/faq.md", "knowledge/guide.md", "knowledge/syllabus.md"
    ]  # fmt: skip
