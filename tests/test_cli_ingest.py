"""`cert-assistant ingest` and `stats`: what a user sees on stdout, stderr and in exit codes.

Most tests run the CLI in-process with the fake embedder; one runs the installed command
with the real model, as a user would.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import ingest as ingest_package
from cert_assistant.cli import main
from ingest import load_documents, split_documents

MODEL = "sentence-transformers/all-MiniLM-L6-v2"
SOURCES = ["knowledge/faq.md", "knowledge/guide.md", "knowledge/syllabus.md"]


@pytest.fixture
def project(tmp_path: Path, knowledge_copy: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder with `knowledge/` and an empty `data/`, configured through the env."""
    for name in list(os.environ):
        if name.startswith("CERT_ASSISTANT_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CERT_ASSISTANT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CERT_ASSISTANT_KNOWLEDGE_DIR", "knowledge")
    return tmp_path


@pytest.fixture
def embedder(project: Path, fake_embedder, monkeypatch: pytest.MonkeyPatch):
    """The fake embedder, handed to the CLI in place of the real model."""
    monkeypatch.setattr(ingest_package, "make_embedder", lambda settings: fake_embedder)
    return fake_embedder


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def chunk_count(folder: Path, chunk_size: int = 900) -> int:
    return len(split_documents(load_documents([folder]).documents, chunk_size=chunk_size))


def test_ingest_then_unchanged_then_stats(project: Path, embedder, capsys):
    n = chunk_count(project / "knowledge")

    code, out, err = cli(capsys, "ingest", "--quiet")

    assert code == 0, err
    assert f"3 documents, {n} chunks: {n} added, 0 updated, 0 unchanged, 0 deleted" in out
    assert "nothing was embedded" not in out
    assert f"embedded {n} chunks and " in out  # and their quotable units
    first = embedder.embedded
    assert first > n

    code, out, err = cli(capsys, "ingest", "--quiet")

    assert code == 0, err
    assert f"3 documents, {n} chunks: 0 added, 0 updated, {n} unchanged, 0 deleted" in out
    assert "Index is up to date: nothing was embedded." in out
    assert embedder.embedded == first

    code, out, err = cli(capsys, "stats")

    assert code == 0, err
    lines = [line.strip() for line in out.splitlines()]
    assert "documents:    3" in out
    assert lines[lines.index("documents:    3") + 1 :][:3] == SOURCES
    assert f"chunks:       {n}\n" in out
    assert f"model:        {MODEL}\n" in out
    assert str(project / "data" / "chroma") in out


def test_edit_is_reported_as_one_update(project: Path, embedder, capsys):
    cli(capsys, "ingest", "--quiet")
    faq = project / "knowledge" / "faq.md"
    faq.write_text(faq.read_text().replace("30 to 90 days", "45 to 90 days"), "utf-8")

    code, out, _ = cli(capsys, "ingest", "--quiet")

    assert code == 0
    assert " 0 added, 1 updated, " in out
    assert "nothing was embedded" not in out


def test_bad_file_exits_1_naming_it_while_the_others_are_indexed(project: Path, embedder, capsys):
    (project / "knowledge" / "broken.md").write_text("---\ntitle: Draft\n\nNo end.\n", "utf-8")

    code, out, err = cli(capsys, "ingest", "--quiet")

    assert code == 1
    assert (
        "skipped knowledge/broken.md: front matter starts with '---' but has no closing '---' line"
        in err.splitlines()
    )
    assert "1 file(s) skipped; see above." in err
    assert out.startswith("3 documents, ")

    code, out, _ = cli(capsys, "stats")
    assert code == 0
    assert "documents:    3" in out and "broken.md" not in out


def test_unsupported_file_in_the_folder_is_ignored_with_a_note(project: Path, embedder, capsys):
    (project / "knowledge" / "slides.pptx").write_bytes(b"PK\x03\x04")

    code, out, err = cli(capsys, "ingest", "--quiet")

    assert code == 0
    assert "ignored knowledge/slides.pptx: not a supported file type" in err
    assert out.startswith("3 documents, ")


def test_paths_on_the_command_line_limit_what_is_indexed(project: Path, embedder, capsys):
    code, out, _ = cli(capsys, "ingest", "--quiet", "knowledge/faq.md")

    assert code == 0
    assert out.startswith("1 documents, 20 chunks: 20 added")

    code, out, _ = cli(capsys, "ingest", "--quiet")

    assert code == 0
    assert out.startswith("3 documents, ")
    assert ", 20 unchanged, 0 deleted" in out


def test_missing_path_exits_1_and_keeps_the_index(project: Path, embedder, capsys):
    cli(capsys, "ingest", "--quiet")

    code, out, err = cli(capsys, "ingest", "--quiet", "knowlege")

    assert code == 1
    assert "skipped knowlege: no such file or folder" in err
    assert out.startswith("3 documents, ")


def test_chunk_size_comes_from_the_environment(project: Path, embedder, capsys, monkeypatch):
    monkeypatch.setenv("CERT_ASSISTANT_CHUNK_SIZE", "200")
    small = chunk_count(project / "knowledge", chunk_size=200)
    assert small > chunk_count(project / "knowledge")

    code, out, _ = cli(capsys, "ingest", "--quiet")

    assert code == 0
    assert f"3 documents, {small} chunks" in out


def test_interrupted_ingest_exits_130_and_keeps_the_index_in_use(
    project: Path, embedder, capsys, monkeypatch
):
    cli(capsys, "ingest", "--quiet")
    _, stats_before, _ = cli(capsys, "stats")
    faq = project / "knowledge" / "faq.md"
    faq.write_text(faq.read_text().replace("30 to 90 days", "45 to 90 days"), "utf-8")

    def interrupt(texts: list[str]) -> list[list[float]]:
        raise KeyboardInterrupt

    monkeypatch.setattr(embedder, "embed_documents", interrupt)

    code, _, err = cli(capsys, "ingest", "--quiet")

    assert code == 130
    assert "interrupted: the index in use is unchanged" in err
    _, stats_after, _ = cli(capsys, "stats")
    assert stats_after == stats_before


def test_stats_before_any_ingest_says_how_to_build_the_index(project: Path, capsys):
    code, out, err = cli(capsys, "stats")

    assert code == 2
    assert out == ""
    assert err.strip() == (
        f"error: No course index at {project / 'data' / 'chroma'}. "
        "Build it with: cert-assistant ingest"
    )


@pytest.mark.parametrize(
    ("command", "description"),
    [
        ("ingest", "Index course files into Chroma (only what changed is embedded again)."),
        ("stats", "Show what the index holds and where it lives."),
    ],
)
def test_help_of_each_command_describes_it(command: str, description: str, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])

    assert exit_info.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert out.startswith(f"usage: cert-assistant {command}")
    assert description in out


def test_top_level_help_lists_the_commands(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])

    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "ingest" in out and "stats" in out


# --- the installed command with the real model ----------------------------------------------


@pytest.mark.integration
def test_installed_command_ingests_with_the_real_model_then_reports_up_to_date(
    tmp_path: Path, knowledge_copy: Path
):
    executable = Path(sys.executable).parent / "cert-assistant"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERT_ASSISTANT_")}
    env.update(
        CERT_ASSISTANT_DATA_DIR=str(tmp_path / "data"),
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
    )

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(executable), *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    n = chunk_count(knowledge_copy)

    first = run("ingest", "--quiet")
    assert first.returncode == 0, first.stderr
    assert f"3 documents, {n} chunks: {n} added" in first.stdout

    second = run("ingest")
    assert second.returncode == 0, second.stderr
    assert "Index is up to date: nothing was embedded." in second.stdout
    assert f"{n} unchanged, 0 deleted" in second.stdout

    stats = run("stats")
    assert stats.returncode == 0, stats.stderr
    assert "documents:    3" in stats.stdout
    assert f"chunks:       {n}" in stats.stdout
    assert f"model:        {MODEL}" in stats.stdout
    for source in SOURCES:
        assert f"              {source}\n" in stats.stdout

    for command, words in (("ingest", "Index course files"), ("stats", "Show what the index")):
        shown = run(command, "--help")
        assert shown.returncode == 0, shown.stderr
        assert words in shown.stdout


def test_ingest_checks_the_learner_words_and_names_a_broken_entry(project: Path, embedder, capsys):
    thesaurus = project / "knowledge" / "learner-words.toml"
    thesaurus.write_text('[[term]]\ncourse = "renewal"\nlearner = ["expire", "lapse"]\n')

    code, out, err = cli(capsys, "ingest", "--quiet")

    assert code == 0, err
    assert "learner words: 2 phrases for 1 course term (knowledge/learner-words.toml)" in out
    assert "ignored" not in err  # the thesaurus is no course text, nor an unknown file

    thesaurus.write_text('[[term]]\ncourse = "renewal"\nlearner = "expire"\n')
    code, out, err = cli(capsys, "ingest", "--quiet")

    assert code == 1
    assert "knowledge/learner-words.toml: term 1 ('renewal') needs 'learner'" in err
    assert "Index is up to date" in out  # the course text is indexed all the same
