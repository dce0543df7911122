"""lthkit.engine: many runs trained together, each exactly as it would train alone."""
import dataclasses

import pytest
import torch

from lthkit import engine, masks, models
from lthkit.engine import Run, fit, parallel, train_many
from lthkit.train import Config, single_thread, train

CONFIG = Config(optimizer="adam", lr=1.2e-3, batch_size=60, train_steps="24it", eval_every="8it")


@pytest.fixture(scope="module")
def runs(mnist):
    """Four runs that differ in every way a replicate may: seeds, mask, start, rewound state."""
    model = models.build("lenet_300_100", 5)
    mask = masks.magnitude_prune(masks.weights(model), masks.Mask.ones(model), 0.6)
    state = {k: v + 0.01 for k, v in model.state_dict().items()}
    return [Run("lenet_300_100", mnist, CONFIG, order_seed=0, init_seed=0),
            Run("lenet_300_100", mnist, CONFIG, order_seed=1, init_seed=2, mask=mask),
            Run("lenet_300_100", mnist, dataclasses.replace(CONFIG, optimizer="sgd", lr=0.05,
                                                            momentum=0.9),
                order_seed=3, init_seed=3, start=10, checkpoints=(16,)),
            Run("lenet_300_100", mnist, CONFIG, order_seed=4, state=state, mask=mask, start=5)]


def _same_result(a, b):
    return (a.trajectory == b.trajectory and a.early_stop_iteration == b.early_stop_iteration
            and set(a.final_state) == set(b.final_state)
            and all(torch.equal(a.final_state[k], b.final_state[k]) for k in a.final_state)
            and set(a.checkpoints) == set(b.checkpoints))


def _alone(run):
    """The run by itself, through train.train on one thread (as every run trains: a second
    intra-op thread changes the order of floating-point sums, hence the last bits)."""
    model = models.build(run.model, run.init_seed)
    if run.state is not None:
        model.load_state_dict(run.state)
    with single_thread():
        return train(model, run.data, run.config, run.order_seed, mask=run.mask,
                     start=run.start, checkpoints=run.checkpoints)


@pytest.fixture(scope="module")
def together(runs):
    return train_many(runs, n_workers=2)


def test_each_run_trains_exactly_as_it_would_alone(runs, together):
    for run, result in zip(runs, together):
        assert _same_result(result, _alone(run))
    # the runs really differ, so the comparison above could fail
    assert len({r.trajectory[-1]["val_loss"] for r in together}) == len(runs)


def test_a_run_does_not_depend_on_its_companions_or_the_number_of_workers(runs, together):
    for companions, workers in (([runs[3]], 1), ([runs[3], runs[0]], 2), (runs[::-1], 1)):
        result = train_many(companions, n_workers=workers)[companions.index(runs[3])]
        assert _same_result(result, together[3])


def test_pruned_weights_stay_zero_in_every_run(runs, together):
    for run, result in zip(runs, together):
        for name, keep in (run.mask or {}).items():
            assert torch.count_nonzero(result.final_state[name][~keep]) == 0


def test_a_conv_net_with_batch_norm_trains_alone_and_together_alike():
    from lthkit import data

    generator = torch.Generator().manual_seed(0)
    x = torch.randn(96, 3, 32, 32, generator=generator)
    y = torch.randint(0, 10, (96,), generator=generator)
    images = data.Dataset("noise", x[:64], y[:64], x[64:], y[64:], 10, x[64:80], y[64:80])
    config = Config(optimizer="sgd", lr=0.1, momentum=0.9, batch_size=16, train_steps="6it",
                    eval_every="3it")
    runs = [Run("cifar_resnet_20", images, config, order_seed=s, init_seed=s) for s in range(3)]
    results = train_many(runs, n_workers=2)
    alone = _alone(runs[1])
    assert _same_result(results[1], alone)
    assert any("running_mean" in k for k in alone.final_state)  # batch-norm statistics ride along
    assert not torch.equal(results[0].final_state["bn.running_mean"],
                           results[1].final_state["bn.running_mean"])


def test_progress_counts_every_training_iteration(runs):
    class Bar:
        n = 0

        def update(self, k):
            self.n += k

    bar = Bar()
    train_many(runs, progress=bar, n_workers=2)
    assert bar.n == sum(24 - run.start for run in runs)


def test_parallel_keeps_the_order_and_counts_tasks():
    class Bar:
        n = 0

        def update(self, k):
            self.n += k

    bar = Bar()
    assert parallel([lambda tick, i=i: i * i for i in range(7)], progress=bar,
                    n_workers=3) == [i * i for i in range(7)]
    assert bar.n == 7
    assert parallel([]) == []


@pytest.fixture(params=["processes", "threads"])
def engine_mode(request, monkeypatch):
    monkeypatch.setenv("LTHKIT_ENGINE", request.param)
    return request.param


def test_a_failing_task_stops_the_others_and_raises_its_own_error(mnist, engine_mode, tmp_path):
    long = Run("lenet_300_100", mnist, dataclasses.replace(CONFIG, train_steps="100000it"), 0)
    seen = tmp_path / "seen"  # a file: a worker process's lists are its own

    def failing(tick):
        raise RuntimeError("boom")

    def watched(tick):
        try:
            return fit(long, tick)
        except engine.Cancelled:
            seen.write_text("cancelled")
            raise

    with pytest.raises(RuntimeError, match="boom"):
        parallel([watched, failing], n_workers=2)
    # the long run stopped instead of training 100,000 iterations
    assert seen.read_text() == "cancelled"


def test_processes_and_threads_give_bitwise_the_same_runs(runs, together, monkeypatch):
    assert engine.mode() == "processes"  # the default on Linux, which the fixture used
    monkeypatch.setenv("LTHKIT_ENGINE", "threads")
    for result, other in zip(together, train_many(runs, n_workers=2)):
        assert _same_result(result, other)


def test_worker_processes_count_progress_and_run_nested_calls_inline(engine_mode):
    class Bar:
        n = 0

        def update(self, k):
            self.n += k

    def task(tick, i):
        for _ in range(i):
            tick.update(1)
        # one level down: runs in this worker, in order
        return parallel([lambda t, j=j: (i, j) for j in range(3)], n_workers=2)

    bar = Bar()
    assert parallel([lambda tick, i=i: task(tick, i) for i in range(4)], progress=bar,
                    n_workers=2, unit="iteration") == [[(i, j) for j in range(3)] for i in range(4)]
    assert bar.n == 0 + 1 + 2 + 3


def test_a_bad_engine_mode_in_the_environment_is_refused(monkeypatch):
    monkeypatch.setenv("LTHKIT_ENGINE", "fibers")
    with pytest.raises(ValueError, match="LTHKIT_ENGINE"):
        parallel([lambda tick: 1, lambda tick: 2], n_workers=2)


def test_settings_are_restored_after_the_pool():
    threads = torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()
    assert parallel([lambda tick: (torch.get_num_threads(),
                                   torch.are_deterministic_algorithms_enabled())]) == [(1, True)]
    assert torch.get_num_threads() == threads
    assert torch.are_deterministic_algorithms_enabled() == deterministic


@pytest.mark.parametrize("value", ["0", "-2", "two"])
def test_a_bad_worker_count_in_the_environment_is_refused(monkeypatch, value):
    monkeypatch.setenv("LTHKIT_WORKERS", value)
    with pytest.raises(ValueError, match="LTHKIT_WORKERS"):
        engine.workers()


def test_the_worker_count_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("LTHKIT_WORKERS", "3")
    assert engine.workers() == 3
