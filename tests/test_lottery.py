"""lthkit.lottery: iterative magnitude pruning with rewinding, its controls, and the store.

A tiny IMP (LeNet on mnist5k, 2 rounds of 30 iterations, rewinding to iteration 10) runs once
with every training call recorded; the tests then redo by hand what IMP should have done and
compare bitwise."""
import dataclasses

import pytest
import torch

import lthkit.engine
import lthkit.lottery
from lthkit import data, masks, models
from lthkit.lottery import Experiment, imp, runs
from lthkit.steps import Step
from lthkit.train import Config, evaluate, train

CONFIG = Config(optimizer="adam", lr=1.2e-3, batch_size=60, train_steps="30it", eval_every="10it")
EXPERIMENT = Experiment(model="lenet_300_100", dataset="mnist5k", train=CONFIG, rounds=2,
                        prune_rate=0.2, output_prune_rate=0.1, rewind_step="10it")
REWIND = 10
SEED = 0


class Spy:
    """Stands in for ``lthkit.engine.train``: records each call, then trains for real."""

    def __init__(self, fail_after=None):
        self.calls, self.fail_after = [], fail_after

    def __call__(self, model, data_, config, order_seed, *, mask=None, start=0, **kwargs):
        if self.fail_after is not None and len(self.calls) == self.fail_after:
            raise KeyboardInterrupt("interrupted")
        call = {"initial": {k: v.clone() for k, v in model.state_dict().items()},
                "mask": None if mask is None else masks.Mask({n: m.clone() for n, m in mask.items()}),
                "start": start, "order_seed": order_seed, "config": config}
        call["result"] = train(model, data_, config, order_seed, mask=mask, start=start, **kwargs)
        self.calls.append(call)
        return call["result"]


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(autouse=True, scope="module")
def one_worker():
    """One engine worker, so the spies record the runs of a round in a fixed order; the rows
    do not depend on the number of workers (the last test)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LTHKIT_WORKERS", "1")
        yield


@pytest.fixture(scope="module")
def recorded(mnist, tmp_path_factory):
    """IMP run once into a fresh store, with its training calls recorded in order."""
    store_root = tmp_path_factory.mktemp("store")
    spy = Spy()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LTHKIT_STORE", str(store_root))
        patch.setattr(lthkit.engine, "train", spy)
        rows = imp(EXPERIMENT, mnist, seed=SEED)
    return {"rows": rows, "calls": spy.calls, "store": store_root}


@pytest.fixture(scope="module")
def by_hand(mnist):
    """IMP redone step by step from the public pieces: dense run, prune, rewind, train."""
    dense = train(models.build("lenet_300_100", SEED), mnist, CONFIG, SEED, checkpoints=[REWIND])
    rewind_state = dense.checkpoints[REWIND]
    mask = masks.Mask.ones(models.build("lenet_300_100", SEED))
    previous, ticket_masks, tickets = dense.final_state, [], []
    for _ in range(EXPERIMENT.rounds):
        trained = {n: previous[n] for n in mask}
        mask = masks.magnitude_prune(trained, mask, masks.layer_rates(mask, 0.2, 0.1))
        model = models.build("lenet_300_100", SEED)
        model.load_state_dict(rewind_state)
        result = train(model, mnist, CONFIG, SEED, mask=mask, start=REWIND)
        ticket_masks.append(mask)
        tickets.append(result)
        previous = result.final_state
    return {"dense": dense, "rewind_state": rewind_state, "masks": ticket_masks, "tickets": tickets}


def _untimed(rows):
    """Rows without their wall-clock seconds, the one field a recomputation may change."""
    return [{k: v for k, v in row.items() if k != "seconds"} for row in rows]


def _same(a, b):
    return set(a) == set(b) and all(torch.equal(a[k], b[k]) for k in a)


def _calls(recorded, kind, round_):
    """The recorded training call for (kind, round): round 0 trains the dense network, then the
    short run to the rewind step; IMP trains ticket, reinit, random per later round."""
    if round_ == 0:
        return recorded["calls"][0]
    return recorded["calls"][2 + 3 * (round_ - 1) + ("ticket", "reinit", "random").index(kind)]


def _iteration(step, data_):
    return Step.parse(step).iterations(data_.iterations_per_epoch(CONFIG.batch_size))


def _expected_layer_kept(sizes, rates, rounds):
    kept = dict(sizes)
    for _ in range(rounds):
        kept = {n: k - round(k * rates[n]) for n, k in kept.items()}
    return kept


# --- rows ----------------------------------------------------------------------------------------

def test_rows_one_per_round_and_kind(recorded):
    rows = recorded["rows"]
    assert [(r["round"], r["kind"]) for r in rows] == [
        (0, "ticket"), (1, "ticket"), (1, "reinit"), (1, "random"),
        (2, "ticket"), (2, "reinit"), (2, "random")]
    assert len(rows) == runs(EXPERIMENT) == len(recorded["calls"]) - 1  # and the rewind run
    for row in rows:
        assert {"round", "kind", "density", "weights_remaining", "early_stop_iteration",
                "early_stop_test_acc", "final_test_acc", "trajectory"} <= set(row)
        assert row["weights_remaining"] == pytest.approx(100 * row["density"])
        assert 0 <= row["early_stop_test_acc"] <= 1


def test_rows_report_their_own_training_run(recorded):
    calls = [recorded["calls"][0], *recorded["calls"][2:]]  # not the run to the rewind step
    for row, call in zip(recorded["rows"], calls, strict=True):
        result = call["result"]
        assert row["trajectory"] == result.trajectory
        assert row["early_stop_iteration"] == result.early_stop_iteration
        assert row["early_stop_test_acc"] == result.early_stop_test_acc
        assert row["final_test_acc"] == result.final_test_acc


def test_density_falls_per_round_as_the_rates_say(recorded):
    model = models.build("lenet_300_100", 0)
    sizes = {n: p.numel() for n, p in masks.weights(model).items()}
    rates = {n: 0.2 for n in sizes} | {models.output_layer(model): 0.1}
    total = sum(sizes.values())
    for round_ in range(EXPERIMENT.rounds + 1):
        kept = _expected_layer_kept(sizes, rates, round_)
        density = sum(kept.values()) / total
        for row in recorded["rows"]:
            if row["round"] == round_:
                assert row["density"] == pytest.approx(density, abs=1e-12)
        if round_:
            mask = _calls(recorded, "ticket", round_)["mask"]
            assert {n: int(m.sum()) for n, m in mask.items()} == kept
            hidden, output = mask.layer_density()["layers.0.weight"], mask.layer_density()[
                "layers.2.weight"]
            assert hidden == pytest.approx(0.8 ** round_, abs=1e-3)
            assert output == pytest.approx(0.9 ** round_, abs=1e-3)


# --- rewinding -----------------------------------------------------------------------------------

def test_the_dense_run_is_the_plain_training_run(recorded, by_hand):
    call = _calls(recorded, "ticket", 0)
    assert call["mask"] is None and call["start"] == 0
    assert _same(call["initial"], models.build("lenet_300_100", SEED).state_dict())
    assert _same(call["result"].final_state, by_hand["dense"].final_state)


def test_the_weights_at_the_rewind_step_are_the_dense_runs_own(recorded, by_hand):
    # a run of REWIND iterations with the dense run's seeds ends bitwise where the dense run was
    short = recorded["calls"][1]
    assert short["mask"] is None and short["start"] == 0
    assert short["config"].train_steps == f"{REWIND}it"
    assert _same(short["initial"], models.build("lenet_300_100", SEED).state_dict())
    assert _same(short["result"].final_state, by_hand["rewind_state"])


def test_one_dense_run_serves_every_rewind_step_and_pruning_rate(recorded, mnist, monkeypatch):
    monkeypatch.setenv("LTHKIT_STORE", str(recorded["store"]))
    spy = Spy()
    monkeypatch.setattr(lthkit.engine, "train", spy)
    other = dataclasses.replace(EXPERIMENT, rounds=1, controls=(), rewind_step="20it",
                                prune_rate=0.3)
    rows = imp(other, mnist, seed=SEED)
    # the dense run comes from the store; the run to iteration 20 and the ticket train
    assert [(c["start"], c["config"].train_steps, c["mask"] is None) for c in spy.calls] == [
        (0, "20it", True), (20, "30it", False)]
    assert _untimed(rows[:1]) == _untimed(recorded["rows"][:1])


def test_the_mask_prunes_the_previous_rounds_trained_weights(recorded, by_hand):
    for round_ in range(1, EXPERIMENT.rounds + 1):
        assert _same(_calls(recorded, "ticket", round_)["mask"], by_hand["masks"][round_ - 1])


def test_a_ticket_restarts_from_the_checkpoint_at_the_rewind_step_under_the_mask(recorded, by_hand,
                                                                                 mnist):
    rewind_state = by_hand["rewind_state"]
    for round_ in range(1, EXPERIMENT.rounds + 1):
        call = _calls(recorded, "ticket", round_)
        assert _iteration(call["start"], mnist) == REWIND
        assert _same(call["initial"], rewind_state)  # the weights at step k, not at step 0
        assert not _same(call["initial"], models.build("lenet_300_100", SEED).state_dict())
        # What it trains from is rewind_state ⊙ mask: its first evaluation, at the rewind step,
        # is that network's.
        model = models.build("lenet_300_100", SEED)
        model.load_state_dict(rewind_state)
        masks.apply(model, call["mask"])
        first = call["result"].trajectory[0]
        assert first["iteration"] == REWIND
        assert (first["test_loss"], first["test_acc"]) == evaluate(model, mnist.x_test, mnist.y_test)
        assert (first["val_loss"], first["val_acc"]) == evaluate(model, mnist.x_val, mnist.y_val)
        # and from there it is the run redone by hand, bitwise
        assert _same(call["result"].final_state, by_hand["tickets"][round_ - 1].final_state)
        assert call["result"].trajectory == by_hand["tickets"][round_ - 1].trajectory


def test_rewinding_to_zero_is_the_original_lottery_ticket(mnist, tmp_path, monkeypatch):
    monkeypatch.setenv("LTHKIT_STORE", str(tmp_path))
    spy = Spy()
    monkeypatch.setattr(lthkit.engine, "train", spy)
    experiment = dataclasses.replace(EXPERIMENT, rounds=1, rewind_step="0it", controls=())
    rows = imp(experiment, mnist, seed=3)
    assert [r["kind"] for r in rows] == ["ticket", "ticket"]
    assert len(spy.calls) == 2  # at step 0 the rewound weights are the initial ones: no run
    ticket = spy.calls[1]
    assert _iteration(ticket["start"], mnist) == 0
    assert _same(ticket["initial"], models.build("lenet_300_100", 3).state_dict())
    assert ticket["order_seed"] == spy.calls[0]["order_seed"] == 3


# --- controls ------------------------------------------------------------------------------------

def test_reinit_control_has_the_tickets_mask_on_other_weights(recorded):
    for round_ in range(1, EXPERIMENT.rounds + 1):
        ticket, reinit = _calls(recorded, "ticket", round_), _calls(recorded, "reinit", round_)
        assert _same(reinit["mask"], ticket["mask"])
        for n, keep in ticket["mask"].items():
            assert not torch.equal(reinit["initial"][n][keep], ticket["initial"][n][keep])
            assert not torch.equal(reinit["initial"][n],
                                   models.build("lenet_300_100", SEED).state_dict()[n])
        assert reinit["result"].trajectory[0]["iteration"] == 0  # trained from scratch
    # each round draws its own fresh weights
    a, b = _calls(recorded, "reinit", 1)["initial"], _calls(recorded, "reinit", 2)["initial"]
    assert not _same(a, b)


def test_random_control_has_the_same_layer_density_but_another_mask(recorded, by_hand):
    for round_ in range(1, EXPERIMENT.rounds + 1):
        ticket, random = _calls(recorded, "ticket", round_), _calls(recorded, "random", round_)
        for n, keep in ticket["mask"].items():
            assert int(random["mask"][n].sum()) == int(keep.sum())
            assert not torch.equal(random["mask"][n], keep)
        # the same rewound weights, only the mask differs
        assert _same(random["initial"], by_hand["rewind_state"])
        assert random["start"] == ticket["start"]
        final = random["result"].final_state
        assert all(torch.count_nonzero(final[n][~m]) == 0 for n, m in random["mask"].items())
    assert not _same(_calls(recorded, "random", 1)["mask"], _calls(recorded, "random", 2)["mask"])


def test_controls_can_be_left_out_and_unknown_ones_are_rejected():
    assert runs(dataclasses.replace(EXPERIMENT, controls=())) == 1 + EXPERIMENT.rounds
    assert runs(dataclasses.replace(EXPERIMENT, controls=("random",))) == 1 + 2 * EXPERIMENT.rounds
    with pytest.raises(ValueError, match="shuffle"):
        Experiment(controls=("reinit", "shuffle"))


# --- the store -----------------------------------------------------------------------------------

def test_a_second_call_is_answered_from_the_store(recorded, mnist, monkeypatch):
    monkeypatch.setenv("LTHKIT_STORE", str(recorded["store"]))
    spy = Spy()
    monkeypatch.setattr(lthkit.engine, "train", spy)
    bar = Progress()
    rows = imp(EXPERIMENT, mnist, seed=SEED, progress=bar)
    assert spy.calls == []
    assert _untimed(rows) == _untimed(recorded["rows"])
    assert bar.n == runs(EXPERIMENT)


def test_rows_can_carry_each_runs_weights_and_mask(recorded, mnist, monkeypatch):
    monkeypatch.setenv("LTHKIT_STORE", str(recorded["store"]))
    spy = Spy()
    monkeypatch.setattr(lthkit.engine, "train", spy)
    rows = lthkit.lottery.imp_seeds(EXPERIMENT, mnist, [SEED], states=True)
    assert spy.calls == []                       # the weights come from the store
    assert {row["kind"] for row in rows} == {"ticket", "reinit", "random"}
    for row in rows:
        call = _calls(recorded, row["kind"], row["round"])
        assert _same(row["final_state"], call["result"].final_state)
        expected = call["mask"] or masks.Mask.ones(models.build("lenet_300_100", SEED))
        assert _same(row["mask"], expected)      # a random control's own random mask
    assert "final_state" not in recorded["rows"][0]  # only when asked: they are large


def test_another_seed_is_another_computation(recorded, mnist, monkeypatch):
    monkeypatch.setenv("LTHKIT_STORE", str(recorded["store"]))
    spy = Spy()
    monkeypatch.setattr(lthkit.engine, "train", spy)
    experiment = dataclasses.replace(EXPERIMENT, rounds=0)
    imp(experiment, mnist, seed=SEED + 1)
    assert len(spy.calls) == 2  # the dense run and the run to the rewind step


def test_an_interrupted_imp_resumes_where_it_stopped(recorded, mnist, tmp_path, monkeypatch):
    monkeypatch.setenv("LTHKIT_STORE", str(tmp_path))
    monkeypatch.setattr(lthkit.engine, "train", Spy(fail_after=3))
    with pytest.raises(KeyboardInterrupt):
        imp(EXPERIMENT, mnist, seed=SEED)
    spy = Spy()
    monkeypatch.setattr(lthkit.engine, "train", spy)
    rows = imp(EXPERIMENT, mnist, seed=SEED)
    # three finished training runs are not redone: the dense run, the run to the rewind step
    # and the first ticket
    assert len(spy.calls) == runs(EXPERIMENT) + 1 - 3
    assert _untimed(rows) == _untimed(recorded["rows"])


class Progress:
    n = 0

    def update(self, k):
        self.n += k


# --- global pruning ------------------------------------------------------------------------------

def test_global_scope_ranks_all_layers_together(mnist, tmp_path, monkeypatch):
    monkeypatch.setenv("LTHKIT_STORE", str(tmp_path))
    spy = Spy()
    monkeypatch.setattr(lthkit.engine, "train", spy)
    experiment = dataclasses.replace(EXPERIMENT, rounds=1, scope="global", controls=())
    rows = imp(experiment, mnist, seed=SEED)
    dense_final = spy.calls[0]["result"].final_state
    ones = masks.Mask.ones(models.build("lenet_300_100", SEED))
    expected = masks.magnitude_prune({n: dense_final[n] for n in ones}, ones, 0.2, scope="global")
    assert _same(spy.calls[2]["mask"], expected)
    assert rows[1]["density"] == pytest.approx(1 - round(ones.size() * 0.2) / ones.size())
    # one ranking, so the layers do not all lose exactly 20%
    assert len({round(d, 3) for d in expected.layer_density().values()}) > 1


def test_a_rewind_step_after_the_end_of_training_is_refused_before_training(mnist, tmp_path,
                                                                            monkeypatch):
    monkeypatch.setenv("LTHKIT_STORE", str(tmp_path))
    spy = Spy()
    monkeypatch.setattr(lthkit.engine, "train", spy)
    experiment = dataclasses.replace(EXPERIMENT, rounds=1, rewind_step="40it", controls=())
    try:
        with pytest.raises(ValueError, match="rewind_step"):
            imp(experiment, mnist, seed=SEED)
    finally:
        assert spy.calls == []


def test_rows_do_not_depend_on_the_number_of_workers(mnist, tmp_path, monkeypatch):
    small = dataclasses.replace(EXPERIMENT, rounds=1,
                                train=dataclasses.replace(CONFIG, train_steps="12it"))
    ticks = []

    class Bar:
        def update(self, n=1):
            ticks.append(n)

    monkeypatch.setenv("LTHKIT_STORE", str(tmp_path / "parallel"))
    parallel = lthkit.lottery.imp_seeds(small, mnist, [3, 4], n_workers=2, progress=Bar())
    monkeypatch.setenv("LTHKIT_STORE", str(tmp_path / "serial"))
    serial = lthkit.lottery.imp_seeds(small, mnist, [3, 4], n_workers=1)
    assert [(r["seed"], r["round"], r["kind"]) for r in parallel] == \
        [(s, r, k) for s in (3, 4) for r, k in ((0, "ticket"), (1, "ticket"), (1, "reinit"),
                                                 (1, "random"))]
    assert [r["trajectory"] for r in parallel] == [r["trajectory"] for r in serial]
    assert sum(ticks) == 2 * runs(small)  # every run advanced the bar once


def test_a_sweep_over_rewind_steps_trains_each_dense_network_once(mnist, tmp_path, monkeypatch):
    small = dataclasses.replace(EXPERIMENT, rounds=1, controls=("reinit",),
                                train=dataclasses.replace(CONFIG, train_steps="12it"))
    sweep = [dataclasses.replace(small, rewind_step=f"{k}it") for k in (0, 4, 8)]
    monkeypatch.setenv("LTHKIT_STORE", str(tmp_path / "sweep"))
    monkeypatch.setenv("LTHKIT_ENGINE", "threads")  # the spy counts calls in this process
    spy = Spy()
    monkeypatch.setattr(lthkit.engine, "train", spy)
    together = lthkit.lottery.imp_many(sweep, mnist, [3, 4], n_workers=2)
    dense = [c for c in spy.calls if c["mask"] is None and c["config"].train_steps == "12it"]
    assert len(dense) == 2  # one per seed, not one per seed and rewind step
    assert len(spy.calls) == 2 + 2 * 2 + 3 * 2 * 2  # dense, runs to steps 4 and 8, round 1
    monkeypatch.setenv("LTHKIT_STORE", str(tmp_path / "alone"))
    monkeypatch.setattr(lthkit.engine, "train", train)
    for i, experiment in enumerate(sweep):
        rows = [r for r in together if r["experiment"] == i]
        alone = lthkit.lottery.imp_seeds(experiment, mnist, [3, 4])
        assert [(r["seed"], r["round"], r["kind"]) for r in rows] == \
            [(s, r, k) for s in (3, 4) for r, k in ((0, "ticket"), (1, "ticket"), (1, "reinit"))]
        assert [r["trajectory"] for r in rows] == [r["trajectory"] for r in alone]


def test_imp_refuses_a_dataset_without_a_validation_split(mnist, tmp_path, monkeypatch):
    monkeypatch.setenv("LTHKIT_STORE", str(tmp_path))
    no_val = data.Dataset("mnist5k", mnist.x_train, mnist.y_train, mnist.x_test, mnist.y_test, 10)
    with pytest.raises(ValueError, match="validation split"):
        imp(EXPERIMENT, no_val, seed=SEED)


def test_controls_every_other_round_keep_the_last_round(mnist, tmp_path, monkeypatch):
    monkeypatch.setenv("LTHKIT_STORE", str(tmp_path))
    experiment = dataclasses.replace(EXPERIMENT, rounds=3, control_every=2,
                                     train=dataclasses.replace(CONFIG, train_steps="12it"))
    rows = imp(experiment, mnist, seed=SEED)
    assert [(r["round"], r["kind"]) for r in rows] == [
        (0, "ticket"), (1, "ticket"), (1, "reinit"), (1, "random"), (2, "ticket"),
        (3, "ticket"), (3, "reinit"), (3, "random")]
    assert runs(experiment) == len(rows)
    with pytest.raises(ValueError, match="control_every"):
        Experiment(control_every=0)


@pytest.mark.parametrize("scope", ["layer", "global"])
def test_weights_remaining_predicts_the_densities_imp_reaches(recorded, mnist, tmp_path,
                                                              monkeypatch, scope):
    if scope == "layer":
        rows = recorded["rows"]
    else:
        monkeypatch.setenv("LTHKIT_STORE", str(tmp_path))
        rows = imp(dataclasses.replace(EXPERIMENT, scope="global", controls=()), mnist, seed=SEED)
    reached = [r["weights_remaining"] for r in rows if r["kind"] == "ticket"]
    expected = lthkit.lottery.weights_remaining(dataclasses.replace(EXPERIMENT, scope=scope))
    assert reached == pytest.approx(expected, abs=1e-9)
    assert expected[0] == 100.0 and expected[1] < 80.2


def test_controls_can_train_longer_without_touching_the_tickets(recorded, mnist, monkeypatch):
    monkeypatch.setenv("LTHKIT_STORE", str(recorded["store"]))
    spy = Spy()
    monkeypatch.setattr(lthkit.engine, "train", spy)
    longer = dataclasses.replace(EXPERIMENT, control_steps="45it")
    rows = imp(longer, mnist, seed=SEED)
    # the tickets come from the store entries of the plain run; only the controls train again
    assert [call["config"].train_steps for call in spy.calls] == ["45it"] * 4
    assert {r["kind"]: r["iterations"] for r in rows if r["round"] == 2} == {
        "ticket": 30 - REWIND, "reinit": 45, "random": 45 - REWIND}
    tickets = [r for r in rows if r["kind"] == "ticket"]
    assert _untimed(tickets) == _untimed([r for r in recorded["rows"] if r["kind"] == "ticket"])


def test_several_experiments_train_together_as_they_would_apart(recorded, mnist, tmp_path,
                                                                monkeypatch):
    monkeypatch.setenv("LTHKIT_STORE", str(tmp_path))
    other = dataclasses.replace(EXPERIMENT, rewind_step="0it", rounds=1, controls=())
    rows = lthkit.lottery.imp_many([EXPERIMENT, other], mnist, [SEED])
    first = [r for r in rows if r["experiment"] == 0]
    assert _untimed([{k: v for k, v in r.items() if k not in ("experiment", "seed")}
                     for r in first]) == _untimed(recorded["rows"])
    second = [r for r in rows if r["experiment"] == 1]
    assert [(r["round"], r["kind"]) for r in second] == [(0, "ticket"), (1, "ticket")]
    alone = imp(other, mnist, seed=SEED)
    assert [r["trajectory"] for r in second] == [r["trajectory"] for r in alone]


# --- IMP from given weights, several chains at once, tickets with their weights ------------------

@pytest.mark.parametrize("rewind", ["0it", "10it"])
def test_given_weights_take_the_place_of_the_dense_networks_at_the_rewind_step(
        mnist, tmp_path, monkeypatch, rewind):
    monkeypatch.setenv("LTHKIT_STORE", str(tmp_path))
    spy = Spy()
    monkeypatch.setattr(lthkit.engine, "train", spy)
    experiment = dataclasses.replace(EXPERIMENT, rounds=1, rewind_step=rewind, controls=())
    start = {k: v * 0.5 for k, v in models.build("lenet_300_100", 3).state_dict().items()}
    rows = lthkit.lottery.imp_seeds(experiment, mnist, [3], starts={3: start}, states=True)
    dense, ticket = spy.calls
    assert _same(dense["initial"], start) and _same(ticket["initial"], start)
    assert _iteration(dense["start"], mnist) == _iteration(rewind, mnist)
    assert _iteration(ticket["start"], mnist) == _iteration(rewind, mnist)
    assert rows[0]["iterations"] == 30 - _iteration(rewind, mnist)
    assert _same(rows[1]["rewind_state"], start)
    # the start is part of the key: the same IMP from the seed's own weights is another entry
    plain = lthkit.lottery.imp_seeds(experiment, mnist, [3])
    assert len(spy.calls) == 4 + (rewind != "0it")  # and the short run to the rewind step
    assert plain[0]["trajectory"] != rows[0]["trajectory"]


def test_rows_carry_their_mask_and_tickets_their_rewound_weights_on_request(
        recorded, by_hand, mnist, monkeypatch):
    monkeypatch.setenv("LTHKIT_STORE", str(recorded["store"]))
    rows = lthkit.lottery.imp_seeds(EXPERIMENT, mnist, [SEED], states=True)
    tickets = [r for r in rows if r["kind"] == "ticket"]
    for row in tickets[1:]:
        assert _same(row["mask"], by_hand["masks"][row["round"] - 1])
        assert _same(row["rewind_state"], by_hand["rewind_state"])
    assert all("mask" in r and "final_state" in r for r in rows)
    assert all("mask" not in r for r in lthkit.lottery.imp_seeds(EXPERIMENT, mnist, [SEED]))


def test_chains_of_several_experiments_train_together_and_equal_each_alone(mnist, tmp_path,
                                                                           monkeypatch):
    short = dataclasses.replace(EXPERIMENT, rounds=1, controls=(),
                                train=dataclasses.replace(CONFIG, train_steps="12it"))
    longer = dataclasses.replace(short, rounds=2, rewind_step="0it")
    monkeypatch.setenv("LTHKIT_STORE", str(tmp_path / "together"))
    together = lthkit.lottery.imp_chains([(short, 3, None), (longer, 3, None), (short, 4, None)],
                                         mnist, n_workers=2)
    monkeypatch.setenv("LTHKIT_STORE", str(tmp_path / "alone"))
    alone = [lthkit.lottery.imp_seeds(e, mnist, [s]) for e, s in ((short, 3), (longer, 3),
                                                                  (short, 4))]
    assert [[r["round"] for r in rows] for rows in together] == [[0, 1], [0, 1, 2], [0, 1]]
    assert [_untimed(rows) for rows in together] == [_untimed(rows) for rows in alone]
