"""The report: metrics per retriever and per category, as a table, JSON, Markdown and a chart."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evals.metrics import RETRIEVAL_METRICS, mean, percentile, ratio, refusal_scores

if TYPE_CHECKING:
    from evals.runner import CaseResult

ANSWER_METRICS = ("fact_recall", "citation_precision", "citation_coverage")
REFUSAL_METRICS = ("refusal_precision", "refusal_recall")
LATENCY_METRICS = ("ask_p50_ms", "ask_p95_ms", "retrieval_p50_ms", "retrieval_p95_ms")
QUALITY_METRICS = RETRIEVAL_METRICS + ANSWER_METRICS + REFUSAL_METRICS
METRICS = QUALITY_METRICS + LATENCY_METRICS


@dataclass
class RetrieverReport:
    """Results of one retriever: overall and per-category metrics, and every case."""

    metrics: dict[str, float | None]
    categories: dict[str, dict[str, float | None]]
    cases: list[CaseResult]
    seconds: float = 0.0


@dataclass
class Report:
    """Results of one evaluation run, keyed by retriever name."""

    dataset: str
    created_at: str
    cases: int
    retrievers: dict[str, RetrieverReport] = field(default_factory=dict)
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        """Everything, for `report.json`."""
        return asdict(self)


def summarize(results: Sequence[CaseResult]) -> dict[str, float | None]:
    """Every metric of `METRICS` over some case results (None where it is undefined).

    Retrieval metrics and fact recall average over answerable cases (a refused answer
    states no facts); citation metrics pool all answers given; refusal metrics use all.
    """
    answerable = [r for r in results if not r.refuse]
    answered = [r for r in results if not r.refused]
    summary: dict[str, float | None] = {
        m: mean(r.retrieval[m] for r in answerable if r.retrieval) for m in RETRIEVAL_METRICS
    }
    summary["fact_recall"] = mean(_share(r.facts_found) for r in answerable)
    summary["citation_precision"] = ratio(
        sum(r.supported for r in answered), sum(r.citations for r in answered)
    )
    summary["citation_coverage"] = ratio(
        sum(r.covered for r in answered), sum(r.sentences for r in answered)
    )
    precision, recall = refusal_scores([r.refuse for r in results], [r.refused for r in results])
    summary["refusal_precision"], summary["refusal_recall"] = precision, recall
    asks = [r.ask_ms for r in results]
    retrievals = [r.retrieval_ms for r in results if r.retrieval_ms is not None]
    summary["ask_p50_ms"], summary["ask_p95_ms"] = percentile(asks, 50), percentile(asks, 95)
    summary["retrieval_p50_ms"] = percentile(retrievals, 50)
    summary["retrieval_p95_ms"] = percentile(retrievals, 95)
    return summary


def retriever_report(results: list[CaseResult], seconds: float = 0.0) -> RetrieverReport:
    """Overall and per-category metrics of one retriever's results."""
    categories: dict[str, list[CaseResult]] = {}
    for result in results:
        categories.setdefault(result.category, []).append(result)
    return RetrieverReport(
        summarize(results), {c: summarize(rs) for c, rs in categories.items()}, results, seconds
    )


def format_value(metric: str, value: float | None) -> str:
    """A metric for people: scores with 3 decimals, latencies in milliseconds.

    >>> format_value("mrr@10", 0.81234), format_value("ask_p50_ms", 12.34), format_value("x", None)
    ('0.812', '12.3 ms', 'n/a')
    """
    if value is None:
        return "n/a"
    return f"{value:.1f} ms" if metric.endswith("_ms") else f"{value:.3f}"


def format_table(report: Report, metrics: Iterable[str] = METRICS) -> str:
    """The metrics as a text table, one column per retriever."""
    names = list(report.retrievers)
    rows = [["metric", *names]]
    rows += [
        [m, *(format_value(m, report.retrievers[n].metrics.get(m)) for n in names)] for m in metrics
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def to_markdown(report: Report, chart: str | None = None) -> str:
    """The report as Markdown: overall table, per-category tables, and cases that failed."""
    names = list(report.retrievers)
    lines = [
        "# Evaluation report",
        "",
        f"Dataset `{report.dataset}`: {report.cases} cases; run {report.created_at} "
        f"in {report.seconds:.1f} s.",
        "",
        _markdown_table(
            ["metric", *names],
            [
                [m, *(format_value(m, report.retrievers[n].metrics.get(m)) for n in names)]
                for m in METRICS
            ],
        ),
    ]
    if chart:
        lines += ["", f"![metrics per retriever and category]({chart})"]
    for name, result in report.retrievers.items():
        lines += ["", f"## {name}: per category", ""]
        columns = [*QUALITY_METRICS, "ask_p50_ms"]
        rows = [
            [
                category,
                str(sum(r.category == category for r in result.cases)),
                *(format_value(m, values.get(m)) for m in columns),
            ]
            for category, values in sorted(result.categories.items())
        ]
        lines.append(_markdown_table(["category", "cases", *columns], rows))
        lines += [
            "",
            "In a category of answerable cases every refusal is a false one, so its refusal "
            "precision is 0.000 when anything was refused and n/a when nothing was.",
        ]
        misses = [_miss(r) for r in result.cases]
        misses = [m for m in misses if m]
        lines += ["", f"### {name}: cases to look at ({len(misses)})", ""]
        lines += [f"- {m}" for m in misses] or ["None."]
    return "\n".join(lines) + "\n"


def write_report(report: Report, folder: Path) -> list[Path]:
    """Write `report.json`, `report.md` and `report.png` into `folder` (created if needed).

    Returns:
        The paths written.
    """
    from evals.chart import plot_report

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


def _miss(result: CaseResult) -> str:
    """What went wrong with a case, in a few words, or "" when nothing did."""
    problems = []
    if result.refuse != result.refused:
        problems.append("refused" if result.refused else "answered instead of refusing")
    if result.retrieval and not result.retrieval.get("hit_rate@5"):
        problems.append("no expected section in the top 5")
    if not result.refuse and not result.refused and not all(result.facts_found):
        problems.append(f"facts {sum(result.facts_found)}/{len(result.facts_found)}")
    if not problems:
        return ""
    return f"`{result.id}` ({result.category}): {', '.join(problems)}; query: {result.query!r}"


def _markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)
