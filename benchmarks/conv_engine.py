"""Conv nets at CPU speed: one run against several through the engine, and what else might help.

    python benchmarks/conv_engine.py [--models conv4_16 cifar_resnet_20_8 ...] [--sizes 16 32]
                                     [--quick]

For each model and image size (``scenes``, batch 128, SGD with momentum, as the calibrated
setting trains), it prints training samples per second:

- one run through ``engine.fit`` (one torch thread: how every run trains), wall and CPU;
- one run with torch on two threads (what a lone run could get from the second core);
- the engine with R = 2 and R = 4 runs on its worker threads (one per core);

and, per training step on one thread (CPU milliseconds per replicate step, steadier than wall
time on a shared machine):

- the network as it is (NCHW), in ``channels_last`` memory format, and through ``torch.compile``
  (its compile time printed apart);
- R = 4 replicates stacked: grouped convolutions (the four networks as one, each replicate a
  group) and ``torch.func.vmap`` over ``functional_call``, against a loop over the four networks.

The stacked forms are measured for Conv-4 (no batch norm: vmap cannot update running statistics,
and grouped batch norm is the same per-channel arithmetic anyway). The full default run is the
calibrated setting of ``lthkit.calibrated`` trained once (``--quick`` skips it). Not a test: the
numbers depend on the machine and its load, which is printed with them.
"""
from __future__ import annotations

import argparse
import copy
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from lthkit import data, engine, models  # noqa: E402
from lthkit.train import Config, layout, single_thread  # noqa: E402

BATCH = 128
STEPS = 40
CONFIG = Config(optimizer="sgd", lr=0.05, momentum=0.9, batch_size=BATCH,
                train_steps=f"{STEPS}it", eval_every=f"{STEPS}it")


def _tiny(ds, test: int = 256):
    # Evaluation is not training: a small test split keeps the two evaluations of a run cheap.
    return data.Dataset(ds.name, ds.x_train, ds.y_train, ds.x_test[:test], ds.y_test[:test],
                        ds.num_classes, augment=ds.augment)


def engine_rates(name: str, ds) -> dict[str, tuple[float, float]]:
    """(wall, CPU) samples/s: one run alone, one run on two threads, R = 2 and 4 in the engine."""
    out = {}

    def timed(label, count, call):
        wall, cpu = time.perf_counter(), time.process_time()
        call()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        samples = count * STEPS * BATCH
        out[label] = (samples / wall, samples / cpu)

    run = engine.Run(name, ds, CONFIG, order_seed=0)
    timed("one run, one thread", 1, lambda: engine.fit(run))
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        from lthkit.train import train
        timed("one run, two torch threads", 1,
              lambda: train(models.for_data(name, 0, ds), ds, CONFIG, order_seed=0))
    finally:
        torch.set_num_threads(previous)
    for count in (2, 4):
        runs = [engine.Run(name, ds, CONFIG, order_seed=s, init_seed=s) for s in range(count)]
        timed(f"engine, R = {count}", count, lambda: engine.train_many(runs))
    return out


def cpu_ms(step, repeats: int = 10) -> float:
    step()
    step()
    started = time.process_time()
    for _ in range(repeats):
        step()
    return 1000 * (time.process_time() - started) / repeats


def _step_of(model, x, y):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, fused=True)

    def step():
        optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        optimizer.step()
    return step


def layouts(name: str, size: int) -> dict[str, float]:
    """CPU ms per step, one thread: as it is, channels_last, torch.compile (+ compile seconds)."""
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(BATCH, 3, size, size, generator=generator)
    y = torch.randint(0, 10, (BATCH,), generator=generator)
    out = {}
    with single_thread():
        out["NCHW"] = cpu_ms(_step_of(models.build(name, 0, (3, size, size)), x, y))
        last = models.build(name, 0, (3, size, size)).to(memory_format=torch.channels_last)
        out["channels_last"] = cpu_ms(_step_of(last, x.contiguous(
            memory_format=torch.channels_last), y))
        try:
            compiled = torch.compile(models.build(name, 0, (3, size, size)))
            step = _step_of(compiled, x, y)
            started = time.perf_counter()
            step()
            out["compile seconds"] = time.perf_counter() - started
            out["torch.compile"] = cpu_ms(step)
        except Exception as error:  # noqa: BLE001 - reported, not fatal: the others still count
            print(f"  torch.compile failed for {name}: {type(error).__name__}: {error}")
    return out


def stacked(size: int, width: int = 16, replicates: int = 4,
            channels_last: bool = True) -> dict[str, float]:
    """CPU ms per replicate step for R Conv-4 networks: grouped, vmap, a loop (the grouped
    convolutions and the loop in ``channels_last`` unless told otherwise; vmap in NCHW)."""
    from torch.func import functional_call, stack_module_state, vmap

    name = f"conv4_{width}"
    nets = [models.build(name, s, (3, size, size)) for s in range(replicates)]
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(replicates, BATCH, 3, size, size, generator=generator)
    y = torch.randint(0, 10, (replicates, BATCH), generator=generator)

    # Grouped: the R networks as one; replicate r's channels are group r at every conv, and the
    # dense layers are batched matmuls.
    convs = [[m for m in n.features if isinstance(m, torch.nn.Conv2d)] for n in nets]
    dense = [[m for m in n.fc if isinstance(m, torch.nn.Linear)] for n in nets]
    conv_w = [torch.cat([c[i].weight.detach() for c in convs]).requires_grad_()
              for i in range(len(convs[0]))]
    conv_b = [torch.cat([c[i].bias.detach() for c in convs]).requires_grad_()
              for i in range(len(convs[0]))]
    fc_w = [torch.stack([d[i].weight.detach() for d in dense]).requires_grad_()
            for i in range(len(dense[0]))]
    fc_b = [torch.stack([d[i].bias.detach() for d in dense]).requires_grad_()
            for i in range(len(dense[0]))]
    grouped_sgd = torch.optim.SGD(conv_w + conv_b + fc_w + fc_b, lr=0.05, momentum=0.9,
                                  fused=True)
    xg = x.permute(1, 0, 2, 3, 4).reshape(BATCH, replicates * 3, size, size)
    if channels_last:
        xg = xg.contiguous(memory_format=torch.channels_last)
        with torch.no_grad():
            for w in conv_w:
                w.set_(w.contiguous(memory_format=torch.channels_last))

    def grouped_step():
        h = xg
        for i, (w, b) in enumerate(zip(conv_w, conv_b)):
            h = F.relu(F.conv2d(h, w, b, padding=1, groups=replicates))
            if i % 2:
                h = F.max_pool2d(h, 2)
        h = h.reshape(BATCH, replicates, -1).transpose(0, 1)       # (R, B, features)
        for i, (w, b) in enumerate(zip(fc_w, fc_b)):
            h = torch.baddbmm(b[:, None, :], h, w.transpose(1, 2))
            h = F.relu(h) if i < len(fc_w) - 1 else h
        loss = F.cross_entropy(h.reshape(-1, 10), y.reshape(-1), reduction="none")
        grouped_sgd.zero_grad(set_to_none=True)
        loss.view(replicates, -1).mean(1).sum().backward()
        grouped_sgd.step()

    params, buffers = stack_module_state(nets)
    template = copy.deepcopy(nets[0]).to("meta")
    vmap_sgd = torch.optim.SGD(list(params.values()), lr=0.05, momentum=0.9, fused=True)

    def vmap_step():
        out = vmap(lambda p, b, xs: functional_call(template, (p, b), (xs,)))(params, buffers, x)
        loss = F.cross_entropy(out.reshape(-1, 10), y.reshape(-1), reduction="none")
        vmap_sgd.zero_grad(set_to_none=True)
        loss.view(replicates, -1).mean(1).sum().backward()
        vmap_sgd.step()

    if channels_last:  # as the engine trains them (train.layout)
        nets = [net.to(memory_format=layout(net)) for net in nets]
    steps = [_step_of(net, x[r], y[r]) for r, net in enumerate(nets)]

    def loop_step():
        for step in steps:
            step()

    with single_thread():
        return {name: cpu_ms(step, 5) / replicates
                for name, step in (("grouped convolutions", grouped_step),
                                   ("torch.func.vmap", vmap_step),
                                   ("loop over networks", loop_step))}


def full_run() -> tuple[float, float, int]:
    """The calibrated setting trained once: (wall s, CPU s, iterations)."""
    from lthkit import calibrated

    ds = calibrated.dataset()
    run = engine.Run(calibrated.MODEL, ds, calibrated.config(), order_seed=0)
    wall, cpu = time.perf_counter(), time.process_time()
    result = engine.fit(run)
    return time.perf_counter() - wall, time.process_time() - cpu, result.iterations


def main(argv) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+",
                        default=["conv4_16", "cifar_vgg_11_16", "cifar_resnet_20_8"])
    parser.add_argument("--sizes", nargs="+", type=int, default=[16, 32])
    parser.add_argument("--quick", action="store_true", help="skip the full default run")
    args = parser.parse_args(argv)
    print(f"load average {os.getloadavg()}, {engine.workers()} worker threads, "
          f"torch {torch.__version__}, CPU capability {torch.backends.cpu.get_cpu_capability()}")
    for size in args.sizes:
        ds = _tiny(data.load("scenes", size=size, val=0))
        for name in args.models:
            print(f"\n{name}, {size}x{size}, batch {BATCH}")
            rates = engine_rates(name, ds)
            alone = rates["one run, one thread"][0]
            for label, (wall, cpu) in rates.items():
                print(f"  {label:34s} {wall:7,.0f} samples/s wall ({wall / alone:.1f}x)  "
                      f"{cpu:7,.0f} per CPU second")
            for label, value in layouts(name, size).items():
                unit = "s" if label.endswith("seconds") else "CPU ms per step"
                print(f"  {label:34s} {value:7.1f} {unit}")
        for label, ms in stacked(size).items():
            print(f"  conv4_16 x4, {label:21s} {ms:7.1f} CPU ms per replicate step")
        print(f"  load average now {os.getloadavg()}")
    if not args.quick:
        wall, cpu, iterations = full_run()
        print(f"\nfull default run (lthkit.calibrated): {iterations} iterations in {wall:.0f} s "
              f"wall, {cpu:.0f} s CPU; load average {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
