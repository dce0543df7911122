"""lthkit.train: deterministic training under a mask, checkpoints, early stopping, resuming.

Runs are LeNet-300-100 on mnist5k for a few dozen iterations: seconds each."""
import copy
import dataclasses

import pytest
import torch
import torch.nn.functional as F

from lthkit import data, masks, models
from lthkit.train import Config, Result, deterministic, evaluate, learning_rate, train

ADAM = Config(optimizer="adam", lr=1.2e-3, batch_size=60, train_steps="30it", eval_every="10it")
SGD = Config(optimizer="sgd", lr=0.05, momentum=0.9, weight_decay=5e-4, batch_size=60,
             train_steps="30it", eval_every="10it")


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def sparse_mask():
    """30% of LeNet's weights, chosen at random (so small and large weights are both pruned)."""
    model = models.build("lenet_300_100", init_seed=0)
    rates = dict.fromkeys(models.prunable(model), 0.7)
    return masks.random_prune(masks.magnitude_prune(masks.weights(model), masks.Mask.ones(model),
                                                    rates), prune_seed=0)


def _run(data_, config, order_seed=0, init_seed=0, **kwargs):
    model = models.build("lenet_300_100", init_seed)
    return model, train(model, data_, config, order_seed, **kwargs)


def _same_state(a, b):
    return set(a) == set(b) and all(torch.equal(a[k], b[k]) for k in a)


# --- masks survive training ------------------------------------------------------------------

@pytest.mark.parametrize("config", [ADAM, SGD], ids=["adam", "sgd-momentum-decay"])
def test_pruned_weights_are_exactly_zero_after_training(mnist, sparse_mask, config):
    initial = models.build("lenet_300_100", 0).state_dict()
    model, result = _run(mnist, config, mask=sparse_mask)
    params = dict(model.named_parameters())
    for name, keep in sparse_mask.items():
        assert torch.count_nonzero(result.final_state[name][~keep]) == 0
        assert torch.count_nonzero(params[name].detach()[~keep]) == 0
        # the survivors did train
        assert not torch.equal(result.final_state[name][keep], initial[name][keep])
    for checkpoint in result.checkpoints.values():
        assert all(torch.count_nonzero(checkpoint[n][~k]) == 0 for n, k in sparse_mask.items())


def test_training_learns(mnist):
    _, result = _run(mnist, dataclasses.replace(ADAM, train_steps="1ep", eval_every="1ep"))
    first, last = result.trajectory[0], result.trajectory[-1]
    assert first["iteration"] == 0 and last["iteration"] == mnist.iterations_per_epoch(60)
    assert last["test_acc"] > 0.75 > first["test_acc"]
    assert last["val_loss"] < first["val_loss"]


# --- determinism -----------------------------------------------------------------------------

@pytest.mark.parametrize("config", [ADAM, SGD], ids=["adam", "sgd-momentum-decay"])
def test_same_seeds_give_bitwise_identical_runs(mnist, sparse_mask, config):
    _, a = _run(mnist, config, order_seed=3, mask=sparse_mask, checkpoints=["5it"])
    _, b = _run(mnist, config, order_seed=3, mask=sparse_mask, checkpoints=["5it"])
    assert a.trajectory == b.trajectory  # floats compared exactly
    assert _same_state(a.final_state, b.final_state)
    assert _same_state(a.checkpoints[5], b.checkpoints[5])
    assert (a.early_stop_iteration, a.early_stop_test_acc) == (b.early_stop_iteration,
                                                               b.early_stop_test_acc)


def test_another_order_seed_changes_the_run(mnist):
    _, a = _run(mnist, ADAM, order_seed=0)
    _, b = _run(mnist, ADAM, order_seed=1)
    assert a.trajectory[0] == b.trajectory[0]  # same initial weights
    assert a.trajectory[1:] != b.trajectory[1:]
    assert not _same_state(a.final_state, b.final_state)


def test_another_init_seed_changes_the_run(mnist):
    _, a = _run(mnist, ADAM, init_seed=0)
    _, b = _run(mnist, ADAM, init_seed=1)
    assert a.trajectory[0] != b.trajectory[0]
    assert not _same_state(a.final_state, b.final_state)


def test_deterministic_context_restores_the_previous_setting():
    before = torch.are_deterministic_algorithms_enabled()
    with deterministic():
        assert torch.are_deterministic_algorithms_enabled()
    assert torch.are_deterministic_algorithms_enabled() == before


# --- trajectory, checkpoints, early stopping ---------------------------------------------------

def test_trajectory_is_evaluated_every_n_iterations_and_at_the_end(mnist):
    _, result = _run(mnist, dataclasses.replace(ADAM, train_steps="25it"), checkpoints=["7it"])
    assert [row["iteration"] for row in result.trajectory] == [0, 7, 10, 20, 25]
    for row in result.trajectory:
        assert set(row) == {"iteration", "val_loss", "val_acc", "test_loss", "test_acc"}
        assert 0.0 <= row["test_acc"] <= 1.0 and row["val_loss"] > 0
    assert result.at(20) is result.trajectory[3]


def test_without_a_validation_split_there_is_no_early_stopping(mnist):
    # Choosing the iteration by test loss would select on the data the accuracy is reported on.
    no_val = data.Dataset("mnist5k", mnist.x_train, mnist.y_train, mnist.x_test, mnist.y_test, 10)
    _, result = _run(no_val, ADAM)
    assert all(set(row) == {"iteration", "test_loss", "test_acc"} for row in result.trajectory)
    assert result.early_stop_iteration is None and result.early_stop_test_acc is None
    assert result.final_test_acc == result.trajectory[-1]["test_acc"]


def test_a_diverged_run_never_early_stops_at_a_nan_loss(mnist):
    config = dataclasses.replace(ADAM, optimizer="sgd", lr=1e6, eval_every="5it")
    _, result = _run(mnist, config)
    losses = [row["val_loss"] for row in result.trajectory]
    assert any(loss != loss for loss in losses)  # the setting does diverge to NaN
    assert result.early_stop_iteration == 0  # the one finite, smallest loss: the initial one


def test_checkpoints_are_the_weights_at_the_requested_steps(mnist, sparse_mask):
    per_epoch = mnist.iterations_per_epoch(60)
    config = dataclasses.replace(ADAM, train_steps="1ep5it", eval_every="1ep")
    model, result = _run(mnist, config, mask=sparse_mask, checkpoints=["0it", "7it", "1ep", 3])
    assert set(result.checkpoints) == {0, 3, 7, per_epoch}
    # step 0 is the initialisation under the mask
    initial = models.build("lenet_300_100", 0)
    masks.apply(initial, sparse_mask)
    assert _same_state(result.checkpoints[0], initial.state_dict())
    # step k is what a run stopped at k ends with
    for step in ("7it", "1ep"):
        _, shorter = _run(mnist, dataclasses.replace(config, train_steps=step), mask=sparse_mask)
        k = per_epoch if step == "1ep" else 7
        assert _same_state(result.checkpoints[k], shorter.final_state)
    # checkpoints are copies, not views of the live weights
    assert not torch.equal(result.checkpoints[7]["layers.0.weight"],
                           model.state_dict()["layers.0.weight"])
    # every checkpointed step also has a row in the trajectory
    assert {0, 3, 7, per_epoch} <= {row["iteration"] for row in result.trajectory}


def test_early_stop_iteration_is_the_minimum_validation_loss(mnist):
    # A large learning rate makes the validation loss bounce, so the minimum is not just the end.
    config = dataclasses.replace(ADAM, lr=0.05, train_steps="40it", eval_every="4it")
    _, result = _run(mnist, config)
    losses = [row["val_loss"] for row in result.trajectory]
    best = losses.index(min(losses))
    assert 0 < best < len(losses) - 1  # the setting makes this a real choice, not the last row
    assert result.early_stop_iteration == result.trajectory[best]["iteration"]
    assert result.early_stop_test_acc == result.trajectory[best]["test_acc"]
    assert result.final_test_acc == result.trajectory[-1]["test_acc"]


def test_testing_only_at_the_validation_minimum_reports_the_same_early_stop(mnist):
    config = dataclasses.replace(ADAM, lr=0.05, train_steps="40it", eval_every="4it")
    _, every = _run(mnist, config)
    _, best = _run(mnist, dataclasses.replace(config, test_at="best"))
    assert [r["val_loss"] for r in best.trajectory] == [r["val_loss"] for r in every.trajectory]
    tested = [r["iteration"] for r in best.trajectory if "test_acc" in r]
    assert tested == sorted({every.early_stop_iteration, 40})  # the minimum (not last) and the end
    assert (best.early_stop_iteration, best.early_stop_test_acc, best.final_test_acc) == (
        every.early_stop_iteration, every.early_stop_test_acc, every.final_test_acc)
    assert all(torch.equal(best.final_state[k], every.final_state[k]) for k in every.final_state)


@pytest.mark.parametrize("test_at", ["every", "best"])
def test_patience_stops_a_run_once_its_validation_loss_stalls(mnist, test_at):
    # lr 0.05 overfits fast: the full run's minimum lies well before its end
    config = dataclasses.replace(ADAM, lr=0.05, train_steps="80it", eval_every="4it")
    _, full = _run(mnist, config)  # tested at every evaluation
    _, patient = _run(mnist, dataclasses.replace(config, patience="12it", test_at=test_at))
    losses = [row["val_loss"] for row in full.trajectory]
    lowest, at = float("inf"), 0
    for row in full.trajectory:  # the first evaluation 12 iterations after the lowest loss so far
        if row["val_loss"] < lowest:
            lowest, at = row["val_loss"], row["iteration"]
        if row["iteration"] - at >= 12:
            stop = row["iteration"]
            break
    assert stop < 80  # the setting makes the stop a real one
    assert patient.iterations == stop and patient.trajectory[-1]["iteration"] == stop
    # the same run up to there: the same losses; its minimum is the lowest so far (the full
    # run may find a lower one later), with the full run's test accuracy there
    assert [r["val_loss"] for r in patient.trajectory] == losses[:stop // 4 + 1]
    assert patient.early_stop_iteration == at
    assert patient.early_stop_test_acc == full.at(at)["test_acc"]
    assert patient.final_test_acc == full.at(stop)["test_acc"]


def test_patience_longer_than_the_run_changes_nothing(mnist):
    _, full = _run(mnist, ADAM)
    _, patient = _run(mnist, dataclasses.replace(ADAM, patience="1000it"))
    assert patient.trajectory == full.trajectory
    assert _same_state(patient.final_state, full.final_state)


@pytest.mark.parametrize("how, message", [(dict(), "validation split"),
                                          (dict(checkpoints=("10it",)), "checkpoints")])
def test_patience_without_validation_or_with_checkpoints_is_refused(mnist, how, message):
    ds = mnist if how else data.Dataset("mnist5k", mnist.x_train, mnist.y_train, mnist.x_test,
                                        mnist.y_test, 10)
    with pytest.raises(ValueError, match=message):
        _run(ds, dataclasses.replace(ADAM, patience="10it"), **how)


def test_an_unknown_test_schedule_is_refused(mnist):
    with pytest.raises(ValueError, match="test_at"):
        _run(mnist, dataclasses.replace(ADAM, test_at="sometimes"))


# --- resuming ----------------------------------------------------------------------------------

RESUMABLE = Config(optimizer="sgd", lr=0.1, weight_decay=5e-4, batch_size=60, train_steps="70it",
                   eval_every="10it", warmup="10it", milestones=("1ep",), gamma=0.1)


@pytest.mark.parametrize("k", [5, 15, "1ep3it"])
def test_resuming_from_the_checkpoint_at_k_reproduces_the_full_run(mnist, sparse_mask, k):
    """Batches and learning rate pick up where they were (SGD keeps no state beyond the weights).

    The schedule warms up for 10 iterations and decays at 1 epoch (59 iterations), so the three
    starting points fall in the warm-up, the plateau and the decayed phase, crossing an epoch."""
    _, full = _run(mnist, RESUMABLE, order_seed=2, mask=sparse_mask, checkpoints=[k])
    (at,) = full.checkpoints
    model = models.build("lenet_300_100", init_seed=9)  # its own weights are all overwritten
    model.load_state_dict(full.checkpoints[at])
    resumed = train(model, mnist, RESUMABLE, order_seed=2, mask=sparse_mask, start=k,
                    checkpoints=[k])
    assert _same_state(resumed.final_state, full.final_state)
    assert _same_state(resumed.checkpoints[at], full.checkpoints[at])
    assert resumed.trajectory[0]["iteration"] == at
    assert resumed.trajectory == [row for row in full.trajectory if row["iteration"] >= at]

    # Sanity check that the comparison can fail: restarting the clock at 0 gives other weights.
    model.load_state_dict(full.checkpoints[at])
    remaining = 70 - at
    restarted = train(model, mnist, dataclasses.replace(RESUMABLE, train_steps=f"{remaining}it"),
                      order_seed=2, mask=sparse_mask)
    assert not _same_state(restarted.final_state, full.final_state)


@pytest.mark.parametrize("config", [ADAM, SGD], ids=["adam", "sgd-momentum-decay"])
def test_continuing_with_the_optimiser_state_is_the_uninterrupted_run(mnist, sparse_mask, config):
    _, full = _run(mnist, config, order_seed=2, mask=sparse_mask, checkpoints=[12])
    model = models.build("lenet_300_100", init_seed=9)
    model.load_state_dict(full.checkpoints[12])
    state = full.optimizer_states[12]
    before = copy.deepcopy(state)
    continued = train(model, mnist, config, order_seed=2, mask=sparse_mask, start=12,
                      optimizer_state=state)
    assert _same_state(continued.final_state, full.final_state)
    # without it, momentum and Adam's moments start again from zero: another run
    model.load_state_dict(full.checkpoints[12])
    afresh = train(model, mnist, config, order_seed=2, mask=sparse_mask, start=12)
    assert not _same_state(afresh.final_state, full.final_state)
    # the state given is copied, not updated in place
    assert _same_state(state["state"][0], before["state"][0])


def test_start_after_the_end_raises(mnist):
    with pytest.raises(ValueError, match="start"):
        _run(mnist, ADAM, start="31it")


def test_start_at_the_end_only_evaluates(mnist):
    model, result = _run(mnist, ADAM, start="30it")
    assert [row["iteration"] for row in result.trajectory] == [30]
    assert _same_state(result.final_state, models.build("lenet_300_100", 0).state_dict())


# --- the learning-rate schedule --------------------------------------------------------------

def test_learning_rate_warms_up_linearly_then_steps_down_at_milestones():
    config = Config(lr=1.0, warmup="4it", milestones=("2ep", "3ep"), gamma=0.5)
    per_epoch = 5
    rates = [learning_rate(config, i, per_epoch) for i in range(20)]
    assert rates[:4] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert rates[4:10] == [1.0] * 6
    assert rates[10:15] == [0.5] * 5  # from iteration 2 × 5
    assert rates[15:] == [0.25] * 5


def test_no_warmup_no_milestones_is_a_constant_rate():
    config = Config(lr=0.3)
    assert {learning_rate(config, i, 7) for i in range(50)} == {0.3}


def test_the_schedule_drives_the_optimiser(mnist):
    # A rate multiplied by 0 from the start: nothing may move.
    frozen = dataclasses.replace(SGD, momentum=0.0, weight_decay=0.0, milestones=("0it",), gamma=0.0)
    _, result = _run(mnist, frozen)
    assert _same_state(result.final_state, models.build("lenet_300_100", 0).state_dict())


def test_the_first_warmup_step_takes_a_fraction_of_the_rate(mnist):
    config = Config(optimizer="sgd", lr=0.4, batch_size=60, train_steps="1it", warmup="4it")
    model = models.build("lenet_300_100", 0)
    x, y = next(mnist.batches(60, order_seed=5, start=0, stop=1))
    F.cross_entropy(model(x), y).backward()
    expected = {n: p.detach() - 0.1 * p.grad for n, p in model.named_parameters()}
    _, result = _run(mnist, config, order_seed=5)
    for n, value in expected.items():
        torch.testing.assert_close(result.final_state[n], value, rtol=1e-5, atol=1e-7)


# --- odds and ends -----------------------------------------------------------------------------

def test_unknown_optimizer_raises(mnist):
    with pytest.raises(ValueError, match="rmsprop"):
        _run(mnist, dataclasses.replace(ADAM, optimizer="rmsprop"))


def test_progress_advances_once_per_iteration(mnist):
    class Bar:
        n = 0

        def update(self, k):
            self.n += k

    bar = Bar()
    _run(mnist, ADAM, start="12it", progress=bar)
    assert bar.n == 30 - 12


def test_evaluate_is_mean_cross_entropy_and_accuracy(mnist):
    model = models.build("lenet_300_100", 4)
    model.train()
    loss, acc = evaluate(model, mnist.x_test, mnist.y_test, chunk=300)
    with torch.no_grad():
        logits = model(mnist.x_test)
    assert loss == pytest.approx(float(F.cross_entropy(logits, mnist.y_test)), rel=1e-5)
    assert acc == int((logits.argmax(1) == mnist.y_test).sum()) / len(mnist.y_test)
    assert model.training  # the mode is restored


def test_result_at_finds_a_row():
    result = Result(trajectory=[{"iteration": 0}, {"iteration": 5}])
    assert result.at(5) == {"iteration": 5}
    with pytest.raises(StopIteration):
        result.at(3)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
def test_training_on_cuda_keeps_pruned_weights_zero_and_returns_cpu_state(mnist, sparse_mask):
    model = models.build("lenet_300_100", 0)
    result = train(model, mnist, ADAM, order_seed=0, mask=sparse_mask, checkpoints=["10it"],
                   device="cuda")
    assert next(model.parameters()).is_cuda
    states = [result.final_state, *result.checkpoints.values()]
    assert all(t.device.type == "cpu" for state in states for t in state.values())
    for name, keep in sparse_mask.items():
        assert torch.count_nonzero(result.final_state[name][~keep]) == 0
    again = train(models.build("lenet_300_100", 0), mnist, ADAM, order_seed=0, mask=sparse_mask,
                  device="cuda")
    assert again.trajectory == result.trajectory  # deterministic on the GPU too


def test_results_come_back_on_the_cpu_and_match_the_default_device(mnist, sparse_mask):
    default = train(models.build("lenet_300_100", 0), mnist, ADAM, order_seed=0, mask=sparse_mask)
    explicit = train(models.build("lenet_300_100", 0), mnist, ADAM, order_seed=0,
                     mask=sparse_mask, device="cpu")
    assert explicit.trajectory == default.trajectory
    assert all(torch.equal(explicit.final_state[k], v) for k, v in default.final_state.items())
    assert all(t.device.type == "cpu" for t in explicit.final_state.values())


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message shown without CUDA")
def test_asking_for_cuda_without_a_gpu_says_how_to_run_on_the_cpu(mnist):
    with pytest.raises(RuntimeError, match="device='cpu'"):
        train(models.build("lenet_300_100", 0), mnist, ADAM, order_seed=0, device="cuda")


# --- conv nets ---------------------------------------------------------------------------------

CONV = Config(optimizer="sgd", lr=0.1, momentum=0.9, weight_decay=1e-4, batch_size=16,
              train_steps="12it", eval_every="4it")


@pytest.fixture(scope="module")
def images():
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(96, 3, 16, 16, generator=generator)
    y = torch.randint(0, 10, (96,), generator=generator)
    return data.Dataset("noise", x[:64], y[:64], x[64:], y[64:], 10, x[64:80], y[64:80],
                        augment=True)


def _conv_run(images, **kwargs):
    model = models.for_data("cifar_vgg_11_8", 0, images)
    return train(model, images, CONV, order_seed=1, **kwargs)


def test_a_conv_net_trains_channels_last_and_its_weights_mean_the_same_in_any_layout(images):
    result = _conv_run(images)
    weight = result.final_state["features.0.weight"]
    assert weight.is_contiguous(memory_format=torch.channels_last)
    assert not weight.is_contiguous()  # the layout really is another one
    usual = models.for_data("cifar_vgg_11_8", 0, images)   # laid out as built
    usual.load_state_dict(result.final_state)
    assert usual.features[0].weight.is_contiguous()
    loss, accuracy = evaluate(usual, images.x_test, images.y_test)
    assert loss == pytest.approx(result.trajectory[-1]["test_loss"], rel=1e-5)
    assert accuracy == result.trajectory[-1]["test_acc"]


def test_a_fully_connected_network_keeps_its_layout(mnist):
    _, result = _run(mnist, dataclasses.replace(ADAM, train_steps="2it"))
    assert all(t.is_contiguous() for t in result.final_state.values())


def test_a_conv_net_continued_from_a_checkpoint_is_the_uninterrupted_run(images):
    full = _conv_run(images, checkpoints=[5])
    model = models.for_data("cifar_vgg_11_8", 9, images)
    model.load_state_dict(full.checkpoints[5])
    continued = train(model, images, CONV, order_seed=1, start=5,
                      optimizer_state=full.optimizer_states[5])
    assert _same_state(continued.final_state, full.final_state)
    assert continued.trajectory[-1] == full.trajectory[-1]


def test_pruned_conv_weights_stay_zero_in_channels_last(images):
    model = models.for_data("cifar_vgg_11_8", 0, images)
    mask = masks.magnitude_prune(masks.weights(model), masks.Mask.ones(model), 0.8)
    result = train(model, images, CONV, order_seed=1, mask=mask)
    for name, keep in mask.items():
        assert torch.count_nonzero(result.final_state[name][~keep]) == 0
        assert torch.count_nonzero(result.final_state[name][keep]) > 0
