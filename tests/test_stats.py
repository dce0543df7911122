"""lthkit.stats: intervals, and verdict rules that can reach every verdict."""
import math

import pytest

from lthkit import stats


def test_wilson_interval_contains_the_rate_and_stays_in_0_1():
    lo, hi = stats.wilson(87, 100)
    assert lo < 0.87 < hi and hi - lo < 0.15
    assert stats.wilson(0, 50)[0] == pytest.approx(0.0, abs=1e-12) and stats.wilson(50, 50)[1] == 1.0
    assert stats.wilson(0, 50)[1] > 0.0  # no successes in 50 trials does not prove a rate of 0
    with pytest.raises(ValueError):
        stats.wilson(1, 0)


def test_mean_interval_is_a_student_t_interval():
    mean, lo, hi = stats.mean_interval([1.0, 2.0, 3.0])
    # sd 1, n 3, t(0.975, 2) = 4.303
    assert mean == 2.0 and hi - mean == pytest.approx(4.3027 / math.sqrt(3), rel=1e-4)
    assert mean - lo == pytest.approx(hi - mean)
    for few in ([5.0], [0.011, 0.011]):  # two equal values would give a zero-width interval
        mean, lo, hi = stats.mean_interval(few)
        assert mean == few[0] and math.isnan(lo) and math.isnan(hi)
    with pytest.raises(ValueError):
        stats.mean_interval([])


@pytest.mark.parametrize("a, b, verdict", [
    ((0.9, 0.85, 0.95), (0.5, 0.45, 0.55), True),     # disjoint, in the claimed direction
    ((0.6, 0.50, 0.70), (0.5, 0.40, 0.60), None),     # right direction, overlapping
    ((0.4, 0.35, 0.45), (0.5, 0.45, 0.55), False),    # the other way
])
def test_exceeds_reaches_every_verdict(a, b, verdict):
    assert stats.exceeds(a, b) is verdict


@pytest.mark.parametrize("values, threshold, verdict", [
    ([0.010, 0.012, 0.011, 0.013], 0.0, True),         # clearly above
    ([-0.010, -0.012, -0.011, -0.013], 0.0, False),    # clearly below
    ([-0.010, 0.012, -0.004, 0.006], 0.0, None),       # straddles
    ([-0.002, -0.001, -0.003, -0.002], -0.005, True),  # worse, but within the margin
    ([-0.010, -0.008, -0.012, -0.009], -0.005, False),  # worse by more than the margin
    ([0.5], 0.0, None),                                # one value: no interval, no verdict
    ([0.5, 0.5], 0.0, None),                           # two: no interval either
])
def test_above_reaches_every_verdict_on_constructed_data(values, threshold, verdict):
    assert stats.above(stats.mean_interval(values), threshold) is verdict


def test_below_mirrors_above():
    clearly_low = stats.mean_interval([1.0, 1.1, 0.9, 1.05])
    assert stats.below(clearly_low, 2.0) is True
    assert stats.below(clearly_low, 0.0) is False
    assert stats.below(clearly_low, 1.0) is None


@pytest.mark.parametrize("samples, verdict", [
    ({"a": [-0.05, -0.04, -0.06], "b": [0.02, 0.021, 0.019]}, True),    # b is clearly above
    ({"a": [-0.05, -0.04, -0.06], "b": [-0.03, -0.031, -0.029]}, False),  # neither is
    ({"a": [-0.05, -0.04, -0.06], "b": [0.03, -0.02, 0.01]}, None),     # b straddles 0
    ({"a": [0.5]}, None),                                                  # one seed: no interval
])
def test_any_above_reaches_every_verdict(samples, verdict):
    assert stats.any_above(samples, 0.0)[0] is verdict


def test_any_above_pays_for_the_choice_with_wider_intervals():
    values = [0.010, 0.013, 0.011, 0.014]
    alone = stats.any_above({"a": values}, 0.0)[1]["a"]
    among = stats.any_above({k: values for k in "abcde"}, 0.0)[1]["a"]
    assert among[0] == alone[0] and among[1] < alone[1] and among[2] > alone[2]
    assert among == stats.mean_interval(values, 1 - 0.05 / 5)
    with pytest.raises(ValueError):
        stats.any_above({}, 0.0)
