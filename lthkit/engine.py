"""Train many networks at once: the seeds and kinds of an IMP round, the two copies of an
instability pair, a set of perturbations::

    runs = [Run("lenet_300_100", data, config, order_seed=s, init_seed=s) for s in range(12)]
    results = train_many(runs, progress=bar)        # one train.Result per run, in order

Every run keeps its own weights, mask, data order (``order_seed``), optimiser state, learning-rate
clock (``start``) and early-stopping record, exactly as :func:`lthkit.train.train` would give it
alone. The runs are spread over one worker thread per core, each run on one torch thread; torch
releases the interpreter lock inside its kernels, so two threads keep two cores busy.

Why threads of whole networks and not one stacked computation: on this book's 2-core CPU we
measured the alternatives for LeNet-300-100 (batch 60, R = 12, one core, CPU time per replicate
step): stacked weights with batched matmuls 2.67 ms (``torch.bmm``, a fused Adam over the stacked
tensors), ``torch.func.vmap`` over ``functional_call`` 2.36 ms, a plain loop over the networks
with a fused Adam each 1.49 ms. Small networks on a CPU are bound by arithmetic, not by kernel
launches; the stacked forms gain nothing there and lose cache locality (twelve Adam states do not
fit in cache, one does). Grouped convolutions were likewise no faster than one convolution per
replicate for the conv nets (``benchmarks/engine.py`` reruns these measurements). Keeping each
run a run of its own also makes results exactly independent of which runs share a batch, and of
the number of workers: a store entry is bitwise the same whoever computed it.
"""
from __future__ import annotations

import contextlib
import os
import threading
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Callable, Sequence, TypeVar

from . import masks as masks_, models
from .train import Config, Result, deterministic, single_thread, train

T = TypeVar("T")


class Cancelled(Exception):
    """A run stopped because another run of the same batch failed or the user interrupted."""


@dataclass(frozen=True, eq=False)
class Run:
    """One network to train: its architecture, data, schedule, seeds and starting point."""

    model: str                         # a name in the model registry
    data: object                       # a data.Dataset
    config: Config
    order_seed: int
    init_seed: int = 0                 # weights drawn by models.build ...
    state: dict | None = None          # ... unless given here (e.g. rewound weights)
    mask: masks_.Mask | None = None
    start: int | str = 0               # iteration the run starts at (rewinding)
    optimizer_state: dict | None = None   # to continue a run exactly; None starts afresh
    checkpoints: tuple = ()            # Steps whose weights (and optimiser state) to keep
    device: str = "cpu"


def workers() -> int:
    """Worker threads: ``$LTHKIT_WORKERS``, else the cores this process may use."""
    value = os.environ.get("LTHKIT_WORKERS")
    if value:
        if not value.isdigit() or int(value) < 1:
            raise ValueError(f"LTHKIT_WORKERS must be a positive integer, not {value!r}")
        return int(value)
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def fit(run: Run, progress=None) -> Result:
    """Train one run on the calling thread, with torch on one thread: every run trains so, in
    the pool or not, and a second intra-op thread would change the order of floating-point sums
    (the last bits of the results)."""
    model = models.for_data(run.model, run.init_seed, run.data)
    if run.state is not None:
        model.load_state_dict(run.state)
    with single_thread():
        return train(model, run.data, run.config, run.order_seed, mask=run.mask, start=run.start,
                     checkpoints=run.checkpoints, optimizer_state=run.optimizer_state,
                     progress=progress, device=run.device)


def train_many(runs: Sequence[Run], progress=None, n_workers: int | None = None) -> list[Result]:
    """Train every run; ``progress`` (tqdm-like) advances once per training iteration."""
    return parallel([lambda tick, run=run: fit(run, tick) for run in runs], progress=progress,
                    n_workers=n_workers, unit="iteration")


def parallel(tasks: Sequence[Callable[[object], T]], progress=None, n_workers: int | None = None,
             unit: str = "task") -> list[T]:
    """Call every task on a pool of worker threads, torch on one thread each; results in order.

    Each task is called with one argument, ``tick``: the object a training loop advances every
    iteration (pass it to :func:`fit` as ``progress``). ``progress`` (tqdm-like) advances once per
    finished task (``unit="task"``) or per training iteration (``unit="iteration"``). If a task
    raises, or the caller is interrupted (Ctrl-C), the other tasks stop at their next iteration
    (:class:`Cancelled`) and the first error is raised here."""
    if unit not in ("task", "iteration"):
        raise ValueError(f"unit must be 'task' or 'iteration', not {unit!r}")
    tasks = list(tasks)
    if not tasks:
        return []
    stop = threading.Event()
    tick = _Tick(progress if unit == "iteration" else None, stop)

    def call(task):
        if stop.is_set():
            raise Cancelled("an earlier task failed or the run was interrupted")
        result = task(tick)
        if unit == "task" and progress is not None:
            tick.count(progress, 1)
        return result

    count = max(1, min(n_workers or workers(), len(tasks)))
    with _one_thread_each(), ThreadPoolExecutor(count, thread_name_prefix="lthkit") as pool:
        futures = [pool.submit(call, task) for task in tasks]
        try:
            _, pending = wait(futures, return_when=FIRST_EXCEPTION)
            failed = [f for f in futures if f.done() and not f.cancelled() and f.exception()]
            if failed:
                stop.set()
                for f in pending:
                    f.cancel()
                wait(pending)
                first = next((f for f in failed if not isinstance(f.exception(), Cancelled)),
                             failed[0])
                raise first.exception()
        except BaseException:
            stop.set()  # Ctrl-C lands here: the workers stop at their next iteration
            for f in futures:
                f.cancel()
            raise
        return [f.result() for f in futures]


class _Tick:
    """What a training loop in a worker calls every iteration: counts progress under a lock and
    stops the run when the batch is cancelled."""

    def __init__(self, progress, stop: threading.Event):
        self.progress, self.stop, self.lock = progress, stop, threading.Lock()

    def update(self, n: int = 1) -> None:
        if self.stop.is_set():
            raise Cancelled("stopped: another run of this batch failed or the run was interrupted")
        if self.progress is not None:
            self.count(self.progress, n)

    def count(self, progress, n: int) -> None:
        with self.lock:
            progress.update(n)


@contextlib.contextmanager
def _one_thread_each():
    # Set once here, for the whole pool: the per-run contexts in train/lottery then find the
    # setting already made and leave it alone, so no worker can restore another's setting.
    with single_thread(), deterministic():
        yield
