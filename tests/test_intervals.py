"""Bootstrap intervals: values and intervals on cases worked out by hand, pairing, coverage."""

from __future__ import annotations

import numpy as np
import pytest

from twinchat.evaluation.intervals import bootstrap, difference, interval, value


def test_value_is_a_ratio_of_sums():
    assert value({0: (2.0, 1.0), 1: (0.0, 1.0)}) == 1.0  # a mean
    assert value({0: (3.0, 3.0), 1: (0.0, 1.0)}) == 0.75  # weighted: 3 of 4 keystrokes
    assert value({0: (3.0, 3.0), 1: (0.0, 1.0)}, keep=[1, 7]) == 0.0  # only example 1
    assert value({}) is None
    assert value({0: (1.0, 0.0)}) is None


def test_interval_of_two_examples_spans_both():
    # Resamples of two values 0 and 1 have means 0, 0.5 or 1 (1/4, 1/2, 1/4 of the time):
    # the 2.5th and 97.5th percentiles are 0 and 1.
    assert interval({0: (0.0, 1.0), 1: (1.0, 1.0)}, seed=3) == (0.0, 1.0)
    assert interval({i: (0.4, 1.0) for i in range(5)}) == pytest.approx((0.4, 0.4))
    assert interval({0: (1.0, 1.0)}) is None  # one example: no spread to measure
    assert interval({0: (1.0, 1.0), 1: (0.0, 1.0)}, seed=5) == interval(
        {0: (1.0, 1.0), 1: (0.0, 1.0)}, seed=5
    )


def test_interval_contains_the_true_mean_most_of_the_time():
    """Nominal 95 %: over 200 samples of 100 draws of a coin with p = 0.3, the interval
    holds 0.3 in at least 88 % of them (a percentile bootstrap runs a little short)."""
    rng = np.random.default_rng(0)
    held = 0
    for trial in range(200):
        draws = rng.random(100) < 0.3
        low, high = interval({i: (float(d), 1.0) for i, d in enumerate(draws)}, seed=trial)
        held += low <= 0.3 <= high
    assert held >= 176
    assert held < 200  # an interval that always holds it would be too wide to say anything


def test_a_paired_difference_cancels_what_examples_share():
    # Each example is hard or easy for both models alike; the first is always 0.1 better.
    rng = np.random.default_rng(1)
    base = rng.random(50)
    first = {i: (float(x) + 0.1, 1.0) for i, x in enumerate(base)}
    second = {i: (float(x), 1.0) for i, x in enumerate(base)}
    diff, low, high = difference(first, second, seed=0)
    assert diff == pytest.approx(0.1)
    assert (low, high) == pytest.approx((0.1, 0.1))  # paired: no doubt at all
    one, other = interval(first), interval(second)
    assert one[0] < other[1]  # unpaired, the two intervals overlap


def test_a_difference_counts_only_shared_examples():
    first = {0: (1.0, 1.0), 1: (1.0, 1.0), 2: (0.0, 1.0)}
    second = {1: (0.0, 1.0), 2: (0.0, 1.0), 9: (1.0, 1.0)}
    diff, low, high = difference(first, second)
    assert diff == 0.5  # examples 1 and 2: (1 + 0) / 2 - 0
    assert (low, high) == (0.0, 1.0)
    assert difference(first, second, keep=[1]) is None  # one shared example


def test_bootstrap_leaves_out_resamples_without_a_value():
    def only_nan(weights: np.ndarray) -> np.ndarray:
        return np.full(len(weights), np.nan)

    assert bootstrap(only_nan, 10) is None
    assert bootstrap(lambda w: w[:, 0], 1) is None
