"""Late resetting swept over the rewinding point, with each ticket's stability to pruning
(chapter 2; Frankle et al., 2019, arXiv:1903.01611)::

    table = sweep(experiment, rewinds=[0, 20, 100], data=data, seeds=[0, 1, 2], progress=bar)
    # one row per (rewind, seed, round, kind): weights_remaining, early_stop_test_acc, …, and
    # for tickets their stability to pruning, "distance" and "angle"

IMP is run once per rewinding point ``k`` (``experiment`` with ``rewind_step=f"{k}it"``); the
experiments' rounds train together and share their dense run (:func:`lottery.imp_many`),
so a sweep costs one dense network per seed. Each ticket of round ``r``, rewound to ``k`` and
trained in isolation, is compared with the dense network of its seed, trained from the same
initialisation on the same data order: at iteration ``k`` the two agree on every weight the
mask keeps, and the stability of the subnetwork ``(W_k, m)`` is how far apart those weights end
(:func:`stability.pruning_stability`). The dense network is the one IMP trained: it passes
through ``W_k`` with its optimiser's state (momentum, Adam's moments) and keeps it, where the
ticket restarts its optimiser, as rewinding does; the paper's formal definition restarts both
at ``W_k``. For ``k = 0`` the two readings coincide, and the dense run costs nothing extra.
"""
from __future__ import annotations

import dataclasses

import pandas as pd

from . import lottery, stability


def experiments(experiment: lottery.Experiment, rewinds, controls_at=None) -> list:
    """``experiment`` rewound to each of ``rewinds`` (iterations); only the one rewound to
    ``controls_at`` keeps its controls (default: the latest rewinding point)."""
    rewinds = [int(k) for k in rewinds]
    if not rewinds or min(rewinds) < 0 or len(set(rewinds)) != len(rewinds):
        raise ValueError(f"rewinds must be distinct iterations ≥ 0, got {rewinds}")
    controls_at = max(rewinds) if controls_at is None else int(controls_at)
    if controls_at not in rewinds:
        raise ValueError(f"controls_at={controls_at} is not one of the rewinds {rewinds}")
    return [dataclasses.replace(experiment, rewind_step=f"{k}it",
                                controls=experiment.controls if k == controls_at else ())
            for k in rewinds]


def runs(experiment: lottery.Experiment, rewinds, seeds, controls_at=None) -> int:
    """How many training runs a sweep makes (for progress bars)."""
    return len(list(seeds)) * sum(lottery.runs(e)
                                  for e in experiments(experiment, rewinds, controls_at))


def sweep(experiment: lottery.Experiment, rewinds, data, seeds, progress=None,
          controls_at=None) -> pd.DataFrame:
    """IMP rewound to each ``k`` of ``rewinds``, for every seed: a DataFrame with a row per
    (``rewind``, ``seed``, ``round``, ``kind``), the rows of :func:`lottery.imp_seeds` without
    their weights, and for tickets of later rounds ``distance`` and ``angle`` from the dense
    network (NaN elsewhere)."""
    sweep_ = experiments(experiment, rewinds, controls_at)
    seeds = list(seeds)
    imp_rows = lottery.imp_many(sweep_, data, seeds, progress=progress, states=True)
    rewinds = [int(k) for k in rewinds]
    # every experiment shares its seed's dense network
    dense = {row["seed"]: row["final_state"] for row in imp_rows if row["round"] == 0}
    rows = []
    for row in imp_rows:
        state, mask = row.pop("final_state", None), row.pop("mask", None)
        row.pop("rewind_state", None)
        measured = ({"distance": float("nan"), "angle": float("nan")}
                    if state is None or row["round"] == 0 or row["kind"] != "ticket"
                    else stability.pruning_stability(state, dense[row["seed"]], mask))
        rows.append({"rewind": rewinds[row.pop("experiment")], **row, **measured})
    return pd.DataFrame(rows)


def rank_correlation(table: pd.DataFrame, x: str, y: str, within: str = "round",
                     by: str = "seed") -> pd.Series:
    """Spearman's rank correlation of ``x`` and ``y`` across the rows of each (``by``,
    ``within``) group, averaged over the ``within`` groups: one value per ``by`` (per seed).

    Comparing only rows of the same ``within`` (one sparsity level, across rewinding points)
    keeps a third variable out: sparser tickets are both less accurate and, with fewer weights,
    nearer in distance, which would correlate the two across levels whatever rewinding did. A
    group where ``x`` or ``y`` is constant has no ranks to compare and is left out."""
    def spearman(group):
        if group[x].nunique() < 2 or group[y].nunique() < 2:
            return float("nan")
        return group[x].rank().corr(group[y].rank())

    values = table.groupby([by, within])[[x, y]].apply(spearman)
    return values.groupby(level=0).mean()
