"""The CPU setting chapters 2–5 train with: a network that learns ``scenes`` well past chance in
under a minute of one core, is unstable at initialisation and stable after an early iteration::

    ds = calibrated.dataset()                     # data.load("scenes", **calibrated.DATA)
    run = engine.Run(calibrated.MODEL, ds, calibrated.config(), order_seed=0)
    calibrated.config(train_steps="1000it")       # any Config field overridden

How it was chosen, with the measurements, is in the README ("Calibration of the CPU setting");
``benchmarks/calibration.py`` measures it again. Chapters import the setting from here rather
than copying its numbers, so all of them train the same network on the same data.
"""
from __future__ import annotations

import dataclasses

from . import data
from .train import Config

MODEL = "cifar_resnet_14_8"
# Scenes at 16×16, easier than the 32×32 defaults: at 16 px the default objects are 3–6 px
# across and no network learned them within the budget; one distractor at most, larger objects,
# less clutter and noise keep the shapes legible.
DATA = dict(size=16, distractors=1, scale=(0.3, 0.45), clutter=2.0, noise=0.02)
CONFIG = Config(optimizer="sgd", lr=0.1, momentum=0.9, weight_decay=1e-4, batch_size=128,
                train_steps="1000it", milestones=("750it",), gamma=0.1, warmup="0it",
                eval_every="100it")
# Iterations worth splitting / rewinding at: initialisation, and around the onset of stability.
SPLITS = (0, 25, 50, 100, 200, 400)


def dataset(**options) -> data.Dataset:
    """``data.load("scenes", ...)`` with the calibrated arguments; ``options`` override them."""
    return data.load("scenes", **{**DATA, **options})


def config(**fields) -> Config:
    """The calibrated ``train.Config``, with ``fields`` replaced."""
    return dataclasses.replace(CONFIG, **fields)
