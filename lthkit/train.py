"""The deterministic training loop::

    result = train(model, data, Config(lr=1.2e-3, train_steps="1000it"), order_seed=0, mask=mask)
    result.trajectory            # [{"iteration", "val_loss", "val_acc", "test_loss", "test_acc"}, …]
    result.early_stop_iteration  # minimum validation loss, as the LTH paper defines it

Weights come from the model as given (``models.build`` draws them from ``init_seed``); batches
come from ``order_seed``. Same seeds on the same machine give bitwise identical results. Under a
mask, pruned weights and their gradients are zeroed every step, so they stay exactly zero.
A run can start at any iteration (``start``): it then sees the batches and learning rate an
uninterrupted run would have seen from that point, which is what rewinding needs.
"""
from __future__ import annotations

import contextlib
import copy
import math
import os
import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from . import masks as masks_
from .steps import Step

# Deterministic cuBLAS needs a fixed workspace, set before CUDA starts; harmless on the CPU.
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")


@dataclass(frozen=True)
class Config:
    optimizer: str = "adam"          # "adam" or "sgd"
    lr: float = 1.2e-3
    momentum: float = 0.0            # SGD only
    weight_decay: float = 0.0
    batch_size: int = 60
    train_steps: str = "1000it"
    eval_every: str = "25it"
    milestones: tuple = ()           # Steps at which the learning rate is multiplied by gamma
    gamma: float = 0.1
    warmup: str = "0it"              # linear warm-up length
    # "every": test metrics at every evaluation. "best": only at the end and at the minimum of the
    # validation loss (from a copy of the weights kept there): all that early stopping reports.
    test_at: str = "every"
    # Stop once the validation loss has not reached a new minimum for this long ("0it": train
    # the full length). The early-stopping iteration is then the minimum so far, which the run
    # has left behind by ``patience``; the final weights are those at the stop.
    patience: str = "0it"


@dataclass
class Result:
    trajectory: list = field(default_factory=list)
    checkpoints: dict = field(default_factory=dict)   # iteration → state_dict
    optimizer_states: dict = field(default_factory=dict)   # iteration → the optimiser's state
    final_state: dict | None = None
    early_stop_iteration: int | None = 0     # None: no validation split, no early stopping
    early_stop_test_acc: float | None = 0.0
    final_test_acc: float = 0.0
    iterations: int = 0          # trained here (from start to the end)
    seconds: float = 0.0         # wall time of the run, evaluations included

    def at(self, iteration: int) -> dict:
        return next(row for row in self.trajectory if row["iteration"] == iteration)


@contextlib.contextmanager
def deterministic():
    """Deterministic algorithms inside; the previous setting after.

    Already on, it is left alone: the engine turns it on once around its worker threads, and a
    run finishing in one thread must not turn it off under a run still going in another."""
    if torch.are_deterministic_algorithms_enabled():
        yield
        return
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(False)


@contextlib.contextmanager
def single_thread():
    """Run torch on one thread: small networks gain little from more, and on a busy machine
    threads that wait for each other can make a run ten times slower. Already on one thread, it
    is left alone (for the same reason as :func:`deterministic`)."""
    previous = torch.get_num_threads()
    if previous == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def layout(model: nn.Module) -> torch.memory_format:
    """The memory format a network trains in: ``channels_last`` for conv nets, whose
    convolutions then run a quarter to a third faster on this CPU (oneDNN's kernels are written
    for it; ``benchmarks/conv_engine.py`` measures it), the usual one otherwise."""
    conv = any(isinstance(m, nn.Conv2d) for m in model.modules())
    return torch.channels_last if conv else torch.contiguous_format


def _optimizer(config: Config, params):
    # Fused kernels update all of a network's tensors in one call: the per-tensor Python loop of
    # the default implementation cost 30% of a LeNet step on this machine's CPU.
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay,
                                fused=True)
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum,
                               weight_decay=config.weight_decay, fused=True)
    raise ValueError(f"optimizer must be 'adam' or 'sgd', not {config.optimizer!r}")


def schedule(config: Config, per_epoch: int):
    """``iteration → learning rate`` (linear warm-up, then step decay at the milestones)."""
    warmup = Step.parse(config.warmup).iterations(per_epoch)
    milestones = [Step.parse(m).iterations(per_epoch) for m in config.milestones]

    def rate(iteration: int) -> float:
        value = config.lr
        if warmup and iteration < warmup:
            value *= (iteration + 1) / warmup
        for milestone in milestones:
            if iteration >= milestone:
                value *= config.gamma
        return value

    return rate


def learning_rate(config: Config, iteration: int, per_epoch: int) -> float:
    """The scheduled learning rate at ``iteration``."""
    return schedule(config, per_epoch)(iteration)


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, chunk: int = 1000):
    """Mean cross-entropy and accuracy of ``model`` on ``(x, y)``."""
    was_training = model.training
    model.eval()
    loss, correct = 0.0, 0
    device = next(model.parameters()).device
    for i in range(0, len(x), chunk):
        xs, ys = x[i:i + chunk].to(device), y[i:i + chunk].to(device)
        logits = model(xs)
        loss += float(F.cross_entropy(logits, ys, reduction="sum"))
        correct += int((logits.argmax(1) == ys).sum())
    model.train(was_training)
    return loss / len(x), correct / len(x)


def train(model: nn.Module, data, config: Config, order_seed: int, *,
          mask: masks_.Mask | None = None, start: str | int = 0, checkpoints=(),
          optimizer_state: dict | None = None, progress=None, device: str = "cpu") -> Result:
    """Train ``model`` in place from iteration ``start`` to ``config.train_steps``.

    ``checkpoints``: Steps whose weights to keep (``result.checkpoints[iteration]``), with the
    optimiser's state there (``result.optimizer_states[iteration]``).
    ``optimizer_state``: the optimiser's state to start from (momentum, Adam's moments), so a run
    continued from a checkpoint and its state is the uninterrupted run; None starts afresh, as
    rewinding does.
    ``progress``: a tqdm-like bar to advance, or None.
    ``device``: where to train ("cpu", "cuda", …); checkpoints and results come back on the CPU."""
    per_epoch = data.iterations_per_epoch(config.batch_size)
    first = Step.parse(start).iterations(per_epoch)
    last = Step.parse(config.train_steps).iterations(per_epoch)
    every = max(1, Step.parse(config.eval_every).iterations(per_epoch))
    keep = {Step.parse(s).iterations(per_epoch) for s in checkpoints}
    patience = Step.parse(config.patience).iterations(per_epoch)
    if patience and data.x_val is None:
        raise ValueError("patience needs a validation split (Dataset.split_validation): "
                         "stopping on the test set would choose the iteration on the data its "
                         "accuracy is reported on")
    if patience and keep:
        raise ValueError("patience and checkpoints do not go together: a run that stops early "
                         "would miss the checkpoints after its stop")
    if first > last:
        raise ValueError(f"start ({start}) is after the end of training ({config.train_steps})")
    if config.test_at not in ("every", "best"):
        raise ValueError(f"test_at must be 'every' or 'best', not {config.test_at!r}")
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device={device!r}, but torch sees no CUDA device here; "
                           f"train on the CPU with device='cpu' (lthkit run: -p device cpu)")
    result = Result(iterations=last - first)
    started = time.perf_counter()
    model.to(device, memory_format=layout(model))
    optimizer = _optimizer(config, model.parameters())
    if optimizer_state is not None:
        # A copy: load_state_dict keeps the given tensors, and two runs continued from one
        # state (an instability pair) would otherwise update the same momentum buffers.
        optimizer.load_state_dict(copy.deepcopy(optimizer_state))
    zero = masks_.zeroer(model, mask)
    rate, current = schedule(config, per_epoch), None
    record = _Recorder(model, optimizer, data, config, every, keep, result, first)
    with deterministic():
        zero()
        model.train()
        for iteration, (x, y) in enumerate(
                data.batches(config.batch_size, order_seed, first, last), start=first):
            record(iteration)
            stalled = iteration - record.best_iteration >= patience
            if patience and stalled and iteration % every == 0:
                last = iteration  # no new minimum for `patience` iterations: stop here
                break
            if (lr := rate(iteration)) != current:
                for group in optimizer.param_groups:
                    group["lr"] = current = lr
            optimizer.zero_grad(set_to_none=True)
            F.cross_entropy(model(x.to(device)), y.to(device)).backward()
            zero(grad=True)
            optimizer.step()
            zero()  # weight decay and momentum would otherwise revive them
            if progress is not None:
                progress.update(1)
        record(last, final=True)
        record.test_at_best()
    result.iterations = last - first
    _finish(result)
    result.final_state = _cpu_state(model)
    result.seconds = time.perf_counter() - started
    return result


def _cpu_state(model: nn.Module) -> dict:
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


class _Recorder:
    """Checkpoints and evaluations along a run: ``record(iteration)`` every iteration."""

    def __init__(self, model, optimizer, data, config, every, keep, result, first):
        self.model, self.optimizer, self.data, self.config = model, optimizer, data, config
        self.every, self.keep, self.result = every, keep, result
        self.best_loss, self.best_row, self.best_state = math.inf, None, None
        self.best_iteration = first   # of the lowest validation loss so far

    def __call__(self, iteration: int, final: bool = False) -> None:
        model, data, result = self.model, self.data, self.result
        if iteration in self.keep:
            result.checkpoints[iteration] = _cpu_state(model)
            result.optimizer_states[iteration] = copy.deepcopy(self.optimizer.state_dict())
        if iteration % self.every and iteration not in self.keep and not final:
            return
        if result.trajectory and result.trajectory[-1]["iteration"] == iteration:
            row = result.trajectory[-1]
            if final and "test_acc" not in row:  # a patience stop, at an evaluation
                row["test_loss"], row["test_acc"] = evaluate(model, data.x_test, data.y_test)
            return
        row = {"iteration": iteration}
        lazy = self.config.test_at == "best" and data.x_val is not None
        if data.x_val is not None:
            row["val_loss"], row["val_acc"] = evaluate(model, data.x_val, data.y_val)
            if _finite(row["val_loss"]) < self.best_loss:
                self.best_loss, self.best_iteration = _finite(row["val_loss"]), iteration
                if lazy:
                    self.best_row = row
                    self.best_state = {k: v.detach().clone()
                                       for k, v in model.state_dict().items()}
        if final or not lazy:
            row["test_loss"], row["test_acc"] = evaluate(model, data.x_test, data.y_test)
        result.trajectory.append(row)

    def test_at_best(self) -> None:
        """With ``test_at="best"``: the test metrics of the weights at the validation minimum."""
        row = self.best_row
        if row is None or "test_acc" in row:
            return
        current = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        self.model.load_state_dict(self.best_state)
        row["test_loss"], row["test_acc"] = evaluate(self.model, self.data.x_test,
                                                     self.data.y_test)
        self.model.load_state_dict(current)


def _finish(result: Result) -> None:
    # LTH: the early-stopping iteration is the one with the minimum validation loss; test
    # accuracy is reported there. Without a validation split there is no early stopping: choosing
    # the iteration by test loss would select on the data the accuracy is reported on.
    result.final_test_acc = result.trajectory[-1]["test_acc"]
    if "val_loss" not in result.trajectory[0]:
        result.early_stop_iteration = result.early_stop_test_acc = None
        return
    # A diverged run's NaN losses must not win the minimum (NaN compares False with everything).
    best = min(result.trajectory, key=lambda row: (_finite(row["val_loss"]), row["iteration"]))
    result.early_stop_iteration = best["iteration"]
    result.early_stop_test_acc = best.get("test_acc")


def _finite(value: float) -> float:
    return value if math.isfinite(value) else math.inf
