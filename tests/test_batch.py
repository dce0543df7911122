"""Batch reruns (`lthkit rerun`): the grid, validation before anything runs, cells in parallel,
skipping finished cells, failures that stop nothing, and resuming after kill -9."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import LOTTERY, LOTTERY_GRID, lottery_rerun_args
from lthkit import batch, cells, cli


def test_grid_values_split_at_top_level_commas_and_read_as_yaml():
    assert batch.split_values("0, [2, 4],'a,b',{x: 1}") == ["0", "[2, 4]", "'a,b'", "{x: 1}"]
    grid = batch.parse_grid(["first_seed=0,4", "xor_hidden=[2, 4],[8]", "rewind_step=0it"],
                            cli.parse_value)
    assert grid == {"first_seed": [0, 4], "xor_hidden": [[2, 4], [8]], "rewind_step": ["0it"]}
    for bad, says in ((["seeds"], "NAME=V1,V2"), (["seeds=1,"], "empty value"),
                      (["seeds=1", "seeds=2"], "seeds is given twice"), (["=1"], "NAME=V1,V2"),
                      (["seeds=1,2,1"], "a value is given twice"),
                      (["xor_hidden=[2, 4],[2,4]"], "a value is given twice")):
        with pytest.raises(batch.BadBatch, match=says):
            batch.parse_grid(bad, cli.parse_value)


def test_a_cell_is_named_by_its_parameters_only():
    assert batch.cell_name({"a": 1, "b": "x"}) == batch.cell_name({"b": "x", "a": 1})
    assert batch.cell_name({"a": 1}) != batch.cell_name({"a": 2})
    assert len(batch.cell_name({})) == 10


def test_plan_is_the_product_of_the_grids_with_the_fixed_parameters(tmp_path):
    plan = batch.plan(LOTTERY, tmp_path / "b", LOTTERY_GRID, {"seeds": 2})
    got = [c.params for c in plan.cells]
    assert got == [{"first_seed": s, "rewind_step": r, "seeds": 2}
                   for s in (0, 1) for r in ("0it", "10it")]
    assert len({c.dir for c in plan.cells}) == 4
    assert not (tmp_path / "b").exists()  # planning writes nothing


def test_a_bad_value_anywhere_in_the_grid_stops_everything(tmp_path, capsys):
    out = tmp_path / "b"
    rc = cli.main(["rerun", str(LOTTERY), "--grid", "first_seed=0,1",
                   "--grid", "rewind_step=0it,soon", "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2
    assert "2 of 4 cells have bad parameters; nothing ran" in err
    assert "rewind_step='soon'" in err and "training step" in err
    assert not out.exists()


@pytest.mark.parametrize("args, says", [
    (["--grid", "seeds=1,2", "-p", "seeds", "3"], "given both as --grid and as -p"),
    (["--grid", "no_such_knob=1,2"], "no_such_knob"),
    (["--jobs", str(os.cpu_count() + 1)], "--jobs"),
    (["--jobs", "0"], "at least 1"),
    (["--executor", "slurm", "--time", "soon"], "--time 'soon'"),
    (["--executor", "slurm", "--mem", "lots"], "--mem 'lots'"),
    (["--partition", "gpu", "--mem", "4G"], "--partition, --mem: only with --executor slurm"),
])
def test_bad_command_lines_exit_2_and_run_nothing(args, says, tmp_path, capsys):
    out = tmp_path / "b"
    assert cli.main(["rerun", str(LOTTERY), "--out", str(out), *args]) == 2
    assert says in capsys.readouterr().err
    assert not any(out.glob("*/log.txt"))


def test_a_failing_cell_is_recorded_and_does_not_stop_the_others(demo_notebook, tmp_path,
                                                                   monkeypatch, capsys):
    monkeypatch.setenv("LTHKIT_STORE", str(tmp_path / "store"))
    nb, out = demo_notebook("demo"), tmp_path / "demo-batch"
    args = ["rerun", str(nb), "--grid", "fail=false,true", "-p", "points", "3",
            "--out", str(out), "--jobs", "2", "--no-progress"]
    assert cli.main(args) == 1
    printed = capsys.readouterr().out
    ok, bad = (out / batch.cell_name({"fail": f, "points": 3}) for f in (False, True))
    assert (ok / "done.json").exists() and (ok / "demo.ipynb").exists()
    assert json.loads((ok / "params.json").read_text()) == {"fail": False, "points": 3}
    assert json.loads((ok / "metrics.json").read_text())["params"]["points"] == 3
    failure = json.loads((bad / "failed.json").read_text())["error"]
    assert "asked to fail" in failure and "cell 4" in failure
    assert not (bad / "done.json").exists() and (bad / "demo.failed.ipynb").exists()
    assert "AssertionError" in (bad / "log.txt").read_text()
    assert f"FAILED  {bad.name}" in printed and "1 failed" in printed

    # A rerun skips the finished cell and retries the failed one.
    stamp = (ok / "done.json").read_text()
    assert cli.main(args) == 1
    assert "1 finished earlier, 0 now, 1 failed" in capsys.readouterr().out
    assert (ok / "done.json").read_text() == stamp

    # Edited notebook: the finished cell is stale and would run again.
    nb.write_text(nb.read_text().replace("A demo chapter", "A demo chapter, edited"))
    assert cli.main([*args, "--dry-run"]) == 0
    listing = capsys.readouterr().out
    assert f"{ok.name}  stale" in listing and f"{bad.name}  failed" in listing
    assert "0 finished, 2 to run" in listing


def test_the_output_folder_belongs_to_one_notebook(demo_notebook, tmp_path, capsys):
    out = tmp_path / "b"
    batch.prepare(batch.plan(demo_notebook("one"), out, {"points": [1]}))
    assert cli.main(["rerun", str(demo_notebook("two")), "--grid", "points=1",
                     "--out", str(out)]) == 2
    assert "holds a batch of one.ipynb" in capsys.readouterr().err


def test_the_2x2_lottery_grid_runs_with_two_jobs(lottery_batch):
    out, _ = lottery_batch
    found = cells.cells_in(out)
    assert sorted((c.params["first_seed"], c.params["rewind_step"]) for c in found) == [
        (0, "0it"), (0, "10it"), (1, "0it"), (1, "10it")]
    for cell in found:
        assert cells.status(cell) == "done"
        doc = json.loads((cell.dir / "metrics.json").read_text())
        assert {k: doc["params"][k] for k in LOTTERY_GRID} == {k: cell.params[k]
                                                                for k in LOTTERY_GRID}
        assert len(doc["claims"]) >= 8
        assert (cell.dir / "01_lottery_tickets.ipynb").exists()
        # two jobs on this machine: each cell's training had half the cores
        job = json.loads((cell.dir / "job.json").read_text())
        assert job["workers"] == max(1, batch.cores() // 2)


def _processes_in(folder: Path, kernels_only: bool = False) -> list[int]:
    """Processes started on ``folder`` (cell workers) or working in it (their kernels)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cwd = os.readlink(proc / "cwd")
            cmdline = (proc / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if cwd.startswith(str(folder)) or (str(folder) in cmdline and not kernels_only):
            found.append(int(proc.name))
    return found


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc to find leftover processes")
def test_kill_9_in_the_middle_then_rerun_finishes_only_the_missing_cells(lottery_batch,
                                                                         tmp_path, capsys,
                                                                         monkeypatch):
    """A batch killed with kill -9 leaves no process behind; the rerun runs only the cells
    that had not finished, and every cell's metrics equal the uninterrupted batch's. It shares
    that batch's store (the store's own safety under interruption is tested in test_store),
    so what runs again is the notebooks, which read the training results."""
    reference, store = lottery_batch
    out = tmp_path / "killed"
    env = {**os.environ, "LTHKIT_STORE": str(store)}
    with open(tmp_path / "first.log", "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "lthkit.cli", *lottery_rerun_args(out)],
                                env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 600
    while not list(out.glob("*/done.json")):
        assert proc.poll() is None, (tmp_path / "first.log").read_text()
        assert time.monotonic() < deadline, "no cell finished in 10 minutes"
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    finished = {p.parent.name: p.stat().st_mtime_ns for p in out.glob("*/done.json")}
    assert 1 <= len(finished) < 4

    deadline = time.monotonic() + 30  # the kernels notice their parent is gone within ~1 s
    while _processes_in(out) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _processes_in(out) == []

    monkeypatch.setenv("LTHKIT_STORE", str(store))
    assert cli.main(lottery_rerun_args(out)) == 0
    printed = capsys.readouterr().out
    assert f"4 cells: {len(finished)} finished earlier, {4 - len(finished)} now" in printed
    ran_now = {line.split()[1] for line in printed.splitlines() if line.startswith("done ")}
    assert ran_now == {c.name for c in cells.cells_in(out)} - set(finished)
    assert {n: (out / n / "done.json").stat().st_mtime_ns for n in finished} == finished
    for cell in cells.cells_in(reference):
        mine = json.loads((out / cell.name / "metrics.json").read_text())
        theirs = json.loads((cell.dir / "metrics.json").read_text())
        assert mine["claims"] == theirs["claims"] and mine["metrics"] == theirs["metrics"]


@pytest.fixture
def sleepy_notebook(tmp_path):
    """A notebook whose one parameter is how long its cell sleeps."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "lthkit", "display_name": "lthkit", "language": "python"}
    params = nbformat.v4.new_code_cell("wait = 0")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell("import time\ntime.sleep(wait)"),
                nbformat.v4.new_code_cell(
                    "from lthkit import claims\nclaims.write_metrics("
                    "[claims.claim('slept', wait, '>= 0', True)], {'wait': wait})")]
    path = tmp_path / "sleepy.ipynb"
    nbformat.write(nb, str(path))
    return path


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc to find leftover processes")
def test_ctrl_c_stops_every_cell_and_exits_130(sleepy_notebook, tmp_path):
    out = tmp_path / "b"
    proc = subprocess.Popen([sys.executable, "-m", "lthkit.cli", "rerun", str(sleepy_notebook),
                             "--grid", "wait=600,601", "--out", str(out), "--jobs", "2"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 120
    while len(_processes_in(out, kernels_only=True)) < 2:  # both cells' kernels are up
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    printed, _ = proc.communicate(timeout=30)
    assert proc.returncode == 130, printed
    assert "interrupted" in printed and "run the same command again" in printed
    deadline = time.monotonic() + 30
    while _processes_in(out) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _processes_in(out) == []
    assert {cells.status(c) for c in cells.cells_in(out)} == {"interrupted"}


def test_a_cell_another_process_is_running_is_waited_for_not_run_twice(sleepy_notebook,
                                                                       tmp_path):
    import fcntl

    plan = batch.plan(sleepy_notebook, tmp_path / "b", {"wait": [600]})
    batch.prepare(plan)
    cell = plan.cells[0]
    with open(cell.dir / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # "another batch" is running the cell
        proc = subprocess.Popen([sys.executable, "-m", "lthkit.cells", str(cell.dir),
                                 str(os.getpid())])
        deadline = time.monotonic() + 60
        while "waiting for another process" not in _text(cell.dir / "log.txt"):
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        # ... which finishes it
        (cell.dir / "metrics.json").write_text("{}")
        (cell.dir / "sleepy.ipynb").write_text("{}")
        (cell.dir / "done.json").write_text(json.dumps({"key": cell.key}))
    assert proc.wait(timeout=60) == 0
    assert "another process finished this cell meanwhile" in _text(cell.dir / "log.txt")
    assert (cell.dir / "sleepy.ipynb").read_text() == "{}"  # not executed again


def _text(path: Path) -> str:
    return path.read_text() if path.exists() else ""
