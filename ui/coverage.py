"""What the assistant covers, for learners: the course's pages and their sections, with links.

Read from the index (every chunk knows its document, page and heading path), so it shows what
the assistant can answer from, never where the files or the model live.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ingest import Chunk, slugify
from ingest.documents import page_url

if TYPE_CHECKING:
    from retrieval import Assistant


@dataclass(frozen=True)
class CoveredSection:
    """A top-level section of a course page; `url` is None when there is no course site."""

    title: str
    url: str | None


@dataclass(frozen=True)
class CoveredPage:
    """A course page with its top-level sections, in alphabetical order (the index keeps no
    document order)."""

    title: str
    url: str | None
    sections: tuple[CoveredSection, ...]


def course_contents(chunks: Iterable[Chunk], base_url: str) -> list[CoveredPage]:
    """The pages the chunks come from, each with its top-level sections, by title.

    A section is the first heading under the page title in a chunk's heading path; its link
    uses the anchor the index recorded for it, or the heading's slug when all its text sits
    in subsections.

    Args:
        chunks: Every chunk of the index.
        base_url: The course site (`Settings.site_base_url`); empty means no links.

    >>> chunks = [
    ...     Chunk("1", "t", "faq.md", "FAQ", "FAQ > Exams > Is it online?", "is-it-online", "/faq"),
    ...     Chunk("2", "t", "faq.md", "FAQ", "FAQ > Costs", "costs", "/faq"),
    ...     Chunk("3", "t", "faq.md", "FAQ", "FAQ", "faq", "/faq"),
    ... ]
    >>> [page] = course_contents(chunks, "https://x.org/c/")
    >>> page.title, page.url
    ('FAQ', 'https://x.org/c/faq')
    >>> [(s.title, s.url) for s in page.sections]
    [('Costs', 'https://x.org/c/faq#costs'), ('Exams', 'https://x.org/c/faq#exams')]
    """
    pages: dict[tuple[str, str], dict[str, str | None]] = {}
    for chunk in chunks:
        sections = pages.setdefault((chunk.title, chunk.page), {})
        path = chunk.section.split(" > ")
        if len(path) < 2:  # the page's own introduction
            continue
        if len(path) == 2:  # the section's own text: the anchor the index gave it
            sections[path[1]] = chunk.anchor
        else:
            sections.setdefault(path[1], None)
    return [
        CoveredPage(
            title,
            _link(base_url, page),
            tuple(
                CoveredSection(name, _link(base_url, page, anchor or slugify(name)))
                for name, anchor in sorted(sections.items(), key=lambda s: s[0].casefold())
            ),
        )
        for (title, page), sections in sorted(pages.items(), key=lambda p: p[0][0].casefold())
    ]


def assistant_contents(assistant: Assistant) -> list[CoveredPage]:
    """What the assistant's index covers now, linked to its course site."""
    chunks = assistant.retriever.lexical().index.chunks  # follows the active index generation
    return course_contents(chunks, assistant.settings.site_base_url)


def _link(base_url: str, page: str, anchor: str = "") -> str | None:
    """The address of a page (and section) on the course site; None without a site."""
    if not base_url.strip() and not page.startswith(("https://", "http://")):
        return None  # a fetched page links to itself even without a site
    address = page_url(base_url, page)
    return f"{address}#{anchor}" if anchor else address
