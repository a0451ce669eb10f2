"""The report's chart: the quality metrics of each split, one bar per retriever."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from evals.metrics import QUALITY_METRICS

if TYPE_CHECKING:
    from evals.report import Report


def plot_report(report: Report, path: Path) -> Path:
    """Draw the report's quality metrics into a PNG: one panel per split, with the bootstrap
    intervals of the headline metrics as error bars.

    Args:
        report: The evaluation report.
        path: The PNG to write.

    Returns:
        The path written.
    """
    import matplotlib

    matplotlib.use("Agg")  # files only: no display, no GUI toolkit
    import matplotlib.pyplot as plt
    import numpy as np

    splits = list(report.splits.items())
    figure, axes = plt.subplots(len(splits), 1, figsize=(12, 4.5 * len(splits)), squeeze=False)
    positions = np.arange(len(QUALITY_METRICS))
    for (name, split), (ax,) in zip(splits, axes, strict=True):
        width = 0.8 / max(len(split.retrievers), 1)
        for i, (retriever, result) in enumerate(split.retrievers.items()):
            x = positions + (i - (len(split.retrievers) - 1) / 2) * width
            values = [result.metrics.get(m) or 0.0 for m in QUALITY_METRICS]
            ax.bar(x, values, width, label=retriever)
            ranged = [
                (x[j], values[j], interval)
                for j, m in enumerate(QUALITY_METRICS)
                if (interval := result.intervals.get(m)) is not None
            ]
            if ranged:
                xs, ys, intervals = zip(*ranged, strict=True)
                below = [max(y - low, 0.0) for y, (low, _) in zip(ys, intervals, strict=True)]
                above = [max(high - y, 0.0) for y, (_, high) in zip(ys, intervals, strict=True)]
                ax.errorbar(xs, ys, yerr=[below, above], fmt="none", ecolor="black", capsize=2)
        ax.set_xticks(positions, QUALITY_METRICS, rotation=30, ha="right")
        ax.set_ylim(0, 1.05)
        ax.set_title(f"{name}: {split.cases} cases (error bars: bootstrap 95% intervals)")
        ax.legend(loc="lower right")
        ax.grid(axis="y", alpha=0.3)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
