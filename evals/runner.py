"""Running the cases: each retriever answers every case, and each reply is judged."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cert_assistant.errors import QuestionError
from evals.dataset import Case, DatasetError
from evals.metrics import (
    check_citations,
    fact_found,
    is_verbatim,
    ranked_doc_ids,
    retrieval_scores,
)
from retrieval import Assistant, HybridRetriever

if TYPE_CHECKING:
    from evals.report import Report

RETRIEVERS = ("hybrid", "dense", "bm25")
RUN_DEPTH = 10  # chunks retrieved per question for the retrieval metrics


@dataclass
class CaseResult:
    """What one retriever's assistant did with one case, and how it was judged."""

    id: str
    category: str
    refuse: bool
    refused: bool
    answer: str
    query: str
    ask_ms: float
    facts_found: list[bool] = field(default_factory=list)
    citations: int = 0
    supported: int = 0
    sentences: int = 0
    covered: int = 0
    ranking: list[str] = field(default_factory=list)
    retrieval_ms: float | None = None
    retrieval: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Variant:
    """One retriever under test: the assistant that answers with it, and its ranking.

    Attributes:
        name: `hybrid`, `dense` or `bm25`.
        assistant: Answers the questions.
        rank: Query → retrieved `source#anchor` ids, best first, `RUN_DEPTH` chunks deep.
    """

    name: str
    assistant: Assistant
    rank: Callable[[str], list[str]]


def evaluate(
    assistant: Assistant,
    cases: Sequence[Case],
    retrievers: Sequence[str] = ("hybrid",),
    *,
    dataset: str | Path = "",
    progress: bool = False,
) -> Report:
    """Run the cases through each retriever and measure everything.

    The assistant (its model, store and index) is built once by the caller and shared
    by every retriever.

    Args:
        assistant: The assistant under test.
        cases: The evaluation cases.
        retrievers: Names from `RETRIEVERS`, in the order to report them.
        dataset: Where the cases came from, for the report.
        progress: Show a progress bar on stderr.

    Returns:
        The report, with metrics per retriever and per category.

    Raises:
        DatasetError: The assistant rejects a case.
        ValueError: A retriever name is unknown.
    """
    from tqdm import tqdm

    from evals.report import Report, retriever_report

    started = time.perf_counter()
    created = datetime.now(UTC).isoformat(timespec="seconds")
    report = Report(str(dataset), created, len(cases))
    chunk_texts = indexed_texts(assistant)
    variants = make_variants(assistant, retrievers)
    with tqdm(total=len(cases) * len(variants), disable=not progress, unit="answer") as bar:
        results = run_variants(variants, cases, chunk_texts, progress=bar.update)
    for name, variant_results in results.items():
        seconds = sum(r.ask_ms + (r.retrieval_ms or 0.0) for r in variant_results) / 1000
        report.retrievers[name] = retriever_report(variant_results, seconds)
    report.seconds = time.perf_counter() - started
    return report


def make_variants(assistant: Assistant, names: Sequence[str]) -> list[Variant]:
    """The retrievers to compare, all sharing the assistant's store, model and BM25 index.

    `hybrid` and `bm25` are the product's `HybridRetriever` in that mode. `dense` is ranked
    by a plain LangChain Chroma retriever (the baseline), while its answers come from the
    `HybridRetriever` in `dense` mode.
    """
    base = assistant.retriever
    base.lexical()  # build the BM25 side once; the copies below share it
    variants = []
    for name in names:
        if name not in RETRIEVERS:
            raise ValueError(f"unknown retriever {name!r}; choose from {', '.join(RETRIEVERS)}")
        if base.mode == name:
            answerer = assistant
        else:
            retriever = base.model_copy(update={"mode": name})
            answerer = Assistant(retriever, assistant.settings, llm=assistant.llm)
        rank = _langchain_rank(base) if name == "dense" else _hybrid_rank(answerer.retriever)
        variants.append(Variant(name, answerer, rank))
    return variants


def run_variants(
    variants: Sequence[Variant],
    cases: Sequence[Case],
    chunk_texts: dict[tuple[str, str], list[str]],
    progress: Callable[[], None] | None = None,
) -> dict[str, list[CaseResult]]:
    """Ask every case of every retriever, rank answerable cases, and judge it all.

    Retrievers take turns case by case, so a machine that slows down mid-run slows
    them all alike and their latencies stay comparable.

    Args:
        variants: The retrievers under test.
        cases: The cases.
        chunk_texts: `(source, anchor)` → texts of the indexed chunks, for verbatim checks.
        progress: Called after each answer.

    Returns:
        Retriever name → one result per case, in case order.

    Raises:
        DatasetError: The assistant rejects a case's question or history.
    """
    for variant in variants:
        warm_up(variant, cases[0])
    results: dict[str, list[CaseResult]] = {v.name: [] for v in variants}
    for case in cases:
        for variant in variants:
            results[variant.name].append(run_case(variant, case, chunk_texts))
            if progress:
                progress()
    expected = {c.id: [s.doc_id for s in c.expected_sections] for c in cases if not c.refuse}
    for variant_results in results.values():
        scores = retrieval_scores(expected, {r.id: r.ranking for r in variant_results})
        for result in variant_results:
            result.retrieval = scores.get(result.id, {})
    return results


def run_case(
    variant: Variant, case: Case, chunk_texts: dict[tuple[str, str], list[str]]
) -> CaseResult:
    """One case through one retriever's assistant (and its ranking, when answerable)."""
    started = time.perf_counter()
    try:
        answer = variant.assistant.ask(case.question, list(case.history))
    except QuestionError as error:
        raise DatasetError(f"case {case.id!r}: {error}") from error
    ask_ms = (time.perf_counter() - started) * 1000
    result = CaseResult(
        case.id, case.category, case.refuse, answer.refused, answer.answer, answer.query, ask_ms
    )
    if not answer.refused:
        result.facts_found = [fact_found(f, answer.answer) for f in case.facts]
        quotes = {c.n: c.text for c in answer.citations}
        verbatim = {
            c.n: is_verbatim(c.text, chunk_texts.get((c.source, _anchor(c.url)), []))
            for c in answer.citations
        }
        check = check_citations(answer.answer, quotes, verbatim)
        result.citations, result.supported = check.citations, check.supported
        result.sentences, result.covered = check.sentences, check.covered
    else:
        result.facts_found = [False] * len(case.facts)
    if not case.refuse:
        started = time.perf_counter()
        result.ranking = variant.rank(answer.query or case.question)
        result.retrieval_ms = (time.perf_counter() - started) * 1000
    return result


def warm_up(variant: Variant, case: Case) -> None:
    """One untimed question, so model loading and caches do not count as latency."""
    variant.assistant.ask(case.question, list(case.history))
    variant.rank(case.question)


def indexed_texts(assistant: Assistant) -> dict[tuple[str, str], list[str]]:
    """Texts of every indexed chunk by `(source, anchor)`, as stored in the index."""
    texts: dict[tuple[str, str], list[str]] = {}
    for stored in assistant.retriever.store.chunks():
        chunk = stored.chunk
        texts.setdefault((chunk.source, chunk.anchor), []).append(chunk.text)
    return texts


def _hybrid_rank(retriever: HybridRetriever) -> Callable[[str], list[str]]:
    def rank(query: str) -> list[str]:
        hits = retriever.search(query, RUN_DEPTH)
        return ranked_doc_ids((h.chunk.source, h.chunk.anchor) for h in hits)

    return rank


def _langchain_rank(retriever: HybridRetriever) -> Callable[[str], list[str]]:
    store: Any = retriever.store.as_langchain(retriever.embedder)
    baseline = store.as_retriever(search_kwargs={"k": RUN_DEPTH})

    def rank(query: str) -> list[str]:
        documents = baseline.invoke(query)
        return ranked_doc_ids((d.metadata["source"], d.metadata["anchor"]) for d in documents)

    return rank


def _anchor(url: str) -> str:
    return url.rsplit("#", 1)[-1] if "#" in url else ""
