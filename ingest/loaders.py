"""Loaders for Markdown (with front matter), plain text, HTML and PDF, each into Markdown."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from ingest.documents import SourceDocument
from ingest.sources import (
    MAX_FILE_BYTES,
    LoadError,
    Skipped,
    SourceFile,
    decode_text,
    find_sources,
    read_source,
    source_name,
)

MARKDOWN_SUFFIXES = {".md", ".markdown"}
TEXT_SUFFIXES = {".txt", ".text"}
HTML_SUFFIXES = {".html", ".htm"}
PDF_SUFFIXES = {".pdf"}
SUPPORTED_SUFFIXES = MARKDOWN_SUFFIXES | TEXT_SUFFIXES | HTML_SUFFIXES | PDF_SUFFIXES
MAX_TITLE_CHARS = 300  # a title longer than this is cut: it names every chunk of the file
# A page on the course site: `/` and segments of unreserved characters or %-escapes, so it
# cannot end a Markdown link, add a query or anchor, or name another host (`//host`).
_SITE_PATH = re.compile(r"(/([A-Za-z0-9._~-]|%[0-9A-Fa-f]{2})*)+")


@dataclass
class LoadResult:
    """Documents that loaded, files that did not, and files ignored as unsupported.

    `scopes` are the names of the files and folders loaded (see `ingest.sources.Found`);
    `unchanged` the files not read because the index holds them as they are.
    """

    documents: list[SourceDocument] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    scopes: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def load_documents(
    paths: Iterable[Path],
    *,
    root: Path | None = None,
    max_file_bytes: int = MAX_FILE_BYTES,
    follow_links_outside: bool = False,
    unchanged: Callable[[SourceFile], bool] | None = None,
) -> LoadResult:
    """Load every supported file under the given files and folders.

    A file that fails is recorded in `skipped` and the others still load. In folders,
    hidden files and files of unsupported types are listed in `ignored`; a file named
    explicitly with an unsupported type is skipped. Each document is named relative to the
    knowledge folder (`knowledge/faq.md`), see `ingest.sources`.

    Args:
        paths: Files and folders to read.
        root: The knowledge folder; None names each folder given after itself.
        max_file_bytes: Largest file read; a larger one is skipped.
        follow_links_outside: Follow symbolic links that lead out of the knowledge folder.
        unchanged: Says which files the index holds as they are: those are listed in
            `unchanged`, not read (see `ingest.fingerprints`).

    Returns:
        The loaded documents, sorted by source, with what was skipped or ignored.
    """
    found = find_sources(paths, root=root, follow_links_outside=follow_links_outside)
    result = LoadResult(skipped=found.skipped, scopes=found.scopes)
    for file in found.files:
        if file.path.suffix.lower() not in SUPPORTED_SUFFIXES:
            if file.explicit:
                reason = f"unsupported file type {file.path.suffix!r}"
                result.skipped.append(Skipped(file.source, reason))
            else:
                result.ignored.append(file.source)
            continue
        if unchanged is not None and unchanged(file):
            result.unchanged.append(file.source)
            continue
        try:
            result.documents.append(
                load_document(file.path, source=file.source, max_file_bytes=max_file_bytes)
            )
        except LoadError as error:
            result.skipped.append(Skipped(file.source, str(error)))
    result.documents.sort(key=lambda d: d.source)
    return result


def load_document(
    path: Path, *, source: str | None = None, max_file_bytes: int = MAX_FILE_BYTES
) -> SourceDocument:
    """Load one file by its suffix.

    Args:
        path: The file.
        source: Its name in the index; None names it after its folder (`knowledge/faq.md`).
        max_file_bytes: Largest file read.

    Raises:
        LoadError: The file is unreadable, not a regular file, over the size limit, empty,
            binary, not UTF-8, has broken front matter or a `page` that is not a site path,
            or holds no text.
    """
    source = source or source_name(path)
    suffix = path.suffix.lower()
    data = read_source(path, max_file_bytes)
    if suffix in PDF_SUFFIXES:
        return _load_pdf(path, source, data, max_file_bytes)
    text = decode_text(data)
    if suffix in MARKDOWN_SUFFIXES:
        return _load_markdown(path, source, text)
    if suffix in HTML_SUFFIXES:
        return _load_html(path, source, text)
    return SourceDocument(source, _title_from_name(path), _page_from_name(path), text, "text")


def _load_markdown(path: Path, source: str, text: str) -> SourceDocument:
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
    page = _site_path(meta["page"]) if meta.get("page") else _page_from_name(path)
    return SourceDocument(source, _short(title), page, body, "markdown")


def _load_html(path: Path, source: str, text: str) -> SourceDocument:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(text, "html.parser")
    for tag in soup(["script", "style", "nav", "footer", "noscript"]):
        tag.decompose()
    markdown = html_to_markdown(soup.body or soup)
    if not markdown.strip():
        raise LoadError("HTML page has no visible text")
    head_title = soup.title.get_text(strip=True) if soup.title else ""
    title = head_title or _first_heading(markdown) or _title_from_name(path)
    return SourceDocument(source, _short(title), _page_from_name(path), markdown, "html")


def html_to_markdown(root) -> str:  # noqa: ANN001 - a bs4 Tag
    """The headings, paragraphs, list items, tables and code of an HTML element, as Markdown
    (HTML files, and pages fetched from the course site by `ingest.web_pages`)."""
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


def _load_pdf(path: Path, source: str, data: bytes, max_chars: int) -> SourceDocument:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

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
    if (chars := sum(len(p) for p in pages)) > max_chars:  # a small PDF can hold a lot
        raise LoadError(
            f"PDF holds {chars:,} characters of text, over the limit of {max_chars:,}; "
            "split it into smaller files or raise CERT_ASSISTANT_MAX_FILE_BYTES"
        )
    title = str(meta_title or _title_from_name(path))
    sections = [
        f"## Page {number}\n\n{text.strip()}"
        for number, text in enumerate(pages, start=1)
        if text.strip()
    ]
    markdown = "\n\n".join(sections)
    return SourceDocument(source, _short(title), _page_from_name(path), markdown, "pdf")


def _first_heading(markdown: str) -> str | None:
    for line in markdown.splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return None


def _site_path(value: object) -> str:
    """A front matter `page` checked to be a path on the course site.

    >>> _site_path("/syllabus"), _site_path("/guides/exam-day")
    ('/syllabus', '/guides/exam-day')
    """
    page = str(value).strip()
    segments = page.split("/")[1:]
    if (
        not _SITE_PATH.fullmatch(page)
        or page.startswith("//")
        or any(s in (".", "..") for s in segments)
    ):
        shown = page if len(page) <= 80 else page[:80] + "…"
        raise LoadError(
            "front matter `page` must be a path on the course site such as /syllabus "
            f"(letters, digits, '-', '_', '.', '~', '/' and %-escapes), not {shown!r}"
        )
    return page


def _page_from_name(path: Path) -> str:
    """The page of a file without one: its name, %-escaped where a URL needs it.

    >>> _page_from_name(Path("study_notes.txt")), _page_from_name(Path("Exam (draft).md"))
    ('/study_notes', '/Exam%20%28draft%29')
    """
    return "/" + quote(path.stem, safe="")


def _short(title: str) -> str:
    return title if len(title) <= MAX_TITLE_CHARS else title[: MAX_TITLE_CHARS - 1] + "…"


def _title_from_name(path: Path) -> str:
    return path.stem.replace("-", " ").replace("_", " ").strip().capitalize()
