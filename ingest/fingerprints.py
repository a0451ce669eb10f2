"""File fingerprints: which source files an ingest need not read and split again.

The manifest keeps, for each source in the index, the fingerprint of the file its chunks
came from (size, modification time, SHA-256 of its bytes) and how many chunks it gave. A
file whose size and modification time match is not read; one whose size or time differ is
read and hashed, and only a different hash has it split again (a `touch`, or a checkout
that rewrote the same bytes, costs one hash). The fingerprint is taken before the file is
read, so a file changed while an ingest reads it is read again by the next one; and a
time within `RECENT_NS` of the check is not kept (recorded as 0), since a second write
in the same clock tick would keep both size and time (git's "racy" files). The
chunking settings are part of the record: other settings split every file again. Sources
with no file (pages of the course site) have no fingerprint and are always read.
"""

from __future__ import annotations

import hashlib
import json
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path

from ingest.sources import SourceFile

RECENT_NS = 2_000_000_000  # a file modified this recently is hashed again next time


@dataclass(frozen=True)
class FileRecord:
    """What the index holds of one source: its file's fingerprint ("" when it has no
    file) and the number of its chunks."""

    size: int
    mtime_ns: int
    sha256: str
    chunks: int

    def fingerprint(self) -> tuple[int, int, str]:
        return self.size, self.mtime_ns, self.sha256


def read_files(text: str, split: str) -> dict[str, FileRecord] | None:
    """The records a manifest's `files` holds; None when it holds none, or holds them for
    other chunking settings than `split`.

    >>> read_files(write_files({"k/a.md": FileRecord(3, 9, "ab", 2)}, "900/120"), "900/120")
    {'k/a.md': FileRecord(size=3, mtime_ns=9, sha256='ab', chunks=2)}
    >>> read_files(write_files({}, "900/120"), "500/50") is None
    True
    """
    if not text:
        return None
    data = json.loads(text)
    if data.get("split") != split:
        return None
    return {source: FileRecord(*record) for source, record in data["files"].items()}


def write_files(records: dict[str, FileRecord], split: str) -> str:
    """`records` as a manifest keeps them (compact JSON, sources sorted)."""
    files = {s: [r.size, r.mtime_ns, r.sha256, r.chunks] for s, r in sorted(records.items())}
    return json.dumps({"split": split, "files": files}, separators=(",", ":"))


@dataclass
class FileCheck:
    """Decides, file by file, whether a file is the one the index holds (`__call__`), and
    remembers the fingerprint it found for every file it looked at (`found`).

    Attributes:
        stored: The records of the index's manifest (empty: every file is read).
        max_file_bytes: Largest file hashed (a larger one the loader skips).
        found: (size, mtime_ns, sha256) by source, taken before the file was read.
        hashed: How many files were read to be hashed (their size or time had changed).
    """

    stored: dict[str, FileRecord]
    max_file_bytes: int
    found: dict[str, tuple[int, int, str]] = field(default_factory=dict)
    hashed: int = 0

    def __call__(self, file: SourceFile) -> bool:
        """Whether `file` is unchanged since the index took its chunks."""
        try:
            info = file.path.stat()
        except OSError:
            return False  # the loader names the problem
        if not stat.S_ISREG(info.st_mode) or info.st_size > self.max_file_bytes:
            return False  # a pipe would block; the loader skips both, naming why
        record = self.stored.get(file.source)
        if (
            record
            and record.sha256
            and (record.size, record.mtime_ns)
            == (
                info.st_size,
                info.st_mtime_ns,
            )
        ):
            self.found[file.source] = record.fingerprint()
            return True
        sha = _sha256(file.path)
        if sha is None:
            return False
        self.hashed += 1
        recent = time.time_ns() - info.st_mtime_ns < RECENT_NS
        self.found[file.source] = (info.st_size, 0 if recent else info.st_mtime_ns, sha)
        return bool(record) and record.sha256 == sha


def _sha256(path: Path) -> str | None:
    """The file's SHA-256, or None when it cannot be read (the loader then says why)."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as stream:
            for block in iter(lambda: stream.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        return None
    return digest.hexdigest()
