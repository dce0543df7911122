"""Batch reruns of a chapter over a grid of parameters, behind ``lthkit rerun``::

    from lthkit import batch
    plan = batch.plan("notebooks/01_lottery_tickets.ipynb", "runs/rewind",
                      grid={"first_seed": [0, 4], "rewind_step": ["0it", "100it"]},
                      fixed={"seeds": 4})
    report = batch.run(plan, jobs=2)       # a local process pool; or executor="slurm"

Every cell of the grid (the product of its values, plus the fixed parameters) executes the
notebook with papermill into ``OUT/<short hash of its parameters>/``, which holds
``params.json``, the executed notebook, the chapter's ``metrics.json``, ``log.txt`` and, written
atomically once both the notebook and its metrics are whole, the completion marker
``done.json``. The marker carries a key (notebook, parameters, lthkit source, kernel): a cell is
finished only when its marker's key matches, so a rerun skips exactly the finished cells, a
killed batch resumes where it stopped, and a cell run with another version of the notebook or
of lthkit runs again. A failing cell writes ``failed.json`` with its error and does not stop
the others; it is retried on the next rerun. The training results themselves live in the
content-addressed store (``lthkit.store``), shared by every cell: cells that share a
computation reuse it.
"""

from __future__ import annotations

import ctypes
import fcntl
import hashlib
import itertools
import json
import os
import platform
import signal
import subprocess
import sys
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

from lthkit import book

BATCH, JOB, PARAMS = "batch.json", "job.json", "params.json"
DONE, FAILED, METRICS, LOG, LOCK = "done.json", "failed.json", "metrics.json", "log.txt", ".lock"


class BadBatch(ValueError):
    """A grid, a parameter or an output folder rejected before anything ran."""


@dataclass(frozen=True)
class Cell:
    dir: Path
    params: dict
    key: dict          # book.chapter_key: notebook, parameters, lthkit source, kernel
    stem: str          # the executed notebook is dir/<stem>.ipynb

    @property
    def name(self) -> str:
        return self.dir.name


@dataclass(frozen=True)
class Plan:
    notebook: Path
    out: Path
    cells: list[Cell]
    kernel: str
    store: Path


@dataclass
class Report:
    total: int
    earlier: int = 0                                  # finished before this run
    done: list[Cell] = field(default_factory=list)    # finished by this run
    failed: list[tuple[Cell, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed and self.earlier + len(self.done) == self.total


# --- the grid ----------------------------------------------------------------------------

def split_values(text: str) -> list[str]:
    """``"1,[2, 3],x"`` → ``["1", "[2, 3]", "x"]``: commas inside brackets or quotes stay."""
    parts, depth, quote, start = [], 0, None, 0
    for i, ch in enumerate(text):
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts]


def parse_grid(specs: Sequence[str], parse: Callable[[str], Any]) -> dict[str, list]:
    """``["first_seed=0,1", "rewind_step=0it,20it"]`` → ``{name: [values]}``, each value read
    by ``parse`` (the command line's YAML reading)."""
    grid: dict[str, list] = {}
    for spec in specs:
        name, sep, values = spec.partition("=")
        name = name.strip()
        if not sep or not name.isidentifier():
            raise BadBatch(f"--grid {spec!r}: write NAME=V1,V2,...")
        if name in grid:
            raise BadBatch(f"--grid {name} is given twice; list all its values in one --grid")
        texts = split_values(values)
        if any(not t for t in texts):
            raise BadBatch(f"--grid {spec!r}: an empty value")
        grid[name] = [parse(t) for t in texts]
    return grid


def cell_name(params: Mapping[str, Any]) -> str:
    """The folder of a cell: a short hash of its parameters."""
    blob = json.dumps(dict(params), sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:10]


def plan(notebook: str | os.PathLike, out: str | os.PathLike, grid: Mapping[str, list],
         fixed: Mapping[str, Any] | None = None, *, kernel: str = book.KERNEL,
         store: str | os.PathLike | None = None) -> Plan:
    """Every cell of the grid, each validated by the chapter's ``hparams.resolve``.

    Raises ``BadBatch`` naming the cells and what their chapter allows, before anything is
    written or run."""
    notebook, out, fixed = Path(notebook).resolve(), Path(out).resolve(), dict(fixed or {})
    if not notebook.is_file():
        raise BadBatch(f"{notebook}: no such notebook")
    both = sorted(set(grid) & set(fixed))
    if both:
        raise BadBatch(f"{', '.join(both)}: given both as --grid and as -p")
    previous = read_json(out / BATCH)
    if previous and Path(previous["notebook"]).name != notebook.name:
        raise BadBatch(f"{out} holds a batch of {Path(previous['notebook']).name}, not of "
                       f"{notebook.name}: choose another --out")
    names, code = list(grid), book.source_hash()
    cells, errors = [], []
    for values in itertools.product(*(grid[n] for n in names)):
        params = {**dict(zip(names, values)), **fixed}
        try:
            book.validate_parameters(notebook, params)
        except book.BadParameters as e:
            errors.append(f"  {_show(dict(zip(names, values))) or 'every cell'}: {e}")
            continue
        key = book.chapter_key(notebook, params, code, kernel)
        cells.append(Cell(out / cell_name(params), params, key, notebook.stem))
    if errors:
        shown = "\n".join(errors[:5]) + (f"\n  ... and {len(errors) - 5} more" if len(errors) > 5
                                         else "")
        raise BadBatch(f"{len(errors)} of {len(errors) + len(cells)} cells have bad "
                       f"parameters; nothing ran:\n{shown}")
    store = Path(store).resolve() if store else book.store_root()
    return Plan(notebook, out, cells, kernel, store)


def _show(params: Mapping[str, Any]) -> str:
    return " ".join(f"{k}={v!r}" for k, v in params.items())


# --- the state of a cell, from its files ---------------------------------------------------

def status(cell: Cell) -> str:
    """``done`` (finished, same key), ``stale`` (finished with another notebook, lthkit or
    kernel), ``failed``, ``interrupted`` (started, never finished) or ``new``."""
    done = read_json(cell.dir / DONE)
    if done is not None:
        whole = (cell.dir / METRICS).exists() and (cell.dir / f"{cell.stem}.ipynb").exists()
        return "done" if whole and done.get("key") == cell.key else "stale"
    if (cell.dir / FAILED).exists():
        return "failed"
    return "interrupted" if (cell.dir / LOG).exists() else "new"


def cells_in(out: str | os.PathLike) -> list[Cell]:
    """The cells a batch folder holds (every sub-folder with a ``job.json``)."""
    found = []
    for job_file in sorted(Path(out).glob(f"*/{JOB}")):
        job = json.loads(job_file.read_text(encoding="utf-8"))
        found.append(Cell(job_file.parent, job["params"], job["key"], Path(job["notebook"]).stem))
    return found


def error(cell: Cell) -> str:
    return read_json(cell.dir / FAILED, {}).get("error", "no failed.json: see log.txt")


def read_json(path: Path, default: Any = None) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return default


def _write_json(path: Path, doc: Any) -> None:
    """Write atomically: the file appears whole or not at all."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=1, default=str)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


# --- running ----------------------------------------------------------------------------

def prepare(plan_: Plan, workers: int | None = None) -> None:
    """Write ``batch.json`` and each cell's ``params.json`` and ``job.json`` (what a worker
    process or a Slurm job needs to run the cell)."""
    plan_.out.mkdir(parents=True, exist_ok=True)
    _write_json(plan_.out / BATCH, {"notebook": str(plan_.notebook), "store": str(plan_.store),
                                    "kernel": plan_.kernel})
    for cell in plan_.cells:
        cell.dir.mkdir(exist_ok=True)
        _write_json(cell.dir / PARAMS, cell.params)
        _write_json(cell.dir / JOB, {"notebook": str(plan_.notebook), "params": cell.params,
                                     "key": cell.key, "kernel": plan_.kernel,
                                     "store": str(plan_.store), "workers": workers})


def run(plan_: Plan, *, executor: str = "local", jobs: int | None = None, slurm=None,
        progress: bool = True, echo: Callable[[str], None] | None = None) -> Report:
    """Run every unfinished cell; a progress bar over cells, a line per finished cell.

    ``executor="local"``: ``jobs`` worker processes on this machine (default 1); each cell's
    training uses ``cores // jobs`` worker threads (``$LTHKIT_WORKERS`` unless you set it).
    ``"slurm"``: one array job through submitit with ``slurm`` (a ``lthkit.slurm.Options``),
    at most ``jobs`` tasks at once (default: all). Ctrl-C stops the running cells; a rerun
    resumes."""
    from tqdm import tqdm

    if executor not in ("local", "slurm"):
        raise BadBatch(f"executor must be 'local' or 'slurm', not {executor!r}")
    if jobs is None:
        jobs = 1 if executor == "local" else max(1, len(plan_.cells))
    if jobs < 1 or (executor == "local" and jobs > cores()):
        raise BadBatch(f"--jobs {jobs}: this machine lets lthkit use {cores()} core(s); "
                       f"ask for 1 to {cores()}" if jobs >= 1 else f"--jobs {jobs}: at least 1")
    if executor == "slurm":
        from lthkit import slurm as slurm_
        slurm = slurm or slurm_.Options()
        slurm_.check(slurm)
    pending = [c for c in plan_.cells if status(c) != "done"]
    at_once = min(jobs, max(1, len(pending)))
    explicit = os.environ.get("LTHKIT_WORKERS")
    prepare(plan_, None if executor == "slurm" or explicit else max(1, cores() // at_once))
    report = Report(len(plan_.cells), earlier=len(plan_.cells) - len(pending))
    bar = tqdm(total=report.total, initial=report.earlier, unit="cell", desc=plan_.out.name,
               disable=not progress, file=sys.stderr)
    say = echo or bar.write
    if executor == "local":
        finished = _local([c.dir for c in pending], jobs)
    else:
        finished = slurm_.run([c.dir for c in pending], slurm, jobs, plan_.out / ".submitit",
                              run_cell, say)
    by_dir = {c.dir: c for c in pending}
    try:
        for cell_dir, crash in finished:
            cell = by_dir[cell_dir]
            if status(cell) == "done":
                report.done.append(cell)
                took = read_json(cell.dir / DONE, {}).get("seconds", 0)
                say(f"done    {cell.name}  {_show(cell.params)}  ({took:.0f} s)")
            else:
                if not (cell.dir / FAILED).exists():  # the process died before it could say
                    _write_json(cell.dir / FAILED, {"error": crash or "the cell did not finish"})
                report.failed.append((cell, error(cell)))
                first = error(cell).strip().splitlines()[0] if error(cell).strip() else ""
                say(f"FAILED  {cell.name}  {_show(cell.params)}: {first}\n"
                    f"        log: {cell.dir / LOG}")
            bar.set_postfix(failed=len(report.failed), refresh=False)
            bar.update(1)
    finally:
        finished.close()
        bar.close()
    return report


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _local(dirs: list[Path], jobs: int) -> Iterator[tuple[Path, str | None]]:
    """At most ``jobs`` cells at once, each in its own process; yields each as it ends.

    The workers run in their own session, so Ctrl-C reaches only this process, which stops
    them; on Linux they also die with this process (kill -9 included), and their kernels
    follow (ipykernel exits when its parent does)."""
    queue, running = list(dirs), {}
    try:
        while queue or running:
            while queue and len(running) < jobs:
                cell_dir = queue.pop(0)
                with open(cell_dir / LOG, "ab") as log:  # catches what happens before run_cell
                    proc = subprocess.Popen(
                        [sys.executable, "-m", "lthkit.batch", str(cell_dir), str(os.getpid())],
                        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                        start_new_session=True)
                running[proc] = cell_dir
            ended = [p for p in running if p.poll() is not None]
            if not ended:
                time.sleep(0.3)
            for proc in ended:
                cell_dir = running.pop(proc)
                yield cell_dir, (None if proc.returncode in (0, 1) else
                                 f"the cell's process ended with status {proc.returncode}")
    finally:
        for proc in running:
            proc.terminate()
        for proc in running:
            proc.wait()


def _die_with(parent: int) -> None:
    """Be killed when ``parent`` (the batch) dies, even by kill -9 (Linux only)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # it died before we asked
        sys.exit(f"lthkit.batch: the batch (pid {parent}) is gone")


# --- one cell, in its own process (a local worker or a Slurm job) ---------------------------

def run_cell(cell_dir: str | os.PathLike) -> str:
    """Execute one prepared cell; returns ``"done"`` or ``"failed"``.

    Holds the cell's lock while it runs, so two batches (or a resumed batch and a leftover
    job) never run one cell at once; the second waits and then finds it done."""
    cell_dir = Path(cell_dir).resolve()
    job = json.loads((cell_dir / JOB).read_text(encoding="utf-8"))
    stem = Path(job["notebook"]).stem
    cell = Cell(cell_dir, job["params"], job["key"], stem)
    with open(cell_dir / LOG, "a", encoding="utf-8") as log, _output_to(log), _locked(cell_dir):
        if status(cell) == "done":
            print("another process finished this cell meanwhile", flush=True)
            return "done"
        for name in (DONE, FAILED, METRICS, f"{stem}.ipynb", f"{stem}.failed.ipynb"):
            (cell_dir / name).unlink(missing_ok=True)
        print(f"=== {time.strftime('%Y-%m-%d %H:%M:%S')} on {platform.node()} (pid "
              f"{os.getpid()}): {Path(job['notebook']).name} {_show(job['params'])}", flush=True)
        start = time.monotonic()
        try:
            if job.get("workers"):
                os.environ.setdefault("LTHKIT_WORKERS", str(job["workers"]))
            book.execute(job["notebook"], cell_dir, job["params"], kernel=job["kernel"],
                         store=job["store"])
            if read_json(cell_dir / METRICS) is None:
                raise RuntimeError(f"the notebook ran but wrote no readable {METRICS}")
        except Exception as e:  # any error fails this cell only
            traceback.print_exc()
            _write_json(cell_dir / FAILED, {"error": str(e) or repr(e),
                                            "seconds": round(time.monotonic() - start, 1)})
            return "failed"
        _write_json(cell_dir / DONE, {"key": job["key"], "host": platform.node(),
                                      "seconds": round(time.monotonic() - start, 1),
                                      "finished": time.strftime("%Y-%m-%dT%H:%M:%S")})
        print(f"=== done in {time.monotonic() - start:.0f} s", flush=True)
        return "done"


@contextmanager
def _output_to(log) -> Iterator[None]:
    """Send this process's stdout and stderr (the kernel's too) to ``log``."""
    sys.stdout.flush(), sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    os.dup2(log.fileno(), 1), os.dup2(log.fileno(), 2)
    try:
        yield
    finally:
        sys.stdout.flush(), sys.stderr.flush()
        for fd, copy in zip((1, 2), saved):
            os.dup2(copy, fd)
            os.close(copy)


@contextmanager
def _locked(cell_dir: Path) -> Iterator[None]:
    with open(cell_dir / LOCK, "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print("waiting for another process running this cell", flush=True)
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield


if __name__ == "__main__":  # a local worker: python -m lthkit.batch CELL_DIR BATCH_PID
    _die_with(int(sys.argv[2]))
    sys.exit(0 if run_cell(sys.argv[1]) == "done" else 1)
