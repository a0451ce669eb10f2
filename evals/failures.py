"""Failing cases for people: what went wrong with each, and enough of the case to see why."""

from __future__ import annotations

from collections.abc import Iterable

from evals.results import CaseResult

SHOWN_CHARS = 200  # of the answer, and of the last turn of a conversation


def problems(result: CaseResult) -> list[str]:
    """What went wrong with a case, in a few words each; empty when nothing did.

    A case fails when it was not handled right (its `accuracy` is 0) or when retrieval put
    none of its expected sections in the top 5.
    """
    found = []
    if result.refuse and not result.refused:
        found.append("answered instead of refusing")
    elif result.refused and not result.refuse:
        found.append("refused")
    elif not result.refuse:
        pairs = list(zip(result.facts, result.facts_in_answer, result.facts_in_quotes, strict=True))
        unsaid = [fact for fact, said, _ in pairs if not said]
        unquoted = [fact for fact, said, quoted in pairs if said and not quoted]
        if unsaid:
            found.append(f"facts missing from the answer: {_facts(unsaid)}")
        if unquoted:
            found.append(f"facts missing from every cited quote: {_facts(unquoted)}")
    if result.retrieval and not result.retrieval.get("hit_rate@5"):
        found.append("no expected section in the top 5")
    return found


def failing(results: Iterable[CaseResult]) -> list[CaseResult]:
    """The results with at least one problem, in order."""
    return [r for r in results if problems(r)]


def format_failure(result: CaseResult) -> str:
    """One failing case as a list item with indented details (Markdown and terminal alike)."""
    question = f"question: {_quote(result.question)}"
    if result.last_turn:
        question += f" (after {_shorten(result.last_turn)})"
    lines = [
        f"- `{result.id}` ({result.category}): {'; '.join(problems(result)) or 'passed'}",
        f"  - {question}",
    ]
    if result.expected_sections:
        lines.append(f"  - expected: {', '.join(result.expected_sections)}")
    lines.append(f"  - answer: {_quote(_shorten(result.answer))}")
    return "\n".join(lines)


def format_failures(results: Iterable[CaseResult]) -> str:
    """Every failing case, one list item each, or `None.`."""
    return "\n".join(format_failure(r) for r in failing(results)) or "None."


def _facts(facts: list[str]) -> str:
    return ", ".join(repr(f) for f in facts)


def _quote(text: str) -> str:
    return f'"{text}"'


def _shorten(text: str) -> str:
    """Text on one line, cut to `SHOWN_CHARS` characters.

    >>> _shorten("a  b\\nc"), len(_shorten("x" * 300))
    ('a b c', 201)
    """
    flat = " ".join(text.split())
    return flat if len(flat) <= SHOWN_CHARS else flat[:SHOWN_CHARS] + "…"
