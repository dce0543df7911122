"""lthkit.early: the statistics of the first iterations measure what they say, on the weights
the run really had at each point."""
import dataclasses
import math

import pytest
import torch
import torch.nn.functional as F

from lthkit import data, early, engine, models
from lthkit.train import Config, train

CONFIG = Config(optimizer="sgd", lr=0.05, momentum=0.9, batch_size=16, train_steps="12it",
                eval_every="4it")
pytestmark = pytest.mark.usefixtures("one_thread")  # runs are compared bitwise with the engine's


@pytest.fixture(scope="module")
def images():
    g = torch.Generator().manual_seed(0)
    return data.Dataset("tiny", torch.randn(64, 3, 8, 8, generator=g), torch.arange(64) % 10,
                        torch.randn(30, 3, 8, 8, generator=g), torch.arange(30) % 10,
                        num_classes=10, augment=True)


def test_log_points_run_from_zero_to_the_end_densely_at_first():
    points = early.log_points(2000, 30)
    assert points[0] == 0 and points[-1] == 2000 and points == sorted(set(points))
    assert points[:4] == [0, 1, 2, 3]
    gaps = [b - a for a, b in zip(points, points[1:])]
    assert gaps[-1] > 10 * gaps[0]
    with pytest.raises(ValueError):
        early.log_points(0, 5)


def test_weight_change_counts_distance_and_flipped_signs_exactly():
    before = {"a": torch.tensor([1.0, -2.0, 3.0, -4.0]), "b": torch.tensor([0.5, 0.5])}
    after = {"a": torch.tensor([1.0, 2.0, 3.0, -4.0]), "b": torch.tensor([-0.5, 0.5])}
    out = early.weight_change(before, after, ["a", "b"])
    assert out["signs_flipped"] == pytest.approx(2 / 6)
    assert out["distance"] == pytest.approx(math.sqrt(4.0 ** 2 + 1.0 ** 2))
    norm = math.sqrt(1 + 4 + 9 + 16 + 0.25 + 0.25)
    assert out["relative_distance"] == pytest.approx(out["distance"] / norm)
    same = early.weight_change(before, before, ["a", "b"])
    assert same["distance"] == 0 and same["signs_flipped"] == 0


def test_gradient_norm_is_the_norm_of_the_loss_gradient_and_leaves_the_state(images):
    model = models.for_data("cifar_resnet_8_4", 0, images)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    x, y = images.x_train[:32], images.y_train[:32]
    norm = early.gradient_norm(model, state, x, y)
    check = models.for_data("cifar_resnet_8_4", 0, images)
    check.train()
    grads = torch.autograd.grad(F.cross_entropy(check(x), y), list(check.parameters()))
    assert norm == pytest.approx(float(torch.sqrt(sum((g.double() ** 2).sum() for g in grads))),
                                 rel=1e-6)
    assert all(torch.equal(model.state_dict()[k], state[k]) for k in state)


def test_statistics_measure_the_weights_the_run_had_at_each_point(images):
    run = engine.Run("conv2_4", images, CONFIG, order_seed=3, init_seed=3)
    points = [0, 1, 2, 5, 9]
    rows = early.statistics(run, points, probe=32)
    assert [r["iteration"] for r in rows] == points
    assert rows[0]["distance"] == 0 and rows[0]["signs_flipped"] == 0
    assert all(r["distance"] > 0 for r in rows[1:])
    # the same run, trained by hand with checkpoints, gives the same numbers
    by_hand = train(models.for_data("conv2_4", 3, images), images,
                    dataclasses.replace(CONFIG, train_steps="9it"), 3,
                    checkpoints=points)
    names = models.prunable(models.for_data("conv2_4", 3, images))
    for row in rows:
        change = early.weight_change(by_hand.checkpoints[0], by_hand.checkpoints[row["iteration"]],
                                     names)
        assert row["distance"] == pytest.approx(change["distance"], rel=1e-9)
        assert row["signs_flipped"] == change["signs_flipped"]
        assert 0 <= row["train_acc"] <= 1 and 0 <= row["test_acc"] <= 1
        assert row["grad_norm"] > 0


def test_statistics_of_several_seeds_come_from_the_store_the_second_time(images, tmp_path,
                                                                         monkeypatch):
    monkeypatch.setenv("LTHKIT_STORE", str(tmp_path))
    rows = early.statistics_seeds("conv2_4", images, CONFIG, [0, 1], [0, 2, 4], probe=16)
    assert [(r["seed"], r["iteration"]) for r in rows] == [(s, i) for s in (0, 1) for i in (0, 2, 4)]
    monkeypatch.setattr(engine, "fit", lambda *a, **k: pytest.fail("trained again"))
    assert early.statistics_seeds("conv2_4", images, CONFIG, [0, 1], [0, 2, 4], probe=16) == rows
