"""Running the cases: each retriever answers every case of every split, and each reply is judged."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cert_core.errors import QuestionError
from evals.dataset import Case, DatasetError, Split
from evals.metrics import (
    check_citations,
    fact_found,
    is_verbatim,
    ranked_doc_ids,
    retrieval_scores,
)
from evals.results import CaseResult, Run
from retrieval import Assistant, HybridRetriever

RETRIEVERS = ("hybrid", "dense", "bm25")
RUN_DEPTH = 10  # chunks retrieved per question for the retrieval metrics


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
    splits: Sequence[Split],
    retrievers: Sequence[str] = ("hybrid",),
    *,
    progress: bool = False,
) -> Run:
    """Run every split's cases through each retriever and judge every reply.

    The assistant (its model, store and index) is built once by the caller and shared
    by every retriever and split.

    Args:
        assistant: The assistant under test.
        splits: The splits to evaluate, in the order to report them.
        retrievers: Names from `RETRIEVERS`, in the order to report them.
        progress: Show a progress bar on stderr.

    Returns:
        The judged results per split and retriever (summarise with `evals.build_report`).

    Raises:
        DatasetError: The assistant rejects a case.
        ValueError: A retriever name is unknown, or no split has a case.
    """
    from tqdm import tqdm

    cases = [case for split in splits for case in split.cases]
    if not cases:
        raise ValueError("no cases to evaluate")
    started = time.perf_counter()
    created = datetime.now(UTC).isoformat(timespec="seconds")
    chunk_texts = indexed_texts(assistant)
    variants = make_variants(assistant, retrievers)
    for variant in variants:
        warm_up(variant, cases[0])
    run = Run({}, {s.name: _display(s.path) for s in splits}, created)
    with tqdm(total=len(cases) * len(variants), disable=not progress, unit="answer") as bar:
        for split in splits:
            run.results[split.name] = run_variants(
                variants, split.cases, chunk_texts, progress=bar.update
            )
    run.seconds = time.perf_counter() - started
    return run


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
    variant.assistant.retriever.forget()  # each case searches afresh: latency as a learner's
    started = time.perf_counter()
    try:
        answer = variant.assistant.ask(case.question, list(case.history))
    except QuestionError as error:
        raise DatasetError(f"case {case.id!r}: {error}") from error
    ask_ms = (time.perf_counter() - started) * 1000
    result = CaseResult(
        case.id,
        case.category,
        case.refuse,
        answer.refused,
        answer.answer,
        answer.query,
        ask_ms,
        question=case.question,
        last_turn=_last_turn(case),
        expected_sections=[s.doc_id for s in case.expected_sections],
        facts=list(case.facts),
    )
    if answer.refused:
        result.facts_in_answer = [False] * len(case.facts)
        result.facts_in_quotes = [False] * len(case.facts)
    else:
        quotes = {c.n: c.text for c in answer.citations}
        result.facts_in_answer = [fact_found(f, answer.answer) for f in case.facts]
        result.facts_in_quotes = [
            any(fact_found(f, quote) for quote in quotes.values()) for f in case.facts
        ]
        verbatim = {
            c.n: is_verbatim(c.text, chunk_texts.get((c.source, _anchor(c.url)), []))
            for c in answer.citations
        }
        check = check_citations(answer.answer, quotes, verbatim)
        result.citations, result.supported = check.citations, check.supported
        result.sentences, result.covered = check.sentences, check.covered
    if not case.refuse:
        variant.assistant.retriever.forget()  # the ranking is timed afresh, not the ask's
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


def _last_turn(case: Case) -> str:
    if not case.history:
        return ""
    turn = case.history[-1]
    return f"{turn['role']}: {turn['content']}"


def _display(path: Path) -> str:
    """A dataset path as people want to read it: relative to the working folder if inside it."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
