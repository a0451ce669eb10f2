"""The report: metrics per split, per retriever and per category, built from a run's results.

Metrics (definitions in `evals/DATASET.md`, "How a case is judged"):

- `accuracy`: share of cases handled right: a refuse case refused, or an answerable case
  answered with every fact stated in the answer *and* in the quote of one of its citations.
- retrieval (`hit_rate@1` ... `ndcg@10`, by ranx): over answerable cases.
- `fact_recall`: over answerable cases, the share of facts stated in the answer and in a
  cited quote (a refused answer states none).
- `citation_precision`, `citation_coverage`: pooled over all answers given.
- `refusal_precision`, `refusal_recall`: over all cases, "refuse" being the positive class.
- latencies: percentiles over all cases.

The headline metrics (`HEADLINE_METRICS`) also get a bootstrap 95% interval per split.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from evals.bootstrap import Interval, bootstrap_intervals
from evals.failures import problems
from evals.metrics import (
    HEADLINE_METRICS,
    METRICS,
    QUALITY_METRICS,
    RETRIEVAL_METRICS,
    mean,
    percentile,
    ratio,
    refusal_scores,
)
from evals.results import CaseResult, Run

__all__ = ["HEADLINE_METRICS", "METRICS", "QUALITY_METRICS", "Report", "build_report"]


@dataclass
class RetrieverReport:
    """Results of one retriever on one split: overall and per-category metrics, every case.

    Attributes:
        metrics: Metric (`METRICS`) → value, None where undefined.
        intervals: Headline metric → bootstrap 95% interval `(low, high)`, None where undefined.
        categories: Category → metric → value.
        cases: Every case's result, in case order.
        seconds: Time spent answering and ranking.
    """

    metrics: dict[str, float | None]
    intervals: dict[str, Interval | None]
    categories: dict[str, dict[str, float | None]]
    cases: list[CaseResult]
    seconds: float = 0.0


@dataclass
class SplitReport:
    """Results of one split: where its cases came from, and each retriever's results."""

    dataset: str
    cases: int
    retrievers: dict[str, RetrieverReport] = field(default_factory=dict)


@dataclass
class Report:
    """Results of one evaluation run, keyed by split and then by retriever."""

    created_at: str
    splits: dict[str, SplitReport] = field(default_factory=dict)
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        """Everything, for `report.json`; each case also carries its accuracy and problems."""
        data = asdict(self)
        for name, split in self.splits.items():
            for retriever, result in split.retrievers.items():
                cases = data["splits"][name]["retrievers"][retriever]["cases"]
                for record, case in zip(cases, result.cases, strict=True):
                    record["accuracy"] = case.accuracy
                    record["problems"] = problems(case)
        return data


def build_report(run: Run) -> Report:
    """Summarise a run: metrics per split, retriever and category, with intervals."""
    report = Report(run.created_at, seconds=run.seconds)
    for name, by_retriever in run.results.items():
        count = len(next(iter(by_retriever.values()), []))
        split = SplitReport(run.datasets.get(name, ""), count)
        for retriever, results in by_retriever.items():
            split.retrievers[retriever] = retriever_report(results)
        report.splits[name] = split
    return report


def retriever_report(results: Sequence[CaseResult]) -> RetrieverReport:
    """Overall metrics with intervals, and per-category metrics, of one retriever's results."""
    categories: dict[str, list[CaseResult]] = {}
    for result in results:
        categories.setdefault(result.category, []).append(result)
    intervals = bootstrap_intervals(
        len(results), lambda drawn: headline([results[i] for i in drawn]), HEADLINE_METRICS
    )
    seconds = sum(r.ask_ms + (r.retrieval_ms or 0.0) for r in results) / 1000
    return RetrieverReport(
        summarize(results),
        intervals,
        {c: summarize(rs) for c, rs in categories.items()},
        list(results),
        seconds,
    )


def headline(results: Sequence[CaseResult]) -> dict[str, float | None]:
    """The metrics of `HEADLINE_METRICS` (cheap enough to recompute for every bootstrap draw)."""
    answerable = [r for r in results if not r.refuse]
    ranked = [r.retrieval for r in answerable if r.retrieval]
    precision, recall = refusal_scores([r.refuse for r in results], [r.refused for r in results])
    return {
        "accuracy": mean(r.accuracy for r in results),
        "fact_recall": mean(_share(r.facts_found) for r in answerable),
        "refusal_precision": precision,
        "refusal_recall": recall,
        "hit_rate@5": mean(scores["hit_rate@5"] for scores in ranked),
        "mrr@10": mean(scores["mrr@10"] for scores in ranked),
    }


def summarize(results: Sequence[CaseResult]) -> dict[str, float | None]:
    """Every metric of `METRICS` over some case results (None where it is undefined)."""
    answerable = [r for r in results if not r.refuse]
    answered = [r for r in results if not r.refused]
    summary = headline(results)
    for metric in RETRIEVAL_METRICS:
        summary[metric] = mean(r.retrieval[metric] for r in answerable if r.retrieval)
    summary["citation_precision"] = ratio(
        sum(r.supported for r in answered), sum(r.citations for r in answered)
    )
    summary["citation_coverage"] = ratio(
        sum(r.covered for r in answered), sum(r.sentences for r in answered)
    )
    asks = [r.ask_ms for r in results]
    retrievals = [r.retrieval_ms for r in results if r.retrieval_ms is not None]
    summary["ask_p50_ms"], summary["ask_p95_ms"] = percentile(asks, 50), percentile(asks, 95)
    summary["retrieval_p50_ms"] = percentile(retrievals, 50)
    summary["retrieval_p95_ms"] = percentile(retrievals, 95)
    return {metric: summary[metric] for metric in METRICS}


def write_report(report: Report, folder: Path) -> list[Path]:
    """Write `report.json`, `report.md` and `report.png` into `folder` (created if needed).

    Returns:
        The paths written.
    """
    from evals.chart import plot_report
    from evals.tables import to_markdown

    folder.mkdir(parents=True, exist_ok=True)
    json_path, md_path, png_path = (folder / f"report.{x}" for x in ("json", "md", "png"))
    json_path.write_text(
        json.dumps(report.to_json(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    plot_report(report, png_path)
    md_path.write_text(to_markdown(report, chart=png_path.name), encoding="utf-8")
    return [json_path, md_path, png_path]


def _share(found: list[bool]) -> float:
    return sum(found) / len(found) if found else 1.0
