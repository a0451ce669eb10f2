"""Quotable units: the sentences, list items, table rows and FAQ answers a chunk is made of.

A unit is what the answerer quotes, so it is also what is embedded on its own at ingest:
one vector for a whole chunk dilutes the one sentence that answers a question.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ingest.documents import Chunk, stable_hash
from ingest.splitter import split_sentences

UnitKind = Literal["sentence", "item", "row", "faq"]


@dataclass(frozen=True)
class Unit:
    """One quotable piece of a chunk.

    Attributes:
        chunk_id: Id of the chunk it belongs to.
        order: Position inside the chunk (0 first).
        text: The piece, verbatim from the chunk.
        kind: `sentence`, list `item`, table `row` or `faq` answer.
        section: Heading path of its chunk, embedded with it for context.
    """

    chunk_id: str
    order: int
    text: str
    kind: UnitKind
    section: str

    @property
    def id(self) -> str:
        """Deterministic id: the same unit in the same place keeps its stored vector."""
        return stable_hash(self.chunk_id, str(self.order), self.text, self.section)

    @property
    def embedding_text(self) -> str:
        """What the embedder sees: the innermost headings, then the piece.

        >>> Unit("c", 0, "It takes 20 days.", "sentence", "Syllabus > Prep").embedding_text
        'Syllabus > Prep: It takes 20 days.'
        """
        return f"{self.section}: {self.text}"


def split_units(chunk: Chunk) -> list[Unit]:
    """Split a chunk into the pieces that may be quoted, in order.

    An FAQ chunk gives its whole answer (the question line is the heading, not an answer);
    a table row is one unit; other text gives one unit per list item or sentence.

    >>> chunk = Chunk("c", "Intro. Then more.\\n- One\\n- Two", "s", "T", "T > A", "a", "/p")
    >>> [(u.kind, u.text) for u in split_units(chunk)]
    [('sentence', 'Intro.'), ('sentence', 'Then more.'), ('item', 'One'), ('item', 'Two')]
    """
    pieces: list[tuple[str, UnitKind]]
    if chunk.kind == "faq":
        pieces = [(chunk.text.split("\n", 1)[-1].strip(), "faq")]
    elif chunk.kind == "table_row":
        pieces = [(chunk.text, "row")]
    else:
        pieces = []
        for line in chunk.text.split("\n"):
            line = line.strip()
            if line.startswith("- "):
                pieces.append((line[2:].strip(), "item"))
            elif line:
                pieces += [(s, "sentence") for s in split_sentences(line)]
    return [
        Unit(chunk.id, order, text, kind, chunk.section)
        for order, (text, kind) in enumerate(pieces)
        if text
    ]
