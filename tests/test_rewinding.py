"""lthkit.rewinding: IMP swept over rewinding points, each ticket with its stability to pruning.

A tiny sweep (LeNet on mnist5k, 12 iterations, one round, rewinding to 0 and 4, two seeds)
runs once; the tests redo its measurements from lottery's own rows."""
import dataclasses
import math

import pytest

from lthkit import lottery, rewinding, stability
from lthkit.train import Config

CONFIG = Config(optimizer="adam", lr=1.2e-3, batch_size=60, train_steps="12it", eval_every="4it")
EXPERIMENT = lottery.Experiment(model="lenet_300_100", dataset="mnist5k", train=CONFIG, rounds=1,
                                controls=("reinit",))
REWINDS, SEEDS = [0, 4], [1, 2]

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def swept(mnist, tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LTHKIT_STORE", str(tmp_path_factory.mktemp("store")))
        table = rewinding.sweep(EXPERIMENT, REWINDS, mnist, SEEDS)
        # the same experiments, read back from the store with their weights
        rows = {k: lottery.imp_seeds(e, mnist, SEEDS, states=True)
                for k, e in zip(REWINDS, rewinding.experiments(EXPERIMENT, REWINDS))}
    return table, rows


def test_each_rewinding_point_is_an_experiment_and_only_the_latest_has_controls():
    sweep = rewinding.experiments(EXPERIMENT, [0, 20, 100])
    assert [e.rewind_step for e in sweep] == ["0it", "20it", "100it"]
    assert [e.controls for e in sweep] == [(), (), ("reinit",)]
    assert [e.controls for e in rewinding.experiments(EXPERIMENT, [0, 20], controls_at=0)] == \
        [("reinit",), ()]
    assert all(dataclasses.replace(e, rewind_step="0it", controls=()) ==
               dataclasses.replace(EXPERIMENT, controls=()) for e in sweep)


@pytest.mark.parametrize("rewinds, controls_at, message", [
    ([], None, "distinct"), ([0, 0], None, "distinct"), ([-5, 0], None, "distinct"),
    ([0, 10], 5, "controls_at")])
def test_bad_sweeps_are_refused(rewinds, controls_at, message):
    with pytest.raises(ValueError, match=message):
        rewinding.experiments(EXPERIMENT, rewinds, controls_at)


def test_runs_counts_every_training_run():
    # per seed: rewind 0 → dense + ticket; rewind 4 → dense + ticket + reinit
    assert rewinding.runs(EXPERIMENT, REWINDS, SEEDS) == 2 * (2 + 3)


def test_the_table_has_a_row_per_run_without_weights(swept):
    table, _ = swept
    assert list(zip(table.rewind, table.seed, table["round"], table.kind)) == [
        (0, 1, 0, "ticket"), (0, 1, 1, "ticket"), (0, 2, 0, "ticket"), (0, 2, 1, "ticket"),
        (4, 1, 0, "ticket"), (4, 1, 1, "ticket"), (4, 1, 1, "reinit"),
        (4, 2, 0, "ticket"), (4, 2, 1, "ticket"), (4, 2, 1, "reinit")]
    assert "final_state" not in table and "mask" not in table
    # the dense networks are shared: the same accuracy whatever the rewinding point
    dense = table[table["round"] == 0].pivot(index="seed", columns="rewind",
                                             values="early_stop_test_acc")
    assert (dense[0] == dense[4]).all()


def test_a_tickets_stability_is_measured_against_its_seeds_dense_network(swept):
    table, rows = swept
    for k, imp_rows in rows.items():
        dense = {r["seed"]: r["final_state"] for r in imp_rows if r["round"] == 0}
        for row in imp_rows:
            shown = table[(table.rewind == k) & (table.seed == row["seed"])
                          & (table["round"] == row["round"]) & (table.kind == row["kind"])]
            assert len(shown) == 1
            measured = shown.iloc[0]
            assert measured.early_stop_test_acc == row["early_stop_test_acc"]
            if row["round"] == 0 or row["kind"] != "ticket":
                assert math.isnan(measured.distance) and math.isnan(measured.angle)
                continue
            expected = stability.pruning_stability(row["final_state"], dense[row["seed"]],
                                                   row["mask"])
            assert (measured.distance, measured.angle) == (expected["distance"],
                                                           expected["angle"])
            assert measured.distance > 0 and 0 < measured.angle < 90


def test_rank_correlation_compares_rows_within_each_level():
    import pandas as pd

    rows = []
    for seed in (0, 1):
        for level in (0, 1):
            for k, angle in enumerate((30.0, 20.0, 10.0)):
                # within a level, accuracy falls as the angle grows; across levels the sparser
                # level (1) is both nearer and worse, which would pull a pooled correlation up
                accuracy = 0.9 - 0.2 * level - 0.01 * angle / 10 * (1 if seed == 0 else -1)
                rows.append({"seed": seed, "round": level, "angle": angle - 15 * level,
                             "acc": accuracy})
    table = pd.DataFrame(rows)
    values = rewinding.rank_correlation(table, "angle", "acc")
    assert values.to_dict() == pytest.approx({0: -1.0, 1: 1.0})
    # pooled over levels, seed 0's correlation is not −1: the levels drive it
    pooled = table[table.seed == 0]
    assert pooled["angle"].rank().corr(pooled["acc"].rank()) > -1.0
    # a level where the accuracy does not change says nothing and is left out
    table.loc[(table.seed == 1) & (table["round"] == 1), "acc"] = 0.5
    assert rewinding.rank_correlation(table, "angle", "acc")[1] == pytest.approx(1.0)
    table.loc[table.seed == 1, "acc"] = 0.5
    assert math.isnan(rewinding.rank_correlation(table, "angle", "acc")[1])
