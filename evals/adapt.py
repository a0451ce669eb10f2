"""Fit the query adapter (`retrieval.adapter`): dev questions against the units that answer them.

Each answerable dev case gives one question vector (what the assistant searches, as the model
embeds it) and its answer units: the units of its expected sections that hold one of its facts.
The adapter is a low-rank map trained with a softmax over all units of the index, so a question
is pulled towards its answer units and pushed from every other unit; a penalty on the map's size
keeps it close to the model's own vectors where the dev questions say nothing.

`cross_validate` measures what it buys on questions it was not fitted to: 5 folds of the dev
cases, each fold searched (chunks ranked by their closest unit, as the retriever's unit ranking
does) with the model's vectors and with an adapter fitted to the other four.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

RANK = 64
STRENGTH = 0.01
EPOCHS = 30
TEMPERATURE = 0.05
SEED = 0
"""Chosen by 5-fold cross-validation on the dev split (rank 16/32/64/full, strength
0.001-0.1, 10-30 epochs, temperature 0.05-0.1): the figures moved by under 0.02 between
neighbours, so these are the middle of a flat region, not a tuned peak."""


@dataclass(frozen=True)
class Examples:
    """What the adapter learns from.

    Attributes:
        questions: One row per case: the question vector, as searched.
        units: One row per unit of the index: the unit vector.
        answers: Per case, the rows of `units` that hold its facts (never empty).
        chunks: Per unit row, the chunk it belongs to (for ranking chunks).
        expected: Per case, the chunks of its expected sections.
    """

    questions: np.ndarray
    units: np.ndarray
    answers: list[list[int]]
    chunks: list[str]
    expected: list[set[str]]


def fit_adapter(
    questions: np.ndarray,
    units: np.ndarray,
    answers: Sequence[Sequence[int]],
    rank: int = RANK,
    strength: float = STRENGTH,
    epochs: int = EPOCHS,
    temperature: float = TEMPERATURE,
    seed: int = SEED,
) -> tuple[np.ndarray, np.ndarray]:
    """The adapter's `down` and `up` matrices, fitted by Adam on a softmax over all units.

    Args:
        questions: Question vectors, one row each.
        units: Unit vectors, one row each.
        answers: Per question, the unit rows that answer it.
        rank: Inner size of the map.
        strength: Weight of the penalty on the map's squared size.
        epochs: Passes over the questions.
        temperature: Softmax temperature of the cosine similarities.
        seed: Seed of the initial matrix and the batch order, for a repeatable file.
    """
    import torch

    generator = torch.Generator().manual_seed(seed)
    q = _normalised(torch.tensor(np.asarray(questions), dtype=torch.float32))
    u = _normalised(torch.tensor(np.asarray(units), dtype=torch.float32))
    answer = torch.zeros(len(q), len(u))
    for row, rows in enumerate(answers):
        answer[row, list(rows)] = 1.0
    dimension = q.shape[1]
    down = torch.zeros(dimension, rank, requires_grad=True)
    up = (torch.randn(rank, dimension, generator=generator) * 0.01).requires_grad_()
    optimiser = torch.optim.Adam([down, up], lr=1e-3)
    for _ in range(epochs):
        order = torch.randperm(len(q), generator=generator)
        for start in range(0, len(q), 64):
            batch = order[start : start + 64]
            mapped = _normalised(q[batch] + (q[batch] @ down) @ up)
            log_p = (mapped @ u.T / temperature).log_softmax(dim=1)
            # the probability of landing on any answer unit, not on one chosen answer
            loss = -torch.logsumexp(log_p + torch.log(answer[batch] + 1e-30), dim=1).mean()
            loss = loss + strength * ((down @ up) ** 2).sum()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    return down.detach().numpy(), up.detach().numpy()


def cross_validate(examples: Examples, folds: int = 5, **fitting: Any) -> dict[str, float]:
    """Hit@5 and MRR@10 of the expected chunks, ranked by closest unit, with the model's
    vectors and with an adapter fitted on the other folds, averaged over the folds.

    Args:
        examples: The dev cases' vectors and answers.
        folds: How many parts the cases are split into.
        fitting: Options of `fit_adapter` (rank, strength, epochs, ...).
    """
    order = np.random.RandomState(SEED).permutation(len(examples.answers))
    parts = np.array_split(order, folds)
    before = np.zeros(2)
    after = np.zeros(2)
    for held in parts:
        fitted = np.setdiff1d(order, held)
        down, up = fit_adapter(
            examples.questions[fitted],
            examples.units,
            [examples.answers[i] for i in fitted],
            **fitting,
        )
        questions = examples.questions[held]
        before += _ranked(examples, held, questions) * len(held)
        after += _ranked(examples, held, questions + (questions @ down) @ up) * len(held)
    n = len(order)
    return {
        "cases": n,
        "hit@5_before": round(before[0] / n, 3),
        "hit@5_after": round(after[0] / n, 3),
        "mrr@10_before": round(before[1] / n, 3),
        "mrr@10_after": round(after[1] / n, 3),
    }


def _ranked(examples: Examples, cases: np.ndarray, questions: np.ndarray) -> np.ndarray:
    """Mean hit@5 and MRR@10 of the cases' expected chunks, chunks ranked by closest unit."""
    units = examples.units / np.linalg.norm(examples.units, axis=1, keepdims=True)
    similarities = questions @ units.T
    chunk_ids = sorted(set(examples.chunks))
    column = np.array([chunk_ids.index(c) for c in examples.chunks])
    totals = np.zeros(2)
    for case, row in zip(cases, similarities, strict=True):
        best = np.full(len(chunk_ids), -np.inf)
        np.maximum.at(best, column, row)
        ranking = [chunk_ids[i] for i in np.argsort(-best, kind="stable")]
        rank = next(r for r, c in enumerate(ranking, 1) if c in examples.expected[case])
        totals += (rank <= 5, 1 / rank if rank <= 10 else 0.0)
    return totals / len(cases)


def _normalised(x):  # noqa: ANN001, ANN202 - a torch tensor, torch imported lazily
    return x / x.norm(dim=1, keepdim=True)
