"""A course page fetched from the web, as a document: its main content, headings and their ids.

The page's main landmark (`<main>`, `role="main"`, else `<article>`, else the body) is kept
and converted by the HTML loader's own converter, so a page reads like an HTML file in the
knowledge folder. Navigation, sidebars and footers are dropped. Each heading keeps the id
the page gives it (its own, an anchor inside it, or the `<section>` it opens), written
`## Heading {#id}`, so the splitter uses the page's real anchors and a citation lands on
the heading. (trafilatura was tried: it kept the same text and headings of the course pages
but drops heading ids and brings a dozen packages, so the HTML loader's converter is used.)
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit, urlunsplit

from ingest.documents import SourceDocument
from ingest.loaders import MAX_TITLE_CHARS, html_to_markdown
from ingest.sources import LoadError

HEADINGS = ["h1", "h2", "h3", "h4", "h5", "h6"]
_BOILERPLATE = ["script", "style", "noscript", "template", "nav", "aside", "footer", "form"]
# Kept as they are in a page URL; the rest (spaces, quotes, parentheses, brackets) is
# %-escaped, so the URL cannot break out of a Markdown link in a citation.
_URL_SAFE = "/:@!$&*+,;=%~-._?"


def page_document(html: bytes, url: str, encoding: str | None = None) -> SourceDocument:
    """The document of one fetched page, known and cited by the URL it was fetched from.

    Args:
        html: The page's bytes.
        url: Its final URL (after redirects), without a fragment.
        encoding: The charset the server declared, if any (else the page's own `<meta>`).

    Raises:
        LoadError: The page holds no visible text in its main content.
    """
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser", from_encoding=encoding)
    content = main_content(soup)
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    title = " ".join(title.split()) or _first_heading(content) or page_address(url)
    for heading in content.find_all(HEADINGS):
        anchor = heading_id(heading)
        if anchor:
            heading.append(f" {{#{quote(anchor, safe='-._~:')}}}")
    markdown = html_to_markdown(content)
    if not markdown.strip():
        raise LoadError("page has no visible text in its main content")
    if len(title) > MAX_TITLE_CHARS:
        title = title[: MAX_TITLE_CHARS - 1] + "…"
    address = page_address(url)
    return SourceDocument(address, title, address, markdown, "html")


def main_content(soup):  # noqa: ANN001, ANN201 - bs4 objects
    """The page's main content without navigation, sidebars, footers, forms or scripts."""
    main = soup.find("main") or soup.find(attrs={"role": "main"}) or soup.find("article")
    content = main or soup.body or soup
    dropped = _BOILERPLATE if main is not None else [*_BOILERPLATE, "header"]
    for tag in content.find_all(dropped):
        tag.decompose()
    for tag in content.find_all(attrs={"hidden": True}):
        tag.decompose()
    return content


def heading_id(heading) -> str | None:  # noqa: ANN001 - a bs4 Tag
    """The id a link to this heading uses: its own, an anchor's inside it, or its section's.

    A heading without one gets its slug from the splitter (the page's top, for browsers).
    """
    if heading.get("id"):
        return heading["id"].strip() or None
    inner = heading.find(lambda tag: tag.get("id") or (tag.name == "a" and tag.get("name")))
    if inner is not None:
        return (inner.get("id") or inner.get("name")).strip() or None
    section = heading.parent
    if (
        section is not None
        and section.name == "section"
        and section.get("id")
        and section.find(HEADINGS) is heading
    ):
        return section["id"].strip() or None
    return None


def page_address(url: str) -> str:
    """A page URL as the index keeps it: no fragment, and %-escaped where a link needs it.

    >>> page_address("http://127.0.0.1:8000/course/exam day (draft)#top")
    'http://127.0.0.1:8000/course/exam%20day%20%28draft%29'
    """
    parts = urlsplit(url)
    path = quote(parts.path or "/", safe=_URL_SAFE)
    query = quote(parts.query, safe=_URL_SAFE)
    return urlunsplit((parts.scheme, parts.netloc.lower(), path, query, ""))


def _first_heading(content) -> str:  # noqa: ANN001 - a bs4 Tag
    heading = content.find(HEADINGS)
    text = heading.get_text(" ", strip=True) if heading is not None else ""
    return " ".join(text.split())
