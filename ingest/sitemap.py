"""Sitemaps (sitemaps.org): the pages a course site lists, and the folder they speak for.

A sitemap at `https://site/course/sitemap.xml` may list only pages below
`https://site/course/` (the protocol's rule), so that folder is what it speaks for: a page
indexed from it that the sitemap no longer lists is gone, as a file gone from the knowledge
folder is. A sitemap index lists further sitemaps; gzip-compressed sitemaps are read too.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit
from xml.etree import ElementTree

from ingest.sources import LoadError


@dataclass(frozen=True)
class Sitemap:
    """What one sitemap file lists: pages, or (a sitemap index) more sitemaps."""

    pages: list[str] = field(default_factory=list)
    sitemaps: list[str] = field(default_factory=list)


def parse_sitemap(data: bytes, max_bytes: int) -> Sitemap:
    """The `<loc>` addresses of a `<urlset>` or `<sitemapindex>`, in order, without repeats.

    Python's XML parser refuses external entities and expands nested entities within
    limits (expat 2.4+), so a hostile sitemap cannot read files or exhaust memory.

    >>> xml = b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
    >>> xml += b'<url><loc> https://x.org/c/faq </loc></url><url><loc>https://x.org/c/</loc></url>'
    >>> parse_sitemap(xml + b'</urlset>', 10_000).pages
    ['https://x.org/c/faq', 'https://x.org/c/']

    Raises:
        LoadError: The file is not a sitemap, not valid XML, or unpacks to over `max_bytes`.
    """
    if data.startswith(b"\x1f\x8b"):
        data = _gunzip(data, max_bytes)
    try:
        root = ElementTree.fromstring(data)
    except ElementTree.ParseError as error:
        raise LoadError(f"sitemap is not valid XML ({error})") from error
    kind = _local(root.tag)
    if kind not in ("urlset", "sitemapindex"):
        raise LoadError(f"not a sitemap: its root element is <{kind}>, not <urlset>")
    locations = [
        loc.text.strip()
        for entry in root
        for loc in entry
        if _local(loc.tag) == "loc" and loc.text and loc.text.strip()
    ]
    unique = list(dict.fromkeys(locations))
    return Sitemap(pages=unique) if kind == "urlset" else Sitemap(sitemaps=unique)


def sitemap_folder(url: str) -> str:
    """The folder a sitemap speaks for: its URL up to the last `/`.

    >>> sitemap_folder("https://x.org/course/sitemap.xml"), sitemap_folder("https://X.org/s.xml")
    ('https://x.org/course/', 'https://x.org/')
    """
    parts = urlsplit(url)
    folder = parts.path.rsplit("/", 1)[0] + "/"
    return urlunsplit((parts.scheme, parts.netloc.lower(), folder, "", ""))


def _gunzip(data: bytes, max_bytes: int) -> bytes:
    unpacker = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        plain = unpacker.decompress(data, max_bytes + 1)
    except zlib.error as error:
        raise LoadError(f"sitemap is not valid gzip ({error})") from error
    if len(plain) > max_bytes:
        raise LoadError(
            f"sitemap unpacks to over {max_bytes / 1e6:g} MB; raise CERT_ASSISTANT_MAX_FILE_BYTES"
        )
    return plain


def _local(tag: str) -> str:
    """An element's name without its namespace: `{http://…/0.9}url` → `url`."""
    return tag.rsplit("}", 1)[-1]
