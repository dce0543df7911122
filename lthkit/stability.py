"""Instability analysis (Frankle et al., 2020, arXiv:1912.05671): is the outcome of training
determined, up to linear interpolation, once the network has trained for ``k`` iterations? ::

    a, b = train_copies(engine.Run("lenet_300_100", data, config, order_seed=0), split_at=100,
                        order_seeds=(0, 1))
    path = error_along_path("lenet_300_100", a.final_state, b.final_state, data, alphas=11)
    instability(path["test_error"])        # max error on the path − mean of the two ends

Train a network to iteration ``k``, copy it, and train each copy to the end with its own data
order (``order_seed``: order and augmentation, the paper's "SGD noise"). Evaluate the error of
θ(α) = (1−α)θ₁ + αθ₂ along the segment; the network is *stable* at ``k`` when the error does not
rise between the ends. A sparse network's copies share its mask, so every θ(α) is sparse too.

Batch-norm statistics are not parameters: θ(α)'s running means and variances are measured
again on training batches (``bn_batches``) instead of interpolated, so each point on the path is
evaluated as the network it is. The points of the path are evaluated at the same time, one per
worker (:mod:`lthkit.engine`), not stacked into one computation: on this book's CPU,
classifying 1,000 test images at 11 points took 0.09 s of CPU time as a loop and 0.08 s stacked
(``torch.func.vmap``) for LeNet-300-100, and 4.8 s against 9.9 s for Conv-4 (width 16) on
``scenes``, where stacking turns each convolution into a slower batched one
(``benchmarks/path_eval.py``; load 10 on 2 cores). A stacked form also cannot measure batch-norm
statistics point by point.

Pairs at several split points share their parent (:func:`train_pairs`, :func:`continued`).

Stability to pruning (Frankle et al., 2019, arXiv:1903.01611; chapter 2): how far a subnetwork
trained in isolation ends from the same weights trained inside the dense network::

    pruning_stability(ticket_state, dense_state, mask)     # {"distance": ‖·‖₂, "angle": degrees}
"""
from __future__ import annotations

import dataclasses
import math

import torch
from torch import nn

from . import engine, models
from .train import evaluate

NOT_INTERPOLATED = ("num_batches_tracked",)


def train_copies(run: engine.Run, split_at: int, order_seeds=(0, 1), progress=None):
    """Train ``run`` to iteration ``split_at``, then two copies to the end, one per order seed.

    Returns the two ``train.Result``s (their ``checkpoints`` hold the shared weights at
    ``split_at``). The copies take the parent's weights *and* optimiser state (momentum, Adam's
    moments), so each is the parent's training continued. The parent trains with the first
    order seed: the first copy is its uninterrupted run, the second departs from it."""
    parent = dataclasses.replace(run, order_seed=order_seeds[0], checkpoints=(split_at,),
                                 config=dataclasses.replace(run.config,
                                                            train_steps=f"{split_at}it"))
    start = engine.fit(parent, progress)
    copies = [dataclasses.replace(run, order_seed=seed, state=start.checkpoints[split_at],
                                  optimizer_state=start.optimizer_states[split_at],
                                  start=split_at, checkpoints=(split_at,))
              for seed in order_seeds]
    return engine.train_many(copies, progress=progress)


def interpolate(a: dict, b: dict, alpha: float) -> dict:
    """θ(α) = (1−α)·a + α·b for every floating-point tensor; counters are taken from ``a``."""
    if set(a) != set(b):
        raise ValueError(f"the two states hold different tensors: {sorted(set(a) ^ set(b))}")
    out = {}
    for name, x in a.items():
        if name.endswith(NOT_INTERPOLATED) or not torch.is_floating_point(x):
            out[name] = x.clone()
        else:
            out[name] = torch.lerp(x, b[name], float(alpha))
    return out


def has_batch_norm(model: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())


@torch.no_grad()
def reset_batch_norm(model: nn.Module, data, batches: int, batch_size: int = 128,
                     order_seed: int = 0) -> nn.Module:
    """Measure every batch-norm layer's running statistics again, as the plain average over
    ``batches`` training batches (``momentum=None``), leaving the weights as they are."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    was_training = model.training
    model.train()
    for x, _ in data.batches(batch_size, order_seed, 0, batches):
        model(x)
    model.train(was_training)
    for m, momentum in zip(norms, saved):
        m.momentum = momentum
    return model


def error_along_path(model_name: str, a: dict, b: dict, data, alphas=11, *,
                     train_examples: int = 2000, bn_batches: int = 20,
                     n_workers: int | None = None) -> list[dict]:
    """Train and test error of θ(α) at ``alphas`` (a count of evenly spaced values in [0, 1],
    or the values). Train error is measured on the first ``train_examples`` training examples
    (no augmentation). One row per α: ``alpha``, ``train_error``, ``test_error``."""
    points = ([i / (alphas - 1) for i in range(alphas)] if isinstance(alphas, int)
              else [float(v) for v in alphas])
    if not points or min(points) < 0 or max(points) > 1:
        raise ValueError(f"alphas must lie in [0, 1], got {points}")
    x_train, y_train = data.x_train[:train_examples], data.y_train[:train_examples]

    def measure(tick, alpha):
        model = models.for_data(model_name, 0, data)
        model.load_state_dict(interpolate(a, b, alpha))
        if has_batch_norm(model):
            reset_batch_norm(model, data, bn_batches)
        model.eval()
        _, train_acc = evaluate(model, x_train, y_train)
        _, test_acc = evaluate(model, data.x_test, data.y_test)
        return {"alpha": alpha, "train_error": 1 - train_acc, "test_error": 1 - test_acc}

    return engine.parallel([lambda tick, v=v: measure(tick, v) for v in points],
                           n_workers=n_workers)


def instability(errors) -> float:
    """The largest error on the path minus the mean of the errors at its two ends."""
    errors = [float(e) for e in errors]
    if len(errors) < 2:
        raise ValueError("a path needs at least its two ends")
    return max(errors) - (errors[0] + errors[-1]) / 2


def continued(run: engine.Run, parent, split_at: int, order_seed: int) -> engine.Run:
    """``run`` continued from ``parent``'s checkpoint at iteration ``split_at`` (its weights and
    optimiser state) with another ``order_seed``: the second copy of an instability pair."""
    if split_at not in parent.checkpoints or split_at not in parent.optimizer_states:
        raise ValueError(f"the parent kept no checkpoint at iteration {split_at} (it kept "
                         f"{sorted(parent.checkpoints)}): train it with that checkpoint")
    return dataclasses.replace(run, order_seed=order_seed, state=parent.checkpoints[split_at],
                               optimizer_state=parent.optimizer_states[split_at],
                               start=split_at, checkpoints=())


def train_pairs(run: engine.Run, split_ats, order_seeds=(0, 1), progress=None,
                n_workers: int | None = None) -> dict[int, tuple]:
    """:func:`train_copies` at every iteration of ``split_ats``, for the price of one parent.

    The parent trains to the end with the first order seed, keeping its weights and optimiser
    state at every split: it *is* the first copy of every pair (a copy continued from a
    checkpoint with the parent's seed is bitwise the parent's own run). Only the second copies,
    one per split, train again. Returns ``{k: (first, second)}`` (``train.Result``s)."""
    splits = sorted({int(k) for k in split_ats})
    if not splits or splits[0] < 0:
        raise ValueError(f"split_ats must be iterations ≥ 0, got {list(split_ats)}")
    first = engine.fit(dataclasses.replace(run, order_seed=order_seeds[0],
                                           checkpoints=tuple(splits)), progress)
    seconds = engine.train_many([continued(run, first, k, order_seeds[1]) for k in splits],
                                progress=progress, n_workers=n_workers)
    return {k: (first, second) for k, second in zip(splits, seconds)}


# --- Stability to pruning (Frankle et al., 2019, arXiv:1903.01611) -------------------------------
#
# A subnetwork (W_k, m) is *stable to pruning* when, trained in isolation from m ⊙ W_k, it ends
# near where the same weights end inside the dense network trained from W_k with the same data
# order. The paper measures the two trained weight vectors through the mask: the L2 distance
# ‖m ⊙ W_T − m ⊙ W'_T‖₂, and (its Appendix B) the angle between m ⊙ W_T and m ⊙ W'_T, which does
# not grow with the number of weights or their scale and so compares subnetworks of different
# sizes.

def _pairs(a: dict, b: dict, mask) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """(a's tensor, b's tensor, the mask as 0/1) for each tensor ``mask`` names, checked."""
    missing = [name for name in mask if name not in a or name not in b]
    if missing:
        raise ValueError(f"the mask names tensors that a state lacks: {missing}")
    for name, keep in mask.items():
        if a[name].shape != keep.shape or b[name].shape != keep.shape:
            raise ValueError(f"{name}: the mask has shape {tuple(keep.shape)}, the states "
                             f"{tuple(a[name].shape)} and {tuple(b[name].shape)}")
    # Multiplying by the mask, not selecting with it: a boolean index over VGG-19's 20M weights
    # takes seconds, and pruned weights then add exactly 0 to every sum below.
    return [(a[n].float(), b[n].float(), keep.float()) for n, keep in mask.items()]


def _sum(terms) -> float:
    return float(sum(t.sum(dtype=torch.float64) for t in terms))


def masked_distance(a: dict, b: dict, mask) -> float:
    """‖m ⊙ a − m ⊙ b‖₂ over the tensors ``mask`` names (the prunable weights; biases and
    batch-norm parameters, which IMP never prunes, are left out)."""
    return math.sqrt(_sum(((x - y) * m).square() for x, y, m in _pairs(a, b, mask)))


def masked_angle(a: dict, b: dict, mask) -> float:
    """The angle in degrees between m ⊙ a and m ⊙ b: 0 when they point the same way, 90 when
    they are orthogonal, as unrelated high-dimensional vectors are."""
    pairs = _pairs(a, b, mask)
    nx = math.sqrt(_sum((x * m).square() for x, _, m in pairs))
    ny = math.sqrt(_sum((y * m).square() for _, y, m in pairs))
    if nx == 0 or ny == 0:
        raise ValueError("an angle needs two non-zero weight vectors; a state is all zeros "
                         "under the mask")
    # Kahan's form, not acos of the cosine: exact near 0 and 180 degrees, where acos loses
    # half its digits (two equal vectors came out 0.0007 degrees apart).
    apart = _sum(((x / nx - y / ny) * m).square() for x, y, m in pairs)
    along = _sum(((x / nx + y / ny) * m).square() for x, y, m in pairs)
    return math.degrees(2 * math.atan2(math.sqrt(apart), math.sqrt(along)))


def pruning_stability(subnetwork: dict, dense: dict, mask) -> dict:
    """How far the subnetwork trained in isolation (``subnetwork``: its final weights) ends from
    the same weights trained inside the dense network (``dense``): ``{"distance", "angle"}``
    over the weights ``mask`` keeps. Smaller is stabler."""
    return {"distance": masked_distance(subnetwork, dense, mask),
            "angle": masked_angle(subnetwork, dense, mask)}
