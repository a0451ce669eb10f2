"""Bootstrap intervals: how far a metric could move if the cases had been drawn again.

A percentile bootstrap over cases: draw as many cases as there are, with replacement, compute
the metric on the draw, repeat `RESAMPLES` times, and keep the middle 95% of the values. The
seed is fixed, so the same results always give the same interval.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

RESAMPLES = 1000
SEED = 20261126
LEVEL = 0.95

Interval = tuple[float, float]


def bootstrap_intervals(
    count: int,
    statistic: Callable[[Sequence[int]], Mapping[str, float | None]],
    names: Sequence[str],
    *,
    resamples: int = RESAMPLES,
    seed: int = SEED,
    level: float = LEVEL,
) -> dict[str, Interval | None]:
    """Percentile-bootstrap intervals of several metrics computed on the same draws.

    Args:
        count: Number of cases.
        statistic: Indices of drawn cases (with repeats) → metric name → value (None when
            the metric is undefined on that draw; such draws are left out for it).
        names: The metrics to give intervals for.
        resamples: Number of draws.
        seed: Seed of the draws.
        level: Coverage of the interval (0.95: from the 2.5th to the 97.5th percentile).

    Returns:
        Metric name → `(low, high)`, or None when no draw defines the metric.

    >>> values = [1.0] * 8 + [0.0] * 2
    >>> mean = lambda idx: {"m": sum(values[i] for i in idx) / len(idx)}
    >>> low, high = bootstrap_intervals(len(values), mean, ["m"])["m"]
    >>> low < 0.8 < high, bootstrap_intervals(len(values), mean, ["m"])["m"] == (low, high)
    (True, True)
    """
    import numpy as np

    if count <= 0:
        return dict.fromkeys(names)
    draws = np.random.default_rng(seed).integers(0, count, size=(resamples, count))
    values: dict[str, list[float]] = {name: [] for name in names}
    for draw in draws.tolist():
        measured = statistic(draw)
        for name in names:
            value = measured.get(name)
            if value is not None:
                values[name].append(value)
    tail = (1 - level) / 2 * 100
    intervals: dict[str, Interval | None] = {}
    for name, found in values.items():
        if found:
            low, high = np.percentile(found, [tail, 100 - tail])
            intervals[name] = (float(low), float(high))
        else:
            intervals[name] = None
    return intervals
