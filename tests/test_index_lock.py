"""One writer per index: concurrent `cert-assistant ingest` runs wait for each other and lose
no file; a killed run's lock does not block the next; a lease on a Chroma server lapses.

The runs are real processes (`tests/fake_cli.py`: the command line with the fake embedder,
paused in each embedding call so that runs overlap); the lease is tested in-process on an
embedded store (short leases) and once against the session's Chroma server.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from filelock import FileLock

from cert_assistant.cli import main
from ingest import ChunkStore, ingest, load_documents, split_documents
from ingest.lock import IndexBusyError, _Lease, hold_index

FAKE_CLI = Path(__file__).resolve().parent / "fake_cli.py"
RUN_SECONDS = 120  # the longest one run may take on a busy two-core machine
NEW_FILE = "---\ntitle: {title}\npage: /{name}\n---\n\n# {title}\n\n## Part\n\n{text}\n"


def env_for(data: Path, **settings: str) -> dict[str, str]:
    """This environment without CERT_ASSISTANT_* settings, plus `settings` and the data folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERT_ASSISTANT_")}
    env.update({"CERT_ASSISTANT_DATA_DIR": str(data), "CERT_ASSISTANT_KNOWLEDGE_DIR": "knowledge"})
    env.update({f"CERT_ASSISTANT_{k.upper()}": str(v) for k, v in settings.items()})
    return env


def start(folder: Path, env: dict[str, str], *args: str, **extra: str) -> subprocess.Popen:
    """`cert-assistant` (fake embedder) in `folder`, its output captured as text."""
    return subprocess.Popen(
        [sys.executable, str(FAKE_CLI), *args],
        cwd=folder,
        env={**env, **extra},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=RUN_SECONDS)
    return process.returncode, out, err


def run(folder: Path, env: dict[str, str], *args: str) -> tuple[int, str, str]:
    return finish(start(folder, env, *args))


def wait_for(path: Path, process: subprocess.Popen) -> None:
    """Until `path` exists (the run holds the index and embeds); fails if the run ends first."""
    deadline = time.monotonic() + RUN_SECONDS
    while not path.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the run never started embedding"
        time.sleep(0.05)


def add_file(knowledge: Path, name: str) -> None:
    text = f"The {name} file says something no other file says."
    (knowledge / f"{name}.md").write_text(NEW_FILE.format(title=name, name=name, text=text))


def stats_sources(folder: Path, env: dict[str, str]) -> tuple[list[str], int]:
    """The sources and the chunk count `cert-assistant stats` shows."""
    code, out, err = run(folder, env, "stats")
    assert code == 0, err
    lines = out.splitlines()
    documents = int(next(line for line in lines if line.startswith("documents:")).split()[-1])
    at = next(i for i, line in enumerate(lines) if line.startswith("documents:"))
    sources = [line.strip() for line in lines[at + 1 : at + 1 + documents]]
    chunks = int(next(line for line in lines if line.startswith("chunks:")).split()[-1])
    return sources, chunks


def expected(knowledge: Path) -> tuple[list[str], int]:
    """Sources and chunk count of a complete ingest of the folder as it is now."""
    sources = sorted(f"knowledge/{path.name}" for path in knowledge.glob("*.md"))
    return sources, len(split_documents(load_documents([knowledge]).documents))


@pytest.fixture
def project(tmp_path: Path, tiny_course: Path) -> Path:
    """A working folder with `knowledge/` (the tiny course); `data/` is made by the first run."""
    tiny_course.rename(tmp_path / "knowledge")
    return tmp_path


# --- embedded store: a file lock ---------------------------------------------------------------


def test_a_second_ingest_waits_for_the_first_and_no_file_is_lost(project: Path):
    env = env_for(project / "data")
    assert run(project, env, "ingest", "--quiet")[0] == 0
    knowledge = project / "knowledge"
    add_file(knowledge, "first")
    mark = project / "first-embeds"

    # The first run reads the folder, then takes seconds to embed; meanwhile a file arrives
    # and a second run starts. Without a lock both build on the same generation, and the
    # one that switches last drops the other's file.
    first = start(
        project, env, "ingest", "--quiet", FAKE_EMBED_SECONDS="2", FAKE_EMBED_MARK=str(mark)
    )
    wait_for(mark, first)
    add_file(knowledge, "second")
    second = start(project, env, "ingest", "--quiet")

    code1, out1, err1 = finish(first)
    code2, out2, err2 = finish(second)

    assert (code1, code2) == (0, 0), (err1, err2)
    assert "Traceback" not in err1 + err2
    assert "Waiting up to 600 s for another ingest" in err2
    assert "1 added" in out1 and "1 added" in out2  # each run added its own file
    assert stats_sources(project, env) == expected(knowledge)


def test_three_ingests_started_together_end_with_a_whole_index(project: Path):
    env = env_for(project / "data")
    knowledge = project / "knowledge"
    runs = []
    for name in ("one", "two", "three"):
        add_file(knowledge, name)
        runs.append(start(project, env, "ingest", "--quiet", FAKE_EMBED_SECONDS="0.3"))
        time.sleep(0.2)

    results = [finish(r) for r in runs]

    assert [code for code, _, _ in results] == [0, 0, 0], [err for *_, err in results]
    assert not any("Traceback" in err for *_, err in results)
    assert stats_sources(project, env) == expected(knowledge)


def test_an_ingest_that_waits_too_long_exits_1_with_one_line(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys, fake_embedder
):
    import ingest as ingest_package

    for name in list(os.environ):
        if name.startswith("CERT_ASSISTANT_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(project)
    monkeypatch.setenv("CERT_ASSISTANT_DATA_DIR", str(project / "data"))
    monkeypatch.setenv("CERT_ASSISTANT_INGEST_WAIT_SECONDS", "0.5")
    monkeypatch.setattr(ingest_package, "make_embedder", lambda settings: fake_embedder)
    monkeypatch.setattr(ingest_package, "ensure_onnx", lambda settings: None)
    (project / "data").mkdir()

    with FileLock(project / "data" / "chroma.lock"):  # another ingest holds the index
        started = time.monotonic()
        code = main(["ingest", "--quiet"])
        waited = time.monotonic() - started

    out, err = capsys.readouterr()
    assert code == 1
    assert out == ""
    assert 0.5 <= waited < 10
    assert err.splitlines()[-1] == (
        f"error: The index at {project / 'data' / 'chroma'} is being written by another "
        "ingest; gave up after 0.5 s (CERT_ASSISTANT_INGEST_WAIT_SECONDS). Run cert-assistant "
        "ingest again when it is done."
    )
    assert main(["ingest", "--quiet"]) == 0  # once it is free, the same command works


def test_a_killed_ingest_does_not_block_the_next(project: Path):
    env = env_for(project / "data", ingest_wait_seconds="30")
    mark = project / "embeds"
    killed = start(project, env, "ingest", FAKE_EMBED_SECONDS="30", FAKE_EMBED_MARK=str(mark))
    wait_for(mark, killed)
    killed.send_signal(signal.SIGKILL)
    killed.wait(timeout=10)

    started = time.monotonic()
    code, out, err = run(project, env, "ingest", "--quiet")

    assert code == 0, err
    assert "Waiting" not in err  # the system released the dead run's lock at once
    assert time.monotonic() - started < RUN_SECONDS / 4
    assert stats_sources(project, env) == expected(project / "knowledge")


# --- a lease in the store (how writers to a Chroma server take turns) --------------------------


def lease_store(store: ChunkStore, *, wait: float, lease: float) -> ChunkStore:
    """Another writer's view of `store`'s index (no file lock: it holds a lease)."""
    return ChunkStore(
        store.client, store.prefix, "the store", wait_seconds=wait, lease_seconds=lease
    )


def test_a_held_lease_makes_a_second_writer_give_up_and_is_free_once_released(chunk_store):
    first = lease_store(chunk_store, wait=0, lease=5)
    second = lease_store(chunk_store, wait=0.5, lease=5)

    busy = pytest.raises(IndexBusyError, match=r"being written by another ingest \(.* pid ")
    with hold_index(first), busy, hold_index(second):
        pass

    with hold_index(second):
        assert second.lease_holder() is not None
    assert second.lease_holder() is None


def test_a_renewed_lease_is_never_taken_over(chunk_store):
    holder = lease_store(chunk_store, wait=0, lease=0.4)
    waiter = lease_store(chunk_store, wait=1.5, lease=0.4)  # waits ~4 lease periods

    with hold_index(holder) as hold:
        with pytest.raises(IndexBusyError), hold_index(waiter):
            pass
        hold.check()  # still ours: it was renewed all along


def test_a_lapsed_lease_is_taken_over_and_its_holder_cannot_switch(
    chunk_store, caplog, tiny_course: Path, fake_embedder
):
    stopped = lease_store(chunk_store, wait=0, lease=0.5)
    paused = _Lease(stopped)
    paused.acquire()
    paused._stop.set()  # as if the process were killed or paused: no more renewals
    waiter = lease_store(chunk_store, wait=10, lease=0.5)

    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="ingest.lock"):
        report = ingest([tiny_course], waiter, fake_embedder, model="fake", progress=False)

    assert 0.5 <= time.monotonic() - started < 10
    assert "was not renewed" in caplog.text and "taking it over" in caplog.text
    assert report.added == report.chunks > 0
    with pytest.raises(IndexBusyError, match="lost its lease"):
        paused.check()
    assert waiter.lease_holder() is None  # the taker released its own lease


def test_a_writer_that_lost_its_lease_does_not_switch(
    chunk_store, tiny_course: Path, fake_embedder
):
    writer = lease_store(chunk_store, wait=0, lease=5)
    ingest([tiny_course], writer, fake_embedder, model="fake", progress=False)
    before = writer.require_manifest()
    (tiny_course / "guide.md").write_text("# Guide\n\n## Only\n\nOne line now.\n")

    def steal(texts: list[str]) -> list[list[float]]:
        # While this writer embeds, its lease is ended by someone else and taken over.
        holder = writer.lease_holder()
        thief = lease_store(chunk_store, wait=0, lease=5)
        thief.lease_holder()
        thief.break_lease(holder.lease_id)
        assert thief.claim_lease("thief") is not None
        return fake_embedder.embed_documents(texts)

    writer_embedder = type(fake_embedder)()
    writer_embedder.embed_documents = steal  # type: ignore[method-assign]
    with pytest.raises(IndexBusyError, match="lost its lease"):
        ingest([tiny_course], writer, writer_embedder, model="fake", progress=False)

    assert writer.require_manifest() == before


@pytest.mark.server
def test_ingests_against_a_chroma_server_take_turns_and_a_killed_ones_lease_lapses(
    chroma_server: tuple[str, int], project: Path
):
    host, port = chroma_server
    env = env_for(
        project / "data",
        chroma_host=host,
        chroma_port=str(port),
        collection=f"lease-{uuid.uuid4().hex[:8]}",  # the server lives for the whole session
        ingest_lease_seconds="2",
        ingest_wait_seconds="60",
    )
    knowledge = project / "knowledge"
    mark = project / "embeds"

    # Two runs at once: the second waits for the first's lease.
    add_file(knowledge, "first")
    first = start(
        project, env, "ingest", "--quiet", FAKE_EMBED_SECONDS="3", FAKE_EMBED_MARK=str(mark)
    )
    wait_for(mark, first)
    add_file(knowledge, "second")
    code2, _, err2 = run(project, env, "ingest", "--quiet")
    code1, _, err1 = finish(first)
    assert (code1, code2) == (0, 0), (err1, err2)
    assert "Waiting up to 60 s for another ingest" in err2
    assert stats_sources(project, env) == expected(knowledge)

    # A run killed while it holds the lease: the next one takes the lapsed lease over.
    mark.unlink()
    add_file(knowledge, "third")
    killed = start(project, env, "ingest", FAKE_EMBED_SECONDS="60", FAKE_EMBED_MARK=str(mark))
    wait_for(mark, killed)
    killed.send_signal(signal.SIGKILL)
    killed.wait(timeout=10)
    started = time.monotonic()
    code, _, err = run(project, env, "ingest", "--quiet")
    assert code == 0, err
    assert "was not renewed" in err
    assert time.monotonic() - started < 30
    assert stats_sources(project, env) == expected(knowledge)
