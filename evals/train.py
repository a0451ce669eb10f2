"""Train the query adapter and the answerer's two scorers on the dev split.

Run `python -m evals.train` (or `make train`) with an ingested index. Only the dev split is
read: the test split stays frozen for judging. For each dev case the assistant's own path is
followed (follow-up rewriting, mending, search); then

- the **query adapter** (`evals.adapt`) learns to move each question's vector towards the
  units that answer it, and is written to `retrieval/query_adapter.npz`; the cases are then
  searched again, each fifth with an adapter fitted on the other four fifths, so the scorers
  learn from retrieval as good as it is on questions the adapter never saw (with the full
  adapter, the dev questions it memorised would look closer than a learner's new ones do,
  and the answerability scorer would learn to refuse those);

- the **selection** scorer learns, over every unit of the retrieved passages, which units
  hold one of the case's facts;
- the **answerability** scorer learns, over the cases' best units, which questions the
  course answers (refuse cases are the negatives). Its threshold is the one that gives the
  best refusal F1 on 5-fold cross-validated probabilities, so it is not picked on the very
  predictions it was fitted to.

Both are logistic regressions on standardised features (scikit-learn's; the answerability
scorer's coefficients are kept to the signs of `retrieval.answerability.ANSWER_SIGNS`); the
file keeps their coefficients, the threshold, class counts and a calibration table (predicted
vs observed rate per probability bin, from the cross-validated probabilities).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cert_core.errors import CertAssistantError
from cert_core.settings import Settings
from evals.dataset import Case, load_dataset
from evals.metrics import fact_found
from retrieval import Assistant
from retrieval.adapter import ADAPTER_FILE, PROBE_TEXT, QueryAdapter
from retrieval.answerability import (
    ANSWER_FEATURES,
    ANSWER_SIGNS,
    answer_features,
    refused_by_rule,
)
from retrieval.guard import task_request
from retrieval.injection import looks_like_injection
from retrieval.scorer import WEIGHTS_FILE, Scorer
from retrieval.select import UNIT_FEATURES, candidates, select
from retrieval.types import Turn

DEV = Path(__file__).resolve().with_name("dev.jsonl")
SEED = 0
FOLDS = 5
"""Folds of the dev cases: the scorers' cross-fitted searches and `evals.out_of_fold`."""


@dataclass(frozen=True)
class Example:
    """One dev case as the scorers see it."""

    case: Case
    question: Any  # retrieval.question.Question
    passages: list[Any]
    weights: Any
    searched: str = ""


def collect(assistant: Assistant, cases: Sequence[Case]) -> list[Example]:
    """Follow the assistant's path for each case up to the passages; injections and requests
    for work are left out (the guard refuses them before any search)."""
    examples = []
    for case in cases:
        if looks_like_injection(case.question) or task_request(case.question):
            continue
        turns = [Turn(t["role"], t["content"]) for t in case.history]
        found = assistant.retrieve(case.question, turns)
        examples.append(
            Example(case, found.question(), found.passages, found.weights, found.searched)
        )
    return examples


def adapter_examples(assistant: Assistant, examples: Sequence[Example]) -> Any:
    """The adapter's training data: each answerable case's searched text, embedded as the
    retriever embeds it, and the units of its expected sections that hold one of its facts
    (cases with no such unit are left out)."""
    import numpy as np

    from evals.adapt import Examples

    lexical = assistant.retriever.lexical()
    units = lexical.units.units
    sections = {c.id: (c.source, c.anchor) for c in lexical.index.chunks}
    texts, answers, expected = [], [], []
    for example in examples:
        case = example.case
        wanted = {(s.source, s.anchor) for s in case.expected_sections}
        rows = [
            row
            for row, unit in enumerate(units)
            if sections.get(unit.chunk_id) in wanted
            and any(fact_found(f, unit.text) for f in case.facts)
        ]
        if case.refuse or not rows:
            continue
        texts.append(lexical.vocabulary.mend(example.searched))
        answers.append(rows)
        expected.append({i for i, section in sections.items() if section in wanted})
    vectors = assistant.retriever.embedder.embed_documents(texts)
    return Examples(
        np.asarray(vectors, dtype=np.float32),
        np.asarray(lexical.units._matrix),
        answers,
        [u.chunk_id for u in units],
        expected,
    )


def cross_fitted(
    assistant: Assistant, cases: Sequence[Case], first: Sequence[Example], folds: int = FOLDS
) -> list[Example]:
    """The cases searched again, each fold with an adapter fitted on the other folds'
    examples from the first search (`first`, made without an adapter)."""
    fold = fold_of(cases, folds)
    searched: dict[str, Example] = {}
    for k in range(folds):
        assistant.retriever.adapter = fold_adapter(assistant, first, fold, k)
        held = [c for c in cases if fold[c.id] == k]
        searched.update((e.case.id, e) for e in collect(assistant, held))
    return [searched[c.id] for c in cases if c.id in searched]


def fold_of(cases: Sequence[Case], folds: int = FOLDS) -> dict[str, int]:
    """Each case's fold (0 to `folds` - 1): a seeded shuffle cut in equal parts."""
    import numpy as np

    order = np.random.RandomState(SEED).permutation(len(cases))
    return {cases[i].id: k for k, part in enumerate(np.array_split(order, folds)) for i in part}


def fold_adapter(
    assistant: Assistant, first: Sequence[Example], fold: dict[str, int], k: int
) -> QueryAdapter:
    """A query adapter fitted on the examples of every fold but `k`."""
    import numpy as np

    from evals.adapt import fit_adapter

    data = adapter_examples(assistant, [e for e in first if fold[e.case.id] != k])
    down, up = fit_adapter(data.questions, data.units, data.answers)
    probe = np.asarray(assistant.retriever.embedder.embed_query(PROBE_TEXT))
    return QueryAdapter(down, up, probe, {"fold": k})


def train_adapter(
    assistant: Assistant, examples: Sequence[Example], trained_on: str
) -> QueryAdapter:
    """Fit the query adapter on the collected dev cases; its info keeps cross-validated
    figures of what it buys."""
    import numpy as np

    from evals.adapt import cross_validate, fit_adapter

    data = adapter_examples(assistant, examples)
    down, up = fit_adapter(data.questions, data.units, data.answers)
    probe = assistant.retriever.embedder.embed_query(PROBE_TEXT)
    info = {
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "trained_on": trained_on,
        "cross_validated": cross_validate(data),
    }
    return QueryAdapter(down, up, np.asarray(probe), info)


def fit(
    rows: list[list[float]],
    labels: list[int],
    names: Sequence[str],
    signs: Mapping[str, int] | None = None,
) -> Scorer:
    """A balanced logistic regression on standardised features, as a `Scorer`.

    Without `signs` it is scikit-learn's (L2, C=1). With them, the same loss is minimised with
    each coefficient kept to its feature's sign (+1: not below 0, -1: not above 0, 0: free),
    by SciPy's bounded L-BFGS-B: scikit-learn's logistic regression takes no bounds.
    """
    import numpy as np

    x = np.asarray(rows, dtype=float)
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    standard, y = (x - mean) / scale, np.asarray(labels)
    if signs is None:
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression(class_weight="balanced", C=1.0, max_iter=1000)
        model.fit(standard, y)
        coef, intercept = model.coef_[0], float(model.intercept_[0])
    else:
        coef, intercept = _signed_logistic(standard, y, [signs.get(n, 0) for n in names])
    return Scorer(
        tuple(names),
        tuple(float(c) for c in coef),
        intercept,
        tuple(float(m) for m in mean),
        tuple(float(s) for s in scale),
        info={"examples": len(labels), "positives": int(sum(labels))},
    )


def _signed_logistic(x: Any, y: Any, signs: Sequence[int]) -> tuple[Any, float]:
    """Coefficients and intercept of a class-balanced, L2-penalised (C=1) logistic regression
    whose coefficients keep to `signs`; the intercept is free and unpenalised."""
    import numpy as np
    from scipy.optimize import minimize

    weight = np.where(y == 1, len(y) / (2 * max(y.sum(), 1)), len(y) / (2 * max((1 - y).sum(), 1)))
    sign = 2 * y - 1

    def loss(theta: Any) -> tuple[float, Any]:
        coef, intercept = theta[:-1], theta[-1]
        margin = -sign * (x @ coef + intercept)
        slope = weight * -sign / (1 + np.exp(-margin))
        value = float((weight * np.logaddexp(0, margin)).sum() + 0.5 * coef @ coef)
        return value, np.append(x.T @ slope + coef, slope.sum())

    bounds = [(0, None) if s > 0 else (None, 0) if s < 0 else (None, None) for s in signs]
    start = np.zeros(x.shape[1] + 1)
    found = minimize(loss, start, jac=True, method="L-BFGS-B", bounds=[*bounds, (None, None)])
    return found.x[:-1], float(found.x[-1])


def train(examples: Sequence[Example], trained_on: str = "evals/dev.jsonl") -> dict[str, Any]:
    """Fit both scorers; returns the content of the weights file.

    Args:
        examples: The collected dev cases.
        trained_on: Where they came from, recorded in the file.
    """
    unit_rows, unit_labels = [], []
    for example in examples:
        if example.case.refuse:
            continue
        for candidate in candidates(example.question, example.passages, example.weights):
            unit_rows.append([candidate.features[n] for n in UNIT_FEATURES])
            unit_labels.append(
                int(any(fact_found(f, candidate.unit.text) for f in example.case.facts))
            )
    selector = fit(unit_rows, unit_labels, UNIT_FEATURES)

    rows, labels = [], []
    for example in examples:
        chosen = select(example.question, example.passages, example.weights, selector)
        if not chosen:
            continue
        values = answer_features(example.question, example.passages, chosen, example.weights)
        if refused_by_rule(example.question, chosen, example.weights, values):
            continue  # the scorer learns only the cases it decides
        rows.append([values[n] for n in ANSWER_FEATURES])
        labels.append(int(not example.case.refuse))
    answerer = fit(rows, labels, ANSWER_FEATURES, ANSWER_SIGNS)
    probabilities = _cross_validated(rows, labels, ANSWER_FEATURES, ANSWER_SIGNS)
    threshold = _best_threshold(probabilities, labels)
    answerer = Scorer(
        answerer.features,
        answerer.coef,
        answerer.intercept,
        answerer.mean,
        answerer.scale,
        threshold,
        {**answerer.info, "calibration": _calibration(probabilities, labels)},
    )
    return {
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "trained_on": trained_on,
        "select": selector.to_json(),
        "answerable": answerer.to_json(),
    }


def _cross_validated(
    rows: list[list[float]],
    labels: list[int],
    names: Sequence[str],
    signs: Mapping[str, int] | None = None,
) -> list[float]:
    """Each row's probability from a scorer fitted (as `fit`) on the other stratified folds."""
    from sklearn.model_selection import StratifiedKFold

    predicted = [0.0] * len(rows)
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=SEED)
    for train_at, held_at in folds.split(rows, labels):
        scorer = fit([rows[i] for i in train_at], [labels[i] for i in train_at], names, signs)
        for i in held_at:
            predicted[i] = scorer.probability(dict(zip(names, rows[i], strict=True)))
    return predicted


def _best_threshold(probabilities: Sequence[float], labels: Sequence[int]) -> float:
    """The answer threshold with the best refusal F1 (ties: the middle of the best run)."""
    from evals.metrics import f1, refusal_scores

    refuse = [not label for label in labels]
    grid = [i / 100 for i in range(5, 96)]
    scores = [f1(*refusal_scores(refuse, [p < t for p in probabilities])) for t in grid]
    best = max(scores)
    run = [t for t, s in zip(grid, scores, strict=True) if s == best]
    return run[len(run) // 2]


def _calibration(probabilities: Sequence[float], labels: Sequence[int]) -> list[dict[str, float]]:
    """Predicted vs observed share of answerable questions in five probability bins."""
    bins = []
    for low in (0.0, 0.2, 0.4, 0.6, 0.8):
        inside = [
            (p, y) for p, y in zip(probabilities, labels, strict=True) if low <= p < low + 0.2
        ]
        if low == 0.8:
            inside += [(p, y) for p, y in zip(probabilities, labels, strict=True) if p == 1.0]
        if inside:
            bins.append(
                {
                    "bin": f"{low:.1f}-{low + 0.2:.1f}",
                    "cases": len(inside),
                    "predicted": round(sum(p for p, _ in inside) / len(inside), 3),
                    "observed": round(sum(y for _, y in inside) / len(inside), 3),
                }
            )
    return bins


def _shown(path: Path) -> str:
    """A path relative to the project when it lies inside it."""
    root = Path(__file__).resolve().parents[1]
    try:
        return path.resolve().relative_to(root).as_posix()
    except ValueError:
        return str(path)


def main(argv: Sequence[str] | None = None) -> int:
    """Train on the dev split and write the weights file."""
    parser = argparse.ArgumentParser(
        prog="python -m evals.train", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--dataset", type=Path, default=DEV, help="cases to train on (dev split)")
    parser.add_argument("--out", type=Path, default=WEIGHTS_FILE, help="weights file to write")
    parser.add_argument(
        "--adapter-out", type=Path, default=ADAPTER_FILE, help="query adapter file to write"
    )
    args = parser.parse_args(argv)
    if args.dataset.resolve().name == "test.jsonl":
        print("error: the test split is frozen: train on dev", file=sys.stderr)
        return 2
    from retrieval import make_assistant

    try:
        assistant = make_assistant(Settings(query_adapter="none"))
        cases = load_dataset(args.dataset)
        first = collect(assistant, cases)
        adapter = train_adapter(assistant, first, _shown(args.dataset))
        adapter.save(args.adapter_out)
        examples = cross_fitted(assistant, cases, first)
    except CertAssistantError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    figures = adapter.info["cross_validated"]
    print(
        f"query adapter: wrote {args.adapter_out}; on held-out dev folds hit@5 "
        f"{figures['hit@5_before']} -> {figures['hit@5_after']}, "
        f"MRR@10 {figures['mrr@10_before']} -> {figures['mrr@10_after']}"
    )
    weights = train(examples, _shown(args.dataset))
    args.out.write_text(json.dumps(weights, indent=2) + "\n", encoding="utf-8")
    answerable = weights["answerable"]
    print(f"trained on {len(examples)} dev cases; wrote {args.out}")
    print(f"answer threshold {answerable['threshold']}; calibration (cross-validated):")
    for row in answerable["info"]["calibration"]:
        print(
            f"  p {row['bin']}: {row['cases']:3d} cases, "
            f"predicted {row['predicted']:.2f}, observed {row['observed']:.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
