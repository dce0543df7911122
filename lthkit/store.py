"""The content-addressed cache that every expensive call goes through::

    result = cached("imp-round", params, lambda: train(...), data_fingerprint=ds.fingerprint)

The key hashes the experiment's name, its full parameters, the data fingerprint and the source
of the modules that compute results, so a change to the training code never silently reuses a
stale entry. A miss computes under a per-key file lock (a second process asking for the same
entry waits and then reads it), writes into a temporary folder and renames it into place: an
interrupted run leaves no half-written entry, and a rerun picks up every entry already finished.

Root: ``$LTHKIT_STORE``, else ``.lthkit/`` in the working directory.
"""
from __future__ import annotations

import fcntl
import functools
import hashlib
import json
import os
import shutil
import sys
import time
from pathlib import Path

import torch

# Modules that only present results; editing them must not invalidate computed entries.
_PRESENTATION = {"book.py", "charts.py", "claims.py", "cli.py", "hparams.py", "stats.py",
                 "batch.py", "cells.py", "slurm.py", "summary.py", "__init__.py"}


def root() -> Path:
    return Path(os.environ.get("LTHKIT_STORE") or Path.cwd() / ".lthkit").resolve()


@functools.cache
def code_version() -> str:
    """A hash of the source of lthkit's computing modules."""
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        if path.name not in _PRESENTATION:
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def key(experiment: str, params: dict, data_fingerprint: str = "") -> str:
    blob = json.dumps({"experiment": experiment, "params": params, "data": data_fingerprint,
                       "code": code_version()}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def entry_path(k: str, base: Path | None = None) -> Path:
    return (base or root()) / "entries" / k[:2] / k


def cached(experiment: str, params: dict, compute, *, data_fingerprint: str = "",
           base: str | os.PathLike | None = None):
    """``compute()``'s result, from the store when an entry exists, else computed and stored."""
    base = Path(base).resolve() if base else root()
    k = key(experiment, params, data_fingerprint)
    path = entry_path(k, base)
    if path.exists():
        return _read(path)
    (base / "locks").mkdir(parents=True, exist_ok=True)
    with open(base / "locks" / f"{k}.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"lthkit.store: waiting for another process computing {experiment} ({k[:12]})",
                  file=sys.stderr)
            fcntl.flock(lock, fcntl.LOCK_EX)
        if path.exists():  # the other process finished it while we waited
            return _read(path)
        _remove_leftovers(base, k)
        started = time.time()
        result = compute()
        _write(base, k, path, result, {"experiment": experiment, "params": params,
                                       "data": data_fingerprint, "code": code_version(),
                                       "seconds": round(time.time() - started, 3)})
        return result


def _read(path: Path):
    return torch.load(path / "result.pt", weights_only=False)


def _write(base: Path, k: str, path: Path, result, meta: dict) -> None:
    tmp = base / "tmp" / f"{k}.{os.getpid()}"
    tmp.mkdir(parents=True, exist_ok=True)
    torch.save(result, tmp / "result.pt")
    (tmp / "meta.json").write_text(json.dumps(meta, indent=1, sort_keys=True, default=str))
    path.parent.mkdir(parents=True, exist_ok=True)
    os.rename(tmp, path)  # atomic on one file system: the entry appears whole or not at all


def _remove_leftovers(base: Path, k: str) -> None:
    # Only the lock holder writes this key, so any temporary folder for it is an interrupted run's.
    for stale in (base / "tmp").glob(f"{k}.*"):
        shutil.rmtree(stale, ignore_errors=True)


def meta(experiment: str, params: dict, data_fingerprint: str = "", base=None) -> dict | None:
    """What the store recorded about an entry (time taken, code version), or None."""
    path = entry_path(key(experiment, params, data_fingerprint),
                      Path(base).resolve() if base else None)
    return json.loads((path / "meta.json").read_text()) if path.exists() else None
