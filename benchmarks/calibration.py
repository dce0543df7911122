"""The calibration of the CPU setting, measured again: accuracy, instability at each split
iteration k (several seeds), and the cost of a run, for the setting of ``lthkit.calibrated`` and
the main alternatives it was chosen over::

    python benchmarks/calibration.py                         # the chosen setting, 3 seeds
    python benchmarks/calibration.py --settings chosen resnet_14_8 --seeds 2 --splits 0 100
    python benchmarks/calibration.py --list                  # the settings it knows

For each seed: a parent run trains the whole schedule with one data order, keeping its weights
and optimiser state at every split iteration k; from each k a copy trains to the end with another
data order (the parent is the other copy: :func:`lthkit.stability.train_copies` trains them so
too). Instability (Frankle et al., 2020) is the test error's rise on the linear path between the
two ends above the mean of the ends, batch-norm statistics measured again at every point.
Not a test: the numbers are read, and the load average is printed with them.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from lthkit import calibrated, data, engine, stability  # noqa: E402

EASY = calibrated.DATA
SGD = calibrated.CONFIG
# name → (model, scenes arguments, Config): the chosen setting and what it was chosen over.
SETTINGS = {
    "chosen": (calibrated.MODEL, EASY, SGD),
    "default_knobs": (calibrated.MODEL, dict(size=16), SGD),
    "lr_0.03": (calibrated.MODEL, EASY, dataclasses.replace(SGD, lr=0.03)),
    "warmup": (calibrated.MODEL, EASY, dataclasses.replace(SGD, warmup="200it")),
    "resnet_14_8": ("cifar_resnet_14_8", EASY, SGD),
    "conv4_16": ("conv4_16", EASY, dataclasses.replace(SGD, lr=0.02, weight_decay=0.0)),
}


def measure(model: str, options: dict, config, seeds: int, splits, alphas: int = 11) -> dict:
    """Train the pairs of every seed and split; return curves, instabilities and costs."""
    ds = data.load("scenes", val=0, **options)
    splits = sorted(set(splits))
    parents = [engine.Run(model, ds, config, order_seed=100 + s, init_seed=s,
                          checkpoints=tuple(splits)) for s in range(seeds)]
    cpu, wall = time.process_time(), time.perf_counter()
    ends = engine.train_many(parents)
    quiet = dataclasses.replace(config, eval_every=config.train_steps)
    copies = [engine.Run(model, ds, quiet, order_seed=200 + s, init_seed=s,
                         state=ends[s].checkpoints[k], optimizer_state=ends[s].optimizer_states[k],
                         start=k) for s in range(seeds) for k in splits]
    continued = engine.train_many(copies)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    iterations = sum(r.iterations for r in ends + continued)
    others = iter(continued)
    rows = []
    for s in range(seeds):
        for k in splits:
            other = next(others)
            path = stability.error_along_path(model, ends[s].final_state, other.final_state, ds,
                                              alphas=alphas, train_examples=1000)
            errors = [p["test_error"] for p in path]
            rows.append(dict(seed=s, k=k, instability=stability.instability(errors),
                             ends=(errors[0], errors[-1]), path=errors))
    per_iteration = cpu / iterations
    return dict(model=model, options=options, config=dataclasses.asdict(config), seeds=seeds,
                curves=[[(r["iteration"], r["test_acc"]) for r in e.trajectory] for e in ends],
                rows=rows, cpu_ms_per_iteration=1000 * per_iteration,
                cpu_seconds_per_run=per_iteration * ends[0].iterations,
                wall_seconds=wall, load=os.getloadavg())


def report(name: str, result: dict) -> None:
    print(f"\n== {name}: {result['model']}, scenes {result['options']}")
    config = result["config"]
    print(f"   {config['optimizer']} lr {config['lr']} momentum {config['momentum']} "
          f"warm-up {config['warmup']} milestones {config['milestones']} "
          f"batch {config['batch_size']}, {config['train_steps']}")
    print(f"   cost: {result['cpu_ms_per_iteration']:.1f} CPU ms per iteration, "
          f"{result['cpu_seconds_per_run']:.0f} CPU s per run; training took "
          f"{result['wall_seconds']:.0f} s wall; load {result['load'][0]:.1f}")
    for s, curve in enumerate(result["curves"]):
        print(f"   seed {s} test accuracy: " + " ".join(f"{i}:{a:.3f}" for i, a in curve))
    print(f"   {'k':>5}  instability per seed (test error)        mean   end errors")
    for k in sorted({r["k"] for r in result["rows"]}):
        rows = [r for r in result["rows"] if r["k"] == k]
        values = [r["instability"] for r in rows]
        print(f"   {k:>5}  {' '.join(f'{v:6.3f}' for v in values):40s} "
              f"{sum(values) / len(values):6.3f}   "
              + " ".join(f"{a:.3f}/{b:.3f}" for a, b in (r["ends"] for r in rows)))


def main(argv) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settings", nargs="+", default=["chosen"], choices=sorted(SETTINGS))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--splits", nargs="+", type=int, default=list(calibrated.SPLITS))
    parser.add_argument("--alphas", type=int, default=11)
    parser.add_argument("--json", help="append each setting's measurements to this file")
    parser.add_argument("--list", action="store_true", help="print the settings and stop")
    args = parser.parse_args(argv)
    if args.list:
        for name, (model, options, config) in SETTINGS.items():
            print(f"{name:14s} {model} {options} {config}")
        return 0
    print(f"load average {os.getloadavg()}, {engine.workers()} worker threads")
    for name in args.settings:
        result = measure(*SETTINGS[name], seeds=args.seeds, splits=args.splits,
                         alphas=args.alphas)
        report(name, result)
        if args.json:
            with open(args.json, "a") as out:
                out.write(json.dumps(dict(setting=name, **result)) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
