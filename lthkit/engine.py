"""Train many networks at once: the seeds and kinds of an IMP round, the two copies of an
instability pair, a set of perturbations::

    runs = [Run("lenet_300_100", data, config, order_seed=s, init_seed=s) for s in range(12)]
    results = train_many(runs, progress=bar)        # one train.Result per run, in order

Every run keeps its own weights, mask, data order (``order_seed``), optimiser state, learning-rate
clock (``start``) and early-stopping record, exactly as :func:`lthkit.train.train` would give it
alone. The runs are spread over one worker per core, each run on one torch thread: worker
processes forked from the caller where that is safe, else threads (:func:`mode`).

Why workers of whole networks and not one stacked computation: on this book's 2-core CPU we
measured the alternatives for LeNet-300-100 (batch 60, R = 12, one core, CPU time per replicate
step, quiet machine): stacked weights with batched matmuls 1.72 ms (``torch.bmm``, a fused Adam
over the stacked tensors), ``torch.func.vmap`` over ``functional_call`` 1.82 ms, a plain loop over
the networks with a fused Adam each 1.53 ms. Small networks on a CPU are bound by arithmetic (the
first layer's matrix products run at about 85 GFLOP/s, near one core's peak), not by kernel
launches; the stacked forms gain nothing there and lose cache locality (twelve Adam states do not
fit in cache, one does). Grouped convolutions were slower than one convolution per replicate for
the conv nets (``benchmarks/engine.py`` reruns these measurements). Keeping each run a run of
its own also makes results exactly independent of which runs share a batch, and of the number
and kind of workers: a store entry is bitwise the same whoever computed it.
"""
from __future__ import annotations

import contextlib
import multiprocessing
import os
import pickle
import sys
import threading
import warnings
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, ThreadPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Callable, Sequence, TypeVar

import torch

from . import masks as masks_, models, procs
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
    """Call every task on a pool of workers, torch on one thread each; results in order.

    Each task is called with one argument, ``tick``: the object a training loop advances every
    iteration (pass it to :func:`fit` as ``progress``). ``progress`` (tqdm-like) advances once per
    finished task (``unit="task"``) or per training iteration (``unit="iteration"``). If a task
    raises, or the caller is interrupted (Ctrl-C), the other tasks stop at their next iteration
    (:class:`Cancelled`) and the first error is raised here.

    The workers are processes forked from this one where that is safe (Linux, CUDA not yet
    started here), else threads (:func:`mode`). Tasks may be closures either way; in a worker
    process they run on a copy of this process, so what a task returns is all that comes back
    (a task must not rely on changing the caller's objects). A task that calls ``parallel``
    itself runs its tasks one after another in the worker it is on."""
    if unit not in ("task", "iteration"):
        raise ValueError(f"unit must be 'task' or 'iteration', not {unit!r}")
    tasks = list(tasks)
    if not tasks:
        return []
    count = max(1, min(n_workers or workers(), len(tasks)))
    if _IN_WORKER or count == 1:
        return _inline(tasks, progress, unit)
    if mode() == "processes":
        return _in_processes(tasks, progress, count, unit)
    return _in_threads(tasks, progress, count, unit)


def mode() -> str:
    """How :func:`parallel` runs its workers: ``$LTHKIT_ENGINE`` ("processes" or "threads"),
    else processes where forking is safe (Linux, with CUDA not started in this process).

    Processes are the faster choice on a CPU: worker threads share one interpreter lock, and the
    many small torch calls of a small network's step wait for it (12 LeNet runs on this book's
    2-core CPU, three tries of ``benchmarks/engine.py``: 57,900-70,500 samples/s in processes,
    50,700-67,000 on threads). Results are bitwise the same either way: every run trains on one
    torch thread."""
    value = os.environ.get("LTHKIT_ENGINE", "")
    if value not in ("", "processes", "threads"):
        raise ValueError(f"LTHKIT_ENGINE must be 'processes' or 'threads', not {value!r}")
    forkable = sys.platform.startswith("linux") and not torch.cuda.is_initialized()
    if value == "processes" and not forkable:
        raise RuntimeError("LTHKIT_ENGINE=processes needs Linux, and CUDA not yet started in this "
                           "process (a forked child cannot use the parent's CUDA context)")
    return value or ("processes" if forkable else "threads")


def _inline(tasks, progress, unit):
    tick = _Tick(progress if unit == "iteration" else None, threading.Event())
    results = []
    with _one_thread_each():
        for task in tasks:
            results.append(task(tick))
            if unit == "task" and progress is not None:
                progress.update(1)
    return results


def _in_threads(tasks, progress, count, unit):
    stop = threading.Event()
    tick = _Tick(progress if unit == "iteration" else None, stop)

    def call(task):
        if stop.is_set():
            raise Cancelled("an earlier task failed or the run was interrupted")
        result = task(tick)
        if unit == "task" and progress is not None:
            tick.count(progress, 1)
        return result

    with _one_thread_each(), ThreadPoolExecutor(count, thread_name_prefix="lthkit") as pool:
        futures = [pool.submit(call, task) for task in tasks]
        return _collect(futures, stop, lambda timeout: wait(
            futures, timeout=timeout, return_when=FIRST_EXCEPTION))


def _in_processes(tasks, progress, count, unit):
    context = multiprocessing.get_context("fork")
    stop, ticks = context.Event(), context.Value("q", 0)
    with warnings.catch_warnings():
        # Python 3.12+ warns of fork() in a process with threads (a Jupyter kernel has some); the
        # children only train and return, touching none of the locks those threads hold.
        warnings.simplefilter("ignore", DeprecationWarning)
        pool = ProcessPoolExecutor(count, mp_context=context, initializer=_worker_start,
                                   initargs=(tasks, stop, ticks))
        futures = [pool.submit(_worker_call, i) for i in range(len(tasks))]
    shown = 0

    def wait_some(timeout):
        nonlocal shown
        done, pending = wait(futures, timeout=timeout, return_when=FIRST_EXCEPTION)
        if progress is not None:
            now = ticks.value if unit == "iteration" else sum(f.done() for f in futures)
            if now > shown:
                progress.update(now - shown)
                shown = now
        return done, pending

    try:
        return [pickle.loads(blob) for blob in _collect(futures, stop, wait_some)]
    except BrokenProcessPool as error:
        raise RuntimeError("a worker process died (out of memory, or killed); rerun with "
                           "LTHKIT_ENGINE=threads to see its error in this process") from error
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _collect(futures, stop, wait_some) -> list:
    """The futures' results in order, waiting in steps of ``_POLL`` seconds (progress is shown
    between steps); on the first error, stop the other tasks and raise it."""
    try:
        while True:
            done, pending = wait_some(_POLL)
            failed = [f for f in futures if f.done() and not f.cancelled() and f.exception()]
            if failed:
                stop.set()
                for f in pending:
                    f.cancel()
                wait(pending)
                first = next((f for f in failed if not isinstance(f.exception(), Cancelled)),
                             failed[0])
                raise first.exception()
            if not pending:
                return [f.result() for f in futures]
    except BaseException:
        stop.set()  # Ctrl-C lands here: the workers stop at their next iteration
        for f in futures:
            f.cancel()
        raise


_POLL = 0.2           # seconds between progress updates from worker processes
_IN_WORKER = False    # True in a worker process
_WORKER: tuple = ()   # (tasks, stop, ticks) in a worker process


def _worker_start(tasks, stop, ticks) -> None:
    global _IN_WORKER, _WORKER
    procs.die_with_parent()
    _IN_WORKER, _WORKER = True, (tasks, stop, ticks)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)


def _worker_call(index: int) -> bytes:
    tasks, stop, ticks = _WORKER
    if stop.is_set():
        raise Cancelled("an earlier task failed or the run was interrupted")
    # Pickled here, tensors by value: the executor's own pickler would pass each tensor through
    # shared memory and a file descriptor of its own.
    return pickle.dumps(tasks[index](_Tick(_Counter(ticks), stop)), protocol=5)


class _Counter:
    """Iterations counted in a worker process, read by the parent (``ticks``)."""

    def __init__(self, ticks):
        self.ticks = ticks

    def update(self, n: int = 1) -> None:
        with self.ticks.get_lock():
            self.ticks.value += n


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
