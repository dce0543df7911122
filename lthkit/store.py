"""The content-addressed cache that every expensive call goes through::

    result = cached("imp-round", params, lambda: train(...), data_fingerprint=ds.fingerprint)

The key hashes the experiment's name, its full parameters, the data fingerprint and the source
of the modules that compute results, so a change to the training code never silently reuses a
stale entry. A miss computes under a per-key file lock (a second process asking for the same
entry waits and then reads it), writes into a temporary folder and renames it into place: an
interrupted run leaves no half-written entry, and a rerun picks up every entry already finished.

Entries are checked when read: ``meta.json`` records the entry's key and the SHA-256 of its
``result.pt``. A truncated or altered result, an entry without a checksum, or one copied from
another key is never returned: it is reported by path on stderr, moved to ``damaged/`` in the
store for inspection, and computed again. Lock files go once their entry is written, and those
that killed processes left are swept.

Root: ``$LTHKIT_STORE``, else ``.lthkit/`` in the working directory.
"""
from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import io
import json
import os
import shutil
import sys
import time
from pathlib import Path

import torch

# Modules that only present results; editing them must not invalidate computed entries.
_PRESENTATION = {"book.py", "charts.py", "claims.py", "cli.py", "hparams.py", "preflight.py",
                 "procs.py", "stats.py", "batch.py", "cells.py", "slurm.py", "summary.py",
                 "__init__.py", "pictures.py"}


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
    """``compute()``'s result, from the store when a sound entry exists, else computed and
    stored. A damaged entry is reported, moved to ``damaged/`` and computed again."""
    base = Path(base).resolve() if base else root()
    k = key(experiment, params, data_fingerprint)
    path = entry_path(k, base)
    _sweep(base)
    result, _ = _read(path, k)
    if result is not _MISSING:
        return result
    with _lock(base, k, wait_message=f"{experiment} ({k[:12]})"):
        # Again under the lock: another process may have written it, or set it aside, meanwhile.
        result, damage = _read(path, k)
        if result is not _MISSING:
            return result
        if damage:
            _set_aside(base, path, damage)
        _remove_leftovers(base, k)
        started = time.time()
        result = compute()
        _write(base, k, path, result, {"experiment": experiment, "params": params,
                                       "data": data_fingerprint, "code": code_version(),
                                       "seconds": round(time.time() - started, 3)})
        return result


_MISSING = object()


def _read(path: Path, k: str):
    """``(result, None)`` for a sound entry; ``(_MISSING, None)`` when there is none;
    ``(_MISSING, why)`` when it is damaged: unreadable, without a checksum (older lthkit), a
    ``result.pt`` that does not match it, or an entry recorded for another key (a copy)."""
    if not path.exists():
        return _MISSING, None
    try:
        recorded = json.loads((path / "meta.json").read_text())
        payload = (path / "result.pt").read_bytes()
    except (OSError, ValueError) as error:
        return _MISSING, f"unreadable: {error}"
    if not isinstance(recorded, dict) or "sha256" not in recorded:
        return _MISSING, "no checksum recorded (an entry from an older lthkit)"
    if recorded.get("key") != k:
        return _MISSING, f"it records the key {str(recorded.get('key'))[:12]}…, not its own"
    if hashlib.sha256(payload).hexdigest() != recorded["sha256"]:
        return _MISSING, "result.pt does not match the checksum recorded in meta.json"
    try:
        return torch.load(io.BytesIO(payload), weights_only=False), None
    except Exception as error:  # intact bytes that torch cannot read back are no result either
        return _MISSING, f"result.pt cannot be loaded: {type(error).__name__}: {error}"


def _write(base: Path, k: str, path: Path, result, meta: dict) -> None:
    buffer = io.BytesIO()
    torch.save(result, buffer)
    payload = buffer.getvalue()
    meta = {**meta, "key": k, "sha256": hashlib.sha256(payload).hexdigest(),
            "bytes": len(payload)}
    tmp = base / "tmp" / f"{k}.{os.getpid()}"
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "result.pt").write_bytes(payload)
    (tmp / "meta.json").write_text(json.dumps(meta, indent=1, sort_keys=True, default=str))
    path.parent.mkdir(parents=True, exist_ok=True)
    os.rename(tmp, path)  # atomic on one file system: the entry appears whole or not at all


def _set_aside(base: Path, path: Path, why: str) -> None:
    """Move a damaged entry out of the way, kept for inspection, and say so."""
    aside = base / "damaged" / f"{path.name}.{time.strftime('%Y%m%dT%H%M%S')}.{os.getpid()}"
    aside.parent.mkdir(parents=True, exist_ok=True)
    os.rename(path, aside)
    print(f"lthkit.store: damaged entry {path}: {why}; moved to {aside}; computing it again",
          file=sys.stderr, flush=True)


def _remove_leftovers(base: Path, k: str) -> None:
    # Only the lock holder writes this key, so any temporary folder for it is an interrupted run's.
    for stale in (base / "tmp").glob(f"{k}.*"):
        shutil.rmtree(stale, ignore_errors=True)


# --- locks -------------------------------------------------------------------------------------
# One flock()ed file per key while it is computed. The holder removes the file before releasing
# it; a process that had opened the old file then finds, once it holds the lock, that the path
# no longer names what it locked, and starts again. So removing lock files never lets two
# processes compute one key.

@contextlib.contextmanager
def _lock(base: Path, k: str, *, wait_message: str | None = None, wait: bool = True):
    """Hold the lock of key ``k``; yields False, holding nothing, when ``wait`` is False and
    another process holds it."""
    path = base / "locks" / f"{k}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = _acquire(path, wait, wait_message)
    if fd is None:
        yield False
        return
    try:
        yield True
    finally:
        path.unlink(missing_ok=True)
        os.close(fd)


def _acquire(path: Path, wait: bool, wait_message: str | None) -> int | None:
    said = False
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if not wait:
                    os.close(fd)
                    return None
                if wait_message and not said:
                    print(f"lthkit.store: waiting for another process computing {wait_message}",
                          file=sys.stderr, flush=True)
                    said = True
                fcntl.flock(fd, fcntl.LOCK_EX)
            if _names(path, fd):
                return fd
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)


def _names(path: Path, fd: int) -> bool:
    """Whether ``path`` still names the file open as ``fd``."""
    try:
        here = os.stat(path)
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (here.st_dev, here.st_ino) == (held.st_dev, held.st_ino)


_swept: set[Path] = set()


def _sweep(base: Path) -> None:
    """Once per process and store: remove the lock files and temporary folders that processes
    killed mid-computation left behind (their locks are free; a live holder's are not)."""
    if base in _swept:
        return
    _swept.add(base)
    keys = {p.name[:-len(".lock")] for p in (base / "locks").glob("*.lock")}
    keys |= {p.name.split(".")[0] for p in (base / "tmp").glob("*.*")}
    for k in sorted(keys):
        with _lock(base, k, wait=False) as free:
            if free:
                _remove_leftovers(base, k)


def meta(experiment: str, params: dict, data_fingerprint: str = "", base=None) -> dict | None:
    """What the store recorded about an entry (time taken, code version), or None."""
    path = entry_path(key(experiment, params, data_fingerprint),
                      Path(base).resolve() if base else None)
    return json.loads((path / "meta.json").read_text()) if path.exists() else None
