"""The quality gate: on every split evaluated, each metric in `evals/thresholds.toml` must
reach its minimum for that split."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cert_core.errors import CertAssistantError
from evals.dataset import SPLITS
from evals.metrics import QUALITY_METRICS

DEFAULT_THRESHOLDS = Path(__file__).resolve().parent / "thresholds.toml"
GATED = "hybrid"  # the retriever the product ships, and the one the gate judges
FALLBACK = "dev"  # the minimums a split without a table of its own (a --dataset file) must meet

Thresholds = dict[str, dict[str, float]]


class ThresholdsError(CertAssistantError):
    """The thresholds file cannot be read or is malformed."""


@dataclass(frozen=True)
class Shortfall:
    """A metric of a split below its minimum (`value` None: the run could not measure it)."""

    split: str
    metric: str
    value: float | None
    minimum: float

    def __str__(self) -> str:
        measured = (
            "n/a (not measurable on this split)" if self.value is None else f"{self.value:.3f}"
        )
        return f"{self.split}: {self.metric}: {measured} < {self.minimum:.2f}"


def load_thresholds(path: Path | None = None) -> Thresholds:
    """Split → metric → minimum, from a TOML file with one table per split.

    ```toml
    [dev]
    accuracy = 0.80
    "hit_rate@5" = 0.92
    ```

    Args:
        path: The file; defaults to `evals/thresholds.toml`.

    Raises:
        ThresholdsError: The file is unreadable or not TOML; a table is not a split of
            `SPLITS`; a metric is outside a table or unknown; a minimum is not a number
            between 0 and 1; or a table (or the file) sets nothing.
    """
    path = path or DEFAULT_THRESHOLDS
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ThresholdsError(f"Cannot read the thresholds {path}: {error}") from error
    thresholds: Thresholds = {}
    for split, table in data.items():
        if not isinstance(table, dict):
            raise ThresholdsError(
                f"{path}: {split!r} must sit in a split's table ({_tables()}), not at the top"
            )
        if split not in SPLITS:
            raise ThresholdsError(f"{path}: unknown split [{split}] (known: {_tables()})")
        thresholds[split] = _minimums(path, split, table)
    if not thresholds:
        raise ThresholdsError(f"{path} sets no thresholds.")
    return thresholds


def minimums_for(
    split: str, thresholds: Mapping[str, Mapping[str, float]]
) -> tuple[str, dict[str, float]]:
    """The table a split is gated by, and its minimums: its own, else `[dev]`'s.

    >>> minimums_for("mine", {"dev": {"accuracy": 0.8}})
    ('dev', {'accuracy': 0.8})

    Raises:
        ThresholdsError: There is neither.
    """
    for table in (split, FALLBACK):
        if table in thresholds:
            return table, dict(thresholds[table])
    raise ThresholdsError(
        f"The thresholds set no minimums for the split {split!r} (tables: "
        f"{', '.join(f'[{t}]' for t in thresholds)}); add a [{split}] or [{FALLBACK}] table."
    )


def check_gate(
    metrics: Mapping[str, Mapping[str, float | None]],
    thresholds: Mapping[str, Mapping[str, float]],
) -> list[Shortfall]:
    """Every metric below its minimum, split by split (empty: the gate passes).

    Args:
        metrics: Split → metric → value, for the splits evaluated.
        thresholds: Split → metric → minimum (see `minimums_for`).

    >>> check_gate({"test": {"mrr@10": 0.8, "fact_recall": 0.5}},
    ...            {"test": {"mrr@10": 0.7, "fact_recall": 0.6}})
    [Shortfall(split='test', metric='fact_recall', value=0.5, minimum=0.6)]
    """
    shortfalls = []
    for split, values in metrics.items():
        for metric, minimum in minimums_for(split, thresholds)[1].items():
            value = values.get(metric)
            if value is None or value < minimum:
                shortfalls.append(Shortfall(split, metric, value, minimum))
    return shortfalls


def format_gate(
    shortfalls: list[Shortfall],
    thresholds: Mapping[str, Mapping[str, float]],
    splits: list[str],
) -> str:
    """The verdict for people: passed, or every metric below its minimum, naming its split."""
    checked = []
    for split in splits:
        table, minimums = minimums_for(split, thresholds)
        against = "" if table == split else f" against [{table}]"
        checked.append(f"{len(minimums)} on {split}{against}")
    scope = f"{GATED} thresholds ({', '.join(checked)})"
    if not shortfalls:
        return f"gate passed: all {scope} met"
    lines = [f"gate FAILED: {len(shortfalls)} {GATED} metric(s) below minimum, of {scope}"]
    lines += [f"  {s}" for s in shortfalls]
    return "\n".join(lines)


def _minimums(path: Path, split: str, table: dict) -> dict[str, float]:
    minimums = {}
    for metric, minimum in table.items():
        where = f"{path} [{split}]"
        if metric not in QUALITY_METRICS:
            raise ThresholdsError(
                f"{where}: unknown metric {metric!r} (known: {', '.join(QUALITY_METRICS)})"
            )
        if isinstance(minimum, bool) or not isinstance(minimum, int | float):
            raise ThresholdsError(f"{where}: {metric!r} must be a number, not {minimum!r}")
        if not 0 <= minimum <= 1:
            raise ThresholdsError(f"{where}: {metric!r} must be between 0 and 1, not {minimum}")
        minimums[metric] = float(minimum)
    if not minimums:
        raise ThresholdsError(f"{path}: [{split}] sets no thresholds.")
    return minimums


def _tables() -> str:
    return ", ".join(f"[{name}]" for name in SPLITS)
