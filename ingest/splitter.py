"""Split Markdown along its structure: chunks never cross a heading and carry their section."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ingest.documents import Chunk, ChunkKind, SourceDocument, stable_hash

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_EMPHASIS = re.compile(r"(\*\*|__|\*|`)")
# A heading's own anchor, `## Exam fees {#fees}` (Pandoc's and kramdown's syntax): how a web
# page's heading ids reach the index (ingest.web_pages), so citations land on them.
_OWN_ANCHOR = re.compile(r"\s*\{#([A-Za-z0-9._~%:-]+)\}\s*$")
MAX_HEADING_CHARS = 300  # a longer heading is cut: it is repeated in every chunk below it


@dataclass
class _Section:
    path: list[str]
    anchor: str
    blocks: list[str] = field(default_factory=list)
    rows: list[str] = field(default_factory=list)

    @property
    def is_faq(self) -> bool:
        return len(self.path) > 1 and self.path[-1].endswith("?")


def split_documents(
    documents: list[SourceDocument], chunk_size: int = 900, chunk_overlap: int = 120
) -> list[Chunk]:
    """Split every document; see `split_document`."""
    return [c for doc in documents for c in split_document(doc, chunk_size, chunk_overlap)]


def split_document(
    document: SourceDocument, chunk_size: int = 900, chunk_overlap: int = 120
) -> list[Chunk]:
    """Split one document into chunks that follow its headings.

    Each heading opens a section; a chunk holds text of one section only and records the
    section path (document title, then the headings below the H1) and the heading's
    anchor. A section whose heading is a question ("...?") is one FAQ chunk, question and
    answer together (packed like other text when longer than `chunk_size`). Each table row
    becomes a chunk of its own, written as `Header: value; Header: value`, so a row can be
    found and quoted alone. Other text is packed block by block (paragraphs, list items) up
    to `chunk_size` characters, with up to `chunk_overlap` characters of the previous chunk
    repeated at the start of the next. No chunk is longer than `chunk_size`: a longer
    block is split into sentences, and a longer sentence (or row) at the last space before
    the limit, or right at the limit when there is none.

    Args:
        document: A loaded document.
        chunk_size: Largest chunk in characters.
        chunk_overlap: Characters of context carried between consecutive chunks.

    Returns:
        Chunks in document order, with deterministic ids.
    """
    chunks: list[Chunk] = []
    for section in _sections(document):
        pieces: list[tuple[str, ChunkKind]] = []
        if section.is_faq and section.blocks:
            faq = "\n".join([section.path[-1], *section.blocks])
            if len(faq) > chunk_size:  # too long for one chunk: question first, then packed
                faq_pieces = _pack([section.path[-1], *section.blocks], chunk_size, chunk_overlap)
                pieces += [(t, "faq") for t in faq_pieces]
            else:
                pieces.append((faq, "faq"))
        else:
            pieces += [(t, "text") for t in _pack(section.blocks, chunk_size, chunk_overlap)]
        pieces += [(p, "table_row") for row in section.rows for p in split_hard(row, chunk_size)]
        for position, (text, kind) in enumerate(pieces):
            chunks.append(
                Chunk(
                    id=stable_hash(document.source, section.anchor, str(position)),
                    text=text,
                    source=document.source,
                    title=document.title,
                    section=" > ".join(section.path),
                    anchor=section.anchor,
                    page=document.page,
                    kind=kind,
                )
            )
    return chunks


def slugify(heading: str) -> str:
    """GitHub-style anchor of a heading.

    >>> slugify("Foundation level")
    'foundation-level'
    >>> slugify("AIOps / MLOps path")
    'aiops--mlops-path'
    """
    text = _plain(heading).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _sections(document: SourceDocument) -> list[_Section]:
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark").enable("table").parse(document.markdown)
    used: dict[str, int] = {}
    root = _Section([document.title], _unique(slugify(document.title), used))
    sections = [root]
    stack: list[tuple[int, str]] = []  # (heading level, heading text) below the H1
    current = root
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token.type == "heading_open":
            level = int(token.tag[1])
            text, anchor = _heading(tokens[i + 1].content)
            if level == 1 and not stack and len(sections) == 1 and not root.blocks:
                # The H1 names the page itself and replaces the title's provisional anchor,
                # so an H1 equal to the title keeps its own slug instead of `<slug>-1`.
                used.clear()
                root.anchor = _unique(anchor, used)
            else:
                stack = [(lvl, t) for lvl, t in stack if lvl < level] + [(level, text)]
                current = _Section([document.title, *(t for _, t in stack)], _unique(anchor, used))
                sections.append(current)
            i += 3
            continue
        if token.type == "table_open":
            end = _closing(tokens, i, "table_close")
            current.rows += _table_rows(tokens[i:end])
            i = end + 1
            continue
        if token.type == "list_item_open":
            end = _closing(tokens, i, "list_item_close")
            text = " ".join(_plain(t.content) for t in tokens[i:end] if t.type == "inline")
            if text:
                current.blocks.append(f"- {text}")
            i = end + 1
            continue
        if token.type == "inline" and token.level <= 1:
            text = _plain(token.content)
            if text:
                current.blocks.append(text)
        elif token.type in ("fence", "code_block") and token.content.strip():
            current.blocks.append(token.content.strip())
        i += 1
    return [s for s in sections if s.blocks or s.rows]


def _heading(inline: str) -> tuple[str, str]:
    """A heading's text and anchor: its own (`{#anchor}` at the end), else its slug.

    >>> _heading("Exam fees {#fees}"), _heading("Exam fees")
    (('Exam fees', 'fees'), ('Exam fees', 'exam-fees'))
    """
    own = _OWN_ANCHOR.search(inline)
    text = _plain(inline[: own.start()] if own else inline)[:MAX_HEADING_CHARS]
    return text, own.group(1) if own else slugify(text)


def _closing(tokens, start: int, close_type: str) -> int:  # noqa: ANN001 - markdown-it tokens
    level = tokens[start].level
    for j in range(start + 1, len(tokens)):
        if tokens[j].type == close_type and tokens[j].level == level:
            return j
    return len(tokens) - 1


def _table_rows(tokens) -> list[str]:  # noqa: ANN001 - markdown-it tokens
    rows: list[list[str]] = []
    for token in tokens:
        if token.type == "tr_open":
            rows.append([])
        elif token.type == "inline" and rows:
            rows[-1].append(_plain(token.content))
    if len(rows) < 2:
        return []
    header, body = rows[0], rows[1:]
    return ["; ".join(f"{h}: {v}" for h, v in zip(header, row, strict=False)) for row in body]


def _pack(blocks: list[str], chunk_size: int, chunk_overlap: int) -> list[str]:
    units = [u for block in blocks for u in _fit(block, chunk_size)]
    chunks: list[list[str]] = []
    current: list[str] = []
    for unit in units:
        if current and len("\n".join([*current, unit])) > chunk_size:
            chunks.append(current)
            current = _tail(current, chunk_overlap)
            if current and len("\n".join([*current, unit])) > chunk_size:
                current = []
        current.append(unit)
    if current:
        chunks.append(current)
    return ["\n".join(c) for c in chunks]


def _fit(block: str, chunk_size: int) -> list[str]:
    """A block as is when it fits, else its sentences, each cut to fit."""
    if len(block) <= chunk_size:
        return [block]
    return [piece for s in split_sentences(block) for piece in split_hard(s, chunk_size)]


def split_hard(text: str, size: int) -> list[str]:
    """Text in pieces of at most `size` characters, cut at the last space before the limit.

    Text without a space there (a long URL, a minified line) is cut at the limit itself.

    >>> split_hard("The exam is online", 10)
    ['The exam', 'is online']
    >>> split_hard("abcdefgh", 3)
    ['abc', 'def', 'gh']
    """
    pieces: list[str] = []
    start = 0
    while len(text) - start > size:
        cut = max(
            text.rfind(" ", start, start + size + 1), text.rfind("\n", start, start + size + 1)
        )
        end, resume = (cut, cut + 1) if cut > start else (start + size, start + size)
        pieces.append(text[start:end].strip())
        start = resume
    pieces.append(text[start:].strip())
    return [p for p in pieces if p]


def split_sentences(text: str) -> list[str]:
    """Sentences of a text, split after `.`, `!` or `?` before a capital, digit or quote.

    >>> split_sentences("The exam is online. It uses proctoring. See v1.2 docs.")
    ['The exam is online.', 'It uses proctoring.', 'See v1.2 docs.']
    """
    return [part.strip() for part in _SENTENCE_END.split(text) if part.strip()]


def _tail(units: list[str], budget: int) -> list[str]:
    tail: list[str] = []
    for unit in reversed(units):
        if len("\n".join([unit, *tail])) > budget:
            break
        tail.insert(0, unit)
    return tail


def _unique(slug: str, used: dict[str, int]) -> str:
    count = used.get(slug, 0)
    used[slug] = count + 1
    return slug if count == 0 else f"{slug}-{count}"


def _plain(markdown_inline: str) -> str:
    text = _LINK.sub(r"\1", markdown_inline)
    text = _EMPHASIS.sub("", text)
    return " ".join(text.split())
