"""The report for people: the printed tables and the Markdown report."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from evals.bootstrap import LEVEL, RESAMPLES, Interval
from evals.failures import failing, format_failures
from evals.metrics import METRICS, QUALITY_METRICS

if TYPE_CHECKING:
    from evals.report import Report, SplitReport

CATEGORY_NOTE = (
    "In a category of answerable cases every refusal is a false one, so its refusal precision "
    "is 0.000 when anything was refused and n/a when nothing was."
)


def format_value(metric: str, value: float | None) -> str:
    """A metric for people: scores with 3 decimals, latencies in milliseconds.

    >>> format_value("mrr@10", 0.81234), format_value("ask_p50_ms", 12.34), format_value("x", None)
    ('0.812', '12.3 ms', 'n/a')
    """
    if value is None:
        return "n/a"
    return f"{value:.1f} ms" if metric.endswith("_ms") else f"{value:.3f}"


def format_cell(metric: str, value: float | None, interval: Interval | None = None) -> str:
    """A metric with its interval when it has one.

    >>> format_cell("accuracy", 0.9123, (0.87, 0.95)), format_cell("accuracy", 0.9)
    ('0.912 [0.870, 0.950]', '0.900')
    """
    text = format_value(metric, value)
    if value is not None and interval is not None:
        text += f" [{interval[0]:.3f}, {interval[1]:.3f}]"
    return text


def split_rows(split: SplitReport, metrics: Iterable[str] = METRICS) -> list[list[str]]:
    """One row per metric: its name, then each retriever's value (and interval)."""
    return [
        [
            metric,
            *(
                format_cell(metric, r.metrics.get(metric), r.intervals.get(metric))
                for r in split.retrievers.values()
            ),
        ]
        for metric in metrics
    ]


def text_table(rows: list[list[str]]) -> str:
    """Rows as aligned text: the first column left, the others right, a rule under the header.

    >>> print(text_table([["metric", "hybrid"], ["mrr@10", "0.900"]]))
    metric  hybrid
    ------  ------
    mrr@10   0.900
    """
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def format_table(report: Report, metrics: Iterable[str] = METRICS) -> str:
    """The metrics as text, one table per split, one column per retriever."""
    metrics = list(metrics)
    blocks = []
    for name, split in report.splits.items():
        header = ["metric", *split.retrievers]
        blocks.append(
            f"{name}: {split.cases} cases ({split.dataset})\n"
            + text_table([header, *split_rows(split, metrics)])
        )
    return "\n\n".join(blocks)


def format_failing(report: Report, listed_in_report: Iterable[str] = ()) -> str:
    """The failing cases of each split for its first retriever (hybrid, when evaluated).

    Args:
        report: The report.
        listed_in_report: Splits to give only a count for (their cases are in `report.md`).
    """
    brief = set(listed_in_report)
    blocks = []
    for name, split in report.splits.items():
        retriever, result = next(iter(split.retrievers.items()))
        count = len(failing(result.cases))
        title = f"{name}: {count} of {split.cases} cases failing with {retriever}"
        if name in brief:
            blocks.append(f"{title} (listed in report.md)")
        else:
            blocks.append(f"{title}\n{format_failures(result.cases)}")
    return "\n\n".join(blocks)


def to_markdown(report: Report, chart: str | None = None) -> str:
    """The report as Markdown: per split, the overall table, per-category tables, failures."""
    splits = ", ".join(f"{n} ({s.cases} cases, `{s.dataset}`)" for n, s in report.splits.items())
    lines = [
        "# Evaluation report",
        "",
        f"Run {report.created_at} in {report.seconds:.1f} s on {splits}.",
        "",
        f"Values in brackets are bootstrap {LEVEL:.0%} intervals over the split's cases "
        f"({RESAMPLES} resamples).",
    ]
    if chart:
        lines += ["", f"![metrics per split and retriever]({chart})"]
    for name, split in report.splits.items():
        lines += ["", f"## {name}", "", f"`{split.dataset}`: {split.cases} cases.", ""]
        lines.append(markdown_table(["metric", *split.retrievers], split_rows(split)))
        for retriever, result in split.retrievers.items():
            lines += ["", f"### {name}, {retriever}: per category", ""]
            columns = [*QUALITY_METRICS, "ask_p50_ms"]
            rows = [
                [
                    category,
                    str(sum(r.category == category for r in result.cases)),
                    *(format_value(m, values.get(m)) for m in columns),
                ]
                for category, values in sorted(result.categories.items())
            ]
            lines += [markdown_table(["category", "cases", *columns], rows), "", CATEGORY_NOTE]
            count = len(failing(result.cases))
            lines += ["", f"### {name}, {retriever}: failing cases ({count})", ""]
            lines.append(format_failures(result.cases))
    return "\n".join(lines) + "\n"


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table.

    >>> print(markdown_table(["a", "b"], [["1", "2"]]))
    | a | b |
    |---|---|
    | 1 | 2 |
    """
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)
