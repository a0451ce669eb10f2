"""Ingest benchmark: what a full ingest and a one-sentence edit cost as the course grows.

The course (`knowledge/`) is copied 1, 10 and 100 times into a fresh folder, each copy in a
folder of its own, so the chunks are new to the index but the words are the course's. For
each size: a full ingest (chunks per second), an ingest with nothing changed, an edit of
one sentence (the median of a few), and the data folder's size after them. The floor is the
model's encode time for the same chunks and units, nothing written: what a full ingest cannot
beat. The model is built once, before any timing, as `cert-assistant ingest` builds it once.

With `fast_setup` the first ingest stores stand-in vectors (a hash of each text, the model's
size) instead of the model's, so a large index is ready in a minute; its time is not a full
ingest's and is not shown, but the edits after it are timed as ever, with the real model.

The store is the embedded one on disk (the default), or with `--server` a Chroma server
started for each size on loopback (`chroma run`, the executable next to this Python), whose
data folder is then the one measured.

It imports only `ingest` and `cert_core`, so it also runs against an older checkout:
`PYTHONPATH=/tmp/old-checkout .venv/bin/python evals/ingest_bench.py --label before`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from langchain_core.embeddings import Embeddings

from cert_core.settings import Settings
from ingest import ingest, load_documents, make_embedder, make_store, model_id, split_documents
from ingest.chroma_files import folder_bytes
from ingest.units import split_units

EDITS = 3
EDITED = "30 to 90 days"  # a fact of knowledge/faq.md, changed by each edit


@dataclass(frozen=True)
class IngestFigures:
    """One course size, measured; times in seconds, sizes in bytes."""

    label: str
    copies: int
    chunks: int
    full_seconds: float | None  # None: the index was set up with stand-in vectors
    unchanged_seconds: float
    edit_seconds: float
    data_bytes: int
    floor_seconds: float | None

    @property
    def chunks_per_second(self) -> float:
        """Full-ingest throughput (0 when not measured)."""
        return self.chunks / self.full_seconds if self.full_seconds else 0.0


class StandInEmbedder(Embeddings):
    """Vectors made from a hash of each text, as many numbers as the model's: an index
    written fast, whose edits the real model then embeds (`fast_setup`)."""

    def __init__(self, size: int) -> None:
        self.size = size

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self._vector(text) for text in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._vector(text)

    def _vector(self, text: str) -> list[float]:
        digest = hashlib.sha256(text.encode("utf-8")).digest()
        return [digest[i % len(digest)] / 255 - 0.5 + i * 1e-4 for i in range(self.size)]


def copy_course(knowledge: Path, folder: Path, copies: int) -> Path:
    """`folder/knowledge` holding `copies` copies of the course, `c001/`, `c002/`, ...

    Each copy's pages get their own path, so no two chunks share an id.
    """
    target = folder / "knowledge"
    for number in range(1, copies + 1):
        copy = target / f"c{number:03d}"
        copy.mkdir(parents=True)
        for source in sorted(knowledge.glob("*.md")):
            text = source.read_text(encoding="utf-8").replace("page: /", f"page: /c{number:03d}/")
            (copy / source.name).write_text(text, encoding="utf-8")
    return target


def edit_one_sentence(knowledge: Path, number: int) -> None:
    """Change one fact of the first copy's FAQ, a different value each time."""
    faq = knowledge / "c001" / "faq.md"
    text = faq.read_text(encoding="utf-8")
    previous = EDITED if number == 1 else f"30 to {90 + number - 1} days"
    faq.write_text(text.replace(previous, f"30 to {90 + number} days", 1), encoding="utf-8")


def encode_seconds(knowledge: Path, embedder) -> float:
    """The model's time for every chunk and unit of the folder, as ingest embeds them."""
    chunks = split_documents(load_documents([knowledge], root=knowledge.parent).documents)
    texts = [c.embedding_text for c in chunks]
    texts += [u.embedding_text for c in chunks for u in split_units(c)]
    started = time.perf_counter()
    for start in range(0, len(texts), 32):
        embedder.embed_documents(texts[start : start + 32])
    return time.perf_counter() - started


@contextmanager
def chroma_server(folder: Path) -> Iterator[dict[str, object]]:
    """A Chroma server on loopback keeping its data in `folder`; yields the settings that
    reach it."""
    import chromadb

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    executable = Path(sys.executable).parent / "chroma"
    command = [str(executable), "run", "--path", str(folder), "--host", "127.0.0.1"]
    process = subprocess.Popen(
        [*command, "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                chromadb.HttpClient(host="127.0.0.1", port=port).heartbeat()
                break
            except Exception:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the Chroma server did not start: {command}") from None
                time.sleep(0.2)
        yield {"chroma_host": "127.0.0.1", "chroma_port": port}
    finally:
        process.terminate()
        process.wait(timeout=30)


def measure(
    label: str,
    copies: int,
    knowledge: Path,
    embedder,
    floor: bool,
    fast_setup: bool = False,
    server: bool = False,
) -> IngestFigures:
    """Full ingest, unchanged ingest and one-sentence edits of `copies` copies of the course."""
    work = Path(tempfile.mkdtemp(prefix=f"ingest-bench-{copies}x-"))
    try:
        if server:
            with chroma_server(work / "server") as reach:
                return _measure(label, copies, knowledge, embedder, floor, fast_setup, work, reach)
        return _measure(label, copies, knowledge, embedder, floor, fast_setup, work, {})
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _measure(
    label: str,
    copies: int,
    knowledge: Path,
    embedder,
    floor: bool,
    fast_setup: bool,
    work: Path,
    reach: dict[str, object],
) -> IngestFigures:
    """`measure` in the folder `work`, on the store `reach` names ({}: embedded)."""
    course = copy_course(knowledge, work, copies)
    settings = Settings(data_dir=work / "data", **reach)
    model = model_id(settings)

    def timed(using=embedder) -> tuple[float, int]:  # noqa: ANN001 - an embedder
        store = make_store(settings)
        try:
            started = time.perf_counter()
            report = ingest([course], store, using, model=model, progress=False)
            return time.perf_counter() - started, report.chunks
        finally:
            store.client.close()

    size = len(embedder.embed_query("size"))
    full, chunks = timed(StandInEmbedder(size) if fast_setup else embedder)
    unchanged, _ = timed()
    edits = []
    for number in range(1, EDITS + 1):
        edit_one_sentence(course, number)
        edits.append(timed()[0])
    return IngestFigures(
        label=label,
        copies=copies,
        chunks=chunks,
        full_seconds=None if fast_setup else full,
        unchanged_seconds=unchanged,
        edit_seconds=statistics.median(edits),
        data_bytes=folder_bytes(work / "server" if reach else settings.data_dir),
        floor_seconds=encode_seconds(course, embedder) if floor else None,
    )


def format_table(figures: list[IngestFigures]) -> str:
    """The figures as a Markdown table, one row per code version and size."""
    lines = [
        "| code | copies | chunks | full ingest s | chunks/s | encode-only floor s "
        "| full / floor | unchanged s | one-edit s | data folder MB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    floors = {f.copies: f.floor_seconds for f in figures if f.floor_seconds}
    for f in figures:
        floor = f.floor_seconds or floors.get(f.copies)  # its own, else that of its size
        full = f.full_seconds
        lines.append(
            f"| {f.label} | {f.copies} | {f.chunks} | {f'{full:.1f}' if full else '-'} | "
            f"{f'{f.chunks_per_second:.1f}' if full else '-'} | "
            f"{f'{floor:.1f}' if floor else '-'} | "
            f"{f'{full / floor:.2f}x' if floor and full else '-'} | "
            f"{f.unchanged_seconds:.2f} | {f.edit_seconds:.2f} | {f.data_bytes / 1e6:.1f} |"
        )
    return "\n".join(lines)


def run_ingest_bench(
    settings: Settings,
    copies: list[int],
    label: str = "this checkout",
    floor: bool = True,
    fast_setup: bool = False,
    server: bool = False,
) -> list[IngestFigures]:
    """Measure every size in `copies` with the configured embedding model."""
    embedder = make_embedder(settings)
    embedder.embed_documents(["warm up: load the model"])
    knowledge = settings.knowledge_dir
    return [measure(label, n, knowledge, embedder, floor, fast_setup, server) for n in copies]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", default="1,10,100", help="course sizes, comma-separated")
    parser.add_argument("--label", default="this checkout", help="name of the code measured")
    parser.add_argument("--no-floor", action="store_true", help="skip the encode-only floor")
    parser.add_argument(
        "--fast-setup", action="store_true", help="stand-in vectors for the first ingest"
    )
    parser.add_argument(
        "--server", action="store_true", help="a Chroma server on loopback, not the embedded store"
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    copies = [int(n) for n in args.copies.split(",")]
    floor = not args.no_floor
    figures = run_ingest_bench(Settings(), copies, args.label, floor, args.fast_setup, args.server)
    if args.json:
        args.json.write_text(json.dumps([asdict(f) for f in figures], indent=1), encoding="utf-8")
    print(format_table(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
