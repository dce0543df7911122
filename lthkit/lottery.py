"""Iterative magnitude pruning with rewinding, and its two controls::

    rows = imp(Experiment(model="lenet_300_100", dataset="mnist5k", train=Config(...), rounds=15),
               data, seed=0)

Round 0 trains the dense network from ``init_seed``; its weights at ``rewind_step`` come from a
run of that many iterations with the same seeds (bitwise the dense run's own weights there), so
the dense run does not depend on the rewind step or the pruning rates and one is shared by every
experiment that differs only in those (a sweep over rewinding points trains it once). Every later
round prunes ``prune_rate`` of the surviving weights (``output_prune_rate`` in the
output layer) by magnitude from the previous round's trained weights, *rewinds* the survivors to
their values at ``rewind_step`` (step 0 is the original lottery ticket hypothesis) and trains
from there. At every sparser level two controls train beside the ticket:

- ``reinit``: the same mask on freshly drawn weights (is the initialisation what matters?);
- ``random``: a random mask with the same per-layer density on the rewound weights (is the
  structure what matters?).

Every training run goes through the store, so an interrupted IMP resumes at the first round it
had not finished. ``imp_seeds`` runs several seeds together: a round's runs, every seed's ticket
and controls, train at once through :mod:`lthkit.engine`::

    rows = imp_seeds(experiment, data, seeds=[0, 1, 2], progress=bar)

IMP can take given weights in place of the dense network's own at ``rewind_step`` (``starts``:
pre-trained weights, say; chapter 4), and rows can carry what later work on a network needs
(``states``: its trained weights, its mask, and for tickets the weights it was rewound to).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field

from . import engine, masks, models, store
from .steps import Step
from .train import Config

KINDS = ("ticket", "reinit", "random")
# Experiment fields that only the pruned rounds depend on (the dense run is keyed without them).
_PRUNING = ("rewind_step", "prune_rate", "output_prune_rate", "scope")


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
    control_every: int = 1               # controls at the last round and every n-th before it
    control_steps: str | None = None     # the controls' training length (default: train's)
    device: str = "cpu"                  # part of the store key: a GPU's numbers differ slightly

    def __post_init__(self):
        unknown = set(self.controls) - set(KINDS[1:])
        if unknown:
            raise ValueError(f"unknown controls {sorted(unknown)}; known: {KINDS[1:]}")
        if self.control_every < 1:
            raise ValueError(f"control_every must be at least 1, not {self.control_every}")

    def control_config(self) -> Config:
        """The controls' training schedule: ``train`` with ``control_steps`` when it is set.

        Sparse controls learn slowly; a longer run keeps their validation minimum inside
        training, and more training can only help them, so the comparison stays fair."""
        if self.control_steps is None:
            return self.train
        return dataclasses.replace(self.train, train_steps=self.control_steps)

    def has_controls(self, round_: int) -> bool:
        """Whether the controls train at ``round_`` (never at round 0, the dense network)."""
        return round_ > 0 and (self.rounds - round_) % self.control_every == 0


def _seeds(seed: int) -> dict:
    # One seed per IMP run; the three roles get separate, named streams.
    return {"init_seed": seed, "order_seed": seed, "prune_seed": 10_000 + seed}


def imp(experiment: Experiment, data, seed: int = 0, progress=None) -> list[dict]:
    """Run IMP for one seed; one row per (round, kind) with density, early-stop metrics and the
    trajectory. ``data`` must be the dataset ``experiment.dataset`` names (its fingerprint keys
    the store), with a validation split. ``progress``: a tqdm-like bar advanced once per run."""
    return [{k: v for k, v in row.items() if k != "seed"}
            for row in imp_seeds(experiment, data, [seed], progress=progress)]


def imp_seeds(experiment: Experiment, data, seeds, progress=None,
              n_workers: int | None = None, starts: dict | None = None,
              states: bool = False) -> list[dict]:
    """``imp`` for every seed, rows tagged with ``seed``.

    A round's runs, every seed's ticket and controls, train together through the engine, one
    worker per core; each run is computed alone on one thread, so the rows do not depend
    on how many seeds or workers there are.

    ``starts``: seed → weights that take the place of the dense network's at ``rewind_step`` (a
    state dict, e.g. pre-trained weights; their content is part of the store key): the dense
    network trains from them, from ``rewind_step`` to the end, and the tickets rewind to them. A
    seed it does not name trains from its ``init_seed``'s weights at iteration 0. ``states``:
    every row also holds its network's trained weights (``final_state``) and ``mask``, and each
    ticket row the weights it was rewound to (``rewind_state``)."""
    starts = starts or {}
    chains = imp_chains([(experiment, seed, starts.get(seed)) for seed in seeds], data,
                        progress=progress, n_workers=n_workers, states=states)
    return [row for chain in chains for row in chain]


def imp_many(experiments, data, seeds, progress=None, n_workers: int | None = None,
             states: bool = False) -> list[dict]:
    """``imp_seeds`` for several experiments at once (e.g. a sweep over ``rewind_step``): the
    runs of every experiment's round r train together. Rows carry ``experiment``, the index of
    their experiment in ``experiments``, and ``seed``."""
    experiments, seeds = list(experiments), list(seeds)
    chains = imp_chains([(e, seed, None) for e in experiments for seed in seeds], data,
                        progress=progress, n_workers=n_workers, states=states)
    return [{**row, "experiment": i // len(seeds)} for i, chain in enumerate(chains)
            for row in chain]


def imp_chains(chains, data, progress=None, n_workers: int | None = None,
               states: bool = False) -> list[list[dict]]:
    """Several IMPs at once: ``chains`` lists ``(experiment, seed, start)`` (``start``: weights
    in place of the dense network's at ``rewind_step``, as in ``imp_seeds``, or None); the rows
    of each, in order.

    Their rounds train together (a rewinding sweep's experiments, say, or IMPs from several
    pre-trainings), so every worker stays busy however few seeds each has. A dense run that
    chains share is trained once: round 0 first trains one chain per distinct dense run, and the
    others then read it from the store (rather than wait on the store's lock, a worker idle)."""
    chains = [_Chain(experiment, data, seed, start, states) for experiment, seed, start in chains]
    for chain in chains:
        _check(chain.experiment, data)
    first, later, seen = [], [], set()
    for i, chain in enumerate(chains):
        dense = json.dumps(chain.dense_params, sort_keys=True, default=str)
        (later if dense in seen else first).append(i)
        seen.add(dense)
    last = max((c.experiment.rounds for c in chains), default=-1)
    waves = [(0, first), (0, later)] + [(r, range(len(chains))) for r in range(1, last + 1)]
    rows = [[] for _ in chains]
    for round_, wave in waves:
        live = [i for i in wave if round_ <= chains[i].experiment.rounds]
        jobs = [(i, kind, task) for i in live for kind, task in chains[i].tasks(round_)]
        results = engine.parallel([task for _, _, task in jobs], progress=progress,
                                  n_workers=n_workers)
        for i in live:
            done = {kind: result for (owner, kind, _), result in zip(jobs, results)
                    if owner == i}
            rows[i] += chains[i].finish(round_, done)
    return rows


def _check(experiment: Experiment, data) -> None:
    if data.x_val is None:
        raise ValueError("IMP needs a validation split for early stopping (use "
                         "Dataset.split_validation): stopping on the test set would choose the "
                         "iteration on the data its accuracy is reported on")
    per_epoch = data.iterations_per_epoch(experiment.train.batch_size)
    rewind = Step.parse(experiment.rewind_step).iterations(per_epoch)
    for config in {experiment.train, experiment.control_config()}:
        end = Step.parse(config.train_steps).iterations(per_epoch)
        if rewind > end:
            raise ValueError(f"rewind_step={experiment.rewind_step} ({rewind} iterations) is "
                             f"after the end of training ({config.train_steps}, {end} iterations)")


def setup(experiment: Experiment) -> dict:
    """The settings a round's result depends on (its store key's ``experiment``): neither how
    many rounds follow it nor which controls run beside it, so extending an IMP reuses every
    finished round."""
    return {k: v for k, v in dataclasses.asdict(experiment).items()
            if k not in ("rounds", "controls", "control_every", "control_steps")}


class _Chain:
    """One seed's IMP: the store entries of its runs, and the mask carried from round to round."""

    def __init__(self, experiment: Experiment, data, seed: int, start: dict | None = None,
                 states: bool = False):
        self.experiment, self.data, self.seed, self.start = experiment, data, seed, start
        self.seeds, self.states = _seeds(seed), states
        self.params = {"experiment": setup(experiment), **self.seeds}
        # The dense run (and the short run to the rewind step) depend on neither the rewind
        # step nor the pruning: keyed without them, one serves every such experiment. Given
        # weights at the rewind step are part of both keys, and so is where they start.
        dense = {k: v for k, v in self.params["experiment"].items() if k not in _PRUNING}
        self.dense_params = {"experiment": dense, **self.seeds}
        if start is not None:
            self.params["start"] = _fingerprint(start)
            self.dense_params.update(start=self.params["start"],
                                     start_at=experiment.rewind_step)
        per_epoch = data.iterations_per_epoch(experiment.train.batch_size)
        self.rewind = Step.parse(experiment.rewind_step).iterations(per_epoch)
        self.mask = self.rewind_state = self.previous = None

    def _fit(self, tick, config=None, **how) -> object:
        how.setdefault("init_seed", self.seeds["init_seed"])
        run = engine.Run(self.experiment.model, self.data, config or self.experiment.train,
                         self.seeds["order_seed"], device=self.experiment.device, **how)
        return engine.fit(run, tick)

    def _cached(self, kind: str, round_: int, compute):
        params = {**self.params, "round": round_}
        if kind != "ticket" and self.experiment.control_steps is not None:
            params["control_steps"] = self.experiment.control_steps

        def task(tick):
            return store.cached(f"lottery.{kind}", params, lambda: compute(tick),
                                data_fingerprint=self.data.fingerprint)
        return task

    def _dense(self, tick) -> dict:
        """Round 0: the dense run, and the weights at the rewind step."""
        def cached(name, params, compute):
            return store.cached(name, {**self.dense_params, **params}, compute,
                                data_fingerprint=self.data.fingerprint)

        if self.start is not None:  # given weights at the rewind step: train on from there
            dense = cached("lottery.ticket", {"round": 0}, lambda: _summary(
                self._fit(tick, state=self.start, start=self.rewind), keep_state=True))
            return {**dense, "rewind_state": self.start}
        dense = cached("lottery.ticket", {"round": 0},
                       lambda: _summary(self._fit(tick), keep_state=True))
        if self.rewind == 0:  # the initial weights: nothing to train
            start = models.for_data(self.experiment.model, self.seeds["init_seed"],
                                    self.data).state_dict()
        else:
            short = dataclasses.replace(self.experiment.train, train_steps=f"{self.rewind}it")
            start = cached("lottery.rewind", {"rewind": self.rewind},
                           lambda: self._fit(tick, short).final_state)
        return {**dense, "rewind_state": start}

    def tasks(self, round_: int) -> list[tuple]:
        """(kind, task) for the runs of this round."""
        if round_ == 0:
            return [("ticket", self._dense)]
        self.mask = mask = _prune(self.experiment, self.previous["final_state"], self.mask)
        other = self.seeds["prune_seed"] * 1000 + round_
        rewound = dict(state=self.rewind_state, start=self.rewind)
        longer = self.experiment.control_config()
        # a random mask with the same per-layer density (drawn here: cheap, and rows report it)
        self.masks = {"ticket": mask, "reinit": mask, "random": masks.random_prune(mask, other)}
        computes = {
            "ticket": lambda tick: _summary(self._fit(tick, mask=mask, **rewound),
                                            keep_state=True),
            # the same mask on freshly drawn weights
            "reinit": lambda tick: _summary(self._fit(tick, longer, init_seed=other,
                                                      mask=mask), keep_state=True),
            # the random mask on the rewound weights
            "random": lambda tick: _summary(self._fit(
                tick, longer, mask=self.masks["random"], **rewound), keep_state=True),
        }
        controls = self.experiment.controls if self.experiment.has_controls(round_) else ()
        kinds = ["ticket", *[k for k in KINDS[1:] if k in controls]]
        return [(kind, self._cached(kind, round_, computes[kind])) for kind in kinds]

    def finish(self, round_: int, results: dict) -> list[dict]:
        """The rows of a finished round; keeps what the next round starts from."""
        if round_ == 0:
            self.rewind_state = results["ticket"]["rewind_state"]
            self.mask = masks.Mask.ones(models.for_data(self.experiment.model, 0, self.data))
        self.previous = results["ticket"]
        rows = [{**_row(round_, kind, self.mask, results[kind]), "seed": self.seed}
                for kind in KINDS if kind in results]
        if self.states:
            for row in rows:
                if "final_state" in results[row["kind"]]:
                    row.update(final_state=results[row["kind"]]["final_state"],
                               mask=self.masks[row["kind"]] if round_ else self.mask)
            rows[0].update(rewind_state=self.rewind_state)
        return rows


def _fingerprint(state: dict) -> str:
    digest = hashlib.sha256()
    for name in sorted(state):
        digest.update(name.encode())
        digest.update(state[name].detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def runs(experiment: Experiment) -> int:
    """How many training runs ``imp`` makes (for progress bars)."""
    with_controls = sum(experiment.has_controls(r) for r in range(experiment.rounds + 1))
    return 1 + experiment.rounds + with_controls * len(experiment.controls)


def _prune(experiment: Experiment, trained_state: dict, mask: masks.Mask) -> masks.Mask:
    trained = {name: trained_state[name] for name in mask}
    if experiment.scope == "global":
        return masks.magnitude_prune(trained, mask, experiment.prune_rate, scope="global")
    rates = masks.layer_rates(mask, experiment.prune_rate, experiment.output_prune_rate,
                              list(mask)[-1])
    return masks.magnitude_prune(trained, mask, rates)


def _summary(result, keep_state=False) -> dict:
    summary = {"trajectory": result.trajectory,
               "early_stop_iteration": result.early_stop_iteration,
               "early_stop_test_acc": result.early_stop_test_acc,
               "final_test_acc": result.final_test_acc,
               "iterations": result.iterations, "seconds": result.seconds}
    if keep_state:
        summary["final_state"] = result.final_state
    return summary


def _row(round_: int, kind: str, mask: masks.Mask, summary: dict) -> dict:
    return {"round": round_, "kind": kind, "density": mask.density(),
            "weights_remaining": 100.0 * mask.density(),
            "early_stop_iteration": summary["early_stop_iteration"],
            "early_stop_test_acc": summary["early_stop_test_acc"],
            "final_test_acc": summary["final_test_acc"],
            "iterations": summary["iterations"], "seconds": summary["seconds"],
            "trajectory": summary["trajectory"]}


def weights_remaining(experiment: Experiment, data=None) -> list[float]:
    """% of prunable weights left after each round, 0 to ``rounds``, from the layer sizes and
    rates alone (the counts magnitude pruning keeps, whatever the weights). ``data``: the
    dataset, when the network's size depends on it (default: the model's default input)."""
    model = (models.for_data(experiment.model, 0, data) if data is not None
             else models.build(experiment.model, 0))
    mask = masks.Mask.ones(model)
    sizes = {name: m.numel() for name, m in mask.items()}
    if experiment.scope == "global":
        kept, total, levels = sum(sizes.values()), sum(sizes.values()), [100.0]
        for _ in range(experiment.rounds):
            kept -= round(kept * experiment.prune_rate)
            levels.append(100.0 * kept / total)
        return levels
    rates = masks.layer_rates(mask, experiment.prune_rate, experiment.output_prune_rate,
                              list(mask)[-1])
    kept, levels = dict(sizes), [100.0]
    for _ in range(experiment.rounds):
        kept = {n: k - round(k * rates[n]) for n, k in kept.items()}
        levels.append(100.0 * sum(kept.values()) / sum(sizes.values()))
    return levels


def tickets(experiment: Experiment, data, seed: int, rounds=None) -> dict[int, dict]:
    """One seed's tickets as networks: ``{round: {"mask", "rewind_state", "final_state"}}``
    for ``rounds`` (default: all), the weights the ticket starts from and ends with.

    Reads IMP's own store entries (computing any that are missing, as ``imp`` would), so the
    states are exactly those behind ``imp``'s rows; the controls are not touched."""
    wanted = set(range(experiment.rounds + 1) if rounds is None else rounds)
    if not wanted <= set(range(experiment.rounds + 1)):
        raise ValueError(f"rounds {sorted(wanted)} outside 0..{experiment.rounds}")
    _check(experiment, data)
    chain, out = _Chain(experiment, data, seed), {}
    for round_ in range(max(wanted) + 1):
        ticket = dict(chain.tasks(round_))["ticket"](None)
        chain.finish(round_, {"ticket": ticket})
        if round_ in wanted:
            out[round_] = {"mask": chain.mask, "rewind_state": chain.rewind_state,
                           "final_state": ticket["final_state"]}
    return out
