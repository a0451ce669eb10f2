"""The query adapter: a learned linear map that moves a question's vector towards the course units
that answer it.

A general embedding model places "does it lapse" far from "renew every two to three years";
the course's own learners' questions teach the way back. `python -m evals.train` fits, on the
dev split only, a low-rank map `v + (v @ down) @ up` so that each dev question comes closer to
the units holding its facts than to every other unit, and writes it to
`retrieval/query_adapter.npz`. Only questions are mapped; the index is not re-embedded, so
a knowledge edit needs no retraining to be searchable (retraining then teaches the new text).

The file carries the model's vector of a fixed probe text, so an adapter is never applied to
another model's vectors: `fits` compares it with the configured model's.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from cert_core.errors import CertAssistantError

log = logging.getLogger(__name__)

ADAPTER_FILE = Path(__file__).resolve().with_name("query_adapter.npz")
PROBE_TEXT = "How long is the Certified MLOps Architect certification valid?"
"""Embedded at training and on first use: the same model gives the same vector."""
SAME_MODEL = 0.99
"""Least cosine between the stored and the current probe vector to call it the same model."""


class AdapterError(CertAssistantError):
    """The query adapter file is unreadable or malformed."""


@dataclass(frozen=True)
class QueryAdapter:
    """A low-rank linear map of question vectors, `v + (v @ down) @ up`, renormalised.

    Attributes:
        down: `dimension x rank` matrix.
        up: `rank x dimension` matrix.
        probe: The model's vector of `PROBE_TEXT` when trained.
        info: What it was trained on and how it did (cases, cross-validated figures).
    """

    down: np.ndarray
    up: np.ndarray
    probe: np.ndarray
    info: Mapping[str, Any] = field(default_factory=dict)

    @cached_property
    def digest(self) -> str:
        """A short hash of the matrices: which adapter a kept search was made with."""
        return hashlib.sha256(self.down.tobytes() + self.up.tobytes()).hexdigest()[:16]

    @property
    def dimension(self) -> int:
        """Length of the vectors it maps."""
        return int(self.down.shape[0])

    def apply(self, vector: Sequence[float]) -> list[float]:
        """The mapped question vector, of unit length.

        >>> a = QueryAdapter(np.zeros((2, 1)), np.zeros((1, 2)), np.ones(2))
        >>> a.apply([3.0, 4.0])
        [0.6, 0.8]
        """
        v = np.asarray(vector, dtype=np.float64)
        mapped = v + (v @ self.down) @ self.up
        norm = float(np.linalg.norm(mapped)) or 1.0
        return [float(x) for x in mapped / norm]

    def fits(self, probe: Sequence[float]) -> bool:
        """Whether the current model's vector of `PROBE_TEXT` is the one trained with.

        >>> a = QueryAdapter(np.zeros((2, 1)), np.zeros((1, 2)), np.array([1.0, 0.0]))
        >>> a.fits([2.0, 0.0]), a.fits([0.0, 1.0]), a.fits([1.0, 0.0, 0.0])
        (True, False, False)
        """
        current = np.asarray(probe, dtype=np.float64)
        if current.shape != self.probe.shape:
            return False
        norms = float(np.linalg.norm(current) * np.linalg.norm(self.probe)) or 1.0
        return float(current @ self.probe) / norms >= SAME_MODEL

    def save(self, path: Path) -> None:
        """Write the adapter as a compressed NumPy archive."""
        with Path(path).open("wb") as out:
            np.savez_compressed(
                out,
                down=self.down.astype(np.float32),
                up=self.up.astype(np.float32),
                probe=self.probe.astype(np.float32),
                info=np.array(json.dumps(dict(self.info), sort_keys=True)),
            )


def adapter_path(setting: str) -> Path | None:
    """The adapter file a `query_adapter` setting names: `default` the bundled one, `none`
    (or empty) no adapter, anything else a path.

    >>> adapter_path("none") is None, adapter_path("default") == ADAPTER_FILE
    (True, True)
    """
    value = setting.strip()
    if value.lower() in ("", "none"):
        return None
    return ADAPTER_FILE if value.lower() == "default" else Path(value).expanduser()


def load_adapter(path: Path | None) -> QueryAdapter | None:
    """The adapter in `path`, or None when no path is configured.

    Raises:
        AdapterError: The file is missing, unreadable or its matrices do not fit together.
    """
    if path is None:
        return None
    retrain = (
        "retrain with `python -m evals.train`, or set CERT_ASSISTANT_QUERY_ADAPTER=none to "
        "search without one"
    )
    try:
        with np.load(Path(path), allow_pickle=False) as data:
            down, up, probe = data["down"], data["up"], data["probe"]
            info = json.loads(str(data["info"]))
    except (OSError, KeyError, ValueError) as error:
        raise AdapterError(f"Cannot read the query adapter {path}: {error}; {retrain}") from error
    dimension, rank = down.shape if down.ndim == 2 else (0, 0)
    if up.shape != (rank, dimension) or probe.shape != (dimension,):
        raise AdapterError(
            f"The query adapter {path} has matrices of shapes {down.shape} and {up.shape} "
            f"and a probe of {probe.shape}, which do not fit together; {retrain}"
        )
    return QueryAdapter(
        down.astype(np.float64), up.astype(np.float64), probe.astype(np.float64), info
    )
