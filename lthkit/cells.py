"""The cells of a batch rerun (``lthkit.batch``): a cell is one point of the grid, with its
own folder; this module reads a cell's state from its files and runs one cell in the process
it is called in (a local worker, or a Slurm job)::

    cells.run_cell("runs/rewind/4a69bfed98")     # what `python -m lthkit.cells DIR PID` does
    cells.status(cell)                            # "done", "stale", "failed", "interrupted", "new"

A cell's folder holds ``params.json``, ``job.json`` (what running it needs: the notebook, the
parameters, the key, the kernel and the store), ``log.txt``, the executed notebook, the
chapter's ``metrics.json``, and then either ``done.json`` (the completion marker, written
atomically once the notebook and its metrics are whole) or ``failed.json`` (the error).
"""

from __future__ import annotations

import fcntl
import json
import os
import platform
import sys
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping

from lthkit import book

JOB, PARAMS = "job.json", "params.json"
DONE, FAILED, METRICS, LOG, LOCK = "done.json", "failed.json", "metrics.json", "log.txt", ".lock"


@dataclass(frozen=True)
class Cell:
    dir: Path
    params: dict
    key: dict          # book.chapter_key: notebook, parameters, lthkit source, kernel
    stem: str          # the executed notebook is dir/<stem>.ipynb

    @property
    def name(self) -> str:
        return self.dir.name


def show(params: Mapping[str, Any]) -> str:
    return " ".join(f"{k}={v!r}" for k, v in params.items())


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


def write_json(path: Path, doc: Any) -> None:
    """Write atomically: the file appears whole or not at all."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=1, default=str)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


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
        for name in (DONE, FAILED):  # book.execute removes the old notebook and metrics
            (cell_dir / name).unlink(missing_ok=True)
        print(f"=== {time.strftime('%Y-%m-%d %H:%M:%S')} on {platform.node()} (pid "
              f"{os.getpid()}): {Path(job['notebook']).name} {show(job['params'])}", flush=True)
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
            write_json(cell_dir / FAILED, {"error": str(e) or repr(e),
                                           "seconds": round(time.monotonic() - start, 1)})
            return "failed"
        write_json(cell_dir / DONE, {"key": job["key"], "host": platform.node(),
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


if __name__ == "__main__":  # a local worker: python -m lthkit.cells CELL_DIR BATCH_PID
    from lthkit import procs

    procs.die_with_parent(int(sys.argv[2]))  # even when the batch is killed with kill -9
    try:
        with procs.interruptible():
            sys.exit(0 if run_cell(sys.argv[1]) == "done" else 1)
    except procs.Interrupted as e:  # the batch stops its cells with SIGTERM
        print(f"lthkit.cells: interrupted by {e.name}", file=sys.stderr)
        sys.exit(e.exit_code)
