"""Is ``scenes`` learnable, far above chance, clearly harder for an MLP, and not solved in dozens
of iterations? Trains, with the single-network ``lthkit.train.train``, an MLP (LeNet-300-100 on
the flattened image), a small conv net and a small ResNet for a fixed number of iterations each,
and prints their accuracy curves (validation and test) and the time they took::

    .venv/bin/python benchmarks/scenes_learnability.py     # all three: ~20 min on 2 cores at load 5-7
    .venv/bin/python benchmarks/scenes_learnability.py --models lenet_300_100 conv4_16 \\
        --iterations 2000 --option noise=0.08

Not a test: the numbers depend on the machine's load and are read, not asserted.
"""
from __future__ import annotations

import argparse
import os
import time

import torch
import yaml

from lthkit import data, models
from lthkit.train import Config, train

# Each family trained by its paper's recipe (LTH for LeNet and Conv-4, He et al. / OpenLTH for
# the ResNet), cut to the iteration budget.
RECIPES = {
    "lenet": dict(optimizer="adam", lr=1.2e-3, batch_size=60),
    "conv": dict(optimizer="adam", lr=3e-4, batch_size=60),
    "cifar_resnet": dict(optimizer="sgd", lr=0.1, momentum=0.9, weight_decay=1e-4,
                         batch_size=128, warmup="200it"),
}
DEFAULT_ITERATIONS = {"lenet_300_100": 3000, "conv4_16": 3000, "cifar_resnet_20_8": 1500}


def recipe(name: str) -> dict:
    return next(v for k, v in RECIPES.items() if name.startswith(k))


class _Ticker:
    """Says how far a run has got, every ``every`` iterations (train calls ``update(1)``)."""

    def __init__(self, name, total, every):
        self.name, self.total, self.every, self.done = name, total, every, 0
        self.started = time.time()

    def update(self, n):
        self.done += n
        if self.done % self.every == 0:
            rate = self.done / (time.time() - self.started)
            print(f"  {self.name}: {self.done}/{self.total} iterations, {rate:.1f} it/s",
                  flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=list(DEFAULT_ITERATIONS))
    parser.add_argument("--iterations", type=int, help="for every model (default: per model)")
    parser.add_argument("--eval-every", type=int, default=250)
    parser.add_argument("--option", action="append", default=[],
                        help="a scenes option, NAME=VALUE (YAML), e.g. noise=0.08 or train=50000")
    parser.add_argument("--seed", type=int, default=0, help="init and order seed")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (default 1: on a busy 2-core machine a second "
                             "thread waiting on the first made a Conv-4 run 3× slower)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    options = {k: yaml.safe_load(v) for k, v in (o.split("=", 1) for o in args.option)}

    print(f"load: {os.getloadavg()}; torch threads: {torch.get_num_threads()}")
    started = time.time()
    ds = data.load("scenes", **options)
    print(f"scenes {options or '(defaults)'}: train {len(ds.x_train)}, val {len(ds.x_val)}, "
          f"test {len(ds.x_test)} in {time.time() - started:.1f} s; chance 10%")
    summary = []
    for name in args.models:
        iterations = args.iterations or DEFAULT_ITERATIONS.get(name, 2000)
        config = Config(train_steps=f"{iterations}it", eval_every=f"{args.eval_every}it",
                        **recipe(name))
        model = models.build(name, args.seed, input_shape=ds.input_shape,
                             num_classes=ds.num_classes)
        started = time.time()
        result = train(model, ds, config, order_seed=args.seed,
                       progress=_Ticker(name, iterations, args.eval_every))
        seconds = time.time() - started
        print(f"\n{name} ({sum(p.numel() for p in model.parameters()):,} parameters), {config}")
        print(" iteration  val_acc  test_acc")
        for row in result.trajectory:
            print(f"{row['iteration']:>10}  {row['val_acc']:7.3f}  {row['test_acc']:8.3f}")
        summary.append((name, iterations, result.final_test_acc, result.early_stop_iteration,
                        result.early_stop_test_acc, seconds))
    print(f"\n{'model':<20} {'iterations':>10} {'final test':>10} {'best-val it':>11} "
          f"{'test there':>10} {'seconds':>8}")
    for name, its, final, stop, at_stop, seconds in summary:
        print(f"{name:<20} {its:>10} {final:>10.3f} {stop:>11} {at_stop:>10.3f} {seconds:>8.0f}")
    print(f"load at the end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
