"""Chapter 3's experiments: instability analysis of a dense network split at several iterations
``k``, and of its sparse subnetworks (IMP tickets rewound to ``k`` and their two controls), every
run and path through the store::

    setting = Setting("LeNet-300-100", lottery.Experiment(...), data={"name": "mnist5k",
                      "val_size": 500}, splits=(0, 100, 500), rewinds=(0,), levels=(2, 4),
                      controls=((0, 4),))
    ds = load(setting)
    pairs, paths = dense(setting, ds, seeds=[0, 1, 2], progress=bar)
    imp_rows = imp(setting, ds, seeds=[0, 1, 2], progress=bar)   # IMP for every rewinding step
    pairs, paths = sparse(setting, ds, seeds=[0, 1, 2], progress=bar)

A *pair* is two copies of one network trained from one starting point with different data
orders; its *path* is the error of θ(α) between them (:func:`stability.error_along_path`). A pair
row holds its instability (largest test error on the path minus the mean at the two ends) and
the test error of its two ends.

- Dense pairs at ``k``: one parent run per seed keeps its weights and optimiser state at every
  ``k`` and is the first copy of each pair; the second continues from ``k`` with another order.
- Sparse pairs at rewinding step ``k`` and IMP round ``level``: ``ticket``, IMP's mask on the
  dense network's weights at ``k``, trained from ``k``; ``random``, a random mask of the same
  per-layer density on the same weights; ``reinit``, IMP's mask on freshly drawn weights, trained
  from iteration 0. The first copy of each is, bitwise, the run :func:`lottery.imp` trains for
  the ticket and its two controls (same seeds); both copies start afresh with the optimiser, as
  rewinding does.

Copy one trains with IMP's order seed (``seed``), copy two with ``SECOND_ORDER + seed``.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from . import data as data_, engine, lottery, masks, stability, stats, store
from .steps import Step

SECOND_ORDER = 7_000_000   # the second copy's order seed is this plus the seed


@dataclass(frozen=True)
class Setting:
    """One network on one dataset: its recipe and pruning (``experiment``), where dense copies
    split (``splits``), where IMP rewinds (``rewinds``), the IMP rounds whose subnetworks are
    analysed (``levels``), and the (rewind, level) pairs where the controls are too
    (``controls``)."""

    label: str
    experiment: lottery.Experiment     # its rewind_step is replaced by each of ``rewinds``
    data: dict = field(default_factory=dict)   # name, val_size, options (of data.load)
    splits: tuple = (0,)
    rewinds: tuple = (0,)
    levels: tuple = ()
    controls: tuple = ()               # of (rewind, level)
    alphas: int = 11
    train_examples: int = 2000         # training examples the path's train error is measured on
    bn_batches: int = 20               # training batches that measure θ(α)'s batch-norm statistics

    def __post_init__(self):
        unknown = {(k, level) for k, level in self.controls
                   if k not in self.rewinds or level not in self.levels}
        if unknown:
            raise ValueError(f"controls at {sorted(unknown)}: each (rewind, level) must be among "
                             f"the rewinds {self.rewinds} and levels {self.levels}")
        if min(self.levels, default=1) < 1:
            raise ValueError(f"levels are IMP rounds ≥ 1 (round 0 is the dense network), not "
                             f"{self.levels}")

    def rewound_to(self, rewind: int) -> lottery.Experiment:
        """IMP rewinding to iteration ``rewind``, as far as the sparsest level, no controls (the
        pairs below train their own)."""
        return dataclasses.replace(self.experiment, rewind_step=f"{rewind}it",
                                   rounds=max(self.levels, default=0), controls=())


def load(setting: Setting) -> data_.Dataset:
    """The setting's dataset, with its validation split (IMP stops early on it)."""
    spec = dict(setting.data)
    ds = data_.load(spec.get("name", setting.experiment.dataset), **spec.get("options", {}))
    return ds.split_validation(spec["val_size"], seed=0) if spec.get("val_size") else ds


def dense(setting: Setting, ds, seeds, progress=None) -> tuple[list, list]:
    """Dense pairs at every split of every seed → (pair rows, path rows)."""
    exp, splits = setting.experiment, sorted(set(setting.splits))
    per_epoch = ds.iterations_per_epoch(exp.train.batch_size)
    end = Step.parse(exp.train.train_steps).iterations(per_epoch)
    if splits[-1] >= end:
        raise ValueError(f"{setting.label}: split {splits[-1]} is not before the end of "
                         f"training ({end} iterations)")
    setup = _setup(exp)

    def parent(seed):
        run = _run(exp, ds, seed, checkpoints=tuple(splits))
        return lambda tick: store.cached(
            "connectivity.parent", {**setup, "seed": seed, "splits": splits},
            lambda: _slim(engine.fit(run, tick)), data_fingerprint=ds.fingerprint)

    parents = engine.parallel([parent(s) for s in seeds], progress=progress, unit="iteration")
    tasks = []
    for seed, first in zip(seeds, parents):
        for k in splits:
            run = stability.continued(_run(exp, ds, seed), first, k, SECOND_ORDER + seed)
            tasks.append(_pair_task(setting, ds, {**setup, "kind": "dense", "seed": seed, "k": k},
                                    first.final_state, run))
    results = engine.parallel([t for t, _ in tasks], progress=progress, unit="iteration")
    return _rows(setting, [(p, r) for (_, p), r in zip(tasks, results)])


def imp(setting: Setting, ds, seeds, progress=None) -> list[dict]:
    """IMP to the sparsest level for every rewinding step → its rows, tagged with ``k``. Every
    rewinding step's rounds train together (:func:`lottery.imp_many`); ``progress`` counts runs."""
    experiments = [setting.rewound_to(k) for k in setting.rewinds]
    return [{**row, "k": setting.rewinds[row.pop("experiment")]}
            for row in lottery.imp_many(experiments, ds, seeds, progress=progress)]


def sparse(setting: Setting, ds, seeds, progress=None) -> tuple[list, list]:
    """Pairs of IMP's tickets (and of their controls) at the levels → (pair rows, path rows).
    IMP's runs come from the store (:func:`imp` first, to train them together)."""
    experiments = [setting.rewound_to(k) for k in setting.rewinds]
    tasks = []
    for k, experiment in zip(setting.rewinds, experiments):
        setup = {**_setup(experiment), "rewind": k}
        for seed in seeds:
            tickets = lottery.tickets(experiment, ds, seed, rounds=setting.levels)
            for level in setting.levels:
                ticket = tickets[level]
                kinds = ("ticket", *(("random", "reinit") if (k, level) in setting.controls
                                      else ()))
                for kind in kinds:
                    params = {**setup, "kind": kind, "seed": seed, "k": k, "level": level,
                              "weights_remaining": 100 * ticket["mask"].density()}
                    first, runs = _sparse_runs(experiment, ds, seed, k, level, kind, ticket)
                    tasks.append(_pair_task(setting, ds, params, first, *runs))
    results = engine.parallel([t for t, _ in tasks], progress=progress, unit="iteration")
    return _rows(setting, [(p, r) for (_, p), r in zip(tasks, results)])


def _sparse_runs(experiment, ds, seed, k, level, kind, ticket):
    """(first copy's final state or None, the runs to train) of one sparse pair."""
    # The seed lottery's controls draw at this round (lottery._Chain.tasks), so copy one is
    # lottery's control run.
    other = (10_000 + seed) * 1000 + level
    rewound = dict(state=ticket["rewind_state"], start=k)
    if kind == "ticket":  # copy one is IMP's own ticket, already trained
        return ticket["final_state"], [_run(experiment, ds, SECOND_ORDER + seed,
                                            mask=ticket["mask"], **rewound)]
    if kind == "random":
        how = dict(mask=masks.random_prune(ticket["mask"], other), **rewound)
    else:
        how = dict(mask=ticket["mask"], init_seed=other)
    return None, [_run(experiment, ds, order, **how) for order in (seed, SECOND_ORDER + seed)]


def _pair_task(setting, ds, params, first, *runs):
    """(task, params): train what the pair lacks (``first``: copy one's final weights when it
    is trained already), evaluate its path; through the store."""
    params = {**params, "alphas": setting.alphas, "train_examples": setting.train_examples,
              "bn_batches": setting.bn_batches}

    def compute(tick):
        results = [engine.fit(run, tick) for run in runs]
        states = ([] if first is None else [first]) + [r.final_state for r in results]
        path = stability.error_along_path(
            setting.experiment.model, states[0], states[1], ds, setting.alphas,
            train_examples=setting.train_examples, bn_batches=setting.bn_batches, n_workers=1)
        return {"path": path, "iterations": sum(r.iterations for r in results),
                "seconds": sum(r.seconds for r in results)}

    return (lambda tick: store.cached("connectivity.pair", params, lambda: compute(tick),
                                      data_fingerprint=ds.fingerprint)), params


def _rows(setting, done) -> tuple[list, list]:
    pairs, paths = [], []
    for params, result in done:
        tag = {"setting": setting.label, "kind": params["kind"], "seed": params["seed"],
               "k": params["k"], "level": params.get("level", 0),
               "weights_remaining": params.get("weights_remaining", 100.0)}
        path = result["path"]
        test = [p["test_error"] for p in path]
        pairs.append({**tag, "instability": stability.instability(test),
                      "train_instability": stability.instability(p["train_error"] for p in path),
                      "end_error": (test[0] + test[-1]) / 2,
                      "iterations": result["iterations"], "seconds": result["seconds"]})
        paths += [{**tag, **p} for p in path]
    return pairs, paths


def _setup(experiment) -> dict:
    # What makes a run: IMP's own key less what does not change a run's result.
    return {k: v for k, v in dataclasses.asdict(experiment).items()
            if k not in ("rounds", "controls", "control_every", "control_steps")}


def _run(experiment, ds, order_seed, init_seed=None, **how) -> engine.Run:
    return engine.Run(experiment.model, ds, experiment.train, order_seed,
                      init_seed=order_seed if init_seed is None else init_seed,
                      device=experiment.device, **how)


def _slim(result):
    """What a parent's pairs need: its end, its checkpoints and optimiser states, its cost."""
    return dataclasses.replace(result, trajectory=result.trajectory[-1:])


def work(setting: Setting, per_epoch: int, seeds: int) -> dict:
    """What :func:`dense`, :func:`imp` and :func:`sparse` train for ``seeds`` seeds, with epochs
    of ``per_epoch`` iterations: the iterations of the dense and sparse pairs, IMP's runs and
    IMP's iterations (for progress bars and costs)."""
    end = Step.parse(setting.experiment.train.train_steps).iterations(per_epoch)
    dense_its = end + sum(end - k for k in set(setting.splits))
    sparse_its = sum(end - k + (2 * (end - k) + 2 * end if (k, level) in setting.controls
                                else 0)
                     for k in setting.rewinds for level in setting.levels)
    rounds = max(setting.levels, default=0)
    return {"dense": seeds * dense_its, "sparse": seeds * sparse_its,
            "imp": seeds * len(setting.rewinds) * (rounds + 1),
            "imp_iterations": seeds * sum(end + rounds * (end - k) for k in setting.rewinds)}


def judged(pairs, stable: float, margin: float):
    """One row per setting, kind, ``k`` and level, over its seeds: the instability and the test
    error above the dense network's (paired by seed; the dense network's error is the mean of
    the two ends of its pair at the first split), each ``(mean, lo, hi)`` with a 95% interval,
    and two verdicts, True / False / None (undecided, or one seed):

    - ``stable``: the instability's interval lies wholly below ``stable`` (False: wholly at or
      above it);
    - ``matching``: the excess error's interval lies wholly below ``margin``, non-inferiority
      (False: wholly at or above it). Dense rows are their own reference: None."""
    import pandas as pd

    pairs = pd.DataFrame(pairs)
    first = pairs[pairs.kind == "dense"].sort_values("k").groupby(["setting", "seed"]).first()
    dense_error = first["end_error"]
    rows = []
    for (label, kind, k, level), group in pairs.groupby(["setting", "kind", "k", "level"],
                                                        sort=False):
        instability = stats.mean_interval(group["instability"])
        row = {"setting": label, "kind": kind, "k": k, "level": level,
               "weights_remaining": group["weights_remaining"].iloc[0], "seeds": len(group),
               "instability": instability, "stable": stats.below(instability, stable),
               "excess_error": None, "matching": None}
        if kind != "dense":
            reference = dense_error.loc[[(label, s) for s in group["seed"]]].to_numpy()
            row["excess_error"] = stats.mean_interval(group["end_error"].to_numpy() - reference)
            row["matching"] = stats.below(row["excess_error"], margin)
        rows.append(row)
    return pd.DataFrame(rows)


def matching_only_when_stable(table) -> bool | None:
    """The rule of "subnetworks are matching only when they are stable" over the rows of
    :func:`judged`: False when some row is matching and unstable; True when at least one row
    is matching and every matching row is stable; None otherwise (no row decided matching, or
    one whose stability is undecided)."""
    matching = table[table["matching"] == True]  # noqa: E712 (None is not False here)
    if (matching["stable"] == False).any():  # noqa: E712
        return False
    if matching.empty or matching["stable"].isna().any():
        return None
    return True
