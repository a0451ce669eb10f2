"""Kill `cert-assistant ingest` at random points: the last good index stays whole and
queryable after every kill, and the next ingest completes with no file lost.

Each round changes the knowledge folder (an edit, a new file, a deleted file), starts a real
ingest process (`tests/fake_cli.py`: the command line with the fake embedder, paused briefly
in each embedding call) and kills it with SIGKILL after a random delay spread over a whole
run: while it starts, reads, embeds, writes the new generation, switches, or reclaims space.
Half the kills land in the second half of a run, where the writing is. The seed is shown on
failure; rerun one with `FAULT_SEED=<seed> pytest -s tests/test_ingest_faults.py`.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cert_core.settings import Settings
from ingest import load_documents, make_store, split_documents

FAKE_CLI = Path(__file__).resolve().parent / "fake_cli.py"
KILLS = 10
MAX_ROUNDS = 30  # a round whose run ends before the kill does not count as a kill
RUN_SECONDS = 120
SEED = int(os.environ.get("FAULT_SEED", "11"))


def env_for(data: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERT_ASSISTANT_")}
    env.update(
        CERT_ASSISTANT_DATA_DIR=str(data),
        CERT_ASSISTANT_KNOWLEDGE_DIR="knowledge",
        FAKE_EMBED_SECONDS="0.1",
    )
    return env


def start_ingest(project: Path, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(FAKE_CLI), "ingest", "--quiet"],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def complete_ingest(project: Path, env: dict[str, str]) -> float:
    """Run one ingest to its end; returns how long it took."""
    started = time.monotonic()
    process = start_ingest(project, env)
    out, err = process.communicate(timeout=RUN_SECONDS)
    assert process.returncode == 0, err
    assert "Traceback" not in err, err
    return time.monotonic() - started


def texts_of(knowledge: Path) -> list[str]:
    """Chunk texts of a complete ingest of the folder as it is now."""
    return sorted(c.text for c in split_documents(load_documents([knowledge]).documents))


def index_texts(settings: Settings) -> list[str]:
    """The active index's chunk texts, after checking that it is whole and answers queries."""
    store = make_store(settings)
    try:
        manifest = store.require_manifest()
        chunks = store.chunks()
        assert store.count() == manifest.chunks == len(chunks)
        assert len({s.chunk.source for s in chunks}) == manifest.documents
        units = store.units()
        assert units, "the active generation has no units"
        assert {u.chunk_id for u, _ in units} <= {s.chunk.id for s in chunks}
        vector = store.embeddings([chunks[0].chunk.id])[chunks[0].chunk.id]
        hits = store.query(vector, 3)
        assert hits and hits[0].chunk.id == chunks[0].chunk.id
        return sorted(s.chunk.text for s in chunks)
    finally:
        store.client.close()


def change(knowledge: Path, round_: int, rng: random.Random) -> None:
    """Edit a file, add one, or delete one added before."""
    added = sorted(knowledge.glob("added-*.md"))
    action = rng.choice(["edit", "add", "delete"] if added else ["edit", "add"])
    if action == "edit":
        guide = knowledge / "guide.md"
        text = guide.read_text(encoding="utf-8").split("\n\nRevision ")[0]
        guide.write_text(f"{text}\n\nRevision {round_} of the guide.\n", encoding="utf-8")
    elif action == "add":
        (knowledge / f"added-{round_}.md").write_text(
            f"---\ntitle: Added {round_}\npage: /added-{round_}\n---\n\n# Added {round_}\n\n"
            f"## Note\n\nNote number {round_} was added in round {round_}.\n",
            encoding="utf-8",
        )
    else:
        rng.choice(added).unlink()


@pytest.fixture
def project(tmp_path: Path, knowledge_copy: Path) -> Path:
    """A working folder holding a copy of `knowledge/`."""
    return tmp_path


def test_killing_ingest_at_random_points_never_breaks_the_index_or_loses_a_file(project: Path):
    rng = random.Random(SEED)
    knowledge = project / "knowledge"
    settings = Settings(data_dir=project / "data")
    env = env_for(settings.data_dir)
    full = complete_ingest(project, env)
    good = texts_of(knowledge)
    assert index_texts(settings) == good

    kills = rounds = 0
    while kills < KILLS:
        rounds += 1
        assert rounds <= MAX_ROUNDS, f"only {kills} kills in {MAX_ROUNDS} rounds (seed {SEED})"
        change(knowledge, rounds, rng)
        wanted = texts_of(knowledge)
        late = rng.random() < 0.5
        delay = rng.uniform(full * 0.5, full * 1.05) if late else rng.uniform(0.2, full * 1.1)
        process = start_ingest(project, env)
        time.sleep(delay)
        killed = process.poll() is None
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=RUN_SECONDS)
        kills += killed
        where = f"round {rounds}, killed after {delay:.2f} s of about {full:.2f} s (seed {SEED})"

        # The last good index, or the new one if the kill came after the switch: whole.
        found = index_texts(settings)
        assert found in (good, wanted), where
        outcome = "new index in use" if found == wanted != good else "last good index in use"
        print(f"{where}: {'killed' if killed else 'had finished'}, {outcome}")

        full = complete_ingest(project, env)
        good = texts_of(knowledge)
        assert index_texts(settings) == good, where  # every file there, none lost
