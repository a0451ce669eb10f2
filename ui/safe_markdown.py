"""Markdown built from course and learner text: links that cannot break out, text that stays text.

A citation's URL comes from a knowledge file's `page`, and its label from headings; an old
index, or a page that slipped past the loader, must not turn `/x) ![t](http://host/p.png`
into an image the learner's browser fetches. An answer's markers `[n]` link to its citations
the same way.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import quote

# Kept as they are in a link destination; everything else (spaces, brackets, parentheses,
# `<>`, quotes, `$`, backslashes, non-ASCII) is %-escaped. `%` stays so escapes stay single.
_URL_SAFE = "/:?#@!&*+,;=%~-._"
_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~<>$:])")


def escape(text: str) -> str:
    """Text shown literally in Markdown: every special character backslash-escaped.

    >>> escape("![t](http://host/p.png)")
    '\\\\!\\\\[t\\\\]\\\\(http\\\\://host/p\\\\.png\\\\)'
    """
    return _SPECIAL.sub(r"\\\1", text)


def url(address: str) -> str:
    """An address safe to put in a Markdown link destination.

    >>> url("https://x.org/c/faq#exam-fees")
    'https://x.org/c/faq#exam-fees'
    >>> url("https://x.org/c/x) ![t](http://host/p.png#a")
    'https://x.org/c/x%29%20!%5Bt%5D%28http://host/p.png#a'
    """
    return quote(address, safe=_URL_SAFE)


def link(label: str, address: str) -> str:
    """A Markdown link whose label is shown literally and whose address cannot break out.

    >>> link("Faq › Fees [draft]", "https://x.org/faq#fees")
    '[Faq › Fees \\\\[draft\\\\]](https://x.org/faq#fees)'
    """
    return f"[{escape(label)}]({url(address)})"


_MARKER = re.compile(r"\[(\d+)\](?!\()")  # a citation marker, not the label of a link


def link_markers(text: str, addresses: Mapping[int, str]) -> str:
    """Markdown text with each citation marker `[n]` a link to its citation's address.

    A marker without an address (no such citation, or no course site) stays as it is.

    >>> link_markers("Online. [1][2]", {1: "https://x.org/faq#online"})
    'Online. [\\\\[1\\\\]](https://x.org/faq#online)[2]'
    """

    def linked(marker: re.Match[str]) -> str:
        address = addresses.get(int(marker[1]))
        return link(marker[0], address) if address else marker[0]

    return _MARKER.sub(linked, text)
