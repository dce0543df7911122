"""lthkit.store: content-addressed entries, atomic writes, a lock per key, killed runs."""
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

import lthkit
from lthkit import store

REPO = Path(lthkit.__file__).resolve().parents[1]


class Counter:
    """A compute function that counts its calls."""

    def __init__(self, value):
        self.value, self.calls = value, 0

    def __call__(self):
        self.calls += 1
        return self.value


def _entries(base):
    return sorted(p.name for p in (Path(base) / "entries").glob("*/*"))


def _locks(base):
    return sorted(p.name for p in (Path(base) / "locks").glob("*"))


def _leftovers(base):
    tmp = Path(base) / "tmp"
    return sorted(p.name for p in tmp.iterdir()) if tmp.exists() else []


# --- hits and misses -------------------------------------------------------------------------

def test_a_hit_returns_the_result_without_recomputing(tmp_path):
    result = {"weights": torch.randn(5, 3), "acc": [0.5, 0.75], "name": "x"}
    compute = Counter(result)
    first = store.cached("exp", {"lr": 0.1}, compute, base=tmp_path)
    second = store.cached("exp", {"lr": 0.1}, compute, base=tmp_path)
    assert compute.calls == 1
    for got in (first, second):
        assert torch.equal(got["weights"], result["weights"])
        assert got["acc"] == result["acc"] and got["name"] == "x"
    assert second is not first  # read back from disk
    assert len(_entries(tmp_path)) == 1 and _leftovers(tmp_path) == []


def test_an_entry_holds_the_result_and_its_metadata(tmp_path):
    store.cached("exp", {"lr": 0.1}, lambda: 7, data_fingerprint="abc", base=tmp_path)
    k = store.key("exp", {"lr": 0.1}, "abc")
    path = store.entry_path(k, tmp_path)
    assert path == tmp_path / "entries" / k[:2] / k
    assert torch.load(path / "result.pt", weights_only=False) == 7
    recorded = json.loads((path / "meta.json").read_text())
    assert recorded["experiment"] == "exp" and recorded["params"] == {"lr": 0.1}
    assert recorded["data"] == "abc" and recorded["code"] == store.code_version()
    assert recorded["seconds"] >= 0
    assert store.meta("exp", {"lr": 0.1}, "abc", base=tmp_path) == recorded
    assert store.meta("exp", {"lr": 0.2}, "abc", base=tmp_path) is None


def test_different_params_are_different_entries(tmp_path):
    compute = Counter(1)
    for params in ({"lr": 0.1}, {"lr": 0.2}, {"lr": 0.1, "seed": 1}, {"nested": {"a": [1, 2]}},
                   {"nested": {"a": [2, 1]}}):
        store.cached("exp", params, compute, base=tmp_path)
    store.cached("exp", {"lr": 0.1}, compute, data_fingerprint="other", base=tmp_path)
    store.cached("other-exp", {"lr": 0.1}, compute, base=tmp_path)
    assert compute.calls == 7 and len(_entries(tmp_path)) == 7


def test_key_depends_on_everything_that_determines_the_result(monkeypatch):
    base = store.key("exp", {"lr": 0.1, "seed": 0}, "fp")
    assert len(base) == 64
    assert store.key("exp", {"seed": 0, "lr": 0.1}, "fp") == base  # order of keys is irrelevant
    assert store.key("exp", {"lr": 0.1, "seed": 0}, "fp") == base
    assert store.key("exp", {"lr": 0.2, "seed": 0}, "fp") != base
    assert store.key("exp", {"lr": 0.1, "seed": 1}, "fp") != base
    assert store.key("exp2", {"lr": 0.1, "seed": 0}, "fp") != base
    assert store.key("exp", {"lr": 0.1, "seed": 0}, "fp2") != base
    monkeypatch.setattr(store, "code_version", lambda: "edited")
    assert store.key("exp", {"lr": 0.1, "seed": 0}, "fp") != base


def test_a_code_change_misses_the_old_entry(tmp_path, monkeypatch):
    compute = Counter("old")
    store.cached("exp", {}, compute, base=tmp_path)
    monkeypatch.setattr(store, "code_version", lambda: "edited")
    assert store.cached("exp", {}, Counter("new"), base=tmp_path) == "new"
    monkeypatch.undo()
    assert store.cached("exp", {}, compute, base=tmp_path) == "old" and compute.calls == 1


def _load_store_copy(package):
    spec = importlib.util.spec_from_file_location(f"store_copy_{id(package)}", package / "store.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.code_version()


def test_code_version_follows_computing_modules_but_not_presentation(tmp_path):
    package = tmp_path / "lthkit"
    shutil.copytree(Path(lthkit.__file__).parent, package,
                    ignore=shutil.ignore_patterns("__pycache__", "synth"))
    original = _load_store_copy(package)
    assert original == store.code_version()
    with open(package / "charts.py", "a") as f:
        f.write("\n# a new colour\n")
    assert _load_store_copy(package) == original
    with open(package / "train.py", "a") as f:
        f.write("\n# a change to training\n")
    assert _load_store_copy(package) != original


def test_root_is_lthkit_store_else_dot_lthkit(tmp_path, monkeypatch):
    monkeypatch.setenv("LTHKIT_STORE", str(tmp_path / "elsewhere"))
    assert store.root() == (tmp_path / "elsewhere").resolve()
    store.cached("exp", {}, lambda: 1)
    assert len(_entries(tmp_path / "elsewhere")) == 1
    monkeypatch.delenv("LTHKIT_STORE")
    monkeypatch.chdir(tmp_path)
    assert store.root() == (tmp_path / ".lthkit").resolve()


def test_a_failing_compute_leaves_no_entry(tmp_path):
    def broken():
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        store.cached("exp", {}, broken, base=tmp_path)
    assert _entries(tmp_path) == []
    assert store.cached("exp", {}, lambda: 2, base=tmp_path) == 2


# --- damaged entries -------------------------------------------------------------------------

def _entry(base, name):
    return store.entry_path(store.key("exp", {"name": name}), base)


def _truncate(base):
    result = _entry(base, "a") / "result.pt"
    result.write_bytes(result.read_bytes()[:-100])


def _flip_a_value(base):
    # One weight changed inside the tensor data: torch still loads the file, with a wrong value.
    result = _entry(base, "a") / "result.pt"
    raw = bytearray(result.read_bytes())
    at = raw.index(torch.full((1,), 1.5).numpy().tobytes() * 64)
    raw[at + 2] ^= 0x01
    result.write_bytes(bytes(raw))


def _copy_result_from_another_entry(base):
    shutil.copy(_entry(base, "b") / "result.pt", _entry(base, "a") / "result.pt")


def _copy_entry_from_another_key(base):
    shutil.rmtree(_entry(base, "a"))
    shutil.copytree(_entry(base, "b"), _entry(base, "a"))


def _garble_meta(base):
    (_entry(base, "a") / "meta.json").write_text('{"key": ')


def _delete_result(base):
    (_entry(base, "a") / "result.pt").unlink()


def _older_entry_without_checksum(base):
    meta = _entry(base, "a") / "meta.json"
    recorded = json.loads(meta.read_text())
    del recorded["sha256"], recorded["key"]
    meta.write_text(json.dumps(recorded))


@pytest.mark.parametrize("damage", [
    _truncate, _flip_a_value, _copy_result_from_another_entry, _copy_entry_from_another_key,
    _garble_meta, _delete_result, _older_entry_without_checksum])
def test_a_damaged_entry_is_reported_set_aside_and_computed_again(tmp_path, damage, capsys):
    first = {"weights": torch.full((64,), 1.5), "name": "a"}
    store.cached("exp", {"name": "a"}, lambda: first, base=tmp_path)
    store.cached("exp", {"name": "b"}, lambda: {"weights": torch.zeros(64), "name": "b"},
                 base=tmp_path)
    damage(tmp_path)
    capsys.readouterr()
    compute = Counter({"weights": torch.full((64,), 1.5), "name": "a"})
    got = store.cached("exp", {"name": "a"}, compute, base=tmp_path)
    assert compute.calls == 1, "a damaged entry must be computed again, never returned"
    assert got["name"] == "a" and torch.equal(got["weights"], first["weights"])
    err = capsys.readouterr().err
    path = _entry(tmp_path, "a")
    assert f"damaged entry {path}" in err and err.count("\n") == 1, err
    aside = list((tmp_path / "damaged").iterdir())
    assert len(aside) == 1 and aside[0].name.startswith(path.name) and str(aside[0]) in err
    # The entry written in its place is sound, and the other entry was never touched.
    again = store.cached("exp", {"name": "a"}, compute, base=tmp_path)
    assert compute.calls == 1 and torch.equal(again["weights"], first["weights"])
    other = store.cached("exp", {"name": "b"}, Counter(None), base=tmp_path)
    assert other["name"] == "b"
    assert capsys.readouterr().err == ""


def test_an_entry_records_its_key_and_the_checksum_of_its_result(tmp_path):
    import hashlib

    store.cached("exp", {"lr": 0.1}, lambda: [1, 2, 3], base=tmp_path)
    k = store.key("exp", {"lr": 0.1})
    path = store.entry_path(k, tmp_path)
    recorded = json.loads((path / "meta.json").read_text())
    assert recorded["key"] == k
    assert recorded["sha256"] == hashlib.sha256((path / "result.pt").read_bytes()).hexdigest()


# --- lock files --------------------------------------------------------------------------------

def test_no_lock_file_outlives_its_entry(tmp_path):
    for lr in (0.1, 0.2):
        store.cached("exp", {"lr": lr}, lambda: lr, base=tmp_path)
    with pytest.raises(RuntimeError, match="boom"):
        store.cached("exp", {"lr": 0.3}, _boom, base=tmp_path)
    assert _locks(tmp_path) == [] and len(_entries(tmp_path)) == 2


def _boom():
    raise RuntimeError("boom")


def test_removing_a_lock_file_never_lets_two_holders_in(tmp_path):
    """A waits on the lock file that its holder then removes; D arrives after the removal and
    creates a new one. Both may not hold the key at once."""
    import threading

    holders, most, guard = [], [0], threading.Lock()
    a_holds, a_may_go = threading.Event(), threading.Event()

    def hold(name, seconds, before=None):
        with store._lock(tmp_path, "k" * 64):
            with guard:
                holders.append(name)
                most[0] = max(most[0], len(holders))
            if before:
                before()
            time.sleep(seconds)
            with guard:
                holders.remove(name)

    a = threading.Thread(target=hold, args=("A", 0, lambda: (a_holds.set(), a_may_go.wait())))
    a.start()
    a_holds.wait()
    b = threading.Thread(target=hold, args=("B", 0.5))
    b.start()
    time.sleep(0.3)  # B has opened the file and waits on it
    a_may_go.set()
    a.join()
    d = threading.Thread(target=hold, args=("D", 0.5))
    d.start()
    b.join()
    d.join()
    assert most[0] == 1
    assert _locks(tmp_path) == []


_HOLDER = textwrap.dedent("""
    import fcntl, sys, time
    with open(sys.argv[1], "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        print("held", flush=True)
        time.sleep(120)
""")


def test_lock_files_left_by_dead_processes_are_swept_and_live_ones_kept(tmp_path):
    (tmp_path / "locks").mkdir(parents=True)
    dead = "d" * 64
    (tmp_path / "locks" / f"{dead}.lock").touch()               # its process was killed
    (tmp_path / "tmp" / f"{dead}.4242").mkdir(parents=True)     # ... mid-write
    (tmp_path / "tmp" / f"{dead}.4242" / "result.pt").write_bytes(b"half")
    live = tmp_path / "locks" / f"{'e' * 64}.lock"
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, str(live)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert store.cached("exp", {}, lambda: 1, base=tmp_path) == 1
        assert _locks(tmp_path) == [live.name], "only the live process's lock remains"
        assert _leftovers(tmp_path) == []
    finally:
        _kill(holder)


# --- other processes -------------------------------------------------------------------------

_CHILD = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from lthkit import store

    base, ready, mode = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]

    class HangsWhileSaved:
        # torch.save pickles the result inside the store's temporary folder: hang right there.
        def __reduce__(self):
            ready.write_text("saving")
            time.sleep(120)
            return (int, ())

    def compute():
        if mode == "compute":
            ready.write_text("computing")
            time.sleep(120)
        if mode == "save":
            return {"value": HangsWhileSaved()}
        if mode == "count":
            with open(base / "count.txt", "a") as f:
                f.write("1\\n")
            ready.write_text("computing")
            deadline = time.time() + 60
            while not (base / "go").exists() and time.time() < deadline:
                time.sleep(0.02)
            return {"value": 41}

    print(store.cached("shared", {"p": 1}, compute, base=base)["value"], flush=True)
""")


def _spawn(base, ready, mode, **kwargs):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-c", _CHILD, str(base), str(ready), mode], env=env,
                            **kwargs)


def _wait_for(path, process, timeout=90):
    deadline = time.time() + timeout
    while not path.exists():
        assert process.poll() is None, "the child process died before it was ready"
        assert time.time() < deadline, "the child process never got ready"
        time.sleep(0.02)


def _kill(process):
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)


@pytest.mark.parametrize("mode", ["compute", "save"])
def test_a_killed_run_leaves_no_entry_and_the_rerun_completes(tmp_path, mode):
    ready = tmp_path / "ready"
    child = _spawn(tmp_path, ready, mode)
    try:
        _wait_for(ready, child)
    finally:
        _kill(child)
    assert _entries(tmp_path) == []
    assert all(name.startswith(store.key("shared", {"p": 1})) for name in _leftovers(tmp_path))
    compute = Counter({"value": 5})
    assert store.cached("shared", {"p": 1}, compute, base=tmp_path) == {"value": 5}
    assert compute.calls == 1
    assert len(_entries(tmp_path)) == 1 and _leftovers(tmp_path) == []
    assert store.cached("shared", {"p": 1}, compute, base=tmp_path) == {"value": 5}
    assert compute.calls == 1
    assert _locks(tmp_path) == []


def test_two_processes_asking_for_one_key_compute_it_once(tmp_path):
    ready, go = tmp_path / "ready", tmp_path / "go"
    first = _spawn(tmp_path, ready, "count", stdout=subprocess.PIPE, text=True)
    second = None
    try:
        _wait_for(ready, first)  # the first holds the lock and is computing
        second = _spawn(tmp_path, tmp_path / "ready2", "count", stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE, text=True)
        # The second announces that it waits for the first, and only then may the first finish.
        line = second.stderr.readline()
        assert "waiting for another process" in line, line
        go.touch()
        out_first, _ = first.communicate(timeout=60)
        out_second, _ = second.communicate(timeout=60)
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                _kill(process)
    assert first.returncode == 0 and second.returncode == 0
    assert out_first.strip() == out_second.strip() == "41"
    assert (tmp_path / "count.txt").read_text().splitlines() == ["1"]
    assert not (tmp_path / "ready2").exists()  # the second never entered compute
    assert len(_entries(tmp_path)) == 1 and _leftovers(tmp_path) == []
