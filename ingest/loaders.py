"""Loaders for Markdown (with front matter), plain text, HTML and PDF, each into Markdown."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ingest.documents import SourceDocument

MARKDOWN_SUFFIXES = {".md", ".markdown"}
TEXT_SUFFIXES = {".txt", ".text"}
HTML_SUFFIXES = {".html", ".htm"}
PDF_SUFFIXES = {".pdf"}
SUPPORTED_SUFFIXES = MARKDOWN_SUFFIXES | TEXT_SUFFIXES | HTML_SUFFIXES | PDF_SUFFIXES


class LoadError(Exception):
    """A file that cannot be indexed; the message says why."""


@dataclass(frozen=True)
class Skipped:
    """A file left out of the index, and the reason."""

    source: str
    reason: str


@dataclass
class LoadResult:
    """Documents that loaded, files that did not, and files ignored as unsupported."""

    documents: list[SourceDocument] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)


def load_documents(paths: Iterable[Path]) -> LoadResult:
    """Load every supported file under the given files and folders.

    A file that fails is recorded in `skipped` and the others still load. In folders,
    hidden files and files of unsupported types are listed in `ignored`; a file named
    explicitly with an unsupported type is skipped.

    Args:
        paths: Files and folders to read.

    Returns:
        The loaded documents, sorted by source, with what was skipped or ignored.
    """
    result = LoadResult()
    for path in paths:
        if not path.exists():
            result.skipped.append(Skipped(display_path(path), "no such file or folder"))
            continue
        for file, explicit in _files_under(path):
            source = display_path(file)
            if file.suffix.lower() not in SUPPORTED_SUFFIXES:
                if explicit:
                    result.skipped.append(Skipped(source, f"unsupported file type {file.suffix!r}"))
                else:
                    result.ignored.append(source)
                continue
            try:
                result.documents.append(load_document(file))
            except LoadError as error:
                result.skipped.append(Skipped(source, str(error)))
    result.documents.sort(key=lambda d: d.source)
    return result


def load_document(path: Path) -> SourceDocument:
    """Load one file by its suffix.

    Raises:
        LoadError: The file is unreadable, empty, binary, not UTF-8, has broken front
            matter, or holds no text.
    """
    suffix = path.suffix.lower()
    if suffix in PDF_SUFFIXES:
        return _load_pdf(path)
    text = _read_text(path)
    if suffix in MARKDOWN_SUFFIXES:
        return _load_markdown(path, text)
    if suffix in HTML_SUFFIXES:
        return _load_html(path, text)
    return SourceDocument(
        source=display_path(path),
        title=_title_from_name(path),
        page=f"/{path.stem}",
        markdown=text,
        kind="text",
    )


def display_path(path: Path) -> str:
    """The path relative to the working folder when inside it, in POSIX form."""
    absolute = path.resolve()
    try:
        return absolute.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return absolute.as_posix()


def _files_under(path: Path) -> Iterable[tuple[Path, bool]]:
    if path.is_file():
        yield path, True
        return
    for root, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith("."):
                yield Path(root) / name, False


def _read_bytes(path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise LoadError(f"cannot read file: {error.strerror or error}") from error
    if not data.strip():
        raise LoadError("file is empty")
    return data


def _read_text(path: Path) -> str:
    data = _read_bytes(path)
    if b"\x00" in data[:8192]:
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


def _load_markdown(path: Path, text: str) -> SourceDocument:
    import yaml
    from frontmatter import YAMLHandler

    # Split and parse here rather than with `frontmatter.loads`, which silently drops
    # front matter that is not a mapping and lets a bad date (a ValueError) escape.
    handler, meta, body = YAMLHandler(), {}, text.strip()
    if handler.detect(body):
        try:
            raw, body = handler.split(body)
        except ValueError as error:
            raise LoadError(
                "front matter starts with '---' but has no closing '---' line"
            ) from error
        try:
            meta = handler.load(raw)
        except (yaml.YAMLError, ValueError) as error:
            reason = str(error).splitlines()[0]
            raise LoadError(f"front matter is not valid YAML: {reason}") from error
        if meta is None:
            meta = {}
    if not isinstance(meta, dict):
        raise LoadError("front matter must be a mapping of `key: value` lines")
    body = body.strip()
    if not body:
        raise LoadError("document has front matter but no content")
    title = str(meta.get("title") or _first_heading(body) or _title_from_name(path))
    page = str(meta.get("page") or f"/{path.stem}")
    return SourceDocument(display_path(path), title, page, body, "markdown")


def _load_html(path: Path, text: str) -> SourceDocument:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(text, "html.parser")
    for tag in soup(["script", "style", "nav", "footer", "noscript"]):
        tag.decompose()
    markdown = _html_to_markdown(soup.body or soup)
    if not markdown.strip():
        raise LoadError("HTML page has no visible text")
    head_title = soup.title.get_text(strip=True) if soup.title else ""
    title = head_title or _first_heading(markdown) or _title_from_name(path)
    return SourceDocument(display_path(path), title, f"/{path.stem}", markdown, "html")


def _html_to_markdown(root) -> str:  # noqa: ANN001 - a bs4 Tag
    blocks: list[str] = []
    wanted = ["h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "table", "pre", "dt", "dd"]
    for element in root.find_all(wanted):
        if element.find_parent(["table", "pre", "li"]) is not None:
            continue  # already emitted as part of its container
        text = " ".join(element.get_text(" ", strip=True).split())
        if element.name == "table":
            blocks.append(_html_table(element))
        elif element.name == "pre":
            blocks.append(f"```\n{element.get_text()}\n```")
        elif not text:
            continue
        elif element.name.startswith("h"):
            blocks.append(f"{'#' * int(element.name[1])} {text}")
        elif element.name == "li":
            blocks.append(f"- {text}")
        else:
            blocks.append(text)
    return "\n\n".join(blocks)


def _html_table(table) -> str:  # noqa: ANN001 - a bs4 Tag
    rows = []
    for tr in table.find_all("tr"):
        cells = [" ".join(c.get_text(" ", strip=True).split()) for c in tr.find_all(["th", "td"])]
        if cells:
            rows.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    if len(rows) > 1:
        width = rows[0].count("|") - 1
        rows.insert(1, "|" + "---|" * width)
    return "\n".join(rows)


def _load_pdf(path: Path) -> SourceDocument:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    data = _read_bytes(path)
    if not data.startswith(b"%PDF"):
        raise LoadError("file has a .pdf name but is not a PDF")
    try:
        import io

        reader = PdfReader(io.BytesIO(data))
        pages = [page.extract_text() or "" for page in reader.pages]
        meta_title = (reader.metadata or {}).get("/Title") if reader.metadata else None
    except (PdfReadError, ValueError, KeyError, OSError) as error:
        raise LoadError(f"PDF cannot be read: {error}") from error
    if not any(p.strip() for p in pages):
        raise LoadError("PDF has no extractable text (is it a scanned image?)")
    title = str(meta_title or _title_from_name(path))
    sections = [
        f"## Page {number}\n\n{text.strip()}"
        for number, text in enumerate(pages, start=1)
        if text.strip()
    ]
    return SourceDocument(display_path(path), title, f"/{path.stem}", "\n\n".join(sections), "pdf")


def _first_heading(markdown: str) -> str | None:
    for line in markdown.splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return None


def _title_from_name(path: Path) -> str:
    return path.stem.replace("-", " ").replace("_", " ").strip().capitalize()
