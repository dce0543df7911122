"""lthkit.masks: masks as data, magnitude and random pruning, applying a mask.

Expected masks are computed by brute force (sort every surviving weight by magnitude) and compared
with what the pruning functions return."""
import math

import numpy as np
import pytest
import torch

from lthkit import masks, models
from lthkit.masks import Mask


@pytest.fixture(scope="module")
def lenet():
    return models.build("lenet_300_100", init_seed=0)


@pytest.fixture(scope="module")
def later_weights():
    """A second set of LeNet weights, standing in for the weights after another round of training."""
    return masks.weights(models.build("lenet_300_100", init_seed=1))


def _snapshot(tensors):
    return {n: t.clone() for n, t in tensors.items()}


def _same(a, b):
    return set(a) == set(b) and all(torch.equal(a[n], b[n]) for n in a)


def _brute_force_layer(weight, mask, rate):
    """The mask after removing round(rate × survivors) smallest |w| survivors, ties by position."""
    flat_w, flat_m = weight.abs().flatten().numpy(), mask.flatten().numpy().copy()
    alive = np.flatnonzero(flat_m)
    drop = int(round(len(alive) * rate))
    flat_m[alive[np.argsort(flat_w[alive], kind="stable")[:drop]]] = False
    return torch.from_numpy(flat_m).view_as(mask)


def _check_smallest_removed(weight, before, after):
    """Every removed weight is no larger than every survivor (independent of tie-breaking)."""
    removed = weight.abs()[before & ~after]
    kept = weight.abs()[after]
    if len(removed) and len(kept):
        assert float(removed.max()) <= float(kept.min())
    assert not (after & ~before).any()  # nothing pruned comes back


def test_ones_covers_the_prunable_weights(lenet):
    mask = Mask.ones(lenet)
    assert list(mask) == models.prunable(lenet)
    params = dict(lenet.named_parameters())
    for n, m in mask.items():
        assert m.dtype == torch.bool and m.shape == params[n].shape and bool(m.all())
    assert mask.density() == 1.0 and mask.kept() == mask.size() == 784 * 300 + 300 * 100 + 1000


def test_density_and_layer_density_count_the_kept_weights():
    mask = Mask({"a": torch.tensor([[True, False], [True, True]]), "b": torch.zeros(6, dtype=torch.bool)})
    mask["b"][:3] = True
    assert mask.kept() == 6 and mask.size() == 10
    assert mask.density() == pytest.approx(0.6)
    assert mask.layer_density() == {"a": pytest.approx(0.75), "b": pytest.approx(0.5)}


def test_fingerprint_identifies_the_mask():
    a = Mask({"w": torch.tensor([True, False, True])})
    b = Mask({"w": torch.tensor([True, False, True])})
    c = Mask({"w": torch.tensor([True, True, False])})
    assert a.fingerprint() == b.fingerprint() != c.fingerprint()


def test_weights_are_the_prunable_tensors_detached(lenet):
    w = masks.weights(lenet)
    assert list(w) == models.prunable(lenet)
    assert all(not t.requires_grad for t in w.values())


def test_layer_rates_give_the_output_layer_its_own_rate(lenet):
    mask = Mask.ones(lenet)
    rates = masks.layer_rates(mask, 0.2, 0.1, models.output_layer(lenet))
    assert rates == {"layers.0.weight": 0.2, "layers.1.weight": 0.2, "layers.2.weight": 0.1}
    assert masks.layer_rates(mask, 0.2, 0.1) == rates  # the last layer by default
    assert masks.layer_rates(mask, 0.3) == dict.fromkeys(mask, 0.3)


def test_layerwise_pruning_twice_with_the_lth_rates(lenet, later_weights):
    """LeNet: 20% of hidden weights and 10% of the output layer per round, twice."""
    first_weights = masks.weights(lenet)
    ones = Mask.ones(lenet)
    rates = masks.layer_rates(ones, 0.2, 0.1, models.output_layer(lenet))

    once = masks.magnitude_prune(first_weights, ones, rates)
    twice = masks.magnitude_prune(later_weights, once, rates)

    for n in ones:
        size, rate = ones[n].numel(), rates[n]
        after_one = size - round(size * rate)
        after_two = after_one - round(after_one * rate)
        assert int(once[n].sum()) == after_one
        assert int(twice[n].sum()) == after_two  # the second round takes rate of the *survivors*
        assert torch.equal(once[n], _brute_force_layer(first_weights[n], ones[n], rate))
        assert torch.equal(twice[n], _brute_force_layer(later_weights[n], once[n], rate))
        _check_smallest_removed(first_weights[n], ones[n], once[n])
        # In round two only the survivors compete: weights pruned in round one may be large now.
        _check_smallest_removed(later_weights[n], once[n], twice[n])
    assert twice.density() == pytest.approx(
        sum(int(twice[n].sum()) for n in ones) / ones.size())
    assert 0.6 < twice.density() < 0.7  # mostly the first layer: 0.8² = 0.64


def test_layerwise_single_rate_applies_to_every_layer(lenet):
    w = masks.weights(lenet)
    pruned = masks.magnitude_prune(w, Mask.ones(lenet), 0.5)
    for n, m in pruned.items():
        assert int(m.sum()) == m.numel() - round(m.numel() * 0.5)


def test_layers_without_a_rate_are_left_alone(lenet):
    w = masks.weights(lenet)
    ones = Mask.ones(lenet)
    pruned = masks.magnitude_prune(w, ones, {"layers.1.weight": 0.3})
    assert bool(pruned["layers.0.weight"].all()) and bool(pruned["layers.2.weight"].all())
    assert int((~pruned["layers.1.weight"]).sum()) == round(30000 * 0.3)


def test_global_pruning_matches_one_brute_force_ranking(lenet, later_weights):
    first_weights = masks.weights(lenet)
    ones = Mask.ones(lenet)
    once = masks.magnitude_prune(first_weights, ones, 0.2, scope="global")
    twice = masks.magnitude_prune(later_weights, once, 0.3, scope="global")
    for weights, before, after, rate in ((first_weights, ones, once, 0.2),
                                         (later_weights, once, twice, 0.3)):
        # One ranking of every survivor of every layer: the drop-th smallest magnitude is the
        # threshold; everything below it goes, and of the weights equal to it, the first ones in
        # (layer, position) order.
        survivors = np.concatenate([weights[n].abs().numpy()[before[n].numpy()] for n in before])
        drop = round(len(survivors) * rate)
        threshold = np.sort(survivors)[drop - 1]
        ties_to_drop = drop - int((survivors < threshold).sum())
        expected = {}
        for n in before:
            magnitude, alive = weights[n].abs().numpy(), before[n].numpy()
            removed = alive & (magnitude < threshold)
            at_threshold = np.flatnonzero((alive & (magnitude == threshold)).flatten())
            taken = at_threshold[:ties_to_drop]
            ties_to_drop -= len(taken)
            removed.flat[taken] = True
            expected[n] = torch.from_numpy(alive & ~removed)
        for n in before:
            assert torch.equal(after[n], expected[n])
        assert after.kept() == before.kept() - drop
        everywhere_removed = torch.cat([weights[n].abs()[before[n] & ~after[n]] for n in before])
        everywhere_kept = torch.cat([weights[n].abs()[after[n]] for n in before])
        assert float(everywhere_removed.max()) <= float(everywhere_kept.min())


def test_global_pruning_takes_more_from_layers_of_small_weights(lenet):
    w = {n: t.sign() * (t.abs() + 1) for n, t in masks.weights(lenet).items()}
    w["layers.1.weight"] = masks.weights(lenet)["layers.1.weight"]  # the only |w| < 1
    ones = Mask.ones(lenet)
    pruned = masks.magnitude_prune(w, ones, 30000 / ones.size(), scope="global")
    assert int(pruned["layers.1.weight"].sum()) == 0
    assert bool(pruned["layers.0.weight"].all()) and bool(pruned["layers.2.weight"].all())
    layerwise = masks.magnitude_prune(w, ones, 30000 / ones.size())
    assert layerwise.layer_density()["layers.1.weight"] > 0.8


def test_ties_are_broken_by_position():
    w = {"w": torch.ones(2, 5)}
    mask = Mask({"w": torch.ones(2, 5, dtype=torch.bool)})
    for scope in ("layer", "global"):
        pruned = masks.magnitude_prune(w, mask, 0.4, scope=scope)
        assert pruned["w"].flatten().tolist() == [False] * 4 + [True] * 6


def test_pruned_weights_do_not_compete_even_when_small():
    w = {"w": torch.tensor([0.0, 0.0, 5.0, 1.0, 3.0, 2.0])}
    mask = Mask({"w": torch.tensor([False, False, True, True, True, True])})
    for scope in ("layer", "global"):
        pruned = masks.magnitude_prune(w, mask, 0.5, scope=scope)
        assert pruned["w"].tolist() == [False, False, True, False, True, False]


def test_rate_zero_changes_nothing(lenet, later_weights):
    once = masks.magnitude_prune(masks.weights(lenet), Mask.ones(lenet), 0.2)
    for scope in ("layer", "global"):
        again = masks.magnitude_prune(later_weights, once, 0.0, scope=scope)
        assert _same(again, once)
        assert all(again[n] is not once[n] for n in once)  # a new mask, not the old tensors


@pytest.mark.parametrize("rate", [-0.1, 1.0, 1.5, math.nan])
def test_bad_rates_raise(lenet, rate):
    w, ones = masks.weights(lenet), Mask.ones(lenet)
    with pytest.raises(ValueError, match="rate"):
        masks.magnitude_prune(w, ones, rate)
    with pytest.raises(ValueError, match="rate"):
        masks.magnitude_prune(w, ones, rate, scope="global")
    with pytest.raises(ValueError, match="layers.1.weight"):
        masks.magnitude_prune(w, ones, {"layers.0.weight": 0.2, "layers.1.weight": rate})


def test_bad_scope_and_bad_rate_names_raise(lenet):
    w, ones = masks.weights(lenet), Mask.ones(lenet)
    with pytest.raises(ValueError, match="scope"):
        masks.magnitude_prune(w, ones, 0.2, scope="neuron")
    with pytest.raises(ValueError, match="fc9.weight"):
        masks.magnitude_prune(w, ones, {"fc9.weight": 0.2})
    with pytest.raises(ValueError, match="one rate"):
        masks.magnitude_prune(w, ones, {"layers.0.weight": 0.2}, scope="global")


def test_pruning_does_not_mutate_its_inputs(lenet, later_weights):
    once = masks.magnitude_prune(masks.weights(lenet), Mask.ones(lenet), 0.2)
    mask_before, weights_before = _snapshot(once), _snapshot(later_weights)
    for scope in ("layer", "global"):
        masks.magnitude_prune(later_weights, once, 0.5, scope=scope)
        assert _same(once, mask_before) and _same(later_weights, weights_before)
    masks.random_prune(once, prune_seed=0)
    assert _same(once, mask_before)


def test_random_prune_keeps_each_layers_density_exactly(lenet):
    rates = {"layers.0.weight": 0.7, "layers.1.weight": 0.4, "layers.2.weight": 0.1}
    like = masks.magnitude_prune(masks.weights(lenet), Mask.ones(lenet), rates)
    random = masks.random_prune(like, prune_seed=0)
    assert list(random) == list(like)
    for n in like:
        assert random[n].shape == like[n].shape and random[n].dtype == torch.bool
        assert int(random[n].sum()) == int(like[n].sum())
        assert not torch.equal(random[n], like[n])
    assert random.density() == like.density()


def test_random_prune_depends_on_the_seed(lenet):
    like = masks.magnitude_prune(masks.weights(lenet), Mask.ones(lenet), 0.5)
    a = masks.random_prune(like, prune_seed=1)
    assert _same(a, masks.random_prune(like, prune_seed=1))
    b = masks.random_prune(like, prune_seed=2)
    assert all(not torch.equal(a[n], b[n]) for n in like)


def test_random_prune_leaves_the_global_random_stream_alone(lenet):
    like = Mask.ones(lenet)
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    masks.random_prune(like, prune_seed=9)
    assert torch.equal(torch.rand(3), expected)


def test_apply_zeroes_exactly_the_pruned_weights():
    model = models.build("lenet_300_100", init_seed=3)
    before = _snapshot(dict(model.named_parameters()))
    mask = masks.random_prune(masks.magnitude_prune(masks.weights(model), Mask.ones(model), 0.6), 4)
    assert masks.apply(model, mask) is model
    params = dict(model.named_parameters())
    for n, p in params.items():
        if n in mask:
            assert torch.count_nonzero(p[~mask[n]]) == 0
            assert torch.equal(p[mask[n]], before[n][mask[n]])
        else:  # biases are not masked
            assert torch.equal(p, before[n])
    assert all(p.requires_grad for p in params.values())


def test_mask_gradients_zeroes_the_gradients_of_pruned_weights():
    model = models.build("lenet_300_100", init_seed=0)
    mask = masks.random_prune(masks.magnitude_prune(masks.weights(model), Mask.ones(model), 0.5), 1)
    model(torch.randn(4, 784)).sum().backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters()}
    masks.mask_gradients(model, mask)
    for n, p in model.named_parameters():
        if n in mask:
            assert torch.count_nonzero(p.grad[~mask[n]]) == 0
            assert torch.equal(p.grad[mask[n]], grads[n][mask[n]])
        else:
            assert torch.equal(p.grad, grads[n])
