"""Before/after: a baseline report's hybrid results against this run's, split by split.

The baseline is a `report.json` (from `cert-assistant eval --report DIR`) copied to
`evals/baseline.json`. Both sides are read in that JSON shape, so any two reports compare.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cert_core.errors import CertAssistantError
from evals.metrics import QUALITY_METRICS
from evals.tables import format_value, text_table

DEFAULT_BASELINE = Path(__file__).resolve().parent / "baseline.json"
COMPARED = "hybrid"
CATEGORY_METRICS = ("accuracy", "fact_recall", "refusal_recall")


class BaselineError(CertAssistantError):
    """The baseline report exists but cannot be read as a report."""


def load_baseline(path: Path | None = None) -> dict[str, Any] | None:
    """The baseline report as JSON, or None when the file does not exist.

    Raises:
        BaselineError: The file is unreadable, not JSON, or not a report with splits.
    """
    path = Path(path or DEFAULT_BASELINE)
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BaselineError(f"Cannot read the baseline {path}: {error}") from error
    if not isinstance(data, dict) or not isinstance(data.get("splits"), dict):
        raise BaselineError(
            f"The baseline {path} is not an eval report with splits; make one with "
            f"`cert-assistant eval --report DIR` and copy DIR/report.json there."
        )
    return data


def format_comparison(before: Mapping[str, Any], after: Mapping[str, Any]) -> str:
    """For each split of `after`: every quality metric of the baseline's hybrid and now's,
    with the change, then accuracy, fact recall and refusal recall per category.

    Args:
        before: The baseline report (JSON shape of `Report.to_json`).
        after: This run's report, in the same shape.
    """
    blocks = []
    for split, now in after["splits"].items():
        then = before["splits"].get(split, {})
        old, new = _results(then), _results(now)
        if old is None or new is None:
            missing = "the baseline" if old is None else "this run"
            blocks.append(f"{split}: {missing} has no {COMPARED} results; nothing to compare.")
            continue
        header = (
            f"{split}: {COMPARED} before (baseline, {then.get('cases')} cases, "
            f"{before.get('created_at', '?')}) → now ({now.get('cases')} cases)"
        )
        rows = [["metric", "before", "now", "change"]]
        for metric in QUALITY_METRICS:
            a, b = old.get("metrics", {}).get(metric), new["metrics"].get(metric)
            rows.append([metric, format_value(metric, a), format_value(metric, b), delta(a, b)])
        blocks.append(f"{header}\n{text_table(rows)}\n\n{_category_table(old, new)}")
    return "\n\n".join(blocks)


def delta(before: float | None, after: float | None) -> str:
    """The change from before to after, signed, or n/a.

    >>> delta(0.8, 0.85), delta(0.9, 0.8), delta(None, 0.8)
    ('+0.050', '-0.100', 'n/a')
    """
    if before is None or after is None:
        return "n/a"
    return f"{after - before:+.3f}"


def _category_table(old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    rows = [["category", "cases", *CATEGORY_METRICS]]
    for category in sorted(set(old.get("categories", {})) | set(new["categories"])):
        counts = [_count(side, category) for side in (old, new)]
        cells = [category, str(counts[1]) if counts[0] == counts[1] else "{} → {}".format(*counts)]
        for metric in CATEGORY_METRICS:
            a, b = (side.get("categories", {}).get(category, {}).get(metric) for side in (old, new))
            cells.append(f"{format_value(metric, a)} → {format_value(metric, b)}")
        rows.append(cells)
    return text_table(rows)


def _results(split: Mapping[str, Any]) -> Mapping[str, Any] | None:
    return split.get("retrievers", {}).get(COMPARED)


def _count(results: Mapping[str, Any], category: str) -> int:
    return sum(case.get("category") == category for case in results.get("cases", []))
