"""The processes lthkit starts never outlive the command that started them::

    ProcessPoolExecutor(n, mp_context=ctx, initializer=procs.die_with_parent)   # workers
    SyncManager(ctx=ctx).start(procs.die_with_parent)                           # a manager
    with procs.interruptible():          # SIGINT / SIGTERM raise procs.Interrupted
        with procs.kernel_guard() as manager_class:
            papermill.execute_notebook(..., kernel_manager_class=manager_class)

- A worker process calls ``die_with_parent`` first: Linux kills it the moment its parent dies
  (``PR_SET_PDEATHSIG``), and a thread watching the parent's pid does the same elsewhere. (The
  training engine uses threads today; this is for any process pool lthkit starts.)
- A Jupyter kernel runs in a process group of its own, with every worker and helper process the
  notebook starts. ``kernel_guard`` loads this module into each kernel it starts (an IPython
  extension), which kills that whole group when ``lthkit`` dies, even by SIGKILL; and when the
  command ends, however it ends, ``kernel_guard`` kills what is left of the group itself.
- ``interruptible`` turns Ctrl-C and SIGTERM into ``Interrupted`` (a ``KeyboardInterrupt``) after
  killing the kernels first, so a notebook never prints a traceback for an interruption it did not
  cause, and the command can say what it was doing and exit 130 / 143.
"""
from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time

POLL_SECONDS = 0.2
_PR_SET_PDEATHSIG = 1
_kernels: set[int] = set()   # pids of the kernels started under kernel_guard, still running


class Interrupted(KeyboardInterrupt):
    """The command got SIGINT or SIGTERM; ``partial`` is a partly executed notebook, if any."""

    def __init__(self, signum: int, partial=None):
        super().__init__(signal.Signals(signum).name)
        self.signum, self.partial = signum, partial

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name

    @property
    def exit_code(self) -> int:
        return 128 + self.signum  # what a shell reports for a process killed by the signal


# --- in the child ------------------------------------------------------------------------------

def die_with_parent(parent: int | None = None) -> None:
    """Make this process die as soon as ``parent`` (default: the process that started it) does.

    For ``ProcessPoolExecutor(initializer=...)``, ``SyncManager.start(...)`` and the start of a
    ``Process``'s target alike. Linux's death signal follows the parent *thread* that started
    this process (a pool started from the main thread is safe); the watching thread covers the
    other cases, and other systems."""
    if parent is None:
        started_by = multiprocessing.parent_process()
        parent = started_by.pid if started_by is not None else os.getppid()
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    _watch(parent, lambda: os._exit(1))


def _watch(parent: int, die) -> None:
    """Call ``die`` once this process's parent is no longer ``parent`` (it died; we were
    re-parented), checking at once (it may have died before we got here) and then every
    ``POLL_SECONDS``."""
    def watch():
        while os.getppid() == parent:
            time.sleep(POLL_SECONDS)
        die()

    if os.getppid() != parent:
        die()
    threading.Thread(target=watch, name="lthkit-parent-watch", daemon=True).start()


def load_ipython_extension(ipython) -> None:
    """In a kernel started by ``kernel_guard``: when lthkit dies, kill the kernel's process group,
    which holds the kernel and every process the notebook started."""
    parent = int(os.environ.get("JPY_PARENT_PID") or os.getppid())
    own_group = os.getpgid(0) == os.getpid()  # jupyter_client starts kernels in a new session

    def die():
        if own_group:
            os.killpg(os.getpid(), signal.SIGKILL)
        os.kill(os.getpid(), signal.SIGKILL)

    _watch(parent, die)
    # ipykernel's own watcher would end the kernel alone (os._exit) and leave its workers; ours
    # replaces it. Extensions load after the poller is made and before it is started.
    with contextlib.suppress(ImportError):
        from ipykernel.kernelapp import IPKernelApp
        if IPKernelApp.initialized():
            IPKernelApp.instance().poller = None


# --- in lthkit ---------------------------------------------------------------------------------

def kill_kernels() -> None:
    """Kill every kernel started under ``kernel_guard`` and still running, with its group."""
    for pid in list(_kernels):
        _kernels.discard(pid)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if os.getpgid(pid) == pid:
                os.killpg(pid, signal.SIGKILL)
            else:
                os.kill(pid, signal.SIGKILL)


@contextlib.contextmanager
def kernel_guard():
    """Yield a Jupyter kernel manager class for nbclient / papermill (``kernel_manager_class``)
    whose kernels die with lthkit, and kill what is left of them when the block ends."""
    from jupyter_client.manager import AsyncKernelManager

    class GuardedKernelManager(AsyncKernelManager):
        def format_kernel_cmd(self, extra_arguments=None):
            cmd = super().format_kernel_cmd(extra_arguments)
            ipython = any("ipykernel" in part for part in cmd)  # others know no IPython extension
            return cmd + ["--ext=lthkit.procs"] if ipython else cmd

        async def _async_launch_kernel(self, kernel_cmd, **kw):
            await super()._async_launch_kernel(kernel_cmd, **kw)
            _kernels.add(self.provisioner.pid)

        async def _async_interrupt_kernel(self):
            # jupyter_client interrupts every kernel it shuts down, to stop a running cell. The
            # kernels shut down here are idle (or killed first), and an idle kernel hit by that
            # SIGINT logs "KeyboardInterrupt caught in kernel" at the end of a good run.
            if not self.shutting_down:
                await super()._async_interrupt_kernel()

    try:
        yield GuardedKernelManager
    finally:
        kill_kernels()


@contextlib.contextmanager
def interruptible():
    """Inside the block, SIGINT and SIGTERM kill the guarded kernels, then raise ``Interrupted``
    in the main thread. A signal the caller's shell set to be ignored stays ignored."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        kill_kernels()
        raise Interrupted(signum)

    saved = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(signum) is not signal.SIG_IGN:
            saved[signum] = signal.signal(signum, interrupt)
    try:
        yield
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)
