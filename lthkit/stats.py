"""Intervals and the comparison rule behind every verdict in the claims tables::

    lo, hi = wilson(successes=87, trials=100)         # a success rate's 95% interval
    mean, lo, hi = mean_interval([0.94, 0.95, 0.945])  # a mean over seeds, Student t interval
    exceeds((m1, lo1, hi1), (m2, lo2, hi2))            # True / None (overlap) / False
    above(mean_interval(differences), -0.005)          # True / None / False

A verdict comes from a rule named before the run, on one statistic:

- ``above(estimate, threshold)``: True when the whole interval lies above the threshold, False
  when it lies wholly at or below, None (inconclusive) when it straddles the threshold or there
  is no interval. With a threshold of minus a margin it is a non-inferiority test ("no worse than
  the reference by more than the margin"); with 0, a superiority test. ``below`` is its mirror.
- ``exceeds(a, b)`` compares two independent estimates: True only when the intervals are
  disjoint in the claimed direction, False when the estimates point the other way, None when the
  means agree with the claim but the intervals overlap.

Neither reports a pass that the run's own noise could explain.
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


MIN_VALUES = 3


def mean_interval(values, confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean and its Student-t interval over at least ``MIN_VALUES`` values; fewer have no
    interval (NaN bounds), so no verdict. Two values can agree exactly (accuracies on a test set
    come in steps of one image), and a t interval of width zero would then decide anything."""
    values = [float(v) for v in values]
    if not values:
        raise ValueError("no values")
    mean = sum(values) / len(values)
    if len(values) < MIN_VALUES:
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


def above(estimate, threshold: float) -> bool | None:
    """Does the estimated quantity, (mean, lo, hi), exceed ``threshold``? True / False / None."""
    _, lo, hi = estimate
    if math.isnan(lo) or math.isnan(hi):
        return None
    if lo > threshold:
        return True
    return False if hi <= threshold else None


def below(estimate, threshold: float) -> bool | None:
    """Is the estimated quantity, (mean, lo, hi), below ``threshold``? True / False / None."""
    mean, lo, hi = estimate
    return above((-mean, -hi, -lo), -threshold)


def any_above(samples, threshold: float, confidence: float = 0.95):
    """Does at least one of several quantities exceed ``threshold``? ``samples``: a mapping from
    each quantity's name to its values (one per seed). Each mean gets a Student-t interval at the
    Bonferroni level ``1 − (1 − confidence) / m`` for ``m`` quantities, so that picking the best
    of them is paid for. True when some interval lies wholly above the threshold, False when
    every interval lies wholly at or below it, None otherwise. Returns the verdict and the
    intervals by name."""
    samples = dict(samples)
    if not samples:
        raise ValueError("no quantities to compare")
    level = 1 - (1 - confidence) / len(samples)
    estimates = {name: mean_interval(values, level) for name, values in samples.items()}
    verdicts = [above(estimate, threshold) for estimate in estimates.values()]
    verdict = True if True in verdicts else (False if all(v is False for v in verdicts) else None)
    return verdict, estimates
