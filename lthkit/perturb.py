"""Perturbations of rewound weights under an IMP mask (Frankle, Schwab & Morcos, 2020,
arXiv:2002.10365, Section 4): what about the weights at iteration ``k`` does a sparse network
need in order to train well? ::

    scale = init_std(initial_state, mask)                    # each layer's std at iteration 0
    state = perturb("reinit_signs", rewound_state, mask, scale, perturb_seed=3)
    rows = train_perturbed(experiment, data, tickets, [Variant("shuffle"), Variant("noise", 1.0)])

Every perturbation is a pure function: it takes the rewound weights ``W_k`` (a state dict), the
mask and a ``perturb_seed``, returns new weights and changes nothing it was given. Only the
mask's tensors (the prunable weights) change; biases and batch-norm parameters stay those of
``W_k``. Pruned positions stay exactly zero. Draws come from a ``torch.Generator`` seeded by
``perturb_seed`` alone, one layer after another in the mask's order, so the same seed gives the
same weights on any thread.

- ``reinit``: fresh values, Gaussian with the layer's initial standard deviation (the networks
  here are initialised from zero-mean Gaussians: Glorot or He normal).
- ``reinit_signs``: the signs of ``W_k`` with the magnitudes of a fresh draw.
- ``shuffle``: the surviving values of ``W_k`` permuted among the surviving positions of their
  layer. Among survivors, not among all positions: the pruned positions hold zeros, and a
  permutation over the whole layer would put zeros where the mask keeps a weight and send values
  to positions the mask removes, changing the layer's distribution of surviving values as well
  as their arrangement. Shuffling the survivors keeps that distribution exactly and destroys
  only which weight sits where.
- ``shuffle_signs``: each surviving position keeps its sign; the magnitudes are permuted among
  the layer's surviving positions.
- ``noise``: ``W_k`` plus Gaussian noise of standard deviation ``scale`` × the layer's initial
  standard deviation, on the surviving positions.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

import torch

from . import engine, lottery, models, store
from .steps import Step

KINDS = ("reinit", "reinit_signs", "shuffle", "shuffle_signs", "noise")
NEEDS_SCALE = ("reinit", "reinit_signs", "noise")   # the kinds that draw Gaussian values


def init_std(initial_state: Mapping[str, torch.Tensor], mask: Mapping) -> dict[str, float]:
    """Each masked layer's standard deviation at initialisation: of all its weights at iteration
    0, before any pruning (the spread of the distribution the layer was drawn from)."""
    return {name: float(initial_state[name].double().std()) for name in mask}


def perturb(kind: str, state: Mapping[str, torch.Tensor], mask: Mapping,
            std: Mapping[str, float] | None = None, perturb_seed: int = 0,
            scale: float | None = None) -> dict[str, torch.Tensor]:
    """``kind`` (one of ``KINDS``) applied to ``state``; ``std`` (from :func:`init_std`) is
    needed by the kinds that draw values, ``scale`` by ``noise`` only."""
    if kind not in KINDS:
        raise ValueError(f"unknown perturbation {kind!r}; known: {', '.join(KINDS)}")
    if kind in NEEDS_SCALE and std is None:
        raise ValueError(f"{kind} draws Gaussian values: give each layer's initial std (init_std)")
    if kind == "noise" and scale is None:
        raise ValueError("noise needs a scale: a multiple of each layer's initial std")
    if kind != "noise" and scale is not None:
        raise ValueError(f"{kind} takes no scale (only noise does)")
    if kind == "reinit":
        return reinit(state, mask, std, perturb_seed)
    if kind == "reinit_signs":
        return reinit_keep_signs(state, mask, std, perturb_seed)
    if kind == "shuffle":
        return shuffle(state, mask, perturb_seed)
    if kind == "shuffle_signs":
        return shuffle_keep_signs(state, mask, perturb_seed)
    return add_noise(state, mask, std, scale, perturb_seed)


def reinit(state, mask, std, perturb_seed: int) -> dict[str, torch.Tensor]:
    """Fresh Gaussian values with each layer's initial std, under the mask."""
    return _per_layer(state, mask, perturb_seed,
                      lambda w, keep, g, name: _gaussian(w, g) * std[name])


def reinit_keep_signs(state, mask, std, perturb_seed: int) -> dict[str, torch.Tensor]:
    """sign(W_k) · |fresh|: the signs of the given weights, the magnitudes of a fresh draw."""
    return _per_layer(state, mask, perturb_seed,
                      lambda w, keep, g, name: torch.sign(w) * _gaussian(w, g).abs() * std[name])


def shuffle(state, mask, perturb_seed: int) -> dict[str, torch.Tensor]:
    """The surviving values of each layer, permuted among its surviving positions."""
    def shuffled(w, keep, g, name):
        out, alive = w.clone().flatten(), torch.nonzero(keep.flatten()).flatten()
        out[alive] = out[alive][torch.randperm(len(alive), generator=g)]
        return out.view_as(w)
    return _per_layer(state, mask, perturb_seed, shuffled)


def shuffle_keep_signs(state, mask, perturb_seed: int) -> dict[str, torch.Tensor]:
    """Each surviving weight keeps its sign and takes the magnitude of another survivor of its
    layer (a permutation of the layer's surviving magnitudes)."""
    def shuffled(w, keep, g, name):
        flat, alive = w.flatten(), torch.nonzero(keep.flatten()).flatten()
        out = flat.clone()
        magnitudes = flat[alive].abs()[torch.randperm(len(alive), generator=g)]
        out[alive] = torch.sign(flat[alive]) * magnitudes
        return out.view_as(w)
    return _per_layer(state, mask, perturb_seed, shuffled)


def add_noise(state, mask, std, scale: float, perturb_seed: int) -> dict[str, torch.Tensor]:
    """W_k + N(0, (scale · the layer's initial std)²) on the surviving positions."""
    if not scale >= 0:
        raise ValueError(f"the noise scale must be ≥ 0, not {scale}")
    return _per_layer(state, mask, perturb_seed,
                      lambda w, keep, g, name: w + _gaussian(w, g) * (scale * std[name]))


def _gaussian(like: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    return torch.randn(like.shape, generator=generator, dtype=like.dtype)


def _per_layer(state, mask, perturb_seed: int, change) -> dict[str, torch.Tensor]:
    missing = [name for name in mask if name not in state]
    if missing:
        raise KeyError(f"the mask names tensors the state does not hold: {missing}")
    generator = torch.Generator().manual_seed(int(perturb_seed))
    out = {name: tensor.clone() for name, tensor in state.items()}
    for name, keep in mask.items():
        weight = state[name]
        if keep.shape != weight.shape:
            raise ValueError(f"{name}: mask of shape {tuple(keep.shape)} for weights of shape "
                             f"{tuple(weight.shape)}")
        out[name] = change(weight, keep, generator, name) * keep.to(weight.dtype)
    return out


@dataclass(frozen=True)
class Variant:
    """One perturbation to train: a kind of ``KINDS`` and, for ``noise``, its scale."""

    kind: str
    scale: float | None = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown perturbation {self.kind!r}; known: {', '.join(KINDS)}")
        if (self.kind == "noise") != (self.scale is not None):
            raise ValueError("noise, and only noise, takes a scale")

    @property
    def name(self) -> str:
        return f"noise {self.scale:g}σ" if self.kind == "noise" else self.kind


def train_perturbed(experiment, data, tickets, variants, perturb_seed: int = 20_000,
                    progress=None, n_workers: int | None = None) -> list[dict]:
    """Every variant of every ticket, trained like the ticket itself.

    ``tickets``: ticket rows of ``lottery.imp_seeds(experiment, ..., states=True)``.
    A ticket of seed ``s`` is perturbed with ``perturb_seed + s`` (the same draw for every
    variant of that ticket, so reinit and sign-keeping reinit share their magnitudes and the
    noise scales share their direction), then trained under its mask from ``rewind_step`` to the
    end with the ticket's data order, through the store. One row per (ticket, variant):
    ``seed``, ``round``, ``weights_remaining``, ``variant``, ``kind``, ``scale`` and the run's
    accuracies, iterations and seconds."""
    per_epoch = data.iterations_per_epoch(experiment.train.batch_size)
    rewind = Step.parse(experiment.rewind_step).iterations(per_epoch)
    setup = lottery.setup(experiment)
    jobs = []
    for ticket in tickets:
        seed, mask = ticket["seed"], ticket["mask"]
        for variant in variants:
            params = {"experiment": setup, "seed": seed, "round": ticket["round"],
                      "mask": mask.fingerprint(), "variant": dataclasses.asdict(variant),
                      "perturb_seed": perturb_seed + seed}
            jobs.append((ticket, variant, params))

    def task(tick, ticket, variant, params):
        def compute():
            seed = ticket["seed"]
            initial = models.for_data(experiment.model, seed, data).state_dict()
            std = init_std(initial, ticket["mask"])
            state = perturb(variant.kind, ticket["rewind_state"], ticket["mask"], std,
                            perturb_seed + seed, variant.scale)
            result = engine.fit(engine.Run(experiment.model, data, experiment.train,
                                           order_seed=seed, init_seed=seed, state=state,
                                           mask=ticket["mask"], start=rewind,
                                           device=experiment.device), tick)
            return {"early_stop_test_acc": result.early_stop_test_acc,
                    "early_stop_iteration": result.early_stop_iteration,
                    "final_test_acc": result.final_test_acc,
                    "iterations": result.iterations, "seconds": result.seconds}
        return store.cached("perturb.train", params, compute,
                            data_fingerprint=data.fingerprint)

    results = engine.parallel([lambda tick, job=job: task(tick, *job) for job in jobs],
                              progress=progress, n_workers=n_workers)
    return [{"seed": ticket["seed"], "round": ticket["round"],
             "weights_remaining": ticket["weights_remaining"], "variant": variant.name,
             "kind": variant.kind, "scale": variant.scale, **result}
            for (ticket, variant, _), result in zip(jobs, results)]
