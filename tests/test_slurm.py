"""`lthkit rerun --executor slurm`: the options, and the submitit path run for real through
submitit's own LocalExecutor (the same code, on this machine)."""

from __future__ import annotations

import json
import shutil

import pytest

from conftest import LOTTERY
from lthkit import batch, cells, slurm


@pytest.mark.parametrize("text, minutes", [("90", 90), ("4:00:00", 240), ("0:30:00", 30),
                                           ("1-12:00:00", 2160), ("0:00:30", 1)])
def test_time_limits_in_minutes(text, minutes):
    assert slurm.parse_time(text) == minutes


@pytest.mark.parametrize("text", ["soon", "4h", "0", "1:2", "-5"])
def test_bad_time_limits_say_how_to_write_them(text):
    with pytest.raises(ValueError, match="--time"):
        slurm.parse_time(text)


@pytest.mark.parametrize("text, gb", [("16G", 16), ("16GB", 16), ("512M", 0.5), ("2T", 2048),
                                      ("8", 8), ("1.5g", 1.5)])
def test_memory_in_gb(text, gb):
    assert slurm.parse_mem(text) == gb


@pytest.mark.parametrize("text", ["lots", "0G", "16X"])
def test_bad_memory_says_how_to_write_it(text):
    with pytest.raises(ValueError, match="--mem"):
        slurm.parse_mem(text)


def test_options_become_submitit_parameters():
    options = slurm.Options(partition="gpu", gpus_per_job=1, cpus_per_job=8, time_min=240,
                            mem_gb=16)
    assert options.parameters(jobs=3, name="lthkit-b") == {
        "name": "lthkit-b", "timeout_min": 240, "mem_gb": 16, "cpus_per_task": 8,
        "slurm_partition": "gpu", "slurm_array_parallelism": 3, "gpus_per_node": 1}
    # unset options are left to the cluster's defaults
    assert set(slurm.Options().parameters(jobs=2, name="x")) == {
        "name", "timeout_min", "slurm_array_parallelism"}


def test_cells_for_the_cluster_are_not_checked_against_this_machine(tmp_path):
    """A login node has no GPU: `-p device cuda` is checked on the nodes, by each notebook."""
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA device")
    with pytest.raises(batch.BadBatch, match="cuda"):
        batch.plan(LOTTERY, tmp_path / "b", {"first_seed": [0, 1]}, {"device": "cuda"})
    plan = batch.plan(LOTTERY, tmp_path / "b", {"first_seed": [0, 1]}, {"device": "cuda"},
                      here=False)
    assert [c.params["device"] for c in plan.cells] == ["cuda", "cuda"]
    with pytest.raises(batch.BadBatch, match="device"):  # names and values are still checked
        batch.plan(LOTTERY, tmp_path / "b", {"first_seed": [0]}, {"device": "tpu"}, here=False)


@pytest.mark.skipif(shutil.which("sbatch") is not None, reason="this machine has Slurm")
def test_slurm_without_sbatch_says_where_to_submit_from(tmp_path):
    plan = batch.plan(LOTTERY, tmp_path / "b", {"first_seed": [0]})
    with pytest.raises(slurm.SlurmError, match="no sbatch on PATH"):
        batch.run(plan, executor="slurm", progress=False)
    assert not (tmp_path / "b").exists()


def test_cells_run_as_an_array_job_through_submitit_local_executor(lottery_batch, tmp_path):
    """Two cells of the 2×2 grid through submitit, sharing the store of the local batch: each
    job runs ``cells.run_cell`` and gives the same metrics as the local executor did."""
    pytest.importorskip("submitit")
    reference, store = lottery_batch
    ran = [c for c in cells.cells_in(reference) if c.params["first_seed"] == 0]
    fixed = {k: v for k, v in ran[0].params.items() if k != "rewind_step"}
    plan = batch.plan(LOTTERY, tmp_path / "b", {"rewind_step": ["0it", "10it"]}, fixed,
                      store=store)
    lines = []
    options = slurm.Options(partition="debug", time_min=10, mem_gb=4, cluster="local")
    report = batch.run(plan, executor="slurm", jobs=2, slurm=options, progress=False,
                       echo=lines.append)
    assert report.ok and len(report.done) == 2, lines
    assert "submitted 2 task(s)" in lines[0]
    assert list((tmp_path / "b" / ".submitit").glob("*_log.out"))  # submitit's own logs
    for cell in ran:
        mine = json.loads((tmp_path / "b" / cell.name / "metrics.json").read_text())
        theirs = json.loads((cell.dir / "metrics.json").read_text())
        assert mine["claims"] == theirs["claims"] and mine["metrics"] == theirs["metrics"]
        assert json.loads((cell.dir / "job.json").read_text())["workers"] is not None
        assert json.loads((tmp_path / "b" / cell.name / "job.json").read_text())["workers"] is None
    # the jobs are done: a rerun submits nothing
    again = batch.run(plan, executor="slurm", slurm=options, progress=False, echo=lines.append)
    assert again.ok and again.earlier == 2 and not again.done
