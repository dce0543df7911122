"""lthkit.connectivity: chapter 3's dense and sparse instability pairs, through the store.

A tiny setting (LeNet on mnist5k, 40 iterations, two seeds) runs once into a fresh store, with
the iterations and runs it trains counted; the tests then redo its pairs by hand from the public
pieces (engine, stability, lottery) and compare."""
import dataclasses
from pathlib import Path

import pytest
import torch

import lthkit.engine
from lthkit import connectivity, engine, lottery, masks, models, stability
from lthkit.connectivity import SECOND_ORDER, Setting
from lthkit.train import Config, evaluate

CONFIG = Config(optimizer="adam", lr=1.2e-3, batch_size=60, train_steps="40it", eval_every="10it",
                test_at="best")
SETTING = Setting("LeNet", lottery.Experiment(train=CONFIG, rounds=9),
                  data={"name": "mnist5k", "val_size": 500}, splits=(0, 15), rewinds=(0, 10),
                  levels=(1, 2), controls=((10, 2),), alphas=3, train_examples=300)
SEEDS = [0, 1]


class Counter:
    n = 0

    def update(self, k=1):
        self.n += k


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LTHKIT_STORE", str(tmp_path_factory.mktemp("store")))
        yield


@pytest.fixture(scope="module")
def ds():
    return connectivity.load(SETTING)


@pytest.fixture(scope="module")
def done(store, ds):
    counts = {name: Counter() for name in ("dense", "imp", "sparse")}
    dense = connectivity.dense(SETTING, ds, SEEDS, progress=counts["dense"])
    imp_rows = connectivity.imp(SETTING, ds, SEEDS, progress=counts["imp"])
    sparse = connectivity.sparse(SETTING, ds, SEEDS, progress=counts["sparse"])
    return {"dense": dense, "imp": imp_rows, "sparse": sparse,
            "counts": {name: c.n for name, c in counts.items()}}


def _test_error(state, ds):
    model = models.for_data("lenet_300_100", 0, ds)
    model.load_state_dict(state)
    return 1 - evaluate(model, ds.x_test, ds.y_test)[1]


def _ends(paths, **tag):
    rows = [p for p in paths if all(p[k] == v for k, v in tag.items())]
    rows.sort(key=lambda p: p["alpha"])
    return rows[0]["test_error"], rows[-1]["test_error"]


def test_the_setting_names_its_data_and_refuses_nonsense(ds):
    assert ds.name == "mnist5k" and len(ds.x_val) == 500
    with pytest.raises(ValueError, match=r"controls at \[\(10, 3\)\]"):
        dataclasses.replace(SETTING, controls=((10, 3),))
    with pytest.raises(ValueError, match="rounds ≥ 1"):
        dataclasses.replace(SETTING, levels=(0, 1), controls=())
    with pytest.raises(ValueError, match="not before the end"):
        connectivity.dense(dataclasses.replace(SETTING, splits=(0, 40)), ds, SEEDS)


def test_one_dense_pair_per_seed_and_split(done):
    pairs, paths = done["dense"]
    assert sorted((p["seed"], p["k"]) for p in pairs) == [(0, 0), (0, 15), (1, 0), (1, 15)]
    assert {p["kind"] for p in pairs} == {"dense"} and len(paths) == 3 * len(pairs)
    for pair in pairs:
        errors = [p["test_error"] for p in sorted(paths, key=lambda p: p["alpha"])
                  if (p["seed"], p["k"]) == (pair["seed"], pair["k"])]
        assert pair["instability"] == pytest.approx(stability.instability(errors))
        assert pair["end_error"] == pytest.approx((errors[0] + errors[-1]) / 2)


def test_a_dense_pair_is_the_seeds_run_and_its_continuation_with_another_order(done, ds):
    _, paths = done["dense"]
    seed, k = 1, 15
    run = engine.Run("lenet_300_100", ds, CONFIG, order_seed=seed, init_seed=seed)
    first, second = stability.train_copies(run, split_at=k, order_seeds=(seed, SECOND_ORDER + seed))
    assert _ends(paths, seed=seed, k=k) == pytest.approx(
        (_test_error(first.final_state, ds), _test_error(second.final_state, ds)))


def test_a_tickets_first_copy_is_imps_own_ticket(done, ds):
    _, paths = done["sparse"]
    for row in done["imp"]:
        if row["round"] in SETTING.levels:
            first, _ = _ends(paths, kind="ticket", seed=row["seed"], k=row["k"],
                             level=row["round"])
            assert first == pytest.approx(1 - row["final_test_acc"])


def test_a_tickets_second_copy_trains_the_rewound_weights_with_another_order(done, ds):
    _, paths = done["sparse"]
    seed, k, level = 0, 10, 1
    ticket = lottery.tickets(SETTING.rewound_to(k), ds, seed, rounds=[level])[level]
    assert ticket["mask"].density() < 1
    second = engine.fit(engine.Run("lenet_300_100", ds, CONFIG, SECOND_ORDER + seed,
                                   state=ticket["rewind_state"], mask=ticket["mask"], start=k))
    for name, keep in ticket["mask"].items():
        assert torch.count_nonzero(second.final_state[name][~keep]) == 0
    assert _ends(paths, kind="ticket", seed=seed, k=k, level=level)[1] == pytest.approx(
        _test_error(second.final_state, ds))


def test_the_controls_first_copies_are_lotterys_control_runs(done, ds, store):
    _, paths = done["sparse"]
    k, level = 10, 2
    experiment = dataclasses.replace(SETTING.rewound_to(k), rounds=level,
                                     controls=("reinit", "random"))
    for row in lottery.imp_seeds(experiment, ds, SEEDS):
        if row["round"] == level and row["kind"] != "ticket":
            first, _ = _ends(paths, kind=row["kind"], seed=row["seed"], k=k, level=level)
            assert first == pytest.approx(1 - row["final_test_acc"]), row["kind"]


def test_pairs_cover_the_levels_and_controls_only_where_asked(done):
    pairs, _ = done["sparse"]
    seen = {(p["kind"], p["k"], p["level"]) for p in pairs}
    assert seen == {("ticket", k, level) for k in (0, 10) for level in (1, 2)} | {
        ("random", 10, 2), ("reinit", 10, 2)}
    levels = lottery.weights_remaining(SETTING.rewound_to(0))
    for pair in pairs:
        assert pair["weights_remaining"] == pytest.approx(levels[pair["level"]], abs=1e-9)


def test_the_work_counted_is_the_work_done(done, ds):
    work = connectivity.work(SETTING, ds.iterations_per_epoch(CONFIG.batch_size), len(SEEDS))
    assert done["counts"] == {name: work[name] for name in ("dense", "imp", "sparse")}
    assert work["imp_iterations"] == sum(row["iterations"] for row in done["imp"])


def test_a_second_call_reads_everything_from_the_store(done, ds, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("trained although every result is in the store")

    monkeypatch.setattr(lthkit.engine, "train", refuse)
    assert connectivity.dense(SETTING, ds, SEEDS) == done["dense"]
    assert connectivity.imp(SETTING, ds, SEEDS) == done["imp"]
    assert connectivity.sparse(SETTING, ds, SEEDS) == done["sparse"]


def test_random_controls_keep_the_tickets_layer_densities(ds):
    ticket = masks.Mask.ones(models.for_data("lenet_300_100", 0, ds))
    ticket = masks.magnitude_prune(masks.weights(models.for_data("lenet_300_100", 0, ds)),
                                   ticket, 0.5)
    _, runs = connectivity._sparse_runs(SETTING.experiment, ds, 3, 0, 2, "random",
                                        {"mask": ticket, "rewind_state": None})
    assert [r.order_seed for r in runs] == [3, SECOND_ORDER + 3]
    for run in runs:
        assert run.mask.layer_density() == pytest.approx(ticket.layer_density())
        assert run.mask.fingerprint() != ticket.fingerprint()


def _pairs(kind, instabilities, errors, k=0, level=1, dense_errors=(0.10, 0.12, 0.11)):
    """Pair rows of one subnetwork over three seeds, beside the dense pairs they compare to."""
    dense = [{"setting": "net", "kind": "dense", "seed": s, "k": 0, "level": 0,
              "weights_remaining": 100.0, "instability": 0.0, "end_error": e}
             for s, e in enumerate(dense_errors)]
    return dense + [{"setting": "net", "kind": kind, "seed": s, "k": k, "level": level,
                     "weights_remaining": 20.0, "instability": i, "end_error": e}
                    for s, (i, e) in enumerate(zip(instabilities, errors))]


@pytest.mark.parametrize("instabilities, stable", [
    ((0.001, 0.002, 0.0), True),          # wholly below 2%
    ((0.30, 0.35, 0.32), False),          # wholly above
    ((0.0, 0.05, 0.01), None),            # straddles
])
def test_stable_is_decided_by_the_interval_of_the_instability(instabilities, stable):
    table = connectivity.judged(_pairs("ticket", instabilities, (0.1, 0.12, 0.11)), 0.02, 0.01)
    assert table.set_index("kind").loc["ticket", "stable"] == stable
    assert table.set_index("kind").loc["dense", "matching"] is None


@pytest.mark.parametrize("errors, matching", [
    ((0.101, 0.121, 0.111), True),         # +0.1 pp, paired by seed: within the 1 pp margin
    ((0.20, 0.22, 0.21), False),           # +10 pp
    ((0.10, 0.16, 0.09), None),            # straddles the margin
])
def test_matching_is_non_inferiority_paired_by_seed(errors, matching):
    table = connectivity.judged(_pairs("ticket", (0, 0, 0), errors), 0.02, 0.01).set_index("kind")
    assert table.loc["ticket", "matching"] == matching
    # the dense errors vary by 2 pp between seeds; pairing by seed removes that
    assert table.loc["ticket", "excess_error"][0] == pytest.approx(
        sum(errors) / 3 - (0.10 + 0.12 + 0.11) / 3)


def test_the_dense_reference_is_the_pair_at_the_first_split():
    rows = _pairs("ticket", (0, 0, 0), (0.1, 0.1, 0.1), dense_errors=(0.1, 0.1, 0.1))
    rows += [{**row, "k": 50, "end_error": 0.5} for row in rows if row["kind"] == "dense"]
    table = connectivity.judged(rows, 0.02, 0.01).set_index("kind")
    assert table.loc["ticket", "excess_error"][0] == pytest.approx(0.0)


def _table(*settings):
    rows = []
    for k, (instabilities, errors) in enumerate(settings):
        rows += _pairs("ticket", instabilities, errors, k=k)
    return connectivity.judged(rows, 0.02, 0.01)


STABLE, UNSTABLE, UNDECIDED = (0.0, 0.001, 0.002), (0.3, 0.35, 0.32), (0.0, 0.05, 0.01)
MATCHING, NOT_MATCHING, UNSURE = (0.101, 0.121, 0.111), (0.2, 0.22, 0.21), (0.10, 0.16, 0.09)


@pytest.mark.parametrize("settings, verdict", [
    ([(STABLE, MATCHING), (UNSTABLE, NOT_MATCHING)], True),
    ([(STABLE, MATCHING), (UNSTABLE, MATCHING)], False),
    ([(UNSTABLE, NOT_MATCHING), (STABLE, UNSURE)], None),       # nothing decided matching
    ([(STABLE, MATCHING), (UNDECIDED, MATCHING)], None),        # a matching one undecided
])
def test_matching_only_when_stable_reaches_each_verdict(settings, verdict):
    assert connectivity.matching_only_when_stable(_table(*settings)) is verdict


# --- the paper preset, smoke-tested on tiny fake MNIST and CIFAR-10 folders ---------------------

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "03_linear_mode_connectivity.ipynb"
# ResNet-20 alone: VGG-16 takes the same path through the code, with 50 times the weights
TINY = dict(seeds=1, alphas=3, path_examples=8, val_size=4, device="cpu", conv_model="cifar_resnet_20",
            lenet_train_steps="4it", lenet_splits=[0, 2], lenet_levels=[1],
            conv_batch_size=4, conv_train_steps="4it", conv_splits=[0, 2], conv_rewinds=[0, 2],
            conv_levels=[1])


def _fake_mnist(root, train=40, test=10):
    import struct

    for split, n in (("train", train), ("t10k", test)):
        folder = root / "MNIST" / "raw"
        folder.mkdir(parents=True, exist_ok=True)
        pixels = torch.randint(0, 256, (n, 28, 28), generator=torch.Generator().manual_seed(n))
        (folder / f"{split}-images-idx3-ubyte").write_bytes(
            struct.pack(">IIII", 0x803, n, 28, 28) + bytes(pixels.to(torch.uint8).flatten().tolist()))
        (folder / f"{split}-labels-idx1-ubyte").write_bytes(
            struct.pack(">II", 0x801, n) + bytes(i % 10 for i in range(n)))


def _fake_cifar(root, per_batch=8, test=10):
    """torchvision's cifar-10-batches-py layout: five training batches, a test batch, meta."""
    import pickle

    import numpy as np

    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for i, name in enumerate(names):
        n = test if name == "test_batch" else per_batch
        pixels = np.random.default_rng(i).integers(0, 256, (n, 3072), dtype=np.uint8)
        with open(folder / name, "wb") as f:
            pickle.dump({"data": pixels, "labels": [j % 10 for j in range(n)]}, f)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": [f"class{j}" for j in range(10)]}, f)


def test_the_paper_preset_runs_end_to_end_on_tiny_fake_data(tmp_path, monkeypatch):
    import json

    import torchvision.datasets.cifar

    from lthkit import hparams, plans

    _fake_mnist(tmp_path / "data")
    _fake_cifar(tmp_path / "data")
    # torchvision checks CIFAR-10's files against the real ones' checksums
    monkeypatch.setattr(torchvision.datasets.cifar, "check_integrity", lambda *a, **k: True)
    monkeypatch.setenv("LTHKIT_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("LTHKIT_STORE", str(tmp_path / "store"))
    monkeypatch.chdir(tmp_path)
    cells = [c for c in json.loads(NOTEBOOK.read_text())["cells"] if c["cell_type"] == "code"]
    namespace = {}
    exec("".join(cells[0]["source"]), namespace)           # the parameters cell, then papermill's
    namespace.update(preset="paper", **TINY)
    for cell in cells[1:]:
        exec("".join(cell["source"]), namespace)
    hp = namespace["hp"]
    assert hp.preset == "paper" and hp.alphas == 3 and hp.conv_dataset == "cifar10"
    paper = plans.build(hparams.resolve("connectivity", "paper"))
    assert [s.experiment.model for s in paper.settings] == [
        "lenet_300_100", "cifar_resnet_20", "cifar_vgg_16"]
    assert paper.settings[1].alphas == 30 and paper.settings[1].experiment.dataset == "cifar10"
    labels = {s.label for s in namespace["plan"].settings}
    assert labels == {"LeNet-300-100", "cifar_resnet_20"}
    assert set(namespace["pairs"]["setting"]) == labels
    doc = json.loads((tmp_path / "metrics.json").read_text())
    assert doc["params"]["preset"] == "paper" and len(doc["claims"]) == 6
