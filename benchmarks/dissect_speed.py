"""How fast is network dissection? Times ``lthkit.dissect.dissect`` on the scenes probe for a few
networks, with the first pass's activations kept for the second and computed again, and splits
the time between the forward passes, the streaming quantile and the IoU sums::

    .venv/bin/python benchmarks/dissect_speed.py                    # conv4_8, conv4_16, resnet_8_8
    .venv/bin/python benchmarks/dissect_speed.py --models conv6_16 --images 2000

Chapter 5 dissects every ticket and every randomly pruned network (about 80 on its default
preset), so one dissection must take well under a second of one core. Not a test: the numbers
depend on the machine and its load, which is printed with them.
"""
from __future__ import annotations

import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from _timing import cpu_seconds  # noqa: E402  (benchmarks/ is on the path)
from lthkit import dissect, models, probes  # noqa: E402
from lthkit.quantiles import UnitQuantile  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["conv4_8", "conv4_16",
                                                        "cifar_resnet_8_8"])
    parser.add_argument("--images", type=int, default=1000, help="probe images")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    print(f"load: {os.getloadavg()}; one torch thread; CPU seconds, best of 3")
    probe = probes.scenes_probe(args.images, "scenes", {"test": max(2000, args.images)})
    images = probe.batch(0, 100)[0]
    print(f"{'model':18s} {'units':>5s} {'dissect':>8s} {'no keep':>8s} {'forward':>8s} "
          f"{'quantile':>8s}  per image")
    for name in args.models:
        model = models.build(name, 0).eval()
        layers = dissect.default_layers(model)
        maps = dissect.activations(model, layers, images)
        units = sum(a.shape[1] for a in maps.values())
        whole = cpu_seconds(lambda: dissect.dissect(model, probe, layers))
        again = cpu_seconds(lambda: dissect.dissect(model, probe, layers, keep_bytes=0))
        forward = cpu_seconds(lambda: dissect.activations(model, layers, images)) * len(probe) / 100

        def quantiles():
            for a in maps.values():
                UnitQuantile(a.shape[1]).update(a.transpose(0, 1).flatten(1))
        quantile = cpu_seconds(quantiles) * len(probe) / 100
        print(f"{name:18s} {units:5d} {whole:8.2f} {again:8.2f} {forward:8.2f} {quantile:8.2f}"
              f"  {1000 * whole / len(probe):.2f} ms")
    print(f"(probe: {len(probe)} scenes images of 32×32, {sum(len(v) - 1 for v in probe.categories.values())}"
          f" concepts; 'no keep' runs the network again in the second pass, as a probe too "
          f"large to keep does)")


if __name__ == "__main__":
    main()
