"""Against a baseline: how far each metric moved (with a paired bootstrap interval of the change)
and which cases flipped, so a reviewer sees the three questions a content edit broke.

The baseline is an earlier run's `report.json` (`cert-assistant eval --report DIR`). A case
passes when it has no problem (`evals.failures.problems`: handled right, and an expected
section in the top 5); it flipped when it passed on one side and not on the other. Cases are
matched by id, split by split, on the hybrid retriever (the one the gate judges).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import MISSING, dataclass, fields
from typing import TYPE_CHECKING, Any

from evals.bootstrap import Interval, bootstrap_intervals
from evals.compare import COMPARED, BaselineError
from evals.failures import problems
from evals.metrics import HEADLINE_METRICS, QUALITY_METRICS
from evals.results import CaseResult

if TYPE_CHECKING:
    from evals.report import Report

_CASE_FIELDS = {f.name for f in fields(CaseResult)}
_REQUIRED = [
    f.name for f in fields(CaseResult) if f.default is MISSING and f.default_factory is MISSING
]


@dataclass(frozen=True)
class MetricChange:
    """One metric of a split, before and now.

    Attributes:
        metric: Its name (`QUALITY_METRICS`).
        before: The baseline's value (None: undefined there).
        now: This run's value (None: undefined here).
        interval: 95% paired-bootstrap interval of `now - before` over the cases both runs
            share (headline metrics only; None otherwise, or when undefined).
    """

    metric: str
    before: float | None
    now: float | None
    interval: Interval | None = None

    @property
    def change(self) -> float | None:
        """`now - before`, or None when either side is undefined."""
        return None if self.before is None or self.now is None else self.now - self.before

    @property
    def clear(self) -> bool:
        """Whether the interval leaves zero out: a change larger than case-sampling noise.

        >>> MetricChange("accuracy", 0.8, 0.7, (-0.15, -0.05)).clear
        True
        >>> MetricChange("accuracy", 0.8, 0.79, (-0.03, 0.01)).clear
        False
        """
        return self.interval is not None and (self.interval[0] > 0 or self.interval[1] < 0)


@dataclass(frozen=True)
class SplitChanges:
    """One split of this run against the same split of the baseline.

    Attributes:
        split: The split's name.
        baseline_cases: Cases the baseline ran on this split.
        metrics: Metric → its change, in `QUALITY_METRICS` order.
        newly_failing: This run's results of cases that passed in the baseline and fail now.
        newly_passing: This run's results of cases that failed in the baseline and pass now.
        before: The baseline's result of every case it shares with this run, by id.
        unmatched: Cases in only one of the two runs (added or removed from the split).
    """

    split: str
    baseline_cases: int
    metrics: dict[str, MetricChange]
    newly_failing: list[CaseResult]
    newly_passing: list[CaseResult]
    before: dict[str, CaseResult]
    unmatched: int


def compare_with_baseline(baseline: Mapping[str, Any], report: Report) -> dict[str, SplitChanges]:
    """Each split of `report` that the baseline also ran, against the baseline.

    Args:
        baseline: The baseline report as JSON (`evals.load_baseline`).
        report: This run's report.

    Returns:
        Split name → its changes; a split the baseline lacks (or ran without hybrid) is left out.

    Raises:
        BaselineError: A baseline case lacks a field a case result needs.
    """
    changes = {}
    for name, split in report.splits.items():
        old = baseline["splits"].get(name, {}).get("retrievers", {}).get(COMPARED)
        now = split.retrievers.get(COMPARED)
        if old is None or now is None:
            continue
        before = [case_from_json(record, name) for record in old.get("cases", [])]
        changes[name] = split_changes(name, before, old.get("metrics", {}), now.cases, now.metrics)
    return changes


def split_changes(
    split: str,
    before: Sequence[CaseResult],
    before_metrics: Mapping[str, float | None],
    now: Sequence[CaseResult],
    now_metrics: Mapping[str, float | None],
) -> SplitChanges:
    """The metric changes and flipped cases of one split (see `SplitChanges`)."""
    earlier = {r.id: r for r in before}
    shared = [r for r in now if r.id in earlier]
    paired = [earlier[r.id] for r in shared]

    measure_now, measure_before = headline_of_draws(shared), headline_of_draws(paired)

    def change_on(drawn: Sequence[int]) -> dict[str, float | None]:
        after, prior = measure_now(drawn), measure_before(drawn)
        return {
            m: None if after[m] is None or prior[m] is None else after[m] - prior[m]
            for m in HEADLINE_METRICS
        }

    intervals = bootstrap_intervals(len(shared), change_on, HEADLINE_METRICS)
    metrics = {
        m: MetricChange(m, before_metrics.get(m), now_metrics.get(m), intervals.get(m))
        for m in QUALITY_METRICS
    }
    passed_before = {r.id: not problems(r) for r in paired}
    return SplitChanges(
        split,
        len(before),
        metrics,
        [r for r in shared if passed_before[r.id] and problems(r)],
        [r for r in shared if not passed_before[r.id] and not problems(r)],
        {r.id: r for r in paired},
        len(now) + len(before) - 2 * len(shared),
    )


def headline_of_draws(
    results: Sequence[CaseResult],
) -> Callable[[Sequence[int]], dict[str, float | None]]:
    """`evals.report.headline` of drawn cases (indices into `results`, with repeats).

    The per-case numbers are read once into arrays, so a draw costs a few sums instead of a
    pass over the case objects: the paired bootstrap of the dev and test splits took 1.0 s
    instead of 35 s with `headline` itself (on a busy 2-core machine). Equal to `headline`
    (tests/test_eval_ci_outputs.py checks it on random draws).
    """
    import numpy as np

    def column(values: list) -> np.ndarray:
        return np.array(values, dtype=float)

    refuse = column([r.refuse for r in results])
    refused = column([r.refused for r in results])
    accuracy = column([r.accuracy for r in results])
    found = [r.facts_found for r in results]
    share = column([sum(f) / len(f) if f else 1.0 for f in found])
    ranked = column([not r.refuse and bool(r.retrieval) for r in results])
    hit = column([r.retrieval.get("hit_rate@5", 0.0) for r in results])
    mrr = column([r.retrieval.get("mrr@10", 0.0) for r in results])

    def measure(drawn: Sequence[int]) -> dict[str, float | None]:
        idx = np.asarray(drawn, dtype=int)
        count, answerable, scored = len(idx), (1 - refuse[idx]).sum(), ranked[idx].sum()
        positives, predicted = refuse[idx].sum(), refused[idx].sum()
        true_pos = (refuse[idx] * refused[idx]).sum()
        if predicted:
            precision: float | None = float(true_pos / predicted)
        else:
            precision = 0.0 if positives else None
        return {
            "accuracy": float(accuracy[idx].mean()) if count else None,
            "fact_recall": _mean((share * (1 - refuse))[idx], answerable),
            "refusal_precision": precision,
            "refusal_recall": float(true_pos / positives) if positives else None,
            "hit_rate@5": _mean((hit * ranked)[idx], scored),
            "mrr@10": _mean((mrr * ranked)[idx], scored),
        }

    return measure


def _mean(values: Any, count: float) -> float | None:
    return float(values.sum() / count) if count else None


def case_from_json(record: Mapping[str, Any], split: str = "") -> CaseResult:
    """A case result read back from a `report.json` case (its derived fields dropped).

    Raises:
        BaselineError: A field a case result needs is missing.

    >>> case_from_json({"id": "x", "category": "faq"}, "dev")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    evals.compare.BaselineError: The baseline's case 'x' of split 'dev' lacks refuse, refused, ...
    """
    missing = [name for name in _REQUIRED if name not in record]
    if missing:
        raise BaselineError(
            f"The baseline's case {record.get('id')!r} of split {split!r} lacks "
            f"{', '.join(missing)}: is it a report.json of `cert-assistant eval --report DIR`?"
        )
    return CaseResult(**{k: v for k, v in record.items() if k in _CASE_FIELDS})


def format_flips(changes: Mapping[str, SplitChanges]) -> str:
    """The flipped cases for a terminal: per split, the ids and questions that changed side."""
    blocks = []
    for name, split in changes.items():
        lines = [
            f"{name}: {len(split.newly_failing)} newly failing, "
            f"{len(split.newly_passing)} newly passing since the baseline"
        ]
        lines += [f"  - {r.id}: {r.question}" for r in split.newly_failing]
        lines += [f"  + {r.id}: {r.question}" for r in split.newly_passing]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) or "no split of this run is in the baseline: no flips to show"
