"""Chapter 2 (late resetting): its settings, and its paper presets run end to end on tiny fake
copies of MNIST and CIFAR-10 in torchvision's layouts, on the CPU.

The notebook's code cells are executed in this process (as papermill would, parameters first),
so that torchvision's checksum test, which no fake file can pass, is switched off for the run."""
import json
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest

from lthkit import calibrated, hparams, plans, preflight

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "02_late_resetting.ipynb"


def _resolve(**overrides):
    return hparams.resolve("late_resetting", **overrides)


@pytest.mark.parametrize("overrides, fragment", [
    (dict(rewinds=[10, 20]), "must hold 0"),
    (dict(rewinds=[0, 20, 20]), "each once"),
    (dict(lenet_rewinds=[0]), "at least one later"),
    (dict(rewinds=[0, 5000], train_steps="1000it"), "leaves nothing to train"),
    (dict(lr_drops=[75, 50]), "increasing"),
])
def test_settings_that_cannot_make_a_sweep_are_refused(overrides, fragment):
    with pytest.raises(hparams.ParameterError, match=fragment):
        _resolve(**overrides)


def test_the_plan_rewinds_each_network_and_keeps_the_learning_rate_drops():
    plan = plans.build(_resolve(preset="paper"))
    assert plan.deep.experiment.model == "cifar_vgg_19" and plan.deep.experiment.scope == "global"
    assert plan.deep.experiment.train.milestones == ("56000it", "84000it")
    assert plan.deep.rewinds == (0, 100, 500, 1000, 2000)
    assert plan.lenet.experiment.model == "lenet_300_100" and plan.lenet.data == {"name": "mnist"}
    resnet = plans.build(_resolve(preset="paper_resnet18"))
    assert resnet.deep.experiment.model == "cifar_resnet_20"
    assert resnet.deep.experiment.train.milestones == ("20100it", "24900it")
    assert plans.build(_resolve()).deep.experiment.train.milestones == ("750it",)
    # "100%" is no drop at all
    assert plans.build(_resolve(lr_drops=[100])).deep.experiment.train.milestones == ()
    # LeNet's output layer is pruned at half the rate, as in the lottery ticket recipe
    assert plan.lenet.experiment.prune_rate == 0.2 and plan.lenet.experiment.output_prune_rate == 0.1


def test_the_default_conv_net_trains_with_the_calibrated_recipe():
    # chapters 2-4 train the conv net with lthkit.calibrated's Config and data, so the store
    # shares their dense runs: the same Config (milestones written alike), the same scenes
    plan = plans.build(_resolve())
    assert plan.deep.experiment.train == calibrated.config(test_at="best")
    assert {k: plan.deep.data[k] for k in calibrated.DATA} == calibrated.DATA
    # a schedule given in epochs keeps its epochs
    assert plans.build(_resolve(train_steps="10ep")).deep.experiment.train.milestones == (
        "7ep",)


def test_the_paper_presets_need_their_data_and_a_gpu(tmp_path, monkeypatch):
    monkeypatch.setenv("LTHKIT_DATA", str(tmp_path))
    problems = " ".join(preflight.problems(_resolve(preset="paper")))
    assert "cifar10" in problems and "mnist" in problems and "device" in problems


# --- the paper presets, end to end on fake data ----------------------------------------------

def _idx(path: Path, array: np.ndarray) -> None:
    """An IDX file (MNIST's format) of unsigned bytes."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I",
                                                                        *array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def fake_data(root: Path, per_class: int = 2) -> Path:
    """Tiny MNIST and CIFAR-10 folders in torchvision's layouts: random images, balanced labels."""
    rng = np.random.default_rng(0)
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for split, n in (("train", 10 * per_class), ("t10k", 5 * per_class)):
        _idx(raw / f"{split}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)))
        _idx(raw / f"{split}-labels-idx1-ubyte", np.arange(n) % 10)
    cifar = root / "cifar-10-batches-py"
    cifar.mkdir()
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        n = 10 * per_class // 2
        batch = {"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                 "labels": [int(v) for v in np.arange(n) % 10]}
        (cifar / name).write_bytes(pickle.dumps(batch))
    (cifar / "batches.meta").write_bytes(pickle.dumps({"label_names": [str(i) for i in range(10)]}))
    return root


# One seed and two iterations: VGG-19 costs about a second per image on a busy CPU core, and
# pruning its 20M weights globally several seconds.
TINY = dict(device="cpu", seeds=1, lenet_train_steps="4it", lenet_eval_every="2it",
            lenet_val_size=10, lenet_rounds=1, lenet_rewinds=[0, 2], val_size=10, batch_size=2,
            train_steps="2it", eval_every="2it", rounds=1, rewinds=[0, 1])


@pytest.mark.parametrize("preset", ["paper", "paper_resnet18"])
def test_a_paper_preset_runs_the_whole_chapter_on_fake_data(preset, tmp_path, monkeypatch):
    import torchvision.datasets.cifar

    monkeypatch.setenv("LTHKIT_DATA", str(fake_data(tmp_path / "data")))
    monkeypatch.setenv("LTHKIT_STORE", str(tmp_path / "store"))
    monkeypatch.chdir(tmp_path)
    # the fake files cannot match the checksums torchvision knows for the real ones
    monkeypatch.setattr(torchvision.datasets.CIFAR10, "_check_integrity", lambda self: True)
    monkeypatch.setattr(torchvision.datasets.cifar, "check_integrity", lambda *a, **k: True)
    cells = [c for c in json.loads(NOTEBOOK.read_text())["cells"] if c["cell_type"] == "code"]
    namespace = {}
    exec("".join(cells[0]["source"]), namespace)
    for name, value in {"preset": preset, **TINY}.items():
        namespace[name] = value
    for cell in cells[1:]:
        exec("".join(cell["source"]), namespace)
    hp, plan = namespace["hp"], namespace["plan"]
    assert hp.preset == preset and plan.deep.data == {"name": "cifar10"}
    assert set(namespace["runs"]["network"]) == {"LeNet", "conv net"}
    doc = json.loads((tmp_path / "metrics.json").read_text())
    assert doc["params"]["preset"] == preset and len(doc["claims"]) == 4
    assert {c["verdict"] for c in doc["claims"]} <= {"pass", "fail", "inconclusive"}
