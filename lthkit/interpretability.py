"""The rules behind chapter 5's verdicts: does interpretability survive pruning while accuracy
does? ::

    table = pd.DataFrame(rows)   # one row per network: seed, round, kind, weights_remaining,
                                 # accuracy, units (interpretable), concepts (unique)
    status = accuracy_status(table, margin=0.02)    # round → "holds" / "falls" / None
    holds_while_accurate(table, status, margin=0.10)

Every comparison is paired by seed (a seed's subnetworks descend from its own dense network)
and made on the change relative to that seed's dense network, through a Student-t interval over
seeds (:mod:`lthkit.stats`): a rule passes when the whole interval lies on the claimed side,
fails when it lies wholly on the other, and is inconclusive otherwise, with one seed, or when the
levels it needs were not reached.
"""
from __future__ import annotations

import math

from . import stats

NOTHING = (math.nan, math.nan, math.nan)


def _by_seed(table, column: str, kind: str = "ticket"):
    """seed × round of ``column`` for ``kind`` (the dense network is the ticket of round 0)."""
    rows = table[(table["kind"] == kind) | (table["round"] == 0)]
    return rows.pivot_table(index="seed", columns="round", values=column)


def relative_change(table, column: str, round_: int, kind: str = "ticket"):
    """Mean and 95% interval over seeds of (value at ``round_`` − dense) / dense."""
    values = _by_seed(table, column, kind)
    if round_ not in values or 0 not in values:
        return NOTHING
    dense = values[0].where(values[0] != 0)          # a seed without any: no ratio
    change = ((values[round_] - dense) / dense).dropna()
    return stats.mean_interval(change) if len(change) else NOTHING


def accuracy_status(table, margin: float) -> dict:
    """For each pruned round of the tickets: ``"holds"`` when accuracy is within ``margin`` of
    the dense network's (the interval of the paired difference above −margin), ``"falls"``
    when it is below that (the whole interval under −margin), None when undecided."""
    acc = _by_seed(table, "accuracy")
    status = {}
    for round_ in acc.columns:
        if round_ == 0:
            continue
        estimate = stats.mean_interval(acc[round_] - acc[0])
        status[round_] = ("holds" if stats.above(estimate, -margin)
                          else "falls" if stats.below(estimate, -margin) else None)
    return status


def _sparsest(status: dict, wanted: str, among=None):
    rounds = [r for r, s in status.items() if s == wanted and (among is None or r in among)]
    return max(rounds) if rounds else None


def holds_while_accurate(table, status: dict, margin: float) -> dict:
    """At the sparsest level whose accuracy holds, are interpretable units and unique concepts
    no fewer than the dense network's, within ``margin`` (relative)? Passes when both do."""
    round_ = _sparsest(status, "holds")
    if round_ is None:
        return {"round": None, "units": NOTHING, "concepts": NOTHING, "holds": None}
    units, concepts = (relative_change(table, c, round_) for c in ("units", "concepts"))
    return {"round": round_, "units": units, "concepts": concepts,
            "holds": _both(stats.above(units, -margin), stats.above(concepts, -margin))}


def falls_when_inaccurate(table, status: dict) -> dict:
    """At the sparsest level, if its accuracy has fallen: are there fewer interpretable units
    than in the dense network? Inconclusive when accuracy never fell."""
    round_ = max(status) if status else None
    if round_ is None or status[round_] != "falls":
        return {"round": round_, "units": NOTHING, "holds": None}
    units = relative_change(table, "units", round_)
    return {"round": round_, "units": units, "holds": stats.below(units, 0.0)}


def random_falls_sooner(table, status: dict) -> dict:
    """At the sparsest level where the tickets' accuracy holds and random pruning was trained,
    has random pruning fewer interpretable units than the tickets (relative to the dense
    network, paired by seed)?"""
    trained = set(table.loc[table["kind"] == "random", "round"])
    round_ = _sparsest(status, "holds", among=trained)
    if round_ is None:
        return {"round": None, "gap": NOTHING, "holds": None}
    ticket, random = (_by_seed(table, "units", kind) for kind in ("ticket", "random"))
    dense = ticket[0].where(ticket[0] != 0)
    gap = ((random[round_] - ticket[round_]) / dense).dropna()
    estimate = stats.mean_interval(gap) if len(gap) else NOTHING
    return {"round": round_, "gap": estimate, "holds": stats.below(estimate, 0.0)}


def _both(a, b):
    return False if False in (a, b) else (None if None in (a, b) else True)
