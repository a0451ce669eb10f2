"""Evaluation: run the question set through the assistant, measure it, report, and gate."""

from evals.dataset import DEFAULT_DATASET, Case, DatasetError, Section, load_dataset
from evals.gate import (
    DEFAULT_THRESHOLDS,
    GATED,
    Shortfall,
    ThresholdsError,
    check_gate,
    format_gate,
    load_thresholds,
)
from evals.report import METRICS, QUALITY_METRICS, Report, format_table, write_report
from evals.runner import RETRIEVERS, CaseResult, evaluate

__all__ = [
    "DEFAULT_DATASET",
    "DEFAULT_THRESHOLDS",
    "GATED",
    "METRICS",
    "QUALITY_METRICS",
    "RETRIEVERS",
    "Case",
    "CaseResult",
    "DatasetError",
    "Report",
    "Section",
    "Shortfall",
    "ThresholdsError",
    "check_gate",
    "evaluate",
    "format_gate",
    "format_table",
    "load_dataset",
    "load_thresholds",
    "write_report",
]
