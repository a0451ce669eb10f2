"""The report's chart: metrics per retriever (bars) and per case category (one heatmap each)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from evals.report import Report


def plot_report(report: Report, path: Path) -> Path:
    """Draw the report's quality metrics into a PNG.

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

    from evals.report import QUALITY_METRICS

    names = list(report.retrievers)
    colours = matplotlib.colormaps["RdYlGn"].with_extremes(bad="#dddddd")
    figure, axes = plt.subplots(
        1 + len(names), 1, figsize=(12, 4.5 + 4.5 * len(names)), squeeze=False
    )
    bars = axes[0][0]
    width = 0.8 / max(len(names), 1)
    positions = np.arange(len(QUALITY_METRICS))
    for i, name in enumerate(names):
        metrics = report.retrievers[name].metrics
        values = [metrics.get(m) or 0.0 for m in QUALITY_METRICS]
        bars.bar(positions + (i - (len(names) - 1) / 2) * width, values, width, label=name)
    bars.set_xticks(positions, QUALITY_METRICS, rotation=30, ha="right")
    bars.set_ylim(0, 1.05)
    bars.set_title(f"Metrics per retriever ({report.cases} cases)")
    bars.legend(loc="lower right")
    bars.grid(axis="y", alpha=0.3)

    for row, name in enumerate(names, start=1):
        ax = axes[row][0]
        categories = sorted(report.retrievers[name].categories)
        grid = np.array(
            [
                [_or_nan(report.retrievers[name].categories[c].get(m)) for m in QUALITY_METRICS]
                for c in categories
            ],
            dtype=float,
        )
        image = ax.imshow(np.ma.masked_invalid(grid), cmap=colours, vmin=0, vmax=1, aspect="auto")
        ax.set_xticks(range(len(QUALITY_METRICS)), QUALITY_METRICS, rotation=30, ha="right")
        ax.set_yticks(range(len(categories)), categories)
        for (y, x), value in np.ndenumerate(grid):
            if not np.isnan(value):
                ax.text(x, y, f"{value:.2f}", ha="center", va="center", fontsize=8)
        ax.set_title(f"{name}: per category (grey: not applicable)")
        figure.colorbar(image, ax=ax, fraction=0.03)

    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def _or_nan(value: float | None) -> float:
    return float("nan") if value is None else value
