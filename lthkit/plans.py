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

from . import calibrated, early as early_, hparams, lottery, perturb, pretrain, train
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
                          train_steps=hp.train_steps, eval_every=hp.eval_every, test_at="best",
                          patience=hp.patience)
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


# The scenes task chapters 2-5 train on (lthkit.calibrated): 16-pixel images, easier than the
# generator's defaults.
SCENES = calibrated.DATA


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


@dataclass(frozen=True)
class Connectivity:
    """Chapter 3: one instability setting per network (LeNet first, then the conv nets)."""

    settings: tuple               # of connectivity.Setting
    seeds: tuple[int, ...]


def connectivity_plan(hp: hparams.Connectivity) -> Connectivity:
    from . import connectivity, steps

    path = dict(alphas=hp.alphas, train_examples=hp.path_examples,
                bn_batches=-(-hp.path_examples // 128))
    lenet = connectivity.Setting(
        "LeNet-300-100", lottery.Experiment(
            model="lenet_300_100", dataset=hp.lenet_dataset, rounds=max(hp.lenet_levels),
            # chapter 1's recipe (Adam 1.2e-3, batch 60; the output layer pruned at half the rate)
            train=train.Config(optimizer="adam", lr=1.2e-3, batch_size=60,
                               train_steps=hp.lenet_train_steps, eval_every="40it",
                               test_at="best"),
            prune_rate=hp.prune_rate, output_prune_rate=hp.prune_rate / 2, device=hp.device),
        data={"name": hp.lenet_dataset, "val_size": hp.val_size},
        splits=tuple(hp.lenet_splits), rewinds=tuple(hp.lenet_rewinds),
        levels=tuple(sorted(hp.lenet_levels)),
        controls=((max(hp.lenet_rewinds), max(hp.lenet_levels)),), **path)
    end = steps.Step.parse(hp.conv_train_steps)
    # the paper drops the rate at 32K and 48K of 63K iterations (hparams checks the unit)
    drops = (f"{end.its * 32 // 63}it", f"{end.its * 48 // 63}it") if hp.conv_lr_drops else ()
    config = train.Config(optimizer="sgd", lr=hp.conv_lr, momentum=0.9,
                          weight_decay=hp.conv_weight_decay, batch_size=hp.conv_batch_size,
                          train_steps=hp.conv_train_steps, milestones=drops,
                          eval_every=f"{max(1, end.its // 20)}it" if end.its else "1ep",
                          test_at="best")
    if hp.conv_dataset == "scenes":
        data = {"name": "scenes", "options": {**SCENES, "train": hp.conv_train_size,
                                              "val": hp.val_size, "test": hp.conv_test_size}}
    else:
        data = {"name": hp.conv_dataset, "val_size": hp.val_size}
    convs = tuple(connectivity.Setting(
        model, lottery.Experiment(model=model, dataset=hp.conv_dataset, train=config,
                                  rounds=max(hp.conv_levels), prune_rate=hp.conv_prune_rate,
                                  output_prune_rate=None, scope="global", device=hp.device),
        data=data, splits=tuple(hp.conv_splits), rewinds=tuple(hp.conv_rewinds),
        levels=tuple(sorted(hp.conv_levels)),
        controls=((max(hp.conv_rewinds), max(hp.conv_levels)),), **path)
        for model in hp.conv_model.split("+"))
    return Connectivity(settings=(lenet, *convs), seeds=tuple(hp.seed_list))


BUILDERS[hparams.Connectivity] = connectivity_plan


@dataclass(frozen=True)
class Sweep:
    """One network's rewinding sweep: where its data comes from, its IMP experiment (rewound to
    each of ``rewinds`` in turn, ``rewinding.experiments``) and its rewinding points."""

    label: str
    data: dict                      # keyword arguments of data.load
    val_size: int                   # held out by split_validation (0: the data has its own)
    experiment: lottery.Experiment
    rewinds: tuple[int, ...]        # iterations


@dataclass(frozen=True)
class LateResetting:
    """Chapter 2: the rewinding sweeps of LeNet-300-100 and of the deeper conv net."""

    lenet: Sweep
    deep: Sweep
    seeds: tuple[int, ...]


def late_resetting_plan(hp: hparams.LateResetting) -> LateResetting:
    # Test accuracy is reported at the early-stopping iteration (chapter 1's reasons); the
    # reinit control trains beside the tickets rewound to the latest k, at the sparsest level.
    lenet_config = train.Config(optimizer="adam", lr=1.2e-3, batch_size=60,
                                train_steps=hp.lenet_train_steps, eval_every=hp.lenet_eval_every,
                                test_at="best")
    lenet = lottery.Experiment(
        model="lenet_300_100", dataset=hp.lenet_dataset, train=lenet_config,
        rounds=hp.lenet_rounds, prune_rate=hp.prune_rate, output_prune_rate=hp.prune_rate / 2,
        controls=("reinit",), control_every=hp.lenet_rounds, device=hp.device)
    end = Step.parse(hp.train_steps)
    # written as lthkit.calibrated writes them ("750it"): the same Config is the same store key
    drops = tuple(str(Step(end.epochs * p // 100, end.its * p // 100)) for p in hp.lr_drops
                  if p < 100)
    config = train.Config(optimizer=hp.optimizer, lr=hp.lr, momentum=hp.momentum,
                          weight_decay=hp.weight_decay, batch_size=hp.batch_size,
                          train_steps=hp.train_steps, eval_every=hp.eval_every,
                          milestones=drops, warmup=hp.warmup, test_at="best")
    deep = lottery.Experiment(
        model=hp.model, dataset=hp.dataset, train=config, rounds=hp.rounds,
        prune_rate=hp.prune_rate, output_prune_rate=None, scope=hp.scope, controls=("reinit",),
        control_every=hp.rounds, device=hp.device)
    if hp.dataset == "scenes":  # generated with its own validation split
        deep_data = dict(name="scenes", **SCENES, train=hp.scenes_train, val=hp.val_size)
        deep_val = 0
    else:
        deep_data, deep_val = dict(name=hp.dataset), hp.val_size
    return LateResetting(
        lenet=Sweep(f"LeNet-300-100 on {hp.lenet_dataset}", dict(name=hp.lenet_dataset),
                    hp.lenet_val_size, lenet, tuple(hp.lenet_rewinds)),
        deep=Sweep(f"{hp.model} on {hp.dataset}", deep_data, deep_val, deep,
                   tuple(hp.rewinds)),
        seeds=tuple(hp.seed_list))


BUILDERS[hparams.LateResetting] = late_resetting_plan


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



BUILDERS[hparams.EarlyPhase] = early_phase_plan
