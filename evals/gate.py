"""The quality gate: every metric named in `evals/thresholds.toml` must reach its minimum."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cert_assistant.errors import CertAssistantError
from evals.report import QUALITY_METRICS, format_value

DEFAULT_THRESHOLDS = Path(__file__).resolve().parent / "thresholds.toml"
GATED = "hybrid"  # the retriever the product ships, and the one the gate judges


class ThresholdsError(CertAssistantError):
    """The thresholds file cannot be read or is malformed."""


@dataclass(frozen=True)
class Shortfall:
    """A metric below its minimum (`value` None: the run could not measure it)."""

    metric: str
    value: float | None
    minimum: float

    def __str__(self) -> str:
        measured = format_value(self.metric, self.value)
        if self.value is None:
            measured += " (not measurable on this dataset)"
        return f"{self.metric}: {measured} < {self.minimum:.2f}"


def load_thresholds(path: Path | None = None) -> dict[str, float]:
    """Metric → minimum, from a TOML file of `"metric" = minimum` lines.

    Args:
        path: The file; defaults to `evals/thresholds.toml`.

    Raises:
        ThresholdsError: The file is unreadable, not TOML, names an unknown metric, or gives
            a minimum that is not a number between 0 and 1.
    """
    path = path or DEFAULT_THRESHOLDS
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ThresholdsError(f"Cannot read the thresholds {path}: {error}") from error
    thresholds = {}
    for metric, minimum in data.items():
        if metric not in QUALITY_METRICS:
            raise ThresholdsError(
                f"{path}: unknown metric {metric!r} (known: {', '.join(QUALITY_METRICS)})"
            )
        if isinstance(minimum, bool) or not isinstance(minimum, int | float):
            raise ThresholdsError(f"{path}: {metric!r} must be a number, not {minimum!r}")
        if not 0 <= minimum <= 1:
            raise ThresholdsError(f"{path}: {metric!r} must be between 0 and 1, not {minimum}")
        thresholds[metric] = float(minimum)
    if not thresholds:
        raise ThresholdsError(f"{path} sets no thresholds.")
    return thresholds


def check_gate(
    metrics: Mapping[str, float | None], thresholds: Mapping[str, float]
) -> list[Shortfall]:
    """Every metric below its minimum, in the order of the thresholds (empty: the gate passes).

    >>> check_gate({"mrr@10": 0.8, "fact_recall": 0.5}, {"mrr@10": 0.7, "fact_recall": 0.6})
    [Shortfall(metric='fact_recall', value=0.5, minimum=0.6)]
    """
    shortfalls = []
    for metric, minimum in thresholds.items():
        value = metrics.get(metric)
        if value is None or value < minimum:
            shortfalls.append(Shortfall(metric, value, minimum))
    return shortfalls


def format_gate(shortfalls: list[Shortfall], thresholds: Mapping[str, float]) -> str:
    """The verdict for people: passed, or every metric below its minimum."""
    if not shortfalls:
        return f"gate passed: {GATED} meets all {len(thresholds)} thresholds"
    lines = [f"gate FAILED: {len(shortfalls)} of {len(thresholds)} {GATED} metrics below minimum"]
    lines += [f"  {s}" for s in shortfalls]
    return "\n".join(lines)
