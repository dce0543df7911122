"""Batch reruns of a chapter over a grid of parameters, behind ``lthkit rerun``::

    from lthkit import batch
    plan = batch.plan("notebooks/01_lottery_tickets.ipynb", "runs/rewind",
                      grid={"first_seed": [0, 2], "rewind_step": ["0it", "100it"]},
                      fixed={"seeds": 2})
    report = batch.run(plan, jobs=2)       # local worker processes; or executor="slurm"

Every cell of the grid (the product of its values, plus the fixed parameters) is validated
before anything runs, then executes the notebook with papermill into ``OUT/<short hash of its
parameters>/`` (``lthkit.cells`` says what that folder holds). A cell is finished only when its
completion marker carries the cell's key (notebook, parameters, lthkit source, kernel), so a
rerun skips exactly the finished cells, a killed batch resumes where it stopped, and a cell run
with another version of the notebook or of lthkit runs again. A failing cell records its error
and does not stop the others; the next rerun retries it. The training results themselves live
in the content-addressed store (``lthkit.store``) shared by every cell, so cells that share a
computation compute it once.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

from lthkit import book
from lthkit.cells import (DONE, FAILED, JOB, LOG, PARAMS, Cell, error, read_json, run_cell,
                          show, status, write_json)

BATCH = "batch.json"


class BadBatch(ValueError):
    """A grid, a parameter or an output folder rejected before anything ran."""


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
        seen = [json.dumps(v, sort_keys=True, default=str) for v in grid[name]]
        if len(set(seen)) < len(seen):
            raise BadBatch(f"--grid {spec!r}: a value is given twice")
    return grid


def cell_name(params: Mapping[str, Any]) -> str:
    """The folder of a cell: a short hash of its parameters."""
    blob = json.dumps(dict(params), sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:10]


def plan(notebook: str | os.PathLike, out: str | os.PathLike, grid: Mapping[str, list],
         fixed: Mapping[str, Any] | None = None, *, kernel: str = book.KERNEL,
         store: str | os.PathLike | None = None, here: bool = True) -> Plan:
    """Every cell of the grid, each validated by the chapter's ``hparams.resolve`` and, when
    the cells run ``here`` (not on cluster nodes), the data and device they name by
    ``preflight`` (a login node has no GPU; each job's notebook checks its own node).

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
            _validate(notebook, params, here)
        except book.BadParameters as e:
            errors.append(f"  {show(dict(zip(names, values))) or 'every cell'}: {e}")
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


def _validate(notebook: Path, params: dict, here: bool) -> None:
    if here:
        book.validate_parameters(notebook, params)
        return
    chapter = book.notebook_metadata(notebook).get("chapter")
    if chapter:
        from lthkit import hparams
        try:
            hparams.resolve(chapter, **params)
        except hparams.ParameterError as e:
            raise book.BadParameters(str(e)) from e


# --- running ----------------------------------------------------------------------------

def prepare(plan_: Plan, workers: int | None = None) -> None:
    """Write ``batch.json`` and each cell's ``params.json`` and ``job.json`` (what a worker
    process or a Slurm job needs to run the cell)."""
    plan_.out.mkdir(parents=True, exist_ok=True)
    write_json(plan_.out / BATCH, {"notebook": str(plan_.notebook), "store": str(plan_.store),
                                   "kernel": plan_.kernel})
    for cell in plan_.cells:
        cell.dir.mkdir(exist_ok=True)
        write_json(cell.dir / PARAMS, cell.params)
        write_json(cell.dir / JOB, {"notebook": str(plan_.notebook), "params": cell.params,
                                    "key": cell.key, "kernel": plan_.kernel,
                                    "store": str(plan_.store), "workers": workers})


def run(plan_: Plan, *, executor: str = "local", jobs: int | None = None, slurm=None,
        progress: bool = True, echo: Callable[[str], None] | None = None) -> Report:
    """Run every unfinished cell; a progress bar over cells, a line per finished cell.

    ``executor="local"``: ``jobs`` worker processes on this machine (default 1); each cell's
    training uses ``cores // jobs`` workers (``$LTHKIT_WORKERS`` unless you set it).
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
                say(f"done    {cell.name}  {show(cell.params)}  ({took:.0f} s)")
            else:
                if not (cell.dir / FAILED).exists():  # the process died before it could say
                    write_json(cell.dir / FAILED, {"error": crash or "the cell did not finish"})
                message = error(cell)
                report.failed.append((cell, message))
                first = (message.strip().splitlines() or [""])[0]
                say(f"FAILED  {cell.name}  {show(cell.params)}: {first}\n"
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
    them; they also die with this process, kill -9 included, and their kernels with them
    (``lthkit.procs``)."""
    queue, running = list(dirs), {}
    try:
        while queue or running:
            while queue and len(running) < jobs:
                cell_dir = queue.pop(0)
                with open(cell_dir / LOG, "ab") as log:  # catches what happens before run_cell
                    proc = subprocess.Popen(
                        [sys.executable, "-m", "lthkit.cells", str(cell_dir), str(os.getpid())],
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


