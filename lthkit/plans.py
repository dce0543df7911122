"""What each chapter computes, from its resolved hyperparameters: the one place where a setting
becomes part of a run::

    hp = hparams.resolve("lottery", **hparams.overrides("lottery", globals()))
    plan = plans.build(hp)          # plans.Lottery(xor=..., experiment=..., seeds=..., ...)

A chapter notebook computes only from its plan, so a setting that a plan ignores is a setting the
chapter ignores; ``tests/test_plans.py`` changes every field of every chapter's hyperparameters
in turn and checks that the plan changes.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from . import early as early_, hparams, lottery, perturb, pretrain, train
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


# The calibrated scenes (notes/CALIBRATION.md, provisional): 16 px, legible objects.
SCENES = dict(size=16, distractors=1, scale=(0.3, 0.45), clutter=2.0, noise=0.02)


@dataclass(frozen=True)
class EarlyPhase:
    """Chapter 4: the rewinding sweep, the perturbations of the rewound weights, IMP after
    pre-training, and the statistics of the first iterations."""

    data: dict                      # keyword arguments of data.load, and the validation size
    val_size: int                   # 0: the dataset's own validation split (scenes has one)
    seeds: tuple[int, ...]
    sweep: tuple[lottery.Experiment, ...]     # IMP rewound to each k of the sweep, k = 0 first
    experiment: lottery.Experiment            # the sweep's k at which weights are perturbed
    variants: tuple[perturb.Variant, ...]
    perturb_seed: int
    pretrain_experiment: lottery.Experiment   # the sweep's k that pre-trained weights stand in for
    pretrainings: tuple[pretrain.Pretraining, ...]
    early_config: train.Config                # the run whose first iterations are measured
    early_points: tuple[int, ...]


def early_phase_plan(hp: hparams.EarlyPhase) -> EarlyPhase:
    scenes, per_epoch = hp.dataset == "scenes", hp.per_epoch
    length = Step.parse(hp.train_steps).iterations(per_epoch)
    drops = tuple(f"{round(length * p / 100)}it" for p in sorted(set(hp.decay_at)) if p < 100)
    config = train.Config(optimizer=hp.optimizer, lr=hp.lr, momentum=hp.momentum,
                          weight_decay=hp.weight_decay, batch_size=hp.batch_size,
                          train_steps=hp.train_steps, eval_every=hp.eval_every,
                          milestones=drops, warmup=hp.warmup, test_at="best")
    k = Step.parse(hp.rewind_step).iterations(per_epoch)
    pretrained = Step.parse(hp.pretrain_steps).iterations(per_epoch)
    steps = sorted({0, k, pretrained, *hp.rewind_sweep})
    sweep = tuple(lottery.Experiment(
        model=hp.model, dataset=hp.dataset, train=config, rounds=hp.rounds,
        prune_rate=hp.prune_rate, output_prune_rate=None, scope=hp.scope,
        rewind_step=f"{s}it", controls=(), device=hp.device) for s in steps)
    # Pre-training is the schedule's first iterations on another task; it reports the pretext
    # task's test accuracy at its end, and nothing stops it early.
    pretraining = dataclasses.replace(config, train_steps=hp.pretrain_steps,
                                      eval_every=hp.pretrain_steps, test_at="every")
    early = dataclasses.replace(config, train_steps=hp.early_steps, test_at="every")
    variants = (*(perturb.Variant(kind) for kind in perturb.KINDS if kind != "noise"),
                *(perturb.Variant("noise", p / 100) for p in sorted(set(hp.noise_percent))))
    return EarlyPhase(
        data=dict(name=hp.dataset, **({"train": hp.scenes_train, "val": hp.val_size,
                                       "test": hp.scenes_test, **SCENES} if scenes else {})),
        val_size=0 if scenes else hp.val_size, seeds=tuple(hp.seed_list), sweep=sweep,
        experiment=sweep[steps.index(k)], variants=variants, perturb_seed=hp.perturb_seed,
        pretrain_experiment=sweep[steps.index(pretrained)],
        pretrainings=tuple(pretrain.Pretraining(task, pretraining, hp.blur_factor, hp.device)
                           for task in pretrain.TASKS),
        early_config=early,
        early_points=tuple(early_.log_points(Step.parse(hp.early_steps).iterations(per_epoch),
                                             hp.early_points)))


BUILDERS = {hparams.Lottery: lottery_plan, hparams.Synthesis: synthesis_plan}
BUILDERS[hparams.EarlyPhase] = early_phase_plan


def build(hp):
    """The plan of the chapter whose hyperparameters ``hp`` are."""
    try:
        return BUILDERS[type(hp)](hp)
    except KeyError:
        raise TypeError(f"no plan for {type(hp).__name__}; chapters with plans: "
                        f"{', '.join(c.__name__ for c in BUILDERS)}") from None
