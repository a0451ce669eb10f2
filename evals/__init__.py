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
from evals.flips import SplitChanges, compare_with_baseline, format_flips
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
from evals.junit import junit_xml
from evals.metrics import HEADLINE_METRICS, METRICS, QUALITY_METRICS
from evals.outputs import OutputError, append_step_summary, check_destination, write_output
from evals.report import Report, build_report, write_report
from evals.results import CaseResult, Run
from evals.runner import RETRIEVERS, evaluate
from evals.summary import to_summary
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
    "OutputError",
    "Report",
    "Run",
    "Section",
    "Shortfall",
    "Split",
    "SplitChanges",
    "ThresholdsError",
    "append_step_summary",
    "build_report",
    "check_destination",
    "check_gate",
    "compare_with_baseline",
    "evaluate",
    "format_comparison",
    "format_failing",
    "format_failures",
    "format_flips",
    "format_gate",
    "format_table",
    "junit_xml",
    "load_baseline",
    "load_dataset",
    "load_split",
    "load_splits",
    "load_thresholds",
    "minimums_for",
    "to_summary",
    "write_output",
    "write_report",
]
