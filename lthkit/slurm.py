"""Batch cells as a Slurm array job through submitit (``lthkit rerun --executor slurm``)::

    from lthkit import batch, slurm
    batch.run(plan, executor="slurm", jobs=8,
              slurm=slurm.Options(partition="gpu", gpus_per_job=1, time_min=240, mem_gb=16))

One array task per unfinished cell, at most ``jobs`` running at once; each task calls
``batch.run_cell`` on the cell's folder, so a cell behaves the same under Slurm as on this
machine. The jobs need the same lthkit environment and paths on every node: the checkout, its
``.venv`` and the store (``$LTHKIT_STORE``) on a shared file system. submitit's own files
(submission scripts, pickles, the jobs' stdout) go to ``OUT/.submitit``. ``cluster="local"``
runs the very same path through submitit's LocalExecutor on this machine: the tests do, and
so can you, to check a batch before queueing it. Needs the ``cluster`` extra.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator


class SlurmError(RuntimeError):
    """Jobs could not be submitted (no submitit, no sbatch)."""


@dataclass(frozen=True)
class Options:
    partition: str | None = None
    gpus_per_job: int = 0
    cpus_per_job: int | None = None
    time_min: int = 60
    mem_gb: float | None = None
    cluster: str = "slurm"  # or "local": submitit's LocalExecutor, same path, this machine

    def parameters(self, jobs: int, name: str) -> dict:
        """submitit's AutoExecutor parameters (those it does not know for a cluster are
        dropped by submitit itself, e.g. the partition when running locally)."""
        params = {"name": name, "timeout_min": self.time_min, "mem_gb": self.mem_gb,
                  "cpus_per_task": self.cpus_per_job, "slurm_partition": self.partition,
                  "slurm_array_parallelism": jobs}
        if self.gpus_per_job:
            params["gpus_per_node"] = self.gpus_per_job
        return {k: v for k, v in params.items() if v is not None}


_TIME = re.compile(r"(?:(\d+)-)?(\d+):(\d{1,2}):(\d{1,2})|(\d+)")


def parse_time(text: str) -> int:
    """A job's time limit in minutes: ``90`` (minutes), ``4:00:00`` or ``1-12:00:00``."""
    m = _TIME.fullmatch(text.strip())
    if not m:
        raise ValueError(f"--time {text!r}: write minutes (90), H:MM:SS (4:00:00) or "
                         "D-H:MM:SS (1-12:00:00)")
    if m.group(5):
        minutes = int(m.group(5))
    else:
        days, hours, mins, secs = (int(g or 0) for g in m.group(1, 2, 3, 4))
        minutes = days * 1440 + hours * 60 + mins + (secs > 0)
    if minutes < 1:
        raise ValueError(f"--time {text!r}: at least one minute")
    return minutes


_MEM = re.compile(r"(\d+(?:\.\d+)?)\s*([KMGT]?)B?", re.I)


def parse_mem(text: str) -> float:
    """Memory per job in GB: ``16G``, ``16GB``, ``500M``, ``1T``, or a bare number of GB."""
    m = _MEM.fullmatch(text.strip())
    if not m or float(m.group(1)) <= 0:
        raise ValueError(f"--mem {text!r}: write e.g. 16G, 500M or 16 (GB)")
    scale = {"K": 1 / 1024 ** 2, "M": 1 / 1024, "G": 1, "T": 1024, "": 1}
    return float(m.group(1)) * scale[m.group(2).upper()]


def check(options: Options) -> None:
    """Raise ``SlurmError`` unless jobs can be submitted from here."""
    if importlib.util.find_spec("submitit") is None:
        raise SlurmError("--executor slurm needs submitit: pip install -e '.[cluster]'")
    if options.cluster == "slurm" and shutil.which("sbatch") is None:
        raise SlurmError("--executor slurm: no sbatch on PATH; submit from a Slurm login node")


def run(dirs: list[Path], options: Options, jobs: int, folder: Path,
        function: Callable[[str], str], say: Callable[[str], None]
        ) -> Iterator[tuple[Path, str | None]]:
    """Submit ``function(cell_dir)`` for every cell as one array job; yield each cell as its
    task ends, with submitit's error when the task itself failed (time limit, node failure).
    Closing the generator early (Ctrl-C) cancels the tasks still queued or running."""
    import submitit

    check(options)
    if not dirs:
        return
    executor = submitit.AutoExecutor(folder=folder, cluster=options.cluster)
    executor.update_parameters(**options.parameters(jobs, f"lthkit-{folder.parent.name}"))
    submitted = executor.map_array(function, [str(d) for d in dirs])
    say(f"submitted {len(submitted)} task(s), first job id {submitted[0].job_id} "
        f"({options.cluster}); their submitit logs: {folder}")
    waiting = dict(zip(submitted, dirs))
    try:
        while waiting:
            ended = [job for job in waiting if job.done()]
            if not ended:
                time.sleep(2 if options.cluster == "slurm" else 0.5)
            for job in ended:
                problem = job.exception()
                yield waiting.pop(job), (None if problem is None else
                                         f"job {job.job_id}: {str(problem).strip()[-2000:]}")
    finally:
        for job in waiting:
            job.cancel(check=False)
