"""Masks as data, and the pruning rules that make new ones::

    mask = Mask.ones(model)                                   # nothing pruned yet
    mask = magnitude_prune(weights(model), mask, rates)       # drop 20% of the survivors
    apply(model, mask)                                        # pruned weights become exactly 0

A ``Mask`` maps a parameter name to a boolean tensor (True = the weight survives). Pruning
functions never change their input: they take weights and a mask and return a new mask.
``rates`` is one fraction for every layer or a dict per layer; it is the fraction of each layer's
*surviving* weights to remove, as in iterative magnitude pruning.
"""
from __future__ import annotations

import hashlib
from collections.abc import Mapping

import torch
from torch import nn

from . import models


class Mask(dict):
    """Parameter name → boolean tensor of the same shape (True = kept)."""

    @classmethod
    def ones(cls, model: nn.Module) -> Mask:
        params = dict(model.named_parameters())
        return cls({name: torch.ones_like(params[name], dtype=torch.bool)
                    for name in models.prunable(model)})

    def kept(self) -> int:
        return int(sum(int(m.sum()) for m in self.values()))

    def size(self) -> int:
        return int(sum(m.numel() for m in self.values()))

    def density(self) -> float:
        """Fraction of prunable weights remaining (1.0 for an unpruned network)."""
        return self.kept() / self.size()

    def layer_density(self) -> dict[str, float]:
        return {name: float(m.float().mean()) for name, m in self.items()}

    def fingerprint(self) -> str:
        digest = hashlib.sha256()
        for name in sorted(self):
            digest.update(name.encode())
            digest.update(self[name].numpy().tobytes())
        return digest.hexdigest()[:16]


def weights(model: nn.Module) -> dict[str, torch.Tensor]:
    """The prunable tensors of ``model``, detached."""
    params = dict(model.named_parameters())
    return {name: params[name].detach() for name in models.prunable(model)}


def layer_rates(mask: Mask, rate: float, output_rate: float | None = None,
                output_name: str | None = None) -> dict[str, float]:
    """The LTH recipe's per-layer rates: ``rate`` everywhere, ``output_rate`` for the output."""
    rates = {name: rate for name in mask}
    if output_rate is not None:
        rates[output_name or list(mask)[-1]] = output_rate
    return rates


def _check_rate(name: str, rate: float) -> float:
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"pruning rate for {name} must be in [0, 1), got {rate}")
    return rate


def _count(surviving: int, rate: float) -> int:
    return int(round(surviving * rate))


def magnitude_prune(weights: Mapping[str, torch.Tensor], mask: Mask,
                    rates: float | Mapping[str, float], scope: str = "layer") -> Mask:
    """Remove the smallest-magnitude surviving weights.

    ``scope="layer"``: each layer loses ``rates[layer]`` of its survivors.
    ``scope="global"``: one ranking over all layers loses ``rates`` (a single fraction) of all
    survivors, so layers with many small weights lose more.
    Ties are broken by position, so the result is deterministic."""
    if scope == "global":
        if isinstance(rates, Mapping):
            raise ValueError("global pruning takes one rate, not a rate per layer")
        names = list(mask)
        scores = torch.cat([weights[n].abs().flatten()[mask[n].flatten()] for n in names])
        drop = _count(len(scores), _check_rate("all layers", rates))
        new = Mask({n: m.clone() for n, m in mask.items()})
        if drop == 0:
            return new
        order = torch.argsort(scores, stable=True)[:drop]
        removed = torch.zeros(len(scores), dtype=torch.bool)
        removed[order] = True
        offset = 0
        for n in names:
            alive = torch.nonzero(mask[n].flatten()).flatten()
            flat = new[n].flatten()
            flat[alive[removed[offset:offset + len(alive)]]] = False
            new[n] = flat.view_as(mask[n])
            offset += len(alive)
        return new
    if scope != "layer":
        raise ValueError(f"scope must be 'layer' or 'global', not {scope!r}")
    per_layer = rates if isinstance(rates, Mapping) else {n: rates for n in mask}
    unknown = set(per_layer) - set(mask)
    if unknown:
        raise ValueError(f"rates name layers the mask does not have: {sorted(unknown)}")
    new = Mask()
    for n, m in mask.items():
        flat = m.flatten().clone()
        alive = torch.nonzero(flat).flatten()
        drop = _count(len(alive), _check_rate(n, per_layer.get(n, 0.0)))
        if drop:
            order = torch.argsort(weights[n].abs().flatten()[alive], stable=True)[:drop]
            flat[alive[order]] = False
        new[n] = flat.view_as(m)
    return new


def random_prune(like: Mask, prune_seed: int) -> Mask:
    """A random mask with exactly the per-layer density of ``like`` (the random-pruning control)."""
    generator = torch.Generator().manual_seed(prune_seed)
    new = Mask()
    for n, m in like.items():
        keep = int(m.sum())
        chosen = torch.randperm(m.numel(), generator=generator)[:keep]
        flat = torch.zeros(m.numel(), dtype=torch.bool)
        flat[chosen] = True
        new[n] = flat.view_as(m)
    return new


def zeroer(model: nn.Module, mask: Mask | None):
    """A function that zeroes ``model``'s pruned weights, or with ``grad=True`` their gradients.

    The mask is matched to the parameters and converted to 0/1 of their dtype and device once:
    a training loop calls this twice a step, and converting a bool mask on every call costs a
    sixth of a small network's step. ``mask=None`` gives a function that does nothing."""
    params = dict(model.named_parameters())
    pairs = [(params[n], m.to(params[n].device, params[n].dtype)) for n, m in (mask or {}).items()]

    @torch.no_grad()
    def zero(grad: bool = False) -> None:
        for param, keep in pairs:
            target = param.grad if grad else param
            if target is not None:
                target.mul_(keep)

    return zero


def apply(model: nn.Module, mask: Mask) -> nn.Module:
    """Set pruned weights to exactly zero, in place."""
    zeroer(model, mask)()
    return model


def mask_gradients(model: nn.Module, mask: Mask) -> None:
    """Zero the gradients of pruned weights, so no optimiser state builds up for them."""
    zeroer(model, mask)(grad=True)
