"""A run as a Markdown summary for a reviewer: the verdict, the metrics against their minimums
and the baseline, the cases that flipped, and the failing cases.

It is what a CI step shows on its page (`$GITHUB_STEP_SUMMARY`), so it leads with what changed
and keeps the long list of cases that also failed before folded away.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from evals.failures import SHOWN_CHARS, failing, format_failure
from evals.gate import GATED, Shortfall, minimums_for
from evals.metrics import QUALITY_METRICS
from evals.results import CaseResult
from evals.tables import format_cell, format_value, markdown_table

if TYPE_CHECKING:
    from evals.flips import MetricChange, SplitChanges
    from evals.report import Report

LISTED = 100  # failing cases listed per split; the rest are in report.json


def to_summary(
    report: Report,
    thresholds: Mapping[str, Mapping[str, float]] | None = None,
    shortfalls: Sequence[Shortfall] = (),
    changes: Mapping[str, SplitChanges] | None = None,
    baseline: str | None = None,
) -> str:
    """The summary as Markdown.

    Args:
        report: This run's report (its hybrid results are summarised).
        thresholds: The gate's minimums; None when the run was not gated.
        shortfalls: The metrics below their minimum (`evals.check_gate`).
        changes: The comparison with the baseline, by split; None without one.
        baseline: Where the baseline came from and when it ran, or why there is none.
    """
    cases = sum(split.cases for split in report.splits.values())
    lines = [f"## Eval: {_verdict(thresholds, shortfalls)}", ""]
    lines.append(f"{cases} cases, run {report.created_at} in {report.seconds:.1f} s ({GATED}).")
    if baseline:
        lines.append(f"Baseline: {baseline}.")
    for name, split in report.splits.items():
        results = split.retrievers[GATED]
        change = (changes or {}).get(name)
        lines += ["", f"### {name}: {split.cases} cases (`{split.dataset}`)", ""]
        table, minimums = minimums_for(name, thresholds) if thresholds else (name, {})
        if table != name:
            lines += [f"Held to the [{table}] minimums.", ""]
        lines.append(_metric_table(results.metrics, results.intervals, minimums, change))
        if change is not None:
            lines += ["", *_flips(change)]
        lines += ["", *_failing(results.cases, change)]
    return "\n".join(lines) + "\n"


def _verdict(
    thresholds: Mapping[str, Mapping[str, float]] | None, shortfalls: Sequence[Shortfall]
) -> str:
    if thresholds is None:
        return "not gated"
    if not shortfalls:
        return "gate passed ✅"
    return f"gate FAILED ❌ ({len(shortfalls)} metric(s) below minimum)"


def _metric_table(
    metrics: Mapping[str, float | None],
    intervals: Mapping[str, tuple[float, float] | None],
    minimums: Mapping[str, float],
    change: SplitChanges | None,
) -> str:
    header = ["metric", "now [95% interval]"]
    if minimums:
        header += ["minimum", "met"]
    if change is not None:
        header += ["baseline", "change [95% interval]"]
    rows = []
    for metric in QUALITY_METRICS:
        value = metrics.get(metric)
        row = [metric, format_cell(metric, value, intervals.get(metric))]
        if minimums:
            minimum = minimums.get(metric)
            met = minimum is None or (value is not None and value >= minimum)
            row += ["" if minimum is None else f"{minimum:.2f}", "✅" if met else "❌ below"]
        if change is not None:
            moved = change.metrics[metric]
            row += [format_value(metric, moved.before), _change(moved)]
        rows.append(row)
    return markdown_table(header, rows)


def _change(moved: MetricChange) -> str:
    """A change with its interval, bold when the interval leaves zero out."""
    if moved.change is None:
        return "n/a"
    text = f"{moved.change:+.3f}"
    if moved.interval is not None:
        text += f" [{moved.interval[0]:+.3f}, {moved.interval[1]:+.3f}]"
    return f"**{text}**" if moved.clear else text


def _flips(change: SplitChanges) -> list[str]:
    lines = [
        f"#### Flipped since the baseline: {len(change.newly_failing)} newly failing, "
        f"{len(change.newly_passing)} newly passing"
    ]
    if change.unmatched:
        lines += ["", f"{change.unmatched} case(s) are in only one of the two runs."]
    if change.newly_failing:
        lines += ["", "Newly failing:", ""]
        for result in change.newly_failing:
            before = change.before[result.id]
            lines.append(_escape(format_failure(result)))
            lines.append(f"  - before: {_escape(_one_line(before.answer))}")
    if change.newly_passing:
        lines += ["", "Newly passing:", ""]
        lines += [
            f"- `{r.id}` ({r.category}): {_escape(_one_line(r.question))}"
            for r in change.newly_passing
        ]
    return lines


def _failing(results: Sequence[CaseResult], change: SplitChanges | None) -> list[str]:
    failed = failing(results)
    title = f"{len(failed)} of {len(results)} cases failing"
    if change is not None:
        title += f" ({len(change.newly_failing)} of them newly)"
    if not failed:
        return [f"#### {title}"]
    shown = "\n".join(_escape(format_failure(r)) for r in failed[:LISTED])
    more = len(failed) - LISTED
    if more > 0:
        shown += f"\n\n…and {more} more in report.json."
    return [f"<details><summary>{title}</summary>", "", shown, "", "</details>"]


def _one_line(text: str) -> str:
    flat = " ".join(text.split())
    return f'"{flat[:SHOWN_CHARS]}…"' if len(flat) > SHOWN_CHARS else f'"{flat}"'


def _escape(text: str) -> str:
    """Learners' and answers' text as Markdown text, never as HTML tags.

    >>> _escape('- "<details>" & co')
    '- "&lt;details&gt;" &amp; co'
    """
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
