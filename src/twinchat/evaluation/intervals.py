"""Bootstrap confidence intervals for `twinchat eval`'s figures, over held-out examples.

    from twinchat.evaluation.intervals import Parts, interval, difference
    parts = {0: (2.0, 1.0), 1: (0.0, 1.0)}      # example index -> (numerator, denominator)
    value(parts), interval(parts, seed=0)       # 1.0, (0.0, 2.0)

Every figure is a ratio of sums over examples, sum(numerator) / sum(denominator): a mean is
(value, 1) per example, a weighted mean (value * weight, weight), the reply loss (nats, tokens).
Resampling examples (not tokens or keystrokes) keeps each example's parts together, so an
interval says how much the figure would move on other held-out examples like these.

The interval is the 2.5th and 97.5th percentiles of the figure over `RESAMPLES` bootstrap
resamples, drawn by a seeded generator: the same seed and examples give the same interval. A
difference between two models is resampled *paired*: each resample draws the same examples for
both, over the examples both were measured on, so what the examples have in common cancels out.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping

import numpy as np

Parts = Mapping[int, tuple[float, float]]
"""Example index -> (numerator, denominator) of one figure."""

RESAMPLES = 1000
LEVEL = 0.95


def value(parts: Parts, keep: Collection[int] | None = None) -> float | None:
    """sum(numerator) / sum(denominator) over the examples in `keep` (all by default); None
    without examples or with a zero denominator."""
    num, den = _arrays(parts, keep)
    total = den.sum()
    return float(num.sum() / total) if len(den) and total else None


def interval(
    parts: Parts, seed: int = 0, keep: Collection[int] | None = None
) -> tuple[float, float] | None:
    """The 95 % bootstrap interval of `value(parts, keep)`; None with fewer than 2 examples."""
    num, den = _arrays(parts, keep)
    return bootstrap(lambda w: _ratio(w, num, den), len(den), seed)


def difference(
    first: Parts, second: Parts, seed: int = 0, keep: Collection[int] | None = None
) -> tuple[float, float, float] | None:
    """(difference, low, high): `value(first) - value(second)` over the examples both have
    (within `keep`), and its paired 95 % bootstrap interval; None with fewer than 2 shared."""
    shared = sorted(set(first) & set(second) & (set(keep) if keep is not None else set(first)))
    num1, den1 = _arrays(first, shared)
    num2, den2 = _arrays(second, shared)

    def statistic(weights: np.ndarray) -> np.ndarray:
        return _ratio(weights, num1, den1) - _ratio(weights, num2, den2)

    found = bootstrap(statistic, len(shared), seed)
    if found is None:
        return None
    point = float(statistic(np.ones((1, len(shared))))[0])
    return point, *found


def bootstrap(
    statistic: Callable[[np.ndarray], np.ndarray], size: int, seed: int = 0
) -> tuple[float, float] | None:
    """The 95 % percentile interval of `statistic` over `RESAMPLES` resamples of `size`
    examples. `statistic` takes a (resamples, size) array of how many times each example was
    drawn and returns one value per resample; NaN values (a resample without any example
    that counts) are left out. None with fewer than 2 examples or no finite value."""
    if size < 2:
        return None
    rng = np.random.default_rng(seed)
    weights = rng.multinomial(size, np.full(size, 1 / size), size=RESAMPLES).astype(float)
    values = np.asarray(statistic(weights), dtype=float)
    values = values[np.isfinite(values)]
    if not len(values):
        return None
    tail = (1 - LEVEL) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def _arrays(parts: Parts, keep: Collection[int] | None) -> tuple[np.ndarray, np.ndarray]:
    keys = sorted(parts if keep is None else (k for k in keep if k in parts))
    pairs = np.array([parts[k] for k in keys], dtype=float).reshape(-1, 2)
    return pairs[:, 0], pairs[:, 1]


def _ratio(weights: np.ndarray, num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return (weights @ num) / (weights @ den)
