"""Evaluating the linear path θ(α) between two networks: one point per worker thread (what
``stability.error_along_path`` does) against all points at once, stacked along a new leading
dimension (``torch.func.vmap`` over ``functional_call``)::

    .venv/bin/python benchmarks/path_eval.py [--models lenet_300_100 conv4_16] [--alphas 11]

For each model it prints, on one torch thread, the CPU seconds to classify the test images at
every α by a loop over the points and stacked, and the wall seconds of ``error_along_path`` with
one worker and with two. Networks with batch norm are left out of the stacked form: their
statistics are measured again at every point in training mode, which ``vmap`` cannot do (it
cannot update running statistics). Not a test: the numbers depend on the machine and its load,
which is printed with them.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import torch
from torch.func import functional_call, vmap

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from _timing import cpu_seconds  # noqa: E402  (benchmarks/ is on the path)
from lthkit import data, models, stability  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["lenet_300_100", "conv4_16"])
    parser.add_argument("--alphas", type=int, default=11)
    parser.add_argument("--test", type=int, default=1000, help="test images per point")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    print(f"load: {os.getloadavg()}; torch threads: 1; {args.alphas} points, {args.test} images")
    mnist = data.load("mnist5k")
    scenes = data.load("scenes", train=2000, val=0, test=args.test)
    points = [i / (args.alphas - 1) for i in range(args.alphas)]
    for name in args.models:
        ds = mnist if name.startswith("lenet") else scenes
        a = models.for_data(name, 0, ds).state_dict()
        b = models.for_data(name, 1, ds).state_dict()
        model = models.for_data(name, 0, ds).eval()
        x = ds.x_test[:args.test]

        @torch.no_grad()
        def loop():
            for alpha in points:
                model.load_state_dict(stability.interpolate(a, b, alpha))
                model(x).argmax(1)

        @torch.no_grad()
        def stacked():
            params = {k: torch.stack([torch.lerp(a[k], b[k], alpha) for alpha in points])
                      for k in a}
            vmap(lambda p: functional_call(model, p, (x,)))(params).argmax(-1)

        line = f"{name:16s} loop {cpu_seconds(loop, 2):6.2f} s CPU"
        if not stability.has_batch_norm(model):
            line += f", stacked {cpu_seconds(stacked, 2):6.2f} s CPU"
        for workers in (1, 2):
            started = time.perf_counter()
            stability.error_along_path(name, a, b, ds, args.alphas, n_workers=workers)
            line += f"; error_along_path, {workers} worker(s): {time.perf_counter() - started:5.2f} s wall"
        print(line, flush=True)


if __name__ == "__main__":
    main()
