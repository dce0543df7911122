"""lthkit.procs and clean interruption: no process lthkit starts outlives it, and Ctrl-C or SIGTERM
end `lthkit run` / `lthkit book` with one line and exit 130 / 143."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import nbformat
import pytest

import lthkit

REPO = Path(lthkit.__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(REPO)}


# --- processes, seen from outside ---------------------------------------------------------------

def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return text.rsplit(")", 1)[1].split()  # fields from the state on; the name may hold spaces


def _identity(pid: int):
    fields = _stat(pid)
    return (pid, fields[19]) if fields else None  # start time tells a reused pid apart


def _alive(identity) -> bool:
    pid, started = identity
    fields = _stat(pid)
    return bool(fields) and fields[19] == started and fields[0] != "Z"  # a zombie has ended


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))):
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _wait_until_gone(identities, seconds=10.0) -> list:
    deadline = time.time() + seconds
    while (left := [i for i in identities if _alive(i)]) and time.time() < deadline:
        time.sleep(0.1)
    return left


def _kill_all(identities):
    for pid, _ in identities:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _wait_for(path: Path, process, seconds=120.0):
    deadline = time.time() + seconds
    while not path.exists():
        if process.poll() is not None:
            pytest.fail(f"exited {process.returncode} before it was ready")
        assert time.time() < deadline, "never got ready"
        time.sleep(0.05)


def _start(args, **kwargs):
    # A new session, so our signals reach only this process; SIGINT as a terminal would have it,
    # even where the shell that started pytest made background jobs ignore it.
    return subprocess.Popen(args, env=ENV, start_new_session=True, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
                            **kwargs)


# --- workers die with their parent ---------------------------------------------------------------

_POOL_PARENT = textwrap.dedent("""
    import os, sys, time
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context
    from multiprocessing.managers import SyncManager
    from lthkit import procs

    if __name__ == "__main__":
        context = get_context("spawn")
        manager = SyncManager(ctx=context)
        manager.start(procs.die_with_parent)
        pool = ProcessPoolExecutor(2, mp_context=context, initializer=procs.die_with_parent)
        pids = {pool.submit(os.getpid).result() for _ in range(50)} | {manager._process.pid}
        busy = [pool.submit(time.sleep, 300) for _ in range(2)]
        print(" ".join(map(str, sorted(pids))), flush=True)
        time.sleep(300)
""")


def test_pool_workers_and_manager_die_when_their_parent_is_killed(tmp_path):
    script = tmp_path / "parent.py"
    script.write_text(_POOL_PARENT)
    parent = _start([sys.executable, str(script)], stdout=subprocess.PIPE)
    try:
        line = parent.stdout.readline()
        started = [_identity(int(pid)) for pid in line.split()]
        assert len(started) >= 2 and all(started), line
    finally:
        parent.kill()
        parent.wait(timeout=30)
    left = _wait_until_gone(started)
    _kill_all(left)
    assert left == [], "worker processes outlived their parent"


_WATCHED_CHILD = textwrap.dedent("""
    import os, sys, time
    sys.platform = "elsewhere"   # no PR_SET_PDEATHSIG: only the watching thread is left
    from lthkit import procs
    procs.die_with_parent(int(sys.argv[1]))
    print(os.getpid(), flush=True)
    time.sleep(300)
""")
_PARENT_OF_WATCHED = textwrap.dedent("""
    import os, subprocess, sys, time
    child = subprocess.Popen([sys.executable, "-c", sys.argv[1], str(os.getpid())])
    time.sleep(300)
""")


def test_without_a_death_signal_the_watching_thread_ends_the_child():
    parent = _start([sys.executable, "-c", _PARENT_OF_WATCHED, _WATCHED_CHILD],
                    stdout=subprocess.PIPE)
    try:
        child = _identity(int(parent.stdout.readline()))
        assert child and _alive(child)
    finally:
        parent.kill()
        parent.wait(timeout=30)
    left = _wait_until_gone([child], seconds=5)
    _kill_all(left)
    assert left == []


# --- lthkit run / lthkit book, interrupted -----------------------------------------------------

_BUSY_CELL = textwrap.dedent("""
    import json, os, time
    from multiprocessing import get_context

    context = get_context("spawn")
    manager = context.Manager()   # plain multiprocessing: lthkit must clean up after anything
    workers = [context.Process(target=time.sleep, args=(seconds,)) for _ in range(2)]
    for w in workers:
        w.start()
    pids = {"kernel": os.getpid(), "workers": [w.pid for w in workers],
            "manager": manager._process.pid}
    with open("pids.tmp", "w") as f:
        json.dump(pids, f)
    os.replace("pids.tmp", "pids.json")
    time.sleep(seconds)
""")


def _busy_notebook(path: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "lthkit", "display_name": "Python (lthkit)",
                                 "language": "python"}
    parameters = nbformat.v4.new_code_cell("seconds = 300")
    parameters.metadata["tags"] = ["parameters"]
    nb.cells = [parameters, nbformat.v4.new_code_cell(_BUSY_CELL),
                nbformat.v4.new_code_cell("print('not reached')")]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


def _processes_of_the_run(out: Path):
    pids = json.loads((out / "pids.json").read_text())
    identities = [_identity(p) for p in (pids["kernel"], pids["manager"], *pids["workers"])]
    kernel = identities[0]
    # and whatever else the kernel's group holds (multiprocessing's resource tracker, ...)
    identities += [_identity(p) for p in _descendants(kernel[0]) if p not in
                   {i[0] for i in identities if i}]
    assert all(identities[:4]), "a process of the run ended before the test could watch it"
    return [i for i in identities if i]


def _lthkit(tmp_path: Path, *args):
    """``lthkit ARGS`` in the background, its stderr going to a file (a process it left behind
    would hold a pipe open), read back by ``_finish``."""
    err = open(tmp_path / "stderr.txt", "w")
    process = _start([sys.executable, "-m", "lthkit.cli", *args], stdout=subprocess.DEVNULL,
                     stderr=err, cwd=tmp_path)
    err.close()
    return process


def _finish(process, tmp_path: Path) -> str:
    try:
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return (tmp_path / "stderr.txt").read_text()


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_run_interrupted_says_where_it_stopped_and_leaves_no_process(tmp_path, signum, code):
    nb = _busy_notebook(tmp_path / "nb" / "busy.ipynb")
    out = tmp_path / "out"
    out.mkdir()
    (out / "metrics.json").write_text('{"claims": [], "params": {"stale": true}}')
    (out / "busy.ipynb").write_text("{}")  # an earlier run's results must not look current
    run = _lthkit(tmp_path, "run", str(nb), "--out", str(out), "--no-progress")
    started = []
    try:
        _wait_for(out / "pids.json", run)
        started = _processes_of_the_run(out)
        run.send_signal(signum)
    finally:
        err = _finish(run, tmp_path)
    left = _wait_until_gone(started)
    _kill_all(left)
    assert run.returncode == code, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    ours = [line for line in err.splitlines() if line.startswith("lthkit run: interrupted")]
    assert len(ours) == 1, err
    partial = out / "busy.interrupted.ipynb"
    assert f"interrupted by {signal.Signals(signum).name}" in ours[0]
    assert str(partial) in ours[0] and "resume" in ours[0]
    assert partial.exists() and not (out / "busy.ipynb").exists()
    assert not (out / "metrics.json").exists()
    assert not list(out.glob(".*ipynb"))
    assert left == [], f"{len(left)} processes of the run outlived it"


def test_run_killed_leaves_no_process(tmp_path):
    nb = _busy_notebook(tmp_path / "nb" / "busy.ipynb")
    out = tmp_path / "out"
    run = _lthkit(tmp_path, "run", str(nb), "--out", str(out), "--no-progress")
    started = []
    try:
        _wait_for(out / "pids.json", run)
        started = _processes_of_the_run(out)
    finally:
        run.kill()  # SIGKILL: lthkit itself can clean nothing up
        _finish(run, tmp_path)
    left = _wait_until_gone(started, seconds=5)
    _kill_all(left)
    assert left == [], f"{len(left)} processes of the run outlived it"
    assert (out / "busy.partial.ipynb").exists(), "the partial notebook is not hidden"


def test_book_interrupted_names_the_chapter_it_was_executing(tmp_path):
    root = tmp_path / "repo"
    shutil.copytree(REPO / "book", root / "book", ignore=shutil.ignore_patterns(
        "_build", "chapters", "_toc.yml"))
    _busy_notebook(root / "notebooks" / "01-busy.ipynb")
    staging = root / "book" / "chapters" / ".01-busy.staging"
    book = _lthkit(tmp_path, "book", "--root", str(root), "--no-progress", "--no-build")
    started = []
    try:
        _wait_for(staging / "pids.json", book)
        started = _processes_of_the_run(staging)
        book.send_signal(signal.SIGINT)
    finally:
        err = _finish(book, tmp_path)
    left = _wait_until_gone(started)
    _kill_all(left)
    assert book.returncode == 130, err
    assert "Traceback" not in err, err
    ours = [line for line in err.splitlines() if line.startswith("lthkit book: interrupted")]
    assert len(ours) == 1 and str(staging / "01-busy.interrupted.ipynb") in ours[0], err
    assert not (root / "book" / "chapters" / "01-busy").exists()
    assert left == []


def test_a_signal_the_shell_ignores_stays_ignored():
    from lthkit import procs

    previous = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    on_interrupt = signal.getsignal(signal.SIGINT)
    try:
        with procs.interruptible():
            assert signal.getsignal(signal.SIGTERM) is signal.SIG_IGN
            assert signal.getsignal(signal.SIGINT) is not on_interrupt
        assert signal.getsignal(signal.SIGINT) is on_interrupt
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_a_kernel_being_shut_down_is_not_interrupted_first(monkeypatch):
    """jupyter_client sends SIGINT before every shutdown; an idle kernel then logs an error."""
    import asyncio

    from jupyter_client.manager import KernelManager

    from lthkit import procs

    interrupted = []

    async def interrupt(self):
        interrupted.append(self.shutting_down)
    monkeypatch.setattr(KernelManager, "_async_interrupt_kernel", interrupt)
    with procs.kernel_guard() as manager_class:
        manager = manager_class(kernel_name="lthkit")
        for shutting_down in (True, False):
            manager.shutting_down = shutting_down
            asyncio.run(manager._async_interrupt_kernel())
    assert interrupted == [False]
