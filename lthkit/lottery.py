"""Iterative magnitude pruning with rewinding, and its two controls::

    rows = imp(Experiment(model="lenet_300_100", dataset="mnist5k", train=Config(...), rounds=15),
               data, seed=0)

Round 0 trains the dense network from ``init_seed`` and keeps its weights at ``rewind_step``.
Every later round prunes ``prune_rate`` of the surviving weights (``output_prune_rate`` in the
output layer) by magnitude from the previous round's trained weights, *rewinds* the survivors to
their values at ``rewind_step`` (step 0 is the original lottery ticket hypothesis) and trains
from there. At every sparser level two controls train beside the ticket:

- ``reinit``: the same mask on freshly drawn weights (is the initialisation what matters?);
- ``random``: a random mask with the same per-layer density on the rewound weights (is the
  structure what matters?).

Every training run goes through the store, so an interrupted IMP resumes at the first round it
had not finished. ``imp_seeds`` runs several seeds side by side, one process per core::

    rows = imp_seeds(experiment, data, seeds=[0, 1, 2], progress=bar)
"""
from __future__ import annotations

import dataclasses
import os
import queue as queue_
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context

from . import masks, models, procs, store
from .steps import Step
from .train import Config, single_thread, train

KINDS = ("ticket", "reinit", "random")


@dataclass(frozen=True)
class Experiment:
    model: str = "lenet_300_100"
    dataset: str = "mnist5k"
    train: Config = field(default_factory=Config)
    rounds: int = 15
    prune_rate: float = 0.2
    output_prune_rate: float | None = 0.1
    scope: str = "layer"                 # "layer" or "global"
    rewind_step: str = "0it"
    controls: tuple = ("reinit", "random")
    device: str = "cpu"                  # part of the store key: a GPU's numbers differ slightly

    def __post_init__(self):
        unknown = set(self.controls) - set(KINDS[1:])
        if unknown:
            raise ValueError(f"unknown controls {sorted(unknown)}; known: {KINDS[1:]}")


def _seeds(seed: int) -> dict:
    # One seed per IMP run; the three roles get separate, named streams.
    return {"init_seed": seed, "order_seed": seed, "prune_seed": 10_000 + seed}


def imp(experiment: Experiment, data, seed: int = 0, progress=None) -> list[dict]:
    """Run IMP; one row per (round, kind) with density, early-stop metrics and the trajectory.

    ``data`` must be the dataset ``experiment.dataset`` names (its fingerprint keys the store).
    ``progress``: a tqdm-like bar advanced once per training run."""
    seeds = _seeds(seed)
    # A round's result does not depend on how many rounds follow it or on which controls run
    # beside it, so neither is part of the key: extending an IMP reuses every finished round.
    setup = {k: v for k, v in dataclasses.asdict(experiment).items()
             if k not in ("rounds", "controls")}
    params = {"experiment": setup, **seeds}
    per_epoch = data.iterations_per_epoch(experiment.train.batch_size)
    rewind = Step.parse(experiment.rewind_step).iterations(per_epoch)
    end = Step.parse(experiment.train.train_steps).iterations(per_epoch)
    if rewind > end:
        raise ValueError(f"rewind_step={experiment.rewind_step} ({rewind} iterations) is after "
                         f"the end of training ({experiment.train.train_steps}, {end} iterations)")

    def run(kind: str, round_: int, compute):
        # Always one thread, so an entry is bitwise the same whichever path computed it.
        with single_thread():
            result = store.cached(f"lottery.{kind}", {**params, "round": round_}, compute,
                                  data_fingerprint=data.fingerprint)
        if progress is not None:
            progress.update(1)
        return result

    def fit(model, **kwargs):
        return train(model, data, experiment.train, seeds["order_seed"],
                     device=experiment.device, **kwargs)

    def rewound():
        model = models.build(experiment.model, seeds["init_seed"])
        model.load_state_dict(rewind_state)
        return model

    def dense():
        model = models.build(experiment.model, seeds["init_seed"])
        return _summary(fit(model, checkpoints=[rewind]), keep_state=True, rewind=rewind)

    first = run("ticket", 0, dense)
    rewind_state = first["rewind_state"]
    mask = masks.Mask.ones(models.build(experiment.model, seeds["init_seed"]))
    rows = [_row(0, "ticket", mask, first)]
    previous = first
    for round_ in range(1, experiment.rounds + 1):
        mask = _prune(experiment, previous["final_state"], mask)

        def ticket(mask=mask):
            return _summary(fit(rewound(), mask=mask, start=rewind), keep_state=True)

        def reinit(mask=mask, round_=round_):
            fresh = models.build(experiment.model, seeds["prune_seed"] * 1000 + round_)
            return _summary(fit(fresh, mask=mask))

        def random(mask=mask, round_=round_):
            random_mask = masks.random_prune(mask, seeds["prune_seed"] * 1000 + round_)
            return _summary(fit(rewound(), mask=random_mask, start=rewind))

        previous = run("ticket", round_, ticket)
        rows.append(_row(round_, "ticket", mask, previous))
        for kind, compute in (("reinit", reinit), ("random", random)):
            if kind in experiment.controls:
                rows.append(_row(round_, kind, mask, run(kind, round_, compute)))
    return rows


def imp_seeds(experiment: Experiment, data, seeds, workers: int | None = None,
              progress=None) -> list[dict]:
    """``imp`` for every seed, rows tagged with ``seed``, in up to ``workers`` processes.

    ``imp`` trains on one thread, in a worker or here, so results do not depend on ``workers``:
    small networks gain little from a second thread, and two processes use two cores fully."""
    seeds = list(seeds)
    workers = max(1, min(workers or os.cpu_count() or 1, len(seeds)))
    if workers == 1:
        return [{**row, "seed": seed} for seed in seeds
                for row in imp(experiment, data, seed, progress)]
    context = get_context("spawn")  # fork would copy torch's thread pools mid-use
    with procs.manager(context) as manager, ProcessPoolExecutor(
            workers, mp_context=context, initializer=procs.die_with_parent) as pool:
        ticks = manager.Queue()
        futures = [pool.submit(_imp_worker, experiment, data, seed, ticks) for seed in seeds]
        while True:
            finished = all(f.done() for f in futures)  # read before draining: no tick is lost
            try:
                while True:
                    ticks.get(timeout=0 if finished else 0.2)
                    if progress is not None:
                        progress.update(1)
            except queue_.Empty:
                if finished:
                    break
        return [{**row, "seed": seed} for seed, f in zip(seeds, futures) for row in f.result()]


class _Ticks:
    """A progress bar stand-in that reports each finished run to the parent process."""

    def __init__(self, queue):
        self.queue = queue

    def update(self, n=1):
        self.queue.put(n)


def _imp_worker(experiment, data, seed, ticks):
    return imp(experiment, data, seed, _Ticks(ticks))


def runs(experiment: Experiment) -> int:
    """How many training runs ``imp`` makes (for progress bars)."""
    return 1 + experiment.rounds * (1 + len(experiment.controls))


def _prune(experiment: Experiment, trained_state: dict, mask: masks.Mask) -> masks.Mask:
    trained = {name: trained_state[name] for name in mask}
    if experiment.scope == "global":
        return masks.magnitude_prune(trained, mask, experiment.prune_rate, scope="global")
    rates = masks.layer_rates(mask, experiment.prune_rate, experiment.output_prune_rate,
                              list(mask)[-1])
    return masks.magnitude_prune(trained, mask, rates)


def _summary(result, keep_state=False, rewind=None) -> dict:
    summary = {"trajectory": result.trajectory,
               "early_stop_iteration": result.early_stop_iteration,
               "early_stop_test_acc": result.early_stop_test_acc,
               "final_test_acc": result.final_test_acc}
    if keep_state:
        summary["final_state"] = result.final_state
    if rewind is not None:
        summary["rewind_state"] = result.checkpoints[rewind]
    return summary


def _row(round_: int, kind: str, mask: masks.Mask, summary: dict) -> dict:
    return {"round": round_, "kind": kind, "density": mask.density(),
            "weights_remaining": 100.0 * mask.density(),
            "early_stop_iteration": summary["early_stop_iteration"],
            "early_stop_test_acc": summary["early_stop_test_acc"],
            "final_test_acc": summary["final_test_acc"],
            "trajectory": summary["trajectory"]}
