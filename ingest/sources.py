"""Source files: which an ingest reads, the name each is known by, and their bytes, read safely.

A source is named after the folder it lies in, the *knowledge folder*: that folder's name
and the path below it. So the same file has the same name (and the same chunk ids) whether
ingest runs from the project folder, from elsewhere, or is given an absolute path, and no
server path reaches citations. A path given outside the knowledge folder is named the same
way after itself (a folder) or its folder (a file).

Symbolic links are followed only while they stay inside that folder: a link out of it is
skipped unless allowed, and so are loops and links to nothing, each with its reason. A link
to a folder inside it is not followed (its files are found where they are), which also
keeps a link to a parent folder from walking in circles.

Reading refuses what would hang or swamp an ingest (a pipe, a device, a file over the size
limit) and text that is not UTF-8, naming UTF-16 and UTF-32 as such.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

MAX_FILE_BYTES = 10_000_000
_BOMS = {  # longest first: the UTF-32 little-endian mark begins with UTF-16's
    b"\xff\xfe\x00\x00": "UTF-32",
    b"\x00\x00\xfe\xff": "UTF-32",
    b"\xff\xfe": "UTF-16",
    b"\xfe\xff": "UTF-16",
}
LINK_LOOP = "symbolic link loop (the link leads back to itself); fix or remove the link"
LINK_BROKEN = "symbolic link to a file or folder that does not exist; fix or remove the link"
LINK_OUTSIDE = (
    "symbolic link to a file outside the knowledge folder, not followed; copy the file into "
    "the folder, or set CERT_ASSISTANT_FOLLOW_LINKS_OUTSIDE=true to follow such links"
)


class LoadError(Exception):
    """A file that cannot be indexed; the message says why."""


@dataclass(frozen=True)
class Skipped:
    """A file left out of the index, and the reason.

    Attributes:
        source: Name of the file, as in the index.
        reason: Why it was left out, and what to do.
        keep_indexed: Whether its chunks from earlier runs stay searchable: yes for a file
            that could not be read this time, no for a link that leads out of the
            knowledge folder, in circles or nowhere.
    """

    source: str
    reason: str
    keep_indexed: bool = True


@dataclass(frozen=True)
class SourceFile:
    """A file to read, under the name it is indexed by."""

    path: Path
    source: str
    explicit: bool  # named on the command line rather than found in a folder


@dataclass
class Found:
    """Files to read, links and folders skipped, and the names of the paths searched.

    `scopes` are the names of the files and folders given: a stored source equal to one of
    them, or below one, that was not found again is gone from disk.
    """

    files: list[SourceFile] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    scopes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Folder:
    """A folder sources are named after and symbolic links may not leave."""

    path: Path  # absolute, links not resolved: names follow what people see
    real: Path  # links resolved: where links may point

    @classmethod
    def at(cls, path: Path) -> _Folder:
        absolute = Path(os.path.abspath(path))
        return cls(absolute, Path(os.path.realpath(absolute)))

    def name(self, path: Path) -> str:
        """`<folder name>/<path below it>` for a path inside the folder."""
        return PurePosixPath(self.path.name, *path.relative_to(self.path).parts).as_posix()

    def holds(self, real_path: Path) -> bool:
        return real_path == self.real or self.real in real_path.parents


def find_sources(
    paths: Iterable[Path], *, root: Path | None = None, follow_links_outside: bool = False
) -> Found:
    """Every file under the given files and folders, named relative to the knowledge folder.

    Hidden files and folders (`.name`) found in a folder are left out.

    Args:
        paths: Files and folders to search.
        root: The knowledge folder; paths inside it are named after it. None: each folder
            given is its own knowledge folder, and a file given alone is named after its
            folder.
        follow_links_outside: Follow symbolic links that lead out of the knowledge folder.

    Returns:
        The files in the order found (folders sorted by name), and what was skipped.
    """
    found = Found()
    knowledge = _Folder.at(root) if root is not None else None
    for given in paths:
        if not os.path.lexists(given):
            found.skipped.append(Skipped(_as_given(given), "no such file or folder"))
            continue
        folder, path = _folder_of(Path(os.path.abspath(given)), knowledge)
        found.scopes.append(folder.name(path))
        if path.is_symlink():
            target, problem = _follow(path, folder, follow_links_outside)
            if problem is not None:
                found.skipped.append(Skipped(folder.name(path), problem, keep_indexed=False))
                continue
        if path.is_dir():
            open_dirs = {folder.real, Path(os.path.realpath(path))}
            for file in _walk(path, folder, follow_links_outside, open_dirs, found):
                found.files.append(SourceFile(file, folder.name(file), explicit=False))
        else:
            found.files.append(SourceFile(path, folder.name(path), explicit=True))
    return found


def source_name(path: Path) -> str:
    """The name of a file read alone: its folder's name and its own.

    >>> source_name(Path("/srv/course/knowledge/faq.md"))
    'knowledge/faq.md'
    """
    return _Folder.at(Path(path).parent).name(Path(os.path.abspath(path)))


def read_source(path: Path, max_file_bytes: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of a regular file of at most `max_file_bytes`, not blank.

    Raises:
        LoadError: It cannot be read, is not a regular file, is too large or empty.
    """
    try:
        info = path.stat()
        # Checked before reading: a pipe would block and a device never end.
        if not stat.S_ISREG(info.st_mode):
            raise LoadError("not a regular file (a device, pipe or socket); remove it")
        if info.st_size > max_file_bytes:
            raise LoadError(_too_large(info.st_size, max_file_bytes))
        data = path.read_bytes()
    except OSError as error:
        raise LoadError(f"cannot read file: {error.strerror or error}") from error
    if len(data) > max_file_bytes:  # it grew while being read
        raise LoadError(_too_large(len(data), max_file_bytes))
    if not data.strip():
        raise LoadError("file is empty")
    return data


def decode_text(data: bytes) -> str:
    """UTF-8 text (a byte-order mark dropped, line ends made `\\n`), else why not.

    Raises:
        LoadError: The bytes are UTF-16 or UTF-32, binary, not UTF-8, or blank.
    """
    encoding = _wide_encoding(data)
    if encoding:
        raise LoadError(f"file is {encoding} text: save it as UTF-8")
    if b"\x00" in data:
        raise LoadError("file looks binary (it contains NUL bytes), expected text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise LoadError(
            f"file is not valid UTF-8 (byte 0x{data[error.start]:02x} at offset {error.start}); "
            "save it as UTF-8"
        ) from error
    if not text.strip():
        raise LoadError("file is empty")  # e.g. only a UTF-8 byte-order mark and blanks
    return text.replace("\r\n", "\n")


def _folder_of(path: Path, knowledge: _Folder | None) -> tuple[_Folder, Path]:
    """The folder a given path is named after, and the path as seen from that folder."""
    if knowledge is not None:
        if path == knowledge.path or knowledge.path in path.parents:
            return knowledge, path
        # The same place reached another way (an absolute path through a link, say).
        real = Path(os.path.realpath(path.parent)) / path.name
        if knowledge.holds(real):
            return knowledge, knowledge.path / real.relative_to(knowledge.real)
    if path.is_dir():
        return _Folder.at(path), path
    return _Folder.at(path.parent), path


def _walk(
    directory: Path, folder: _Folder, follow_outside: bool, open_dirs: set[Path], found: Found
) -> Iterator[Path]:
    """Files below `directory`, sorted, descending into folders and allowed links.

    `open_dirs` holds the real paths of the folders being walked, so a link that leads
    back into one of them (which would walk in circles) is recognised as a loop.
    """
    try:
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
    except OSError as error:
        found.skipped.append(
            Skipped(folder.name(directory), f"cannot read folder: {error.strerror or error}")
        )
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        path = directory / entry.name
        if not entry.is_symlink():
            if entry.is_dir(follow_symlinks=False):
                real = Path(os.path.realpath(path))
                yield from _walk(path, folder, follow_outside, open_dirs | {real}, found)
            else:
                yield path
            continue
        target, problem = _follow(path, folder, follow_outside)
        if problem is not None:
            found.skipped.append(Skipped(folder.name(path), problem, keep_indexed=False))
        elif not target.is_dir():
            yield path
        elif folder.holds(target):
            continue  # its files are found where they are
        elif any(d == target or target in d.parents for d in open_dirs):
            found.skipped.append(Skipped(folder.name(path), LINK_LOOP, keep_indexed=False))
        else:
            yield from _walk(path, folder, follow_outside, open_dirs | {target}, found)


def _follow(link: Path, folder: _Folder, follow_outside: bool) -> tuple[Path, str | None]:
    """Where a symbolic link leads, or why it is not followed."""
    try:
        target = Path(os.path.realpath(link, strict=True))
    except OSError as error:
        return link, LINK_LOOP if error.errno == errno.ELOOP else LINK_BROKEN
    if not follow_outside and not folder.holds(target):
        return link, LINK_OUTSIDE
    return target, None


def _as_given(path: Path) -> str:
    """A missing path as people know it: from the working folder, else like a file read alone."""
    relative = os.path.relpath(os.path.abspath(path))
    return source_name(path) if relative.startswith("..") else Path(relative).as_posix()


def _too_large(size: int, limit: int) -> str:
    return (
        f"file is {size / 1e6:.1f} MB, over the {limit / 1e6:g} MB limit; split it into "
        "smaller files or raise CERT_ASSISTANT_MAX_FILE_BYTES"
    )


def _wide_encoding(data: bytes) -> str | None:
    """ "UTF-16" or "UTF-32" for text in those encodings (by byte-order mark or zero bytes).

    Without a mark, mostly-ASCII text in UTF-16 has a zero in every other byte.

    >>> _wide_encoding("Exam".encode("utf-16")), _wide_encoding("Exam guide".encode("utf-16-le"))
    ('UTF-16', 'UTF-16')
    >>> _wide_encoding(b"Exam guide"), _wide_encoding(bytes(range(256)))
    (None, None)
    """
    for mark, name in _BOMS.items():
        if data.startswith(mark):
            return name
    sample = data[:4096]
    half = len(sample) // 2
    if half < 2:
        return None
    for zeros, letters in ((sample[1::2], sample[0::2]), (sample[0::2], sample[1::2])):
        if zeros.count(0) >= 0.9 * half and letters.count(0) <= 0.1 * half:
            return "UTF-16"
    return None
