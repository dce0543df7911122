"""What each chapter computes, from its resolved hyperparameters: the one place where a setting
becomes part of a run::

    hp = hparams.resolve("lottery", **hparams.overrides("lottery", globals()))
    plan = plans.build(hp)          # plans.Lottery(xor=..., experiment=..., seeds=..., ...)

A chapter notebook computes only from its plan, so a setting that a plan ignores is a setting the
chapter ignores; ``tests/test_plans.py`` changes every field of every chapter's hyperparameters
in turn and checks that the plan changes.
"""
from __future__ import annotations

from dataclasses import dataclass

from . import hparams, lottery, train
from .steps import Step


@dataclass(frozen=True)
class Lottery:
    """Chapter 1: the XOR experiment's arguments, and IMP on MNIST."""

    xor: dict                       # keyword arguments of xor.experiment
    dataset: str
    val_size: int
    experiment: lottery.Experiment
    seeds: tuple[int, ...]


def lottery_plan(hp: hparams.Lottery) -> Lottery:
    xor = dict(hidden=list(hp.xor_hidden), trials=hp.xor_trials, large=hp.xor_large,
               ticket_units=list(hp.xor_ticket_units), iterations=hp.xor_iterations,
               lr=hp.xor_lr, first_seed=hp.first_seed)
    # Test accuracy is reported at the early-stopping iteration: measuring it anywhere else
    # would cost a third of the training time and change no number the chapter reports.
    config = train.Config(optimizer=hp.optimizer, lr=hp.lr, batch_size=hp.batch_size,
                          train_steps=hp.train_steps, eval_every=hp.eval_every, test_at="best")
    experiment = lottery.Experiment(
        model=hp.model, dataset=hp.dataset, train=config, rounds=hp.rounds,
        prune_rate=hp.prune_rate, output_prune_rate=hp.output_prune_rate,
        control_every=hp.control_every, control_steps=hp.control_steps,
        rewind_step=hp.rewind_step, device=hp.device)
    return Lottery(xor=xor, dataset=hp.dataset, val_size=hp.val_size, experiment=experiment,
                   seeds=tuple(hp.seed_list))


@dataclass(frozen=True)
class Synthesis:
    """The appendix: which benchmark suites run, the time per spec, and the ablations."""

    suites: tuple[str, ...]         # of "own", "pldi", "popl", "min", "poly"
    timeout: float
    ablation: bool


def synthesis_plan(hp: hparams.Synthesis) -> Synthesis:
    suites = ("own", "pldi", "popl", "min", "poly") if hp.suites == "all" else tuple(
        hp.suites.split("+"))
    return Synthesis(suites=suites, timeout=hp.timeout, ablation=hp.ablation)


BUILDERS = {hparams.Lottery: lottery_plan, hparams.Synthesis: synthesis_plan}


def build(hp):
    """The plan of the chapter whose hyperparameters ``hp`` are."""
    try:
        return BUILDERS[type(hp)](hp)
    except KeyError:
        raise TypeError(f"no plan for {type(hp).__name__}; chapters with plans: "
                        f"{', '.join(c.__name__ for c in BUILDERS)}") from None


@dataclass(frozen=True)
class Dissection:
    """Chapter 5: the data, IMP with its random-pruning control, and how units are dissected."""

    dataset: str
    data_options: dict              # keyword arguments of data.load(dataset, ...)
    val_size: int                   # held out of the training set (datasets without a val split)
    experiment: lottery.Experiment
    seeds: tuple[int, ...]
    probe: dict                     # name ("scenes" or "broden"), images, and Broden's reading
    layers: str                     # "all" conv stages or the "last"
    settings: dict                  # keyword arguments of dissect.dissect


# The calibrated scenes (CALIBRATION.md, provisional): 16-pixel images, easier than the defaults.
SCENES = dict(size=16, distractors=1, scale=(0.3, 0.45), clutter=2.0, noise=0.02)


def dissection_plan(hp: hparams.Dissection) -> Dissection:
    scenes = hp.dataset == "scenes"
    options = dict(SCENES, train=hp.scenes_train, val=hp.val_size, test=hp.scenes_test) \
        if scenes else {}
    length = _iterations(hp.train_steps, hp.scenes_train if scenes else 50_000 - hp.val_size,
                         hp.batch_size)
    drops = tuple(f"{round(length * p / 100)}it" for p in sorted(set(hp.decay_at)) if p < 100)
    config = train.Config(optimizer=hp.optimizer, lr=hp.lr, momentum=hp.momentum,
                          weight_decay=hp.weight_decay, batch_size=hp.batch_size,
                          train_steps=hp.train_steps, eval_every=hp.eval_every,
                          milestones=drops, warmup=hp.warmup, test_at="best")
    experiment = lottery.Experiment(
        model=hp.model, dataset=hp.dataset, train=config, rounds=hp.rounds,
        prune_rate=hp.prune_rate, output_prune_rate=0.1 if hp.scope == "layer" else None,
        scope=hp.scope, rewind_step=hp.rewind_step, controls=("random",),
        control_every=hp.control_every, device=hp.device)
    probe = {"name": hp.probe, "images": hp.probe_images}
    if hp.probe == "broden":
        # Broden's images shrunk to the side the networks were trained on, and
        # normalised like the images they were trained on (probes.normalisation).
        probe.update(size=options.get("size", 32), normalised_as=hp.dataset)
    return Dissection(dataset=hp.dataset, data_options=options, val_size=hp.val_size,
                      experiment=experiment, seeds=tuple(hp.seed_list), probe=probe,
                      layers=hp.layers, settings=dict(quantile=hp.quantile,
                                                      iou_threshold=hp.iou_threshold,
                                                      device=hp.device))


def _iterations(step: str, images: int, batch_size: int) -> int:
    return Step.parse(step).iterations(-(-images // batch_size))


BUILDERS[hparams.Dissection] = dissection_plan
