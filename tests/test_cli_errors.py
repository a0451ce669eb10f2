"""The command line fails in one line with a documented exit code, not a traceback: a damaged
index (a corrupt chroma.sqlite3) exits 2, output closed early (`| head`) exits 141."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

FAKE_CLI = Path(__file__).resolve().parent / "fake_cli.py"
COMMAND = Path(sys.executable).parent / "cert-assistant"


def env_for(data: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERT_ASSISTANT_")}
    env.update(CERT_ASSISTANT_DATA_DIR=str(data), CERT_ASSISTANT_KNOWLEDGE_DIR="knowledge")
    return env


@pytest.fixture
def indexed(tmp_path: Path, tiny_course: Path) -> Path:
    """A working folder whose `data/` holds the tiny course, ingested by the command."""
    tiny_course.rename(tmp_path / "knowledge")
    done = subprocess.run(
        [sys.executable, str(FAKE_CLI), "ingest", "--quiet"],
        cwd=tmp_path,
        env=env_for(tmp_path / "data"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return tmp_path


def not_a_database(database: Path) -> None:
    database.write_bytes(os.urandom(4096))


def torn_pages(database: Path) -> None:
    with database.open("r+b") as file:  # the header survives; the tables behind it do not
        file.seek(4096)
        file.write(b"\xff" * (database.stat().st_size - 8192))


@pytest.mark.parametrize(
    ("command", "damage"),
    [
        ([str(COMMAND), "stats"], not_a_database),
        ([str(COMMAND), "stats"], torn_pages),
        ([str(COMMAND), "ask", "Is the exam online?"], torn_pages),
        ([sys.executable, str(FAKE_CLI), "ingest"], not_a_database),
    ],
    ids=["stats-not-a-database", "stats-torn-pages", "ask-torn-pages", "ingest-not-a-database"],
)
def test_a_damaged_index_is_one_line_and_exit_2(indexed: Path, command: list[str], damage):
    database = indexed / "data" / "chroma" / "chroma.sqlite3"
    damage(database)

    done = subprocess.run(
        command,
        cwd=indexed,
        env=env_for(indexed / "data"),
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"error: The index at {indexed / 'data' / 'chroma'} is damaged (")
    assert lines[0].endswith("Delete it and build it again with: cert-assistant ingest")


def test_output_closed_early_is_one_line_and_exit_141(indexed: Path):
    read_end, write_end = os.pipe()
    process = subprocess.Popen(
        [str(COMMAND), "stats"],
        cwd=indexed,
        env=env_for(indexed / "data"),
        stdout=write_end,
        stderr=subprocess.PIPE,
        text=True,
    )
    os.close(write_end)
    os.close(read_end)  # the reader is gone before a line is written, as with `| head -0`

    _, err = process.communicate(timeout=120)

    assert process.returncode == 141, err
    assert err.splitlines() == ["error: the output was closed before it was all written"]


def test_stats_shows_the_generations_and_the_data_folder_size(indexed: Path):
    done = subprocess.run(
        [str(COMMAND), "stats"],
        cwd=indexed,
        env=env_for(indexed / "data"),
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "generations:  1: course-g000001 (in use)" in lines
    (size,) = [line for line in lines if line.startswith("data folder:  ")]
    megabytes = float(size.split(", ")[1].split(" MB")[0])
    assert size.startswith(f"data folder:  {indexed / 'data'}, ")
    assert 0.1 < megabytes < 10
    assert "(index " in size
