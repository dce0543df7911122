"""lthkit.stability: two copies from a shared point, the linear path between them, instability."""
import pytest
import torch

from lthkit import data, engine, masks, models
from lthkit.stability import (continued, error_along_path, instability, interpolate,
                              masked_angle, masked_distance, pruning_stability,
                              reset_batch_norm, train_copies, train_pairs)
from lthkit.train import Config, evaluate

CONFIG = Config(optimizer="sgd", lr=0.1, momentum=0.9, batch_size=60, train_steps="40it",
                eval_every="20it")


@pytest.fixture(scope="module")
def sparse_mask():
    model = models.build("lenet_300_100", 0)
    return masks.magnitude_prune(masks.weights(model), masks.Mask.ones(model), 0.5)


@pytest.fixture(scope="module")
def pair(mnist, sparse_mask):
    run = engine.Run("lenet_300_100", mnist, CONFIG, order_seed=0, mask=sparse_mask)
    return train_copies(run, split_at=10, order_seeds=(3, 4))


def test_the_copies_share_the_weights_at_the_split_and_then_differ(pair):
    a, b = pair
    assert all(torch.equal(a.checkpoints[10][k], b.checkpoints[10][k]) for k in a.checkpoints[10])
    assert not torch.equal(a.final_state["layers.0.weight"], b.final_state["layers.0.weight"])
    assert a.trajectory[0]["iteration"] == 10 == b.trajectory[0]["iteration"]


def test_the_first_copy_is_the_parents_own_continuation(mnist, sparse_mask, pair):
    run = engine.Run("lenet_300_100", mnist, CONFIG, order_seed=3, mask=sparse_mask)
    whole = engine.train_many([run])[0]
    assert all(torch.equal(whole.final_state[k], pair[0].final_state[k]) for k in whole.final_state)


def test_copies_with_the_same_order_are_the_same_network(mnist):
    run = engine.Run("lenet_300_100", mnist, CONFIG, order_seed=0)
    a, b = train_copies(run, split_at=10, order_seeds=(5, 5))
    path = error_along_path("lenet_300_100", a.final_state, b.final_state, mnist, alphas=5)
    assert len({row["test_error"] for row in path}) == 1  # every point is the same network
    assert instability(row["test_error"] for row in path) == 0.0


def test_interpolation_hits_both_ends_and_keeps_pruned_weights_zero(pair, sparse_mask):
    a, b = (r.final_state for r in pair)
    assert all(torch.equal(interpolate(a, b, 0.0)[k], a[k]) for k in a)
    assert all(torch.equal(interpolate(a, b, 1.0)[k], b[k]) for k in a)
    middle = interpolate(a, b, 0.5)
    torch.testing.assert_close(middle["layers.1.weight"], (a["layers.1.weight"] + b["layers.1.weight"]) / 2)
    for name, keep in sparse_mask.items():
        assert torch.count_nonzero(middle[name][~keep]) == 0
    with pytest.raises(ValueError, match="different tensors"):
        interpolate(a, {k: v for k, v in b.items() if k != "layers.0.bias"}, 0.5)


def test_the_ends_of_the_path_are_the_two_copies(mnist, pair):
    a, b = pair
    path = error_along_path("lenet_300_100", a.final_state, b.final_state, mnist, alphas=3,
                            train_examples=500)
    assert [row["alpha"] for row in path] == [0.0, 0.5, 1.0]
    for row, result in ((path[0], a), (path[-1], b)):
        model = models.build("lenet_300_100", 0)
        model.load_state_dict(result.final_state)
        assert row["test_error"] == pytest.approx(1 - evaluate(model, mnist.x_test, mnist.y_test)[1])
        assert row["train_error"] == pytest.approx(
            1 - evaluate(model, mnist.x_train[:500], mnist.y_train[:500])[1])


@pytest.mark.parametrize("errors, expected", [([0.1, 0.1, 0.1], 0.0), ([0.1, 0.5, 0.3], 0.3),
                                              ([0.2, 0.1, 0.4], 0.1)])
def test_instability_is_the_peak_above_the_mean_of_the_ends(errors, expected):
    assert instability(errors) == pytest.approx(expected)


def test_alphas_outside_the_segment_are_refused(mnist, pair):
    with pytest.raises(ValueError, match="alphas"):
        error_along_path("lenet_300_100", pair[0].final_state, pair[1].final_state, mnist,
                         alphas=[0.0, 1.5])


def test_batch_norm_statistics_are_measured_again():
    generator = torch.Generator().manual_seed(0)
    x = 3.0 + 2.0 * torch.randn(64, 3, 32, 32, generator=generator)
    y = torch.randint(0, 10, (64,), generator=generator)
    images = data.Dataset("noise", x, y, x[:16], y[:16], 10)
    model = models.build("cifar_resnet_20", 0)
    reset_batch_norm(model, images, batches=2, batch_size=32)
    # the first batch norm sees the first convolution's output; its mean is measured, not 0
    assert model.bn.running_mean.abs().sum() > 0
    with torch.no_grad():
        first = torch.cat([model.conv(xb) for xb, _ in images.batches(32, 0, 0, 2)])
    torch.testing.assert_close(model.bn.running_mean, first.mean(dim=(0, 2, 3)), rtol=1e-4, atol=1e-5)


def test_pairs_at_several_splits_share_one_parent(mnist):
    run = engine.Run("lenet_300_100", mnist, CONFIG, order_seed=0)
    pairs = train_pairs(run, split_ats=[20, 0], order_seeds=(3, 4), n_workers=1)
    assert sorted(pairs) == [0, 20]
    parent = pairs[0][0]
    assert pairs[20][0] is parent                       # one first copy for every split
    for k, (first, second) in pairs.items():
        alone = train_copies(run, split_at=k, order_seeds=(3, 4))
        for mine, theirs in zip((first, second), alone):
            assert all(torch.equal(mine.final_state[n], theirs.final_state[n])
                       for n in theirs.final_state)
        assert second.trajectory[0]["iteration"] == k
    with pytest.raises(ValueError, match="iterations"):
        train_pairs(run, split_ats=[-1])


def test_a_copy_continues_only_from_a_kept_checkpoint(mnist, pair):
    run = engine.Run("lenet_300_100", mnist, CONFIG, order_seed=0)
    copy = continued(run, pair[0], 10, order_seed=9)
    assert copy.start == 10 and copy.order_seed == 9
    assert copy.optimizer_state is pair[0].optimizer_states[10]
    with pytest.raises(ValueError, match="no checkpoint at iteration 20"):
        continued(run, pair[0], 20, order_seed=9)


def test_every_point_of_a_sparse_path_is_as_sparse_as_its_mask(pair, sparse_mask):
    a, b = (r.final_state for r in pair)
    kept = sparse_mask.kept()
    for alpha in [i / 10 for i in range(11)]:
        point = interpolate(a, b, alpha)
        assert sum(int(torch.count_nonzero(point[name])) for name in sparse_mask) <= kept
        for name, keep in sparse_mask.items():
            assert torch.count_nonzero(point[name][~keep]) == 0, (alpha, name)


# --- stability to pruning ------------------------------------------------------------------------

def _state(**tensors):
    return {name: torch.tensor(values, dtype=torch.float32) for name, values in tensors.items()}


KEEP = masks.Mask({"w": torch.tensor([[True, True], [False, True]]),
                   "v": torch.tensor([True, False])})


def test_the_distance_is_taken_over_the_kept_weights_only():
    a = _state(w=[[1.0, 2.0], [50.0, 3.0]], v=[0.0, 7.0], bias=[9.0])
    b = _state(w=[[4.0, 6.0], [-50.0, 3.0]], v=[0.0, -7.0], bias=[-9.0])
    # kept: w (1, 2, 3) against (4, 6, 3) and v (0) against (0): differences 3, 4, 0, 0
    assert masked_distance(a, b, KEEP) == pytest.approx(5.0)
    assert masked_distance(b, a, KEEP) == masked_distance(a, b, KEEP)
    assert masked_distance(a, a, KEEP) == 0.0


def test_the_angle_is_that_of_the_kept_weight_vectors():
    a = _state(w=[[1.0, 0.0], [5.0, 0.0]], v=[0.0, 3.0])
    assert masked_angle(a, _state(w=[[0.0, 2.0], [-1.0, 0.0]], v=[0.0, 1.0]), KEEP) == \
        pytest.approx(90.0)
    assert masked_angle(a, _state(w=[[3.0, 3.0], [0.0, 0.0]], v=[0.0, 0.0]), KEEP) == \
        pytest.approx(45.0)
    assert masked_angle(a, _state(w=[[-2.0, 0.0], [0.0, 0.0]], v=[0.0, 0.0]), KEEP) == \
        pytest.approx(180.0)
    # scale-free: the same direction at ten times the length is at angle 0
    assert masked_angle(a, _state(w=[[10.0, 0.0], [0.0, 0.0]], v=[0.0, 0.0]), KEEP) == \
        pytest.approx(0.0, abs=1e-6)


def test_pruning_stability_reports_both_measures():
    a = _state(w=[[3.0, 0.0], [1.0, 0.0]], v=[0.0, 0.0])
    b = _state(w=[[0.0, 4.0], [1.0, 0.0]], v=[0.0, 0.0])
    assert pruning_stability(a, b, KEEP) == pytest.approx({"distance": 5.0, "angle": 90.0})


def test_states_that_do_not_fit_the_mask_are_refused():
    a = _state(w=[[1.0, 2.0], [3.0, 4.0]], v=[1.0, 2.0])
    with pytest.raises(ValueError, match="lacks"):
        masked_distance(a, {"w": a["w"]}, KEEP)
    with pytest.raises(ValueError, match="shape"):
        masked_distance(a, {"w": a["w"], "v": torch.zeros(3)}, KEEP)
    with pytest.raises(ValueError, match="zeros"):
        masked_angle(a, _state(w=[[0.0, 0.0], [9.0, 0.0]], v=[0.0, 9.0]), KEEP)


def test_trained_networks_are_at_zero_from_themselves_and_apart_from_others(pair, sparse_mask):
    # two copies of one sparse network that saw different batches after iteration 10 end apart,
    # but far closer than unrelated vectors (90 degrees)
    a, b = (r.final_state for r in pair)
    assert pruning_stability(a, a, sparse_mask) == {"distance": 0.0, "angle": 0.0}
    measured = pruning_stability(a, b, sparse_mask)
    assert measured["distance"] > 0 and 0 < measured["angle"] < 90
