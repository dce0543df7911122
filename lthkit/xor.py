"""Many small XOR networks trained at once, for success rates over hundreds of trials::

    rows = xor.experiment(hidden=[2, 4, 10], trials=200, large=10, ticket_units=[2],
                          iterations=2000, lr=0.5)

Each trial is one ``xor_mlp_H`` from the model registry (its own ``init_seed``), trained by
full-batch gradient descent on the four XOR points with a logistic loss. The trials are stacked
along a leading dimension and trained together, which is exact (they share nothing) and a few
hundred times faster than one at a time. A trial *succeeds* when all four points are classified
correctly at the end of training.

Tickets (LTH v1): train the large network, keep the ``k`` hidden units with the largest weight
magnitude, reset those units to their *initial* weights and train the small network again. The
control is the same ``k``-unit architecture with freshly drawn weights.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from . import data as data_, models
from .train import deterministic, single_thread

_REINIT_OFFSET = 1_000_000


def initial(hidden: int, seeds) -> dict[str, torch.Tensor]:
    """Stacked initial weights of ``xor_mlp_{hidden}`` for each seed (leading dim = trial)."""
    states = [models.build(f"xor_mlp_{hidden}", int(s)).state_dict() for s in seeds]
    return {k: torch.stack([s[k] for s in states]) for k in states[0]}


def logits(w: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """Outputs of every trial on ``x``: shape (trials, points)."""
    h = F.relu(torch.einsum("pi,thi->tph", x, w["fc1.weight"]) + w["fc1.bias"][:, None, :])
    return torch.einsum("tph,th->tp", h, w["fc2.weight"][:, 0, :]) + w["fc2.bias"]


def train_many(w: dict[str, torch.Tensor], iterations: int, lr: float) -> dict[str, torch.Tensor]:
    """Full-batch gradient descent on XOR for every trial at once; returns trained weights."""
    ds = data_.load("xor")
    w = {k: v.clone().requires_grad_(True) for k, v in w.items()}
    target = ds.y_train.float().expand(len(w["fc1.bias"]), -1)
    with deterministic(), single_thread():
        for _ in range(iterations):
            # Summing over trials keeps each trial's gradient its own (mean over its 4 points).
            loss = F.binary_cross_entropy_with_logits(logits(w, ds.x_train), target,
                                                      reduction="none").mean(1).sum()
            grads = torch.autograd.grad(loss, list(w.values()))
            with torch.no_grad():
                for p, g in zip(w.values(), grads):
                    p -= lr * g
    return {k: v.detach() for k, v in w.items()}


def success(w: dict[str, torch.Tensor]) -> torch.Tensor:
    """Boolean per trial: all four XOR points on the right side of 0."""
    ds = data_.load("xor")
    return ((logits(w, ds.x_train) > 0) == ds.y_train.bool()).all(1)


def unit_magnitude(w: dict[str, torch.Tensor]) -> torch.Tensor:
    """How much each hidden unit carries: |outgoing weight| × ‖incoming weights‖ (trials, H).

    The product is unchanged when a ReLU unit's input weights are scaled up and its output weight
    down by the same factor, so it ranks units by what they do rather than how they are scaled."""
    return w["fc2.weight"][:, 0, :].abs() * w["fc1.weight"].norm(dim=2)


def keep_units(w: dict[str, torch.Tensor], units: torch.Tensor) -> dict[str, torch.Tensor]:
    """The sub-network of each trial made of the hidden ``units`` (trials, k)."""
    pick = units[:, :, None]
    return {"fc1.weight": torch.gather(w["fc1.weight"], 1, pick.expand(-1, -1, 2)),
            "fc1.bias": torch.gather(w["fc1.bias"], 1, units),
            "fc2.weight": torch.gather(w["fc2.weight"][:, 0, :], 1, units)[:, None, :],
            "fc2.bias": w["fc2.bias"].clone()}


def experiment(hidden, trials: int, large: int, ticket_units, iterations: int, lr: float,
               first_seed: int = 0) -> list[dict]:
    """Success counts: every width in ``hidden`` from scratch, then tickets pruned from ``large``
    down to each of ``ticket_units`` and their re-initialised twins. One row per setting.

    Independent settings train at the same time, one per core (lthkit.engine)."""
    from . import engine

    for k in ticket_units:
        if k >= large:
            raise ValueError(f"a ticket keeps fewer units than the large network ({k} ≥ {large})")
    seeds = range(first_seed, first_seed + trials)
    widths = list(dict.fromkeys([*hidden, large]))  # the large network is trained once
    starts = {h: initial(h, seeds) for h in widths}
    trained = dict(zip(widths, engine.parallel(
        [lambda tick, h=h: train_many(starts[h], iterations, lr) for h in widths])))
    rows = [_row("scratch", h, success(trained[h])) for h in hidden]
    large_ok = success(trained[large])
    order = torch.argsort(unit_magnitude(trained[large]), dim=1, descending=True, stable=True)
    pairs = [(keep_units(starts[large], order[:, :k]),
              initial(k, [_REINIT_OFFSET + s for s in seeds])) for k in ticket_units]
    results = engine.parallel([lambda tick, w=w: train_many(w, iterations, lr)
                               for pair in pairs for w in pair])
    for i, k in enumerate(ticket_units):
        ticket, twin = results[2 * i], results[2 * i + 1]
        rows.append(_row("ticket", k, success(ticket), large_ok))
        rows.append(_row("reinit", k, success(twin)))
    return rows


def _row(kind: str, hidden: int, ok: torch.Tensor, parent_ok: torch.Tensor | None = None) -> dict:
    row = {"kind": kind, "hidden": hidden, "trials": len(ok), "successes": int(ok.sum()),
           "success_rate": float(ok.float().mean())}
    if parent_ok is not None:
        row["successes_of_trained_parents"] = int((ok & parent_ok).sum())
        row["trained_parents"] = int(parent_ok.sum())
    return row
