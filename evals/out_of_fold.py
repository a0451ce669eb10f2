"""Out-of-fold dev figures: how the assistant does on dev questions its query adapter never saw.

The shipped adapter is fitted on all of dev, so dev's own figures flatter it. Here dev is cut
into the five folds `python -m evals.train` cross-fits the scorers with; each fold is answered
with an adapter fitted on the other four, and the folds' results are reported together as one
split, `<dataset>-out-of-fold`. The shipped scorers are kept (they learned from cross-fitted
searches already). Judge a retrieval change by these figures, or by cases written after it,
not by dev's in-sample ones.

    python -m evals.out_of_fold [--dataset FILE] [--report DIR]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from cert_core.errors import CertAssistantError
from cert_core.settings import Settings
from evals.dataset import SPLITS, Split, load_split
from evals.report import build_report, write_report
from evals.results import CaseResult, Run
from evals.runner import evaluate
from evals.tables import format_table
from evals.train import FOLDS, collect, fold_adapter, fold_of
from retrieval import Assistant


def out_of_fold(assistant: Assistant, split: Split, folds: int = FOLDS) -> Run:
    """Evaluate every case of a split with an adapter fitted on the other folds' cases.

    The assistant's own adapter is put back afterwards.
    """
    name = f"{split.name}-out-of-fold"
    shipped = assistant.retriever.adapter
    started = time.perf_counter()
    results: dict[str, CaseResult] = {}
    created, datasets = "", {}
    try:
        assistant.retriever.adapter = None
        first = collect(assistant, split.cases)  # searched as the model embeds, no adapter
        fold = fold_of(split.cases, folds)
        for k in range(folds):
            assistant.retriever.adapter = fold_adapter(assistant, first, fold, k)
            held = tuple(c for c in split.cases if fold[c.id] == k)
            run = evaluate(assistant, [Split(name, split.path, held)])
            created, datasets = created or run.created_at, run.datasets
            results.update((r.id, r) for r in run.results[name]["hybrid"])
    finally:
        assistant.retriever.adapter = shipped
    ordered = [results[c.id] for c in split.cases]
    return Run({name: {"hybrid": ordered}}, datasets, created, time.perf_counter() - started)


def main(argv: Sequence[str] | None = None) -> int:
    """Evaluate the dev split out of fold and print its figures."""
    parser = argparse.ArgumentParser(
        prog="python -m evals.out_of_fold", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--dataset", type=Path, default=SPLITS["dev"], help="cases (dev split)")
    parser.add_argument("--report", type=Path, help="folder to write report.json/.md into")
    args = parser.parse_args(argv)
    if args.dataset.resolve() == SPLITS["test"].resolve():
        print("error: the test split is frozen: nothing is fitted on it", file=sys.stderr)
        return 2
    from retrieval import make_assistant

    try:
        assistant = make_assistant(Settings())
        split = load_split(args.dataset, "dev" if args.dataset == SPLITS["dev"] else None)
        report = build_report(out_of_fold(assistant, split))
    except CertAssistantError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(format_table(report))
    if args.report:
        write_report(report, args.report)
        print(f"\nreport in {args.report}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
