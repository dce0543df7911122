"""Pre-training the dense network before rewinding (Frankle, Schwab & Morcos, 2020,
arXiv:2002.10365, Section 5): can a task without the real labels move the weights where the
early phase of supervised training moves them? ::

    rows = imp_after(experiment, data, [Pretraining("rotation", config)], seeds=[0, 1, 2])

Each pre-training runs the first ``k`` iterations of the real training's schedule (``config``
cut to ``k = experiment.rewind_step``) on a pretext task instead of the real one, and its
weights take the place of W_k: IMP trains the dense network from them, from iteration k to the
end, and rewinds its tickets to them. The reference, supervised pre-training of the same length,
is then plain rewinding to k (the first k iterations of supervised training are exactly that),
so it needs no run of its own.

Tasks (``TASKS``):

- ``blur``: the real labels on blurred images: each image averaged over ``blur_factor`` ×
  ``blur_factor`` blocks (down-sampled) and enlarged back by repeating pixels (up-sampled), so
  it holds exactly (side / factor)² distinct pixels per channel.
- ``rotation``: self-supervised: every image rotated by 0, 90, 180 or 270 degrees, the label
  being which; a 4-way output layer, replaced by the network's own initial 10-way output layer
  afterwards (the task's head means nothing to the real task).
- ``random_labels``: the images with the training labels permuted by a seeded permutation: each
  image's label is drawn independently of its content, and the classes keep their frequencies.

Training batches are transformed after augmentation (crop and flip), with draws that
``(order_seed, iteration)`` fix, so a pretext run is as reproducible as any other run. Rotations
come after the flip: a flip after a rotation would turn a 90-degree label into 270.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from . import data as data_, engine, lottery, models, store
from .steps import Step
from .train import Config

TASKS = ("blur", "rotation", "random_labels")
ROTATIONS = 4
# Keep the rotations of training batches and of the test images apart from each other and from
# every other use of the same seeds (the augmentation's draws).
_ROTATION_STREAM, _TEST_STREAM = 0x407, 0x7E5


def blur(x: torch.Tensor, factor: int) -> torch.Tensor:
    """Images (N, C, H, W) averaged over ``factor``×``factor`` blocks and enlarged back."""
    if factor < 1 or x.shape[-1] % factor or x.shape[-2] % factor:
        raise ValueError(f"blur factor {factor} must divide the image sides "
                         f"{tuple(x.shape[-2:])}")
    small = F.avg_pool2d(x, factor)
    return small.repeat_interleave(factor, dim=-2).repeat_interleave(factor, dim=-1)


def rotate(x: torch.Tensor, quarter_turns: torch.Tensor) -> torch.Tensor:
    """Each image ``x[i]`` rotated by ``quarter_turns[i]`` × 90° (counter-clockwise)."""
    if x.shape[-1] != x.shape[-2]:
        raise ValueError(f"rotation needs square images, not {tuple(x.shape[-2:])}")
    out = x.clone()
    for k in range(1, ROTATIONS):
        chosen = quarter_turns == k
        if chosen.any():
            out[chosen] = torch.rot90(x[chosen], k, dims=(-2, -1))
    return out


def shuffled_labels(labels: torch.Tensor, label_seed: int) -> torch.Tensor:
    """The labels under a permutation drawn from ``label_seed`` alone (not from the images)."""
    generator = torch.Generator().manual_seed(int(label_seed))
    return labels[torch.randperm(len(labels), generator=generator)]


def _turns(n: int, *seed: int) -> torch.Tensor:
    entropy = np.random.SeedSequence([*map(int, seed)]).generate_state(1)[0]
    return torch.randint(0, ROTATIONS, (n,), generator=torch.Generator().manual_seed(int(entropy)))


class Pretext(data_.Dataset):
    """A dataset of a pretext task: the base dataset's images, transformed batch by batch.

    Made by :func:`pretext`. It has no validation split (pre-training does not stop early); its
    test split is transformed the same way, so test accuracy measures the pretext task."""

    task: str
    factor: int

    def __post_init__(self):
        # Its fingerprint is its base dataset's and the task's (set by pretext): hashing the
        # training images again would cost a second per pre-training and say nothing new.
        pass

    def batch(self, batch_size: int, order_seed: int, iteration: int):
        x, y = super().batch(batch_size, order_seed, iteration)
        if self.task == "blur":
            return blur(x, self.factor), y
        if self.task == "rotation":
            turns = _turns(len(x), order_seed, iteration, _ROTATION_STREAM)
            return rotate(x, turns), turns
        return x, y


def pretext(data, task: str, label_seed: int = 0, blur_factor: int = 4) -> data_.Dataset:
    """The dataset of pre-training task ``task`` made from ``data`` (its training images)."""
    if task not in TASKS:
        raise ValueError(f"unknown pre-training task {task!r}; known: {', '.join(TASKS)}")
    x_test, y_test, y_train, classes = data.x_test, data.y_test, data.y_train, data.num_classes
    if task == "blur":
        x_test = blur(x_test, blur_factor)
    elif task == "rotation":
        y_test = _turns(len(x_test), label_seed, _TEST_STREAM)
        x_test, classes = rotate(x_test, y_test), ROTATIONS
    elif task == "random_labels":
        y_train = shuffled_labels(y_train, label_seed)
        y_test = shuffled_labels(y_test, label_seed + 1)
    made = Pretext(f"{data.name}:{task}", data.x_train, y_train, x_test, y_test, classes,
                   augment=data.augment)
    made.task, made.factor = task, blur_factor
    made.fingerprint = f"{data.fingerprint}:{task}:{blur_factor}:{label_seed}"
    return made


@dataclass(frozen=True)
class Pretraining:
    """A pre-training run of the dense network: its task, schedule and what the task draws."""

    task: str
    config: Config                 # optimiser and length (``train_steps``) of the pre-training
    blur_factor: int = 4
    device: str = "cpu"

    def __post_init__(self):
        if self.task not in TASKS:
            raise ValueError(f"unknown pre-training task {self.task!r}; known: {TASKS}")


def pretrain(model: str, data, how: Pretraining, seed: int, progress=None) -> dict:
    """Pre-train ``model`` (initialised from ``seed``) on ``how.task`` made from ``data``,
    through the store: ``{"state", "test_acc", "iterations", "seconds"}``, the weights at the
    end (the pretext task's head included) and the pretext task's test accuracy."""
    def compute():
        task = pretext(data, how.task, label_seed=seed, blur_factor=how.blur_factor)
        result = engine.fit(engine.Run(model, task, how.config, order_seed=seed, init_seed=seed,
                                       device=how.device), progress)
        return {"state": result.final_state, "test_acc": result.final_test_acc,
                "iterations": result.iterations, "seconds": result.seconds}

    params = {"model": model, "pretraining": dataclasses.asdict(how), "seed": seed}
    return store.cached("perturb.pretrain", params, compute, data_fingerprint=data.fingerprint)


def starting_weights(pretrained: dict, model: str, data, task: str, seed: int) -> dict:
    """The weights IMP starts from: the pre-trained ones, except after ``rotation``, whose
    4-way output layer gives way to the network's initial output layer for the real task."""
    if task != "rotation":
        return {k: v.clone() for k, v in pretrained.items()}
    network = models.for_data(model, seed, data)
    head = models.output_layer(network).rsplit(".", 1)[0] + "."
    initial = network.state_dict()
    return {k: (initial[k] if k.startswith(head) else v).clone() for k, v in pretrained.items()}


def imp_after(experiment, data, pretrainings, seeds, progress=None,
              n_workers: int | None = None) -> list[dict]:
    """IMP after pre-training, for every pre-training of ``pretrainings`` and seed.

    Each seed's dense network is pre-trained (:func:`pretrain`, all at once) for
    ``experiment.rewind_step`` iterations; then IMP runs ``experiment`` with the weights
    :func:`starting_weights` gives in place of W_k (``lottery.imp_chains``). Ticket rows, tagged
    with ``task`` and the pretext task's test accuracy (``pretext_acc``)."""
    seeds = list(seeds)
    per_epoch = data.iterations_per_epoch(experiment.train.batch_size)
    k = Step.parse(experiment.rewind_step).iterations(per_epoch)
    for how in pretrainings:
        if Step.parse(how.config.train_steps).iterations(per_epoch) != k:
            raise ValueError(f"{how.task} pre-trains for {how.config.train_steps}, but its weights "
                             f"stand in for W_k at rewind_step={experiment.rewind_step} ({k} "
                             f"iterations): the two lengths must be equal")
    jobs = [(how, seed) for how in pretrainings for seed in seeds]
    done = engine.parallel([lambda tick, how=how, seed=seed: pretrain(
        experiment.model, data, how, seed, tick) for how, seed in jobs],
        progress=progress, n_workers=n_workers)
    chains = [(experiment, seed, starting_weights(result["state"], experiment.model, data,
                                                  how.task, seed))
              for (how, seed), result in zip(jobs, done)]
    rows = lottery.imp_chains(chains, data, progress=progress, n_workers=n_workers)
    return [{**row, "task": how.task, "pretext_acc": result["test_acc"],
             "pretrain_seconds": result["seconds"], "pretrain_iterations": result["iterations"]}
            for (how, _), result, chain in zip(jobs, done, rows) for row in chain
            if row["kind"] == "ticket"]
