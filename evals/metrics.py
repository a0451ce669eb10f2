"""The measures: retrieval (via ranx), facts, accuracy, citations, refusals and latency percentiles.

Everything here is a pure function of rankings, answers and expectations, so each can be
checked by hand on a tiny example.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from retrieval.lexical import terms

RETRIEVAL_METRICS = ("hit_rate@1", "hit_rate@5", "recall@5", "mrr@10", "ndcg@10")
ANSWER_METRICS = ("fact_recall", "citation_precision", "citation_coverage")
REFUSAL_METRICS = ("refusal_precision", "refusal_recall")
LATENCY_METRICS = ("ask_p50_ms", "ask_p95_ms", "retrieval_p50_ms", "retrieval_p95_ms")
QUALITY_METRICS = ("accuracy", *RETRIEVAL_METRICS, *ANSWER_METRICS, *REFUSAL_METRICS)
METRICS = QUALITY_METRICS + LATENCY_METRICS
# The metrics reported with a bootstrap 95% interval.
HEADLINE_METRICS = (
    "accuracy", "fact_recall", "refusal_precision", "refusal_recall", "hit_rate@5", "mrr@10"
)  # fmt: skip
MIN_SUPPORT = 0.5

_MARKER = re.compile(r"\[(\d+)\]")
# A sentence ends at . ! or ? (plus any markers after it) before the next capitalised word.
_SENTENCE_END = re.compile(r"(?<=[.!?])((?:\s*\[\d+\])*)\s+(?=[A-Z0-9\"'(])")


# --- retrieval -----------------------------------------------------------------------------------


def ranked_doc_ids(hits: Iterable[tuple[str, str]]) -> list[str]:
    """`source#anchor` ids of retrieved chunks, best first, each kept at its first place.

    Several chunks of one section count once, so re-chunking does not change the scores.

    >>> ranked_doc_ids([("faq.md", "a"), ("faq.md", "a"), ("guide.md", "b")])
    ['faq.md#a', 'guide.md#b']
    """
    return list(dict.fromkeys(f"{source}#{anchor}" for source, anchor in hits))


def retrieval_scores(
    expected: Mapping[str, Iterable[str]], rankings: Mapping[str, Sequence[str]]
) -> dict[str, dict[str, float]]:
    """Per-query retrieval metrics, computed by ranx.

    Args:
        expected: Query id → the doc ids that answer it (each relevance 1).
        rankings: Query id → retrieved doc ids, best first (missing or empty: nothing found).

    Returns:
        Query id → metric name (`RETRIEVAL_METRICS`) → score between 0 and 1.
    """
    if not expected:
        return {}
    with warnings.catch_warnings():
        # ranx's numba kernels warn about an integer cast that cannot matter at our sizes.
        warnings.simplefilter("ignore")
        from ranx import Qrels, Run, evaluate

        qrels = Qrels({q: dict.fromkeys(docs, 1) for q, docs in expected.items()})
        run_dict = {
            q: {doc: float(len(docs) - rank) for rank, doc in enumerate(docs)}
            for q, docs in rankings.items()
            if docs and q in expected
        }
        run = Run(run_dict)
        evaluate(qrels, run, list(RETRIEVAL_METRICS), make_comparable=True)
    return {q: {m: float(run.scores[m][q]) for m in RETRIEVAL_METRICS} for q in expected}


# --- answers -------------------------------------------------------------------------------------


def fact_found(fact: str, text: str) -> bool:
    """Whether an answer states a fact: `re:` facts are regular expressions, others substrings.

    >>> fact_found("Feast", "It uses DVC and feast.")
    True
    >>> fact_found(r"re:30\\s*(to|-)\\s*90 days", "Most take 30 to 90 days.")
    True
    """
    if fact.startswith("re:"):
        return re.search(fact[3:], text, re.IGNORECASE) is not None
    return fact.lower() in text.lower()


def fact_grounded(fact: str, answer: str, quotes: Iterable[str]) -> bool:
    """Whether an answer states a fact *and* one of its citations' quotes states it too.

    A fact the answer states but no quote backs is not counted: it may be made up.

    >>> fact_grounded("Feast", "Labs use Feast. [1]", ["The labs use DVC and Feast."])
    True
    >>> fact_grounded("Feast", "Labs use Feast. [1]", ["The labs use DVC."])
    False
    """
    return fact_found(fact, answer) and any(fact_found(fact, quote) for quote in quotes)


def fact_recall(facts: Sequence[str], answer: str, quotes: Iterable[str]) -> float:
    """Share of the facts that the answer states and a cited quote states too (1.0 when
    there are none to state).

    >>> fact_recall(["DVC", "Feast", "Kubeflow"], "DVC and Feast", ["DVC, Feast, Kubeflow"])
    0.6666666666666666
    >>> fact_recall(["DVC", "Feast"], "DVC and Feast", ["DVC only"])
    0.5
    """
    if not facts:
        return 1.0
    quotes = list(quotes)
    return sum(fact_grounded(f, answer, quotes) for f in facts) / len(facts)


def case_accuracy(refuse: bool, refused: bool, facts_grounded: Sequence[bool]) -> float:
    """1.0 when a case was handled right, else 0.0: a refuse case refused, or an answerable
    case answered with every fact in the answer and in a cited quote.

    >>> case_accuracy(True, True, []), case_accuracy(False, False, [True, True])
    (1.0, 1.0)
    >>> case_accuracy(False, True, []), case_accuracy(False, False, [True, False])
    (0.0, 0.0)
    """
    if refuse or refused:
        return float(refuse and refused)
    return float(all(facts_grounded))


def sentences(answer: str) -> list[str]:
    """The sentences of an answer, each with the citation markers that follow it.

    >>> sentences("Labs use DVC. [1] Renew every 2 years. [2][3]")
    ['Labs use DVC. [1]', 'Renew every 2 years. [2][3]']
    """
    parts, start = [], 0
    for match in _SENTENCE_END.finditer(answer):
        parts.append(answer[start : match.end(1)].strip())
        start = match.end()
    parts.append(answer[start:].strip())
    return [p for p in parts if p]


def markers(sentence: str) -> list[int]:
    """Citation numbers a sentence carries, in order, without repeats.

    >>> markers("Labs use DVC. [2][1][2]")
    [2, 1]
    """
    return list(dict.fromkeys(int(n) for n in _MARKER.findall(sentence)))


def supports(sentence: str, quote: str, min_support: float = MIN_SUPPORT) -> bool:
    """Whether a quote says what a sentence says: enough of the sentence's content terms
    (`retrieval.lexical.terms`) occur in the quote. A sentence without content terms is
    never supported.

    >>> supports("Labs use DVC and Feast. [1]", "The labs use DVC for data versioning.")
    True
    >>> supports("Renewal is every two years. [1]", "The labs use DVC.")
    False
    """
    claim = set(terms(_MARKER.sub(" ", sentence)))
    if not claim:
        return False
    return len(claim & set(terms(quote))) / len(claim) >= min_support


def is_verbatim(quote: str, texts: Iterable[str]) -> bool:
    """Whether a quote appears word for word in one of the texts (line breaks count as spaces).

    >>> is_verbatim("Use DVC. Then Feast.", ["Intro.\\nUse DVC.\\nThen Feast."])
    True
    >>> is_verbatim("Use DVC and Feast.", ["Use DVC.\\nThen Feast."])
    False
    """
    wanted = " ".join(quote.split())
    return bool(wanted) and any(wanted in " ".join(text.split()) for text in texts)


@dataclass(frozen=True)
class CitationCheck:
    """How well one answer's citations back it.

    Attributes:
        citations: Citations given.
        supported: Citations that are verbatim and support every sentence carrying them.
        sentences: Sentences of the answer.
        covered: Sentences carrying at least one citation that is verbatim and supports them.
    """

    citations: int
    supported: int
    sentences: int
    covered: int


def check_citations(
    answer: str, quotes: Mapping[int, str], verbatim: Mapping[int, bool]
) -> CitationCheck:
    """Judge the citations of an answer.

    A citation is *supported* when its quote is verbatim from the cited section, at least
    one sentence carries its marker, and it supports each such sentence. A sentence is
    *covered* when one of its markers points to a verbatim citation that supports it.

    Args:
        answer: Answer text with `[n]` markers.
        quotes: Citation number → quoted text.
        verbatim: Citation number → whether the quote is verbatim from the cited chunk.
    """
    parts = sentences(answer)
    backs: dict[int, list[bool]] = {n: [] for n in quotes}
    covered = 0
    for sentence in parts:
        found = False
        for n in markers(sentence):
            if n not in quotes:
                continue
            ok = verbatim.get(n, False) and supports(sentence, quotes[n])
            backs[n].append(ok)
            found = found or ok
        covered += found
    supported = sum(bool(checks) and all(checks) for checks in backs.values())
    return CitationCheck(len(quotes), supported, len(parts), covered)


# --- refusals and aggregates ---------------------------------------------------------------------


def refusal_scores(
    expected: Sequence[bool], predicted: Sequence[bool]
) -> tuple[float | None, float | None]:
    """Precision and recall of refusing (the positive class is "refuse").

    Precision is None when nothing was refused and nothing should have been; it is 0.0
    when nothing was refused but something should have been. Recall is None when no case
    should be refused.

    >>> refusal_scores([True, True, False, False], [True, False, True, False])
    (0.5, 0.5)
    >>> refusal_scores([True, False], [False, False])
    (0.0, 0.0)
    """
    pairs = list(zip(expected, predicted, strict=True))
    true_pos = sum(e and p for e, p in pairs)
    positives = sum(e for e, _ in pairs)
    predicted_pos = sum(p for _, p in pairs)
    recall = true_pos / positives if positives else None
    if predicted_pos:
        precision: float | None = true_pos / predicted_pos
    else:
        precision = 0.0 if positives else None
    return precision, recall


def f1(precision: float | None, recall: float | None) -> float:
    """Harmonic mean of precision and recall; 0.0 when either is missing or both are 0."""
    if not precision or not recall:
        return 0.0
    return 2 * precision * recall / (precision + recall)


def mean(values: Iterable[float]) -> float | None:
    """Arithmetic mean, or None for no values."""
    values = list(values)
    return sum(values) / len(values) if values else None


def ratio(part: int, whole: int) -> float | None:
    """`part / whole`, or None when `whole` is 0."""
    return part / whole if whole else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100) with linear interpolation, or None for no values.

    >>> percentile([10, 20, 30, 40], 50)
    25.0
    >>> percentile([10, 20, 30, 40], 95)
    38.5
    """
    ordered = sorted(values)
    if not ordered:
        return None
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)
