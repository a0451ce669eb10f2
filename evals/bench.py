"""Latency benchmark: the assistant against the bare floor and a plain LangChain baseline.

Everything is measured in one process, on the same questions, so the figures are ratios
that mean something on any machine: the floor is one query embedding plus one Chroma
query; the baseline is LangChain's `Chroma.as_retriever()` with the same embeddings.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cert_core.settings import Settings
from evals.dataset import SPLITS

DATASET = SPLITS["dev"]


@dataclass(frozen=True)
class Timing:
    """Latency of one contender over the questions, in milliseconds."""

    name: str
    p50: float
    p95: float

    def ratio(self, floor: Timing) -> float:
        """Median latency as a multiple of the floor's."""
        return self.p50 / floor.p50 if floor.p50 else float("inf")


def bench_questions(dataset: Path = DATASET) -> list[str]:
    """Questions of the eval set that stand alone (no history)."""
    questions = []
    for line in dataset.read_text(encoding="utf-8").splitlines():
        if line.strip():
            case = json.loads(line)
            if not case.get("history"):
                questions.append(case["question"])
    return questions


def time_all(
    contenders: dict[str, Callable[[str], object]], questions: Sequence[str]
) -> list[Timing]:
    """p50 and p95 of each contender over the questions, after a warm-up call each.

    Contenders take turns on every question, so a busy machine slows them all alike.
    """
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    for run in contenders.values():
        run(questions[0])
    for question in questions:
        for name, run in contenders.items():
            started = time.perf_counter()
            run(question)
            samples[name].append((time.perf_counter() - started) * 1000)
    return [_timing(name, values) for name, values in samples.items()]


def _timing(name: str, samples: list[float]) -> Timing:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return Timing(name, statistics.median(ordered), p95)


def cold_ask_seconds(question: str, runs: int = 3) -> float:
    """Median wall time of `cert-assistant ask` in a fresh process."""
    command = [sys.executable, "-m", "cert_assistant.cli", "ask", question]
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def run_bench(settings: Settings, dataset: Path = DATASET, cold_runs: int = 3) -> dict:
    """Measure load time, warm latencies and cold `ask`; returns the figures."""
    from retrieval import make_assistant

    started = time.perf_counter()
    assistant = make_assistant(settings)
    retriever = assistant.retriever
    retriever.search("warm up: load the model and the index")
    load_seconds = time.perf_counter() - started

    store, embedder = retriever.store, retriever.embedder
    baseline = store.as_langchain(embedder).as_retriever(search_kwargs={"k": retriever.k})
    questions = bench_questions(dataset)

    def floor(question: str) -> object:
        return store.query(embedder.embed_query(question), retriever.k)

    # Searches are kept by query (`HybridRetriever.forget`): each contender starts afresh
    # on every question, so no one reuses the search another made of the same question.
    def fresh(run: Callable[[str], object]) -> Callable[[str], object]:
        def afresh(question: str) -> object:
            retriever.forget()
            return run(question)

        return afresh

    timings = time_all(
        {
            "floor: embed + one Chroma query": floor,
            "baseline: LangChain Chroma.as_retriever()": baseline.invoke,
            "hybrid retrieval": fresh(retriever.search),
            "full answer (retrieve + compose)": fresh(assistant.ask),
        },
        questions,
    )
    return {
        "questions": len(questions),
        "embedder": type(embedder).__name__,
        "load_seconds": load_seconds,
        "cold_ask_seconds": cold_ask_seconds(questions[0], cold_runs) if cold_runs else None,
        "timings": timings,
    }


def format_bench(result: dict) -> str:
    """The benchmark as a Markdown table."""
    floor = result["timings"][0]
    lines = [
        f"questions: {result['questions']} (warm, one process); "
        f"query embedder: {result['embedder']}",
        f"model + index load: {result['load_seconds']:.2f} s",
    ]
    if result["cold_ask_seconds"] is not None:
        lines.append(f"cold `cert-assistant ask`: {result['cold_ask_seconds']:.2f} s")
    lines += ["", "| contender | p50 ms | p95 ms | p50 / floor |", "|---|---:|---:|---:|"]
    for t in result["timings"]:
        lines.append(f"| {t.name} | {t.p50:.1f} | {t.p95:.1f} | {t.ratio(floor):.2f}x |")
    return "\n".join(lines)
