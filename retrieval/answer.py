"""The extractive answerer: quotes the sentences, list items, rows or FAQ answer that answer."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ingest.splitter import split_sentences
from retrieval.hybrid import ScoredChunk
from retrieval.lexical import TermWeights, terms
from retrieval.types import Answer, Citation, Suggestion

REFUSAL = "Sorry, the course content doesn't cover that."
ALL_WORDS = 0.999
_RANK_BONUS = (0.3, 0.15, 0.05, 0.0)
_TWO_QUESTIONS = re.compile(
    r",?\s+and\s+(?=(?:what|which|who|how|when|where|why|is|are|does|do|can|should)\b)"
    r"|\?\s+(?=\w)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Unit:
    """A quotable piece of a chunk: a sentence, a list item, a table row or an FAQ answer."""

    text: str
    passage: int  # index into the retrieved passages
    order: int  # position inside its chunk
    score: float = 0.0


@dataclass(frozen=True)
class Thresholds:
    """When the content is judged not to answer a question (tuned on the eval set).

    Attributes:
        min_dense: Least cosine similarity between the question and its best chunk.
        min_coverage: Least weighted share of the question's terms found in the answer
            passage and its headings.
        strong_dense: Similarity at which the chunk answers whatever its words.
        suggest_dense: Least similarity for a section to be offered as a suggestion.
    """

    min_dense: float = 0.30
    min_coverage: float = 0.30
    strong_dense: float = 0.65
    suggest_dense: float = 0.25


def units_of(passage: ScoredChunk, index: int) -> list[Unit]:
    """Split a retrieved chunk into the pieces that may be quoted.

    An FAQ chunk gives its whole answer (the question line is the heading, not an answer);
    a table row is one unit; other text gives one unit per list item or sentence.
    """
    chunk = passage.chunk
    if chunk.kind == "faq":
        answer = chunk.text.split("\n", 1)[-1].strip()
        return [Unit(answer, index, 0)]
    if chunk.kind == "table_row":
        return [Unit(chunk.text, index, 0)]
    pieces: list[str] = []
    for line in chunk.text.split("\n"):
        line = line.strip()
        if line.startswith("- "):
            pieces.append(line[2:].strip())
        elif line:
            pieces += split_sentences(line)
    return [Unit(text, index, order) for order, text in enumerate(pieces)]


def compose_answer(
    question: str,
    passages: Sequence[ScoredChunk],
    weights: TermWeights,
    base_url: str,
    thresholds: Thresholds = Thresholds(),
    max_units: int = 3,
) -> Answer:
    """Answer from the retrieved passages by quoting them, or refuse.

    Every sentence of the answer is a sentence of the course content followed by the
    marker of its citation; a citation quotes the span of its chunk that holds them.

    Args:
        question: The standalone question.
        passages: Retrieved chunks, best first.
        weights: Term weights of the indexed corpus.
        base_url: Base of citation links.
        thresholds: When to refuse.
        max_units: Most pieces quoted.

    Returns:
        The answer, or a refusal with suggestions when the passages do not answer.
    """
    query = terms(question)
    chosen = select_units(query, passages, weights, max_units)
    if not chosen or not answers(query, passages, chosen[0], weights, thresholds):
        return refusal(passages, base_url, thresholds)
    for part in question_parts(question)[1:]:  # "X, and Y?": make sure Y is answered too
        extra = select_units(terms(part), passages, weights, 1)
        if extra and all(
            (u.passage, u.order) != (extra[0].passage, extra[0].order) for u in chosen
        ):
            chosen.append(extra[0])
    numbers: dict[int, int] = {}
    quoted: dict[int, list[str]] = {}
    sentences = []
    for unit in sorted(chosen, key=lambda u: (u.passage, u.order)):
        n = numbers.setdefault(unit.passage, len(numbers) + 1)
        quoted.setdefault(unit.passage, []).append(unit.text)
        sentences += [f"{_as_sentence(part)} [{n}]" for part in split_sentences(unit.text)]
    citations = [
        _citation(n, passages[p], quote_span(passages[p].chunk.text, quoted[p]), base_url)
        for p, n in numbers.items()
    ]
    return Answer(" ".join(sentences), citations, refused=False, query=question)


def select_units(
    query: Sequence[str], passages: Sequence[ScoredChunk], weights: TermWeights, max_units: int
) -> list[Unit]:
    """The best pieces to quote: the top one, plus close runners-up that add something.

    A piece scores by the question words it holds (alone and with its headings), by how
    close its chunk is in meaning, and by its chunk's rank.
    """
    scored: list[Unit] = []
    for index, passage in enumerate(passages[: len(_RANK_BONUS)]):
        heading = set(terms(passage.chunk.section))
        closeness = passage.dense or 0.0
        for unit in units_of(passage, index):
            words = set(terms(unit.text))
            own = weights.coverage(query, words)
            context = weights.coverage(query, words | heading)
            score = _RANK_BONUS[index] + closeness + own + 0.5 * context
            scored.append(Unit(unit.text, unit.passage, unit.order, score))
    if not scored:
        return []
    scored.sort(key=lambda u: -u.score)
    best = scored[0]
    chosen = [best]
    covered = set(terms(best.text))
    for unit in scored[1:]:
        if len(chosen) >= max_units or unit.score < 0.85 * best.score:
            break
        words = set(terms(unit.text))
        adds = set(query) & (words - covered)
        same_place = unit.passage == best.passage and abs(unit.order - best.order) == 1
        if adds or (same_place and passages[best.passage].chunk.kind == "text"):
            chosen.append(unit)
            covered |= words
    return chosen


def answers(
    query: Sequence[str],
    passages: Sequence[ScoredChunk],
    best: Unit,
    weights: TermWeights,
    thresholds: Thresholds,
) -> bool:
    """Whether the best piece plausibly answers: close in meaning and in words.

    The piece's chunk with its headings must hold enough of the question's words, weighted by
    rarity (an unknown word such as "fee" weighs most), and its chunk must be close in
    meaning; a very close chunk (a reworded FAQ) or a piece holding every word of the
    question (a keyword such as "DVC") is enough on its own.
    """
    passage = passages[best.passage]
    words = set(terms(passage.chunk.text)) | set(terms(passage.chunk.section))
    coverage = weights.coverage(query, words)
    dense = passage.dense
    if dense is None:  # BM25 alone: words are all there is to go on
        return coverage >= thresholds.min_coverage
    if dense >= thresholds.strong_dense or coverage >= ALL_WORDS:
        return True
    return coverage >= thresholds.min_coverage and dense >= thresholds.min_dense


def question_parts(question: str) -> list[str]:
    """The parts of a question that asks two things, or the question alone.

    >>> question_parts("How hard is the exam, and how long does it usually take?")
    ['How hard is the exam', 'how long does it usually take?']
    >>> question_parts("Who are the DevOps and SRE paths for?")
    ['Who are the DevOps and SRE paths for?']
    """
    parts = [p.strip() for p in _TWO_QUESTIONS.split(question) if p.strip()]
    if len(parts) == 2 and all(len(terms(p)) >= 2 for p in parts):
        return parts
    return [question]


def quote_span(text: str, pieces: Sequence[str]) -> str:
    r"""The shortest verbatim span of `text` that holds every piece, in order.

    >>> quote_span("- One.\n- Two.\n- Three.", ["One.", "Three."])
    'One.\n- Two.\n- Three.'
    """
    start = text.find(pieces[0])
    end = start
    for piece in pieces:
        at = text.find(piece, end)
        if start < 0 or at < 0:
            return pieces[0] if len(pieces) == 1 else text
        end = at + len(piece)
    return text[start:end]


def refusal(
    passages: Sequence[ScoredChunk], base_url: str, thresholds: Thresholds = Thresholds()
) -> Answer:
    """The polite "not covered" answer, with related sections when there are close ones."""
    seen: set[str] = set()
    suggestions = []
    for passage in passages:
        chunk = passage.chunk
        if (passage.dense or 0.0) < thresholds.suggest_dense or chunk.section in seen:
            continue
        seen.add(chunk.section)
        suggestions.append(Suggestion(chunk.title, chunk.section, chunk.url(base_url)))
        if len(suggestions) == 3:
            break
    return Answer(REFUSAL, [], refused=True, suggestions=suggestions)


def _citation(n: int, passage: ScoredChunk, text: str, base_url: str) -> Citation:
    chunk = passage.chunk
    return Citation(n, chunk.title, chunk.section, chunk.url(base_url), chunk.source, text)


def _as_sentence(text: str) -> str:
    text = text.strip()
    return text if text[-1:] in ".!?" else f"{text}."
