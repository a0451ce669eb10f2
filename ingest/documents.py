"""The small data types that flow from loading to citing: source documents and chunks."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from typing import Any, Literal

ChunkKind = Literal["text", "faq", "table_row"]


@dataclass(frozen=True)
class SourceDocument:
    """A loaded file, normalised to Markdown so one splitter serves every format.

    Attributes:
        source: Name of the file in the index: the knowledge folder's name and the path
            below it, e.g. `knowledge/faq.md`, the same from any working folder and never
            a server path (see `ingest.sources`).
        title: Document title, from front matter, `<title>`, PDF metadata or the file name.
        page: Path of the document's page on the course site, e.g. `/syllabus`; checked at
            load time, so it cannot break out of a link. For a page ingested from the web,
            the URL it was fetched from (after redirects), %-escaped where a link needs it.
        markdown: Body of the document as Markdown, without front matter.
        kind: Format the file was read from.
    """

    source: str
    title: str
    page: str
    markdown: str
    kind: Literal["markdown", "text", "html", "pdf"]


@dataclass(frozen=True)
class Chunk:
    """A piece of one section of one document: the unit that is embedded, retrieved and cited.

    Attributes:
        id: Deterministic id from source, anchor and position, stable across re-ingests.
        text: The chunk's own words, quoted verbatim in citations.
        source: Name of the file the chunk came from, e.g. `knowledge/faq.md`.
        title: Title of that document.
        section: Heading path, e.g. `Syllabus > Foundation level > Common mistakes`.
        anchor: Slug of the innermost heading, e.g. `common-mistakes`.
        page: Path of the document's page on the course site.
        kind: `faq` for a question with its answer, `table_row` for one row with its
            headers, `text` otherwise.
    """

    id: str
    text: str
    source: str
    title: str
    section: str
    anchor: str
    page: str
    kind: ChunkKind = "text"

    @property
    def content_hash(self) -> str:
        """Hash of everything that, when changed, needs the chunk embedded again."""
        return stable_hash(self.section, self.text, self.kind, self.title, self.page)

    @property
    def embedding_text(self) -> str:
        """What the embedder sees: the heading path gives a short answer its context."""
        return f"{self.section}\n{self.text}"

    def url(self, base_url: str) -> str:
        """Link to the chunk's section on the course site (a fetched page: its own URL).

        >>> Chunk("i", "t", "s", "T", "S", "common-mistakes", "/syllabus").url("https://x.org/c/")
        'https://x.org/c/syllabus#common-mistakes'
        >>> Chunk("i", "t", "s", "T", "S", "fees", "https://site.org/faq").url("https://x.org/c")
        'https://site.org/faq#fees'
        """
        return f"{page_url(base_url, self.page)}#{self.anchor}"

    def metadata(self) -> dict[str, Any]:
        """Flat metadata as stored beside the vector (Chroma accepts str, int, float, bool)."""
        data = asdict(self)
        del data["id"], data["text"]
        data["content_hash"] = self.content_hash
        return data

    @classmethod
    def from_record(cls, id: str, text: str, metadata: dict[str, Any]) -> Chunk:
        """Rebuild a chunk from what the store returned."""
        fields = {k: metadata[k] for k in ("source", "title", "section", "anchor", "page")}
        return cls(id=id, text=text, kind=metadata.get("kind", "text"), **fields)


def page_url(base_url: str, page: str) -> str:
    """The address of a page: the site's base URL and the page's path, or, for a page
    ingested from the web (`ingest --url`), the URL it was fetched from.

    >>> page_url("https://x.org/c/", "/faq"), page_url("https://x.org/c", "http://site.org/faq")
    ('https://x.org/c/faq', 'http://site.org/faq')
    """
    if page.startswith(("https://", "http://")):
        return page
    return f"{base_url.rstrip('/')}/{page.lstrip('/')}"


def stable_hash(*parts: str, length: int = 20) -> str:
    """Short SHA-256 hex digest of the parts, joined unambiguously.

    >>> stable_hash("a", "b") == stable_hash("a", "b") != stable_hash("ab", "")
    True
    """
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
    return digest[:length]
