"""Learned scorers: logistic models over named features, with weights read from a versioned file.

Two decisions of the answerer are made this way instead of with hand-set numbers: which
unit to quote (`select`) and whether the retrieved text answers at all (`answerable`).
`python -m evals.train` fits both on the eval set's dev split and writes
`retrieval/weights.json`; the file records the features, the coefficients, the decision
threshold and what it was trained on, so a change of weights is a reviewable diff.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from cert_core.errors import CertAssistantError

WEIGHTS_FILE = Path(__file__).resolve().with_name("weights.json")


class WeightsError(CertAssistantError):
    """The scorer weights file is missing or malformed."""


@dataclass(frozen=True)
class Scorer:
    """A logistic model: `probability = 1 / (1 + exp(-(intercept + sum(coef * feature))))`.

    Features are standardised with the mean and scale seen in training, so the
    coefficients compare with one another.

    Attributes:
        features: Feature names, in the order of the coefficients.
        coef: One coefficient per feature.
        intercept: The bias.
        mean: Training mean of each feature.
        scale: Training standard deviation of each feature.
        threshold: Probability at or above which the decision is yes.
    """

    features: tuple[str, ...]
    coef: tuple[float, ...]
    intercept: float
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    threshold: float = 0.5
    info: Mapping[str, object] = field(default_factory=dict)

    def probability(self, values: Mapping[str, float]) -> float:
        """The model's probability for one example's features (missing ones count as 0)."""
        z = self.intercept
        for name, c, m, s in zip(self.features, self.coef, self.mean, self.scale, strict=True):
            z += c * (values.get(name, 0.0) - m) / (s or 1.0)
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))

    def decide(self, values: Mapping[str, float]) -> bool:
        """Whether the probability reaches the threshold."""
        return self.probability(values) >= self.threshold

    def to_json(self) -> dict[str, object]:
        """The scorer as stored in the weights file."""
        return {
            "features": list(self.features),
            "coef": [round(c, 6) for c in self.coef],
            "intercept": round(self.intercept, 6),
            "mean": [round(m, 6) for m in self.mean],
            "scale": [round(s, 6) for s in self.scale],
            "threshold": round(self.threshold, 4),
            "info": dict(self.info),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, object], expected: Sequence[str]) -> Scorer:
        """Read one scorer, checking it was trained on the features the code computes.

        Raises:
            WeightsError: Fields are missing, or the features differ from `expected`.
        """
        try:
            scorer = cls(
                features=tuple(data["features"]),  # type: ignore[arg-type]
                coef=tuple(float(c) for c in data["coef"]),  # type: ignore[union-attr]
                intercept=float(data["intercept"]),  # type: ignore[arg-type]
                mean=tuple(float(m) for m in data["mean"]),  # type: ignore[union-attr]
                scale=tuple(float(s) for s in data["scale"]),  # type: ignore[union-attr]
                threshold=float(data.get("threshold", 0.5)),  # type: ignore[arg-type]
                info=dict(data.get("info", {})),  # type: ignore[call-overload]
            )
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise WeightsError(
                f"malformed scorer in the weights file ({error}): retrain with "
                "`python -m evals.train`"
            ) from error
        sizes = {len(scorer.coef), len(scorer.mean), len(scorer.scale)}
        if sizes != {len(scorer.features)}:
            raise WeightsError(
                f"the weights give {len(scorer.features)} features but {len(scorer.coef)} "
                "coefficients: retrain with `python -m evals.train`"
            )
        if scorer.features != tuple(expected):
            raise WeightsError(
                f"the weights were trained on features {list(scorer.features)}, but the code "
                f"computes {list(expected)}: retrain with `python -m evals.train`"
            )
        return scorer


@dataclass(frozen=True)
class Weights:
    """Both scorers of the answerer."""

    select: Scorer
    answerable: Scorer


@lru_cache(maxsize=4)
def load_weights(path: Path = WEIGHTS_FILE) -> Weights:
    """The answerer's weights from `path` (default: `retrieval/weights.json`).

    Raises:
        WeightsError: The file is missing, unreadable or does not match the code.
    """
    from retrieval.answerability import ANSWER_FEATURES
    from retrieval.select import UNIT_FEATURES

    retrain = "retrain with `python -m evals.train`"
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise WeightsError(
            f"Cannot read the answerer weights {path}: {error}; {retrain}"
        ) from error
    if not isinstance(data, dict) or not {"select", "answerable"} <= set(data):
        raise WeightsError(f"The answerer weights {path} lack `select` and `answerable`; {retrain}")
    return Weights(
        select=Scorer.from_json(data["select"], UNIT_FEATURES),
        answerable=Scorer.from_json(data["answerable"], ANSWER_FEATURES),
    )
