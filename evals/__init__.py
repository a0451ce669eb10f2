"""Evaluation: run the dev and test splits through the assistant, measure, report, compare, gate."""

from evals.compare import DEFAULT_BASELINE, BaselineError, format_comparison, load_baseline
from evals.dataset import (
    SPLITS,
    Case,
    DatasetError,
    Section,
    Split,
    load_dataset,
    load_split,
    load_splits,
)
from evals.failures import format_failures
from evals.gate import (
    DEFAULT_THRESHOLDS,
    GATED,
    Shortfall,
    ThresholdsError,
    check_gate,
    format_gate,
    load_thresholds,
    minimums_for,
)
from evals.metrics import HEADLINE_METRICS, METRICS, QUALITY_METRICS
from evals.report import Report, build_report, write_report
from evals.results import CaseResult, Run
from evals.runner import RETRIEVERS, evaluate
from evals.tables import format_failing, format_table

__all__ = [
    "DEFAULT_BASELINE",
    "DEFAULT_THRESHOLDS",
    "GATED",
    "HEADLINE_METRICS",
    "METRICS",
    "QUALITY_METRICS",
    "RETRIEVERS",
    "SPLITS",
    "BaselineError",
    "Case",
    "CaseResult",
    "DatasetError",
    "Report",
    "Run",
    "Section",
    "Shortfall",
    "Split",
    "ThresholdsError",
    "build_report",
    "check_gate",
    "evaluate",
    "format_comparison",
    "format_failing",
    "format_failures",
    "format_gate",
    "format_table",
    "load_baseline",
    "load_dataset",
    "load_split",
    "load_splits",
    "load_thresholds",
    "minimums_for",
    "write_report",
]
