"""Intervals and the comparison rule behind every verdict in the claims tables::

    lo, hi = wilson(successes=87, trials=100)         # a success rate's 95% interval
    mean, lo, hi = mean_interval([0.94, 0.95, 0.945])  # a mean over seeds, Student t interval
    exceeds((m1, lo1, hi1), (m2, lo2, hi2))            # True / None (overlap) / False

``exceeds`` is deliberately conservative: it says True only when the intervals are disjoint in the
claimed direction, False when the estimates point the other way, and None (inconclusive) when the
means agree with the claim but the intervals overlap, so a chapter never reports a pass that its
own noise could explain.
"""
from __future__ import annotations

import math

from scipy import stats as _stats

Z95 = 1.959963984540054


def wilson(successes: int, trials: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (well behaved at 0% and 100%)."""
    if trials <= 0:
        raise ValueError("trials must be positive")
    p = successes / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / (1 + z * z / trials)
    return max(0.0, centre - half), min(1.0, centre + half)


def mean_interval(values, confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean and its Student-t interval; a single value has no interval (NaN bounds)."""
    values = [float(v) for v in values]
    if not values:
        raise ValueError("no values")
    mean = sum(values) / len(values)
    if len(values) == 1:
        return mean, math.nan, math.nan
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
    half = _stats.t.ppf(0.5 + confidence / 2, len(values) - 1) * sd / math.sqrt(len(values))
    return mean, mean - half, mean + half


def exceeds(a, b) -> bool | None:
    """Is estimate ``a`` = (mean, lo, hi) greater than ``b``? True, False or None (overlap, or
    no interval to tell)."""
    (ma, la, _), (mb, _, hb) = a, b
    if ma <= mb:
        return False
    return True if la > hb else None
