"""The extractive answerer: quotes the sentences, list items, table rows or FAQ answer that answer."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from retrieval.hybrid import ScoredChunk
from retrieval.lexical import TermWeights, terms
from retrieval.types import Answer, Citation, Suggestion

ALL_WORDS = 0.999
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")


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
        suggest_dense: Least similarity for a section to be offered as a suggestion.
    """

    min_dense: float = 0.35
    min_coverage: float = 0.5
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
            pieces += [s.strip() for s in _SENTENCE_END.split(line) if s.strip()]
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

    Each quoted piece becomes a sentence of the answer followed by the marker of its
    citation; a citation quotes exactly the pieces taken from its chunk.

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
    if not chosen or not _answers(query, passages, chosen, weights, thresholds):
        return refusal(passages, base_url, thresholds)
    numbers: dict[int, int] = {}
    quoted: dict[int, list[str]] = {}
    sentences = []
    for unit in sorted(chosen, key=lambda u: (u.passage, u.order)):
        n = numbers.setdefault(unit.passage, len(numbers) + 1)
        quoted.setdefault(unit.passage, []).append(unit.text)
        sentences.append(f"{_as_sentence(unit.text)} [{n}]")
    citations = [
        _citation(n, passages[p], " ".join(quoted[p]), base_url) for p, n in numbers.items()
    ]
    return Answer(" ".join(sentences), citations, refused=False, query=question)


def select_units(
    query: Sequence[str], passages: Sequence[ScoredChunk], weights: TermWeights, max_units: int
) -> list[Unit]:
    """The best pieces to quote: the top one, plus close runners-up that add something."""
    if not passages:
        return []
    top = passages[0].score
    scored: list[Unit] = []
    for index, passage in enumerate(passages[:4]):
        heading = set(terms(passage.chunk.section))
        rank_weight = passage.score / top
        for unit in units_of(passage, index):
            words = set(terms(unit.text))
            own = weights.coverage(query, words)
            context = weights.coverage(query, words | heading)
            score = rank_weight * (0.2 + own + 0.5 * context)
            scored.append(Unit(unit.text, unit.passage, unit.order, score))
    scored.sort(key=lambda u: -u.score)
    best = scored[0]
    chosen = [best]
    covered = set(terms(best.text))
    for unit in scored[1:]:
        if len(chosen) >= max_units or unit.score < 0.7 * best.score:
            break
        words = set(terms(unit.text))
        adds = set(query) & (words - covered)
        same_place = unit.passage == best.passage and abs(unit.order - best.order) == 1
        if adds or (same_place and passages[best.passage].chunk.kind == "text"):
            chosen.append(unit)
            covered |= words
    return chosen


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
    text = "Sorry, the course content doesn't cover that."
    if suggestions:
        text += " These sections may be related: " + "; ".join(s.section for s in suggestions)
        text += "."
    return Answer(text, [], refused=True, suggestions=suggestions)


def _answers(
    query: Sequence[str],
    passages: Sequence[ScoredChunk],
    chosen: Sequence[Unit],
    weights: TermWeights,
    thresholds: Thresholds,
) -> bool:
    """Whether the chosen pieces plausibly answer: close in meaning and in words."""
    words: set[str] = set()
    for unit in chosen:
        words |= set(terms(unit.text)) | set(terms(passages[unit.passage].chunk.section))
    coverage = weights.coverage(query, words)
    if coverage < thresholds.min_coverage:
        return False
    best_dense = max((p.dense for p in passages if p.dense is not None), default=None)
    # Every word of the question found (e.g. "DVC", "SLO") outweighs a weak embedding match.
    close = best_dense is None or best_dense >= thresholds.min_dense
    return close or coverage >= ALL_WORDS


def _citation(n: int, passage: ScoredChunk, text: str, base_url: str) -> Citation:
    chunk = passage.chunk
    return Citation(n, chunk.title, chunk.section, chunk.url(base_url), chunk.source, text)


def _as_sentence(text: str) -> str:
    text = text.strip()
    return text if text[-1:] in ".!?" else f"{text}."
