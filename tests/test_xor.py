"""lthkit.xor: many XOR networks trained at once, unit-pruned tickets and their twins."""
import pytest
import torch
import torch.nn.functional as F

from lthkit import data, models, xor


pytestmark = pytest.mark.usefixtures("one_thread")


def _stack(*trials):
    """Stacked weights from per-trial (W1 (H,2), b1 (H,), v (H,), c) tuples."""
    return {"fc1.weight": torch.stack([torch.tensor(t[0], dtype=torch.float32) for t in trials]),
            "fc1.bias": torch.stack([torch.tensor(t[1], dtype=torch.float32) for t in trials]),
            "fc2.weight": torch.stack([torch.tensor([t[2]], dtype=torch.float32) for t in trials]),
            "fc2.bias": torch.tensor([[t[3]] for t in trials], dtype=torch.float32)}


# h1 = relu(x1 + x2), h2 = relu(x1 + x2 - 1), output h1 - 2 h2 - 0.5: XOR exactly.
SOLVES = ([[1, 1], [1, 1]], [0, -1], [1, -2], -0.5)
ZERO = ([[0, 0], [0, 0]], [0, 0], [0, 0], 0.0)
INVERTED = ([[1, 1], [1, 1]], [0, -1], [-1, 2], 0.5)  # computes XNOR


def test_success_on_hand_made_weights():
    assert xor.success(_stack(SOLVES, ZERO, INVERTED)).tolist() == [True, False, False]


def test_logits_agree_with_the_registry_networks():
    seeds = [0, 1, 2]
    stacked = xor.initial(3, seeds)
    x = data.load("xor").x_train
    for i, seed in enumerate(seeds):
        model = models.build("xor_mlp_3", seed)
        assert all(torch.equal(stacked[k][i], v) for k, v in model.state_dict().items())
        with torch.no_grad():
            torch.testing.assert_close(xor.logits(stacked, x)[i], model(x))
    assert xor.logits(stacked, x).shape == (3, 4)


def test_keep_units_picks_the_right_units():
    w = xor.initial(4, range(2))
    units = torch.tensor([[2, 0], [1, 3]])
    small = xor.keep_units(w, units)
    assert small["fc1.weight"].shape == (2, 2, 2) and small["fc2.weight"].shape == (2, 1, 2)
    for trial in range(2):
        for slot, unit in enumerate(units[trial].tolist()):
            assert torch.equal(small["fc1.weight"][trial, slot], w["fc1.weight"][trial, unit])
            assert small["fc1.bias"][trial, slot] == w["fc1.bias"][trial, unit]
            assert small["fc2.weight"][trial, 0, slot] == w["fc2.weight"][trial, 0, unit]
    assert torch.equal(small["fc2.bias"], w["fc2.bias"])


def test_the_kept_subnetwork_computes_what_the_masked_network_computes():
    w = xor.initial(6, range(5))
    w["fc1.bias"] = torch.randn(5, 6, generator=torch.Generator().manual_seed(0)) * 0.1
    units = torch.stack([torch.randperm(6, generator=torch.Generator().manual_seed(t))[:3]
                         for t in range(5)])
    masked = {k: v.clone() for k, v in w.items()}
    dropped = torch.ones(5, 6, dtype=torch.bool).scatter(1, units, False)
    masked["fc2.weight"][:, 0, :][dropped] = 0.0
    x = data.load("xor").x_train
    torch.testing.assert_close(xor.logits(xor.keep_units(w, units), x), xor.logits(masked, x))


def test_unit_magnitude_ignores_how_a_relu_unit_is_scaled():
    w = _stack(SOLVES)
    expected = torch.tensor([[1 * 2 ** 0.5, 2 * 2 ** 0.5]])
    torch.testing.assert_close(xor.unit_magnitude(w), expected)
    scaled = {k: v.clone() for k, v in w.items()}
    scaled["fc1.weight"][0, 1] *= 4
    scaled["fc1.bias"][0, 1] *= 4
    scaled["fc2.weight"][0, 0, 1] /= 4
    x = data.load("xor").x_train
    torch.testing.assert_close(xor.logits(scaled, x), xor.logits(w, x))  # the same function
    torch.testing.assert_close(xor.unit_magnitude(scaled), xor.unit_magnitude(w))


def test_one_step_is_gradient_descent_on_each_trials_mean_logistic_loss():
    ds = data.load("xor")
    seeds, lr = [4, 5], 0.5
    stepped = xor.train_many(xor.initial(2, seeds), iterations=1, lr=lr)
    for i, seed in enumerate(seeds):
        model = models.build("xor_mlp_2", seed)
        F.binary_cross_entropy_with_logits(model(ds.x_train), ds.y_train.float()).backward()
        for k, p in model.named_parameters():
            torch.testing.assert_close(stepped[k][i], (p - lr * p.grad).detach())


def test_training_is_deterministic_and_trials_are_independent():
    w = xor.initial(4, range(6))
    before = {k: v.clone() for k, v in w.items()}
    a = xor.train_many(w, iterations=300, lr=0.5)
    b = xor.train_many(w, iterations=300, lr=0.5)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert all(torch.equal(w[k], before[k]) for k in w)  # the input is not trained in place
    assert not all(torch.equal(a[k], w[k]) for k in a)
    # trial 2 trained alone ends where it ended in the stack
    alone = xor.train_many({k: v[2:3] for k, v in w.items()}, iterations=300, lr=0.5)
    for k in a:
        torch.testing.assert_close(alone[k][0], a[k][2], rtol=1e-4, atol=1e-6)


def test_training_solves_xor_from_a_good_start():
    w = _stack(SOLVES)
    w["fc1.weight"] = w["fc1.weight"] + 0.05  # near a solution, not on it
    assert xor.success(xor.train_many(w, iterations=200, lr=0.5)).all()


def test_tickets_restart_the_kept_units_from_their_initial_weights(monkeypatch):
    calls = []
    real = xor.train_many

    def spy(w, iterations, lr):
        calls.append({k: v.clone() for k, v in w.items()})
        return real(w, iterations, lr)

    monkeypatch.setattr(xor, "train_many", spy)
    monkeypatch.setenv("LTHKIT_ENGINE", "threads")  # the spy records calls in this process
    rows = xor.experiment(hidden=[], trials=5, large=6, ticket_units=[2], iterations=50, lr=0.5,
                          first_seed=7)
    assert [(r["kind"], r["hidden"]) for r in rows] == [("ticket", 2), ("reinit", 2)]
    start, ticket, twin = calls
    initial = xor.initial(6, range(7, 12))
    assert all(torch.equal(start[k], initial[k]) for k in start)
    trained = real(initial, 50, 0.5)
    top = torch.argsort(xor.unit_magnitude(trained), dim=1, descending=True, stable=True)[:, :2]
    expected = xor.keep_units(initial, top)
    assert all(torch.equal(ticket[k], expected[k]) for k in ticket)
    # the twin: the same small architecture, freshly drawn weights
    assert twin["fc1.weight"].shape == ticket["fc1.weight"].shape
    assert not torch.equal(twin["fc1.weight"], ticket["fc1.weight"])


def test_a_ticket_as_large_as_its_parent_is_rejected():
    with pytest.raises(ValueError, match="fewer units"):
        xor.experiment(hidden=[], trials=2, large=3, ticket_units=[3], iterations=1, lr=0.5)


def test_wide_networks_and_tickets_succeed_more_often():
    """The mechanism of LTH v1 on XOR: H=2 from scratch often fails, H=10 rarely does, and the
    2-unit tickets pruned from trained H=10 networks beat 2-unit networks drawn afresh."""
    rows = xor.experiment(hidden=[2, 10], trials=64, large=10, ticket_units=[2], iterations=1500,
                          lr=0.5)
    by = {(r["kind"], r["hidden"]): r for r in rows}
    assert set(by) == {("scratch", 2), ("scratch", 10), ("ticket", 2), ("reinit", 2)}
    for row in rows:
        assert row["trials"] == 64 and 0 <= row["successes"] <= 64
        assert row["success_rate"] == row["successes"] / 64
    ticket = by[("ticket", 2)]
    assert ticket["trained_parents"] == by[("scratch", 10)]["successes"]  # same seeds, same nets
    assert ticket["successes_of_trained_parents"] <= min(ticket["successes"],
                                                         ticket["trained_parents"])
    assert by[("scratch", 10)]["success_rate"] > by[("scratch", 2)]["success_rate"] + 0.3
    assert ticket["success_rate"] > by[("reinit", 2)]["success_rate"] + 0.3
