"""Composition: the extractive answer quoting the chosen units with citations, or a refusal."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from ingest.splitter import split_sentences
from retrieval.answerability import answerable
from retrieval.guard import SmallTalk
from retrieval.hybrid import ScoredChunk
from retrieval.lexical import TermWeights, terms
from retrieval.question import Question, analyze, question_parts
from retrieval.scorer import Weights, load_weights
from retrieval.select import Candidate, select, states_count
from retrieval.types import Answer, Citation, Suggestion

REFUSAL = "Sorry, the course content doesn't cover that."
SMALL_TALK = {
    "greeting": "Hi! I answer questions about the course from its guide, FAQ and syllabus, "
    "and I link the section each answer comes from.",
    "thanks": "Glad to help! Ask me anything else about the course.",
    "goodbye": "Goodbye, and good luck with your certification!",
    "nothing": "I didn't catch a question there. Please type a question about the course.",
}


@dataclass(frozen=True)
class Thresholds:
    """Which sections a refusal offers instead.

    Attributes:
        suggest_dense: Least similarity for a section to be offered as a suggestion.
    """

    suggest_dense: float = 0.25


def compose_answer(
    question: Question | str,
    passages: Sequence[ScoredChunk],
    weights: TermWeights,
    base_url: str,
    thresholds: Thresholds = Thresholds(),
    *,
    scorers: Weights | None = None,
) -> Answer:
    """Answer from the retrieved passages by quoting them, or refuse.

    The question is analysed (`retrieval.question`), the units to quote are chosen
    (`retrieval.select`), and the answerability scorer decides whether they answer
    (`retrieval.answerability`). Every sentence of the answer is a unit of the course
    content followed by the marker of its citation; a citation quotes the span of its
    chunk that holds them.

    Args:
        question: The analysed question (`retrieval.question.analyze`), or its text.
        passages: Retrieved chunks, best first.
        weights: Term weights of the indexed corpus.
        base_url: Base of citation links.
        thresholds: Which sections a refusal suggests.
        scorers: The learned scorers; default `retrieval/weights.json`.

    Returns:
        The answer, or a refusal with suggestions when the passages do not answer.
    """
    scorers = scorers or load_weights()
    asked = question if isinstance(question, Question) else analyze(question, None, weights)
    chosen: list[Candidate] = []
    for part in parts(asked, weights):  # "X, and Y?": each part answered on its own
        found = select(part, passages, weights, scorers.select)
        if answerable(part, passages, found, weights, scorers.answerable):
            chosen += [c for c in found if c.key not in {k.key for k in chosen}]
    if not chosen:
        return refusal(passages, base_url, thresholds)
    # a yes/no is settled first, a count's number comes first
    lead = asked.need == "yes_no" or states_count(asked, chosen[0].unit)
    return _quote(asked.text, chosen, passages, base_url, lead=lead)


def parts(question: Question, weights: TermWeights) -> list[Question]:
    """The question, or each of the questions it asks ("Is it online, and how often...?"),
    analysed on its own with the subjects it names."""
    texts = question_parts(question.text)
    if len(texts) == 1:
        return [question]
    analysed = []
    for text in texts:
        words = set(terms(text))
        subjects = tuple(key for key in question.subjects if set(key) <= words)
        kinds = tuple(kind for kind in question.kinds if kind[0] in words)
        part = analyze(text, None, weights, subjects=subjects, kinds=kinds)
        if part.sides and question.sides:  # "first level vs second level": as the course names them
            part = replace(part, sides=question.sides, subjects=question.subjects)
        analysed.append(replace(part, near=question.near))
    return analysed


def _quote(
    question: str,
    chosen: Sequence[Candidate],
    passages: Sequence[ScoredChunk],
    base_url: str,
    lead: bool,
) -> Answer:
    """The answer text and citations for the chosen units.

    Units are read in course order inside each passage; passages come in the order they
    were chosen, so the unit that answers best leads (`lead`: it comes first).
    """
    order = list(dict.fromkeys(c.passage for c in chosen))
    ordered = sorted(chosen, key=lambda c: (order.index(c.passage), c.unit.order))
    if lead:  # the settling unit first, then the rest in course order
        ordered = [chosen[0], *(c for c in ordered if c.key != chosen[0].key)]
    numbers: dict[int, int] = {}
    quoted: dict[int, list[str]] = {}
    sentences = []
    for candidate in ordered:
        n = numbers.setdefault(candidate.passage, len(numbers) + 1)
        quoted.setdefault(candidate.passage, []).append(candidate.unit.text)
        sentences += [
            f"{_as_sentence(part)} [{n}]" for part in split_sentences(candidate.unit.text)
        ]
    citations = [
        _citation(
            n,
            passages[p],
            quote_span(passages[p].chunk.text, sorted_by_place(passages[p], quoted[p])),
            base_url,
        )
        for p, n in numbers.items()
    ]
    return Answer(" ".join(sentences), citations, refused=False, query=question)


def sorted_by_place(passage: ScoredChunk, pieces: Sequence[str]) -> list[str]:
    """Pieces of a chunk in the order they appear in it (for the quote span)."""
    text = passage.chunk.text
    return sorted(pieces, key=lambda p: (text.find(p), p))


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


def small_talk_reply(kind: SmallTalk, examples: Sequence[str]) -> Answer:
    """The reply to a message that asks nothing: a greeting or thanks gets a friendly word and
    example questions, never a citation; a message with no words at all is refused with
    the examples, so the learner sees what to ask.

    >>> small_talk_reply("greeting", ["Can the exam be taken online?"]).answer.split(". ")[-1]
    'You could ask, for example: "Can the exam be taken online?"'
    >>> small_talk_reply("nothing", []).refused
    True
    """
    text = SMALL_TALK[kind]
    if examples and kind != "goodbye":
        quoted = [f'"{e}"' for e in examples]
        listed = quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"
        text += f" You could ask, for example: {listed}"
    return Answer(text, [], refused=kind == "nothing")


def refusal(
    passages: Sequence[ScoredChunk], base_url: str, thresholds: Thresholds = Thresholds()
) -> Answer:
    """The polite "not covered" answer, with related sections when there are close ones."""
    seen: set[str] = set()
    suggestions = []
    for passage in passages:
        chunk = passage.chunk
        if passage.closeness < thresholds.suggest_dense or chunk.section in seen:
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
