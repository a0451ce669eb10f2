"""Grid search of the refusal thresholds (`min_dense`, `min_coverage`, `strong_dense`).

Run `python -m evals.tune [--dataset FILE]`, on the dev split by default; the test split is
frozen and refused. Each pair is scored by the mean of refusal F1 (over all cases) and fact
recall (over answerable cases: a fact counts when the answer and one of its cited quotes state
it; a refusal states none). Retrieval does not depend on the thresholds, so it runs once per
question and only the answering step is repeated per pair. The search uses the extractive
answerer: with an LLM configured, the thresholds only matter when the LLM is bypassed.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cert_assistant.errors import CertAssistantError
from cert_assistant.settings import Settings
from evals.dataset import SPLITS, Case, DatasetError, load_dataset
from evals.metrics import f1, fact_recall, mean, refusal_scores
from retrieval import Assistant


@dataclass(frozen=True)
class Trial:
    """How one pair of thresholds did."""

    min_dense: float
    min_coverage: float
    strong_dense: float
    refusal_f1: float
    fact_recall: float
    false_refusals: int
    missed_refusals: int

    @property
    def score(self) -> float:
        """The objective: mean of refusal F1 and fact recall."""
        return (self.refusal_f1 + self.fact_recall) / 2


class _RememberedSearch:
    """The assistant's retriever, answering each query from memory after the first time."""

    def __init__(self, retriever: Any) -> None:
        self._retriever = retriever
        self._hits: dict[tuple[str, int | None], Any] = {}

    def search(self, query: str, k: int | None = None) -> Any:
        key = (query, k)
        if key not in self._hits:
            self._hits[key] = self._retriever.search(query, k)
        return self._hits[key]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._retriever, name)


def tune(
    assistant: Assistant, cases: Sequence[Case], pairs: Iterable[tuple[float, float, float]]
) -> list[Trial]:
    """Score pairs of thresholds on the cases.

    Args:
        assistant: Supplies the retriever and settings; its own thresholds are ignored.
        cases: The evaluation cases.
        pairs: `(min_dense, min_coverage, strong_dense)` values to try.

    Returns:
        One trial per pair, in order.
    """
    retriever = _RememberedSearch(assistant.retriever)
    trials = []
    for min_dense, min_coverage, strong_dense in pairs:
        settings = assistant.settings.model_copy(
            update={
                "min_dense": min_dense,
                "min_coverage": min_coverage,
                "strong_dense": strong_dense,
            }
        )
        answerer = Assistant(retriever, settings, llm=None)  # type: ignore[arg-type]
        trials.append(_trial(answerer, cases))
    return trials


def best_trial(trials: Sequence[Trial], current: tuple[float, float, float]) -> Trial:
    """The highest-scoring trial; among equals, the one nearest the current thresholds."""
    return max(
        trials,
        key=lambda t: (
            round(t.score, 9),
            -abs(t.min_dense - current[0])
            - abs(t.min_coverage - current[1])
            - abs(t.strong_dense - current[2]),
        ),
    )


def format_trials(
    trials: Sequence[Trial], best: Trial, current: Trial | None, top: int = 15
) -> str:
    """The best trials as a table, the score grid, and the recommendation."""
    lines = [
        "min_dense  min_coverage  strong_dense  score  refusal_f1  fact_recall  false_ref  "
        "missed_ref"
    ]
    ranked = sorted(trials, key=lambda t: -t.score)[:top]
    for t in ranked:
        lines.append(
            f"{t.min_dense:9.3f}  {t.min_coverage:12.3f}  {t.strong_dense:12.3f}  {t.score:5.3f}  "
            f"{t.refusal_f1:10.3f}  {t.fact_recall:11.3f}  {t.false_refusals:9d}  "
            f"{t.missed_refusals:10d}"
        )
    trials = [t for t in trials if t.strong_dense == best.strong_dense]
    coverages = sorted({t.min_coverage for t in trials})
    lines += [
        "",
        f"score by min_dense (rows) and min_coverage (columns), strong_dense "
        f"{best.strong_dense:.3f}:",
    ]
    lines.append("       " + " ".join(f"{c:6.2f}" for c in coverages))
    for dense in sorted({t.min_dense for t in trials}):
        row = {t.min_coverage: t.score for t in trials if t.min_dense == dense}
        lines.append(f"{dense:6.3f} " + " ".join(f"{row[c]:6.3f}" for c in coverages))
    lines.append("")
    if current is not None:
        lines.append(_line("current:", current))
    lines.append(_line("best:", best))
    strict = [t for t in trials if t.missed_refusals == 0]
    anchor = current or best
    anchor_point = (anchor.min_dense, anchor.min_coverage, anchor.strong_dense)
    safest = best_trial(strict, anchor_point) if strict else best
    if safest is not best:  # a missed refusal answers what the course does not cover
        lines.append(_line("best refusing every refuse case:", safest))
    return "\n".join(lines)


def _line(label: str, trial: Trial) -> str:
    return (
        f"{label} min_dense={trial.min_dense:.3f} min_coverage={trial.min_coverage:.3f} "
        f"strong_dense={trial.strong_dense:.3f} "
        f"score={trial.score:.3f} (refusal F1 {trial.refusal_f1:.3f}, fact recall "
        f"{trial.fact_recall:.3f}, {trial.false_refusals} false refusals, "
        f"{trial.missed_refusals} missed refusals)"
    )


def grid(spec: str) -> list[float]:
    """Values from `START:STOP:STEP` (STOP included) or a comma-separated list.

    >>> grid("0.2:0.3:0.05"), grid("0.4,0.5")
    ([0.2, 0.25, 0.3], [0.4, 0.5])
    """
    if ":" in spec:
        start, stop, step = (float(x) for x in spec.split(":"))
        count = int(round((stop - start) / step)) + 1
        return [round(start + i * step, 6) for i in range(count)]
    return [float(x) for x in spec.split(",")]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the grid search and print the table and the recommended pair."""
    parser = argparse.ArgumentParser(prog="python -m evals.tune", description=__doc__)
    parser.add_argument(
        "--dataset", type=Path, default=SPLITS["dev"], help="eval cases (default: the dev split)"
    )
    parser.add_argument("--min-dense", default="0.15:0.5:0.025", help="START:STOP:STEP or list")
    parser.add_argument("--min-coverage", default="0.3:0.8:0.05", help="START:STOP:STEP or list")
    parser.add_argument("--strong-dense", default="0.55:0.8:0.05", help="START:STOP:STEP or list")
    args = parser.parse_args(argv)
    from retrieval import make_assistant

    settings = Settings()
    try:
        if args.dataset.resolve() == SPLITS["test"]:
            raise DatasetError("The test split is frozen: never tune on it; tune on dev.")
        cases = load_dataset(args.dataset)
        assistant = make_assistant(settings)
        current_pair = (settings.min_dense, settings.min_coverage, settings.strong_dense)
        pairs = list(
            itertools.product(
                grid(args.min_dense), grid(args.min_coverage), grid(args.strong_dense)
            )
        )
        *trials, current = tune(assistant, cases, [*pairs, current_pair])
    except CertAssistantError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(format_trials(trials, best_trial(trials, current_pair), current))
    return 0


def _trial(assistant: Assistant, cases: Sequence[Case]) -> Trial:
    refused, recalls = [], []
    for case in cases:
        answer = assistant.ask(case.question, list(case.history))
        refused.append(answer.refused)
        if not case.refuse:
            quotes = [] if answer.refused else [c.text for c in answer.citations]
            recalls.append(fact_recall(case.facts, answer.answer, quotes))
    expected = [c.refuse for c in cases]
    precision, recall = refusal_scores(expected, refused)
    pairs = list(zip(expected, refused, strict=True))
    return Trial(
        assistant.settings.min_dense,
        assistant.settings.min_coverage,
        assistant.settings.strong_dense,
        f1(precision, recall),
        mean(recalls) or 0.0,
        sum(p and not e for e, p in pairs),
        sum(e and not p for e, p in pairs),
    )


if __name__ == "__main__":
    sys.exit(main())
