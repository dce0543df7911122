"""What changes in a network during the first iterations of training (Frankle, Schwab & Morcos,
2020, arXiv:2002.10365, Section 3), measured at fine resolution::

    points = log_points(2000, 30)                        # 0, 1, 2, 3, 5, … 2000
    rows = statistics(engine.Run("cifar_resnet_20_8", data, config, order_seed=0, init_seed=0),
                      points)
    rows = statistics_seeds("cifar_resnet_20_8", data, config, seeds=[0, 1, 2], points=points)
    # one row per point: iteration, distance, relative_distance, signs_flipped, grad_norm,
    # train_acc, test_acc

The run trains once to the last point, keeping its weights at every point; each statistic is
then measured on those weights:

- ``distance``: ‖W_t − W_0‖₂ over the prunable weights (what IMP prunes and rewinds);
  ``relative_distance`` divides it by ‖W_0‖₂;
- ``signs_flipped``: the fraction of prunable weights whose sign differs from W_0's;
- ``grad_norm``: the norm of the gradient of the training loss over all parameters, on one fixed
  batch of training images (unaugmented), the network in training mode as in a training step;
- ``train_acc`` on a fixed subset of the training images, ``test_acc`` on the test set.
"""
from __future__ import annotations

import dataclasses
import math

import torch
import torch.nn.functional as F

from . import engine, models, store
from .train import evaluate, single_thread


def log_points(last: int, count: int) -> list[int]:
    """About ``count`` iterations from 0 to ``last``, spaced evenly on a log scale (every
    iteration at the start, where log spacing would repeat them)."""
    if last < 1 or count < 2:
        raise ValueError(f"need last ≥ 1 and count ≥ 2, got {last} and {count}")
    values = {0, last}
    for i in range(count - 1):
        values.add(int(round(math.expm1(math.log1p(last) * i / (count - 2)))))
    return sorted(v for v in values if 0 <= v <= last)


def statistics(run: engine.Run, points, probe: int = 512, progress=None) -> list[dict]:
    """Train ``run`` to the last of ``points`` (iterations) and measure each statistic there."""
    points = sorted({int(p) for p in points})
    if not points or points[0] < 0:
        raise ValueError(f"points must be iterations ≥ 0, got {points}")
    config = dataclasses.replace(run.config, train_steps=f"{points[-1]}it",
                                 eval_every=f"{points[-1] + 1}it", test_at="every")
    run = dataclasses.replace(run, config=config, start=0, checkpoints=tuple(points))
    result = engine.fit(run, progress)
    tested = {row["iteration"]: row["test_acc"] for row in result.trajectory}
    model = models.for_data(run.model, run.init_seed, run.data)
    if run.state is not None:
        model.load_state_dict(run.state)
    names = models.prunable(model)
    initial = {n: result.checkpoints[points[0]][n] for n in names} if points[0] == 0 else \
        {n: t.detach().clone() for n, t in model.state_dict().items() if n in names}
    x, y = run.data.x_train[:probe], run.data.y_train[:probe]
    rows = []
    with single_thread():
        for point in points:
            state = result.checkpoints[point]
            rows.append({"iteration": point, **weight_change(initial, state, names),
                         "grad_norm": gradient_norm(model, state, x, y),
                         "train_acc": evaluate(model, x, y)[1], "test_acc": tested[point]})
    return rows


def weight_change(initial: dict, state: dict, names) -> dict:
    """Distance from ``initial`` and the fraction of signs flipped, over the tensors ``names``."""
    before = torch.cat([initial[n].flatten() for n in names]).double()
    after = torch.cat([state[n].flatten() for n in names]).double()
    distance = float((after - before).norm())
    return {"distance": distance, "relative_distance": distance / float(before.norm()),
            "signs_flipped": float((torch.sign(after) != torch.sign(before)).double().mean())}


def gradient_norm(model, state: dict, x: torch.Tensor, y: torch.Tensor) -> float:
    """‖∇ loss‖₂ over every parameter at ``state``, on the batch ``(x, y)``, in training mode;
    ``model`` is left with ``state`` loaded and its batch-norm statistics as in ``state``."""
    model.load_state_dict(state)
    model.train()
    model.zero_grad(set_to_none=True)
    F.cross_entropy(model(x), y).backward()
    norm = math.sqrt(sum(float(p.grad.double().pow(2).sum()) for p in model.parameters()
                         if p.grad is not None))
    model.zero_grad(set_to_none=True)
    model.load_state_dict(state)  # the forward pass above moved the running statistics
    return norm


def statistics_seeds(model: str, data, config, seeds, points, probe: int = 512,
                     device: str = "cpu", progress=None) -> list[dict]:
    """:func:`statistics` of one run per seed (``init_seed`` = ``order_seed`` = the seed), all
    at once and through the store; rows tagged with ``seed``. ``progress`` advances per run."""
    points = tuple(sorted({int(p) for p in points}))

    def task(tick, seed):
        params = {"model": model, "config": dataclasses.asdict(config), "seed": seed,
                  "points": points, "probe": probe, "device": device}
        run = engine.Run(model, data, config, order_seed=seed, init_seed=seed, device=device)
        return store.cached("early.statistics", params,
                            lambda: statistics(run, points, probe, tick),
                            data_fingerprint=data.fingerprint)

    done = engine.parallel([lambda tick, s=s: task(tick, s) for s in seeds], progress=progress)
    return [{**row, "seed": seed} for seed, rows in zip(seeds, done) for row in rows]
