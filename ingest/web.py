"""The course site as a source: pages by URL or sitemap, fetched politely, indexed like files.

Each page becomes a `SourceDocument` named and cited by the URL it was fetched from, so the
rest of the ingest (split, embed what changed, write a generation) is the files' own. What
a page looked like is kept beside the index, per requested URL (`ChunkStore.web_pages`):
its Markdown, final URL, title, ETag and Last-Modified. The next ingest asks the site with
those validators, and a 304 rebuilds the document from the copy kept, so it costs no
download and no embedding. A page that fails for a passing reason (a timeout, a 5xx) keeps
its last good version, as a file that cannot be read does; a 404 or 410, or a page its
sitemap no longer lists, is deleted from the index. A sitemap speaks for the folder it lies
in (`ingest.sitemap`); a page given with `--url` for itself only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from langchain_core.embeddings import Embeddings

from cert_core.errors import CertAssistantError
from ingest.documents import SourceDocument
from ingest.loaders import LoadResult
from ingest.pipeline import IngestReport, ingest
from ingest.sitemap import parse_sitemap, sitemap_folder
from ingest.sources import LoadError, Skipped
from ingest.store import ChunkStore
from ingest.web_fetch import FetchError, FetchOptions, PoliteClient
from ingest.web_pages import page_address, page_document

_HTML_TYPES = ("text/html", "application/xhtml+xml")
Kept = dict[str, tuple[str, dict[str, str]]]  # requested URL -> (Markdown, page record)


class WebSourceError(CertAssistantError):
    """A URL given on the command line that cannot be a page of the course site."""


@dataclass
class SiteReport:
    """What an ingest of the course site did, page by page; `index` counts the chunks.

    Attributes:
        fetched: Pages downloaded and read (200).
        not_modified: Pages the site said were unchanged (304): their kept copy was used.
        removed: Pages deleted from the index: gone (404, 410) or no longer in their sitemap.
        failed: Every URL (page or sitemap) that could not be read, with the reason.
    """

    index: IngestReport
    fetched: int = 0
    not_modified: int = 0
    removed: list[str] = field(default_factory=list)
    failed: list[Skipped] = field(default_factory=list)


@dataclass
class _Run:
    """What one load gathered: the documents and scopes, and what to keep beside the index."""

    loaded: LoadResult = field(default_factory=LoadResult)
    keep: Kept = field(default_factory=dict)
    drop: set[str] = field(default_factory=set)
    fetched: int = 0
    not_modified: int = 0


def ingest_site(
    urls: Sequence[str],
    sitemaps: Sequence[str],
    store: ChunkStore,
    embedder: Embeddings | Callable[[], Embeddings],
    *,
    model: str,
    options: FetchOptions,
    chunk_size: int = 900,
    chunk_overlap: int = 120,
    progress: bool = True,
) -> SiteReport:
    """Bring the index in step with pages of the course site, given by URL or sitemap.

    Args:
        urls: Pages to index, each for itself.
        sitemaps: Sitemaps whose pages to index; pages they no longer list are deleted.
        store: The Chroma index.
        embedder: Embeddings, or a callable that builds them when something changed.
        model: Id of the embedding model.
        options: Allowed hosts, pacing, timeouts and retries.
        chunk_size: Largest chunk in characters.
        chunk_overlap: Characters carried between chunks of a section.
        progress: Show a progress bar while embedding.

    Returns:
        Page counts, failures named by URL, and the chunk counts of the ingest.

    Raises:
        WebSourceError: A URL given is not an http(s) URL (checked before anything is read).
    """
    for url in [*urls, *sitemaps]:
        check_url(url)
    run = _Run()

    def load() -> LoadResult:  # called by `ingest` holding the index
        asyncio.run(_load_site(urls, sitemaps, store.web_pages(), options, run))
        return run.loaded

    report = ingest(
        [],
        store,
        embedder,
        model=model,
        chunk_size=chunk_size,
        chunk_overlap=chunk_overlap,
        progress=progress,
        load=load,
    )
    # Kept only once the index holds what they describe; a copy older than the index
    # just makes the next ingest download the page again.
    store.save_web_pages(run.keep, sorted(run.drop))
    return SiteReport(
        report,
        run.fetched,
        run.not_modified,
        sorted(run.drop),
        run.loaded.skipped,
    )


def given_hosts(urls: Sequence[str]) -> frozenset[str]:
    """The hosts of the URLs given, the allowed hosts when no setting names them.

    >>> sorted(given_hosts(["https://X.org/c/faq", "http://127.0.0.1:8123/sitemap.xml"]))
    ['127.0.0.1:8123', 'x.org']
    """
    return frozenset(urlsplit(check_url(url)).netloc for url in urls)


def check_url(url: str) -> str:
    """A URL from the command line as the index names its page, or why it cannot be one.

    >>> check_url("https://Courses.example.com/c/faq#fees")
    'https://courses.example.com/c/faq'

    Raises:
        WebSourceError: It is not an http(s) URL with a host.
    """
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebSourceError(f"{url!r} is not an http(s) URL such as https://site.org/course/faq")
    return page_address(url.strip())


async def _load_site(
    urls: Sequence[str], sitemaps: Sequence[str], kept: Kept, options: FetchOptions, run: _Run
) -> None:
    async with PoliteClient(options) as client:
        pages = {check_url(u): None for u in urls}
        run.loaded.scopes += list(pages)
        for sitemap in sitemaps:
            for page in await _sitemap_pages(client, check_url(sitemap), run):
                pages.setdefault(page, None)
        await asyncio.gather(*(_load_page(client, url, kept.get(url), run) for url in pages))
    # Pages the index kept from a sitemap that no longer lists them: gone, and so is the
    # page a redirect led them to, even outside the sitemap's folder.
    for url, (_, record) in kept.items():
        if url not in pages and _in_scope(url, record, run.loaded.scopes):
            run.drop.add(url)
            run.loaded.scopes.append(record.get("final", url))
    run.loaded.documents.sort(key=lambda d: d.source)
    run.loaded.skipped.sort(key=lambda s: s.source)


async def _sitemap_pages(
    client: PoliteClient, url: str, run: _Run, nested: bool = False
) -> list[str]:
    """The pages a sitemap (or the sitemaps of a sitemap index) lists; its folder is in scope."""
    try:
        fetched = await client.fetch(url)
        sitemap = parse_sitemap(fetched.body, client.options.max_bytes)
        if sitemap.sitemaps and nested:
            raise LoadError("a sitemap index inside a sitemap index is not followed")
        if not sitemap.pages and not sitemap.sitemaps:
            # An empty sitemap is more likely a broken publish than a site with no pages.
            raise LoadError("sitemap lists no pages; nothing is deleted")
    except (FetchError, LoadError) as error:
        run.loaded.skipped.append(Skipped(url, f"sitemap: {error}"))
        return []
    pages = [page_address(p) for p in sitemap.pages if urlsplit(p).scheme in ("http", "https")]
    for child in sitemap.sitemaps:
        pages += await _sitemap_pages(client, page_address(child), run, nested=True)
    if sitemap.pages:
        run.loaded.scopes.append(sitemap_folder(fetched.url) + "*")
    return pages


async def _load_page(
    client: PoliteClient, url: str, kept: tuple[str, dict[str, str]] | None, run: _Run
) -> None:
    """Fetch one page (conditionally when a copy is kept) and add its document, or its
    failure; a page that fails for a passing reason keeps its last good version."""
    record = kept[1] if kept else {}
    try:
        fetched = await client.fetch(url, record)
        if fetched.status == 304:
            if kept is None:
                raise LoadError("HTTP 304 Not Modified to a request that was not conditional")
            final = record.get("final", url)
            document = SourceDocument(final, record.get("title", final), final, kept[0], "html")
            run.not_modified += 1
        else:
            media = fetched.content_type.split(";")[0].strip().lower()
            if media and media not in _HTML_TYPES:
                raise LoadError(f"not an HTML page (Content-Type: {media})")
            document = page_document(fetched.body, page_address(fetched.url), fetched.encoding)
            run.keep[url] = (
                document.markdown,
                _record(document, fetched.etag, fetched.last_modified),
            )
            run.fetched += 1
    except (FetchError, LoadError) as error:
        gone = isinstance(error, FetchError) and error.gone
        run.loaded.skipped.append(Skipped(url, str(error), keep_indexed=not gone))
        if gone:
            run.loaded.scopes += [url, record.get("final", url)]
            if kept is not None:
                run.drop.add(url)
        elif kept is not None:  # its last good version stays searchable
            final = record.get("final", url)
            run.loaded.documents.append(
                SourceDocument(final, record.get("title", final), final, kept[0], "html")
            )
        return
    run.loaded.scopes.append(document.source)
    run.loaded.documents.append(document)


def _record(document: SourceDocument, etag: str, last_modified: str) -> dict[str, str]:
    return {
        "final": document.source,
        "title": document.title,
        "etag": etag,
        "last_modified": last_modified,
    }


def _in_scope(url: str, record: dict[str, str], scopes: Sequence[str]) -> bool:
    folders = [s[:-1] for s in scopes if s.endswith("/*")]
    names = (url, record.get("final", url))
    return any(n in scopes or any(n.startswith(f) for f in folders) for n in names)
