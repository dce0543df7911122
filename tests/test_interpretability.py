"""Chapter 5's verdict rules reach pass, fail and inconclusive on tables built by hand."""
import math

import pandas as pd
import pytest

from lthkit import interpretability as rules

DENSE = {"accuracy": 0.90, "units": 40, "concepts": 10}


def _table(ticket, random=None, seeds=(0, 1, 2), noise=(0.0, 0.002, -0.002)):
    """ticket: round → (accuracy, units, concepts), the same for every seed up to a small
    seed-dependent jitter; random: the same for the random controls."""
    rows = []
    for seed, jitter in zip(seeds, noise):
        rows.append({"seed": seed, "round": 0, "kind": "ticket", "weights_remaining": 100.0,
                     **{k: v * (1 + jitter) for k, v in DENSE.items()}})
        for kind, levels in (("ticket", ticket), ("random", random or {})):
            for round_, (acc, units, concepts) in levels.items():
                rows.append({"seed": seed, "round": round_, "kind": kind,
                             "weights_remaining": 100 * 0.8 ** round_, "accuracy": acc + jitter,
                             "units": units * (1 + jitter), "concepts": concepts * (1 + jitter)})
    return pd.DataFrame(rows)


PAPER = _table({1: (0.90, 41, 10), 2: (0.895, 40, 10), 3: (0.70, 20, 5)},
               random={2: (0.85, 25, 6), 3: (0.60, 10, 3)})


def test_accuracy_status_holds_falls_or_cannot_tell():
    assert rules.accuracy_status(PAPER, 0.02) == {1: "holds", 2: "holds", 3: "falls"}
    noisy = _table({1: (0.885, 40, 10)}, noise=(0.0, 0.02, -0.03))
    assert rules.accuracy_status(noisy, 0.02) == {1: None}


def test_the_paper_as_a_table_passes_every_rule():
    status = rules.accuracy_status(PAPER, 0.02)
    held = rules.holds_while_accurate(PAPER, status, 0.10)
    assert held["round"] == 2 and held["holds"] is True
    assert held["units"][0] == pytest.approx(0.0, abs=0.01)
    fell = rules.falls_when_inaccurate(PAPER, status)
    assert fell["round"] == 3 and fell["holds"] is True and fell["units"][0] == pytest.approx(-0.5)
    sooner = rules.random_falls_sooner(PAPER, status)
    assert sooner["round"] == 2 and sooner["holds"] is True
    assert sooner["gap"][0] == pytest.approx((25 - 40) / 40, abs=0.01)


def test_the_opposite_of_the_paper_fails_every_rule():
    table = _table({1: (0.90, 40, 10), 2: (0.90, 24, 6), 3: (0.70, 50, 12)},
                   random={2: (0.85, 30, 8)})
    status = rules.accuracy_status(table, 0.02)
    assert rules.holds_while_accurate(table, status, 0.10)["holds"] is False
    assert rules.falls_when_inaccurate(table, status)["holds"] is False
    assert rules.random_falls_sooner(table, status)["holds"] is False


def test_unit_counts_too_noisy_to_tell_are_inconclusive():
    table = _table({1: (0.90, 36, 9), 2: (0.70, 38, 10)}, random={1: (0.9, 36, 9)},
                   noise=(0.0, 0.003, -0.003))
    table.loc[table["kind"].eq("ticket") & table["round"].gt(0), "units"] *= [1.3, 0.7, 1.0] * 2
    table.loc[table["kind"].eq("random"), "units"] *= [1.3, 0.7, 1.0]
    status = rules.accuracy_status(table, 0.02)
    assert status == {1: "holds", 2: "falls"}
    assert rules.holds_while_accurate(table, status, 0.10)["holds"] is None
    assert rules.falls_when_inaccurate(table, status)["holds"] is None
    assert rules.random_falls_sooner(table, status)["holds"] is None


def test_levels_never_reached_make_every_rule_inconclusive():
    never_falls = _table({1: (0.90, 40, 10), 2: (0.90, 40, 10)})
    status = rules.accuracy_status(never_falls, 0.02)
    assert rules.falls_when_inaccurate(never_falls, status)["holds"] is None  # accuracy held
    assert rules.random_falls_sooner(never_falls, status)["holds"] is None    # no controls
    always_falls = _table({1: (0.70, 40, 10)})
    status = rules.accuracy_status(always_falls, 0.02)
    held = rules.holds_while_accurate(always_falls, status, 0.10)
    assert held["holds"] is None and held["round"] is None
    one_seed = _table({1: (0.90, 40, 10)}, seeds=(0,), noise=(0.0,))
    assert rules.accuracy_status(one_seed, 0.02) == {1: None}


def test_a_seed_without_interpretable_units_gives_no_ratio():
    table = _table({1: (0.90, 10, 3)})
    table.loc[table["round"].eq(0), ["units", "concepts"]] = 0
    assert all(math.isnan(v) for v in rules.relative_change(table, "units", 1))
