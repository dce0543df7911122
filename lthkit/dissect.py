"""Network Dissection (Bau et al., 2017): which units of a conv net detect human concepts::

    probe = probes.TensorProbe.from_dataset(ds)           # images and per-pixel concept labels
    result = dissect.dissect(model, probe)                # every unit of every conv stage
    dissect.counts(result, by="layer")                    # interpretable units, unique concepts

A *unit* is a channel of a layer's output. For each unit k:

1. its threshold T_k is the top 0.5% quantile of its activations over every position of every
   probe image, estimated in one streaming pass in bounded memory (:class:`UnitQuantile`), so
   the probe set never has to fit in memory;
2. each activation map is upsampled (bilinear) to the resolution of the labels and thresholded:
   M_k(x) = up(A_k(x)) > T_k;
3. IoU_{k,c} = Σ_x |M_k(x) ∩ L_c(x)| / Σ_x |M_k(x) ∪ L_c(x)|, summed over the probe images where
   c's category is labelled (:class:`Tally`);
4. k is *interpretable* when its best IoU is at least 0.04; it then detects that concept.

Concepts come in categories (scenes: shape, colour, texture, background, part; Broden: object,
part, material, scene, texture, colour). A probe (``lthkit.probes.TensorProbe`` in memory, or
``lthkit.broden.Probe`` on disk) gives, batch by batch, normalised images and, per category, label
maps whose values index that category's concept names (0: unlabelled).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from . import engine, models, store
from .quantiles import UnitQuantile

QUANTILE = 0.005        # Bau et al.: the top 0.5% of a unit's activations are "on"
IOU_THRESHOLD = 0.04    # Bau et al.: a unit whose best IoU reaches this detects the concept


class Tally:
    """The sums behind IoU, for ``units`` units and the concepts of every category
    (``sizes``: category → number of its labels, 0 "unlabelled" included): per unit and concept
    the pixels of both, per unit and category its active pixels on images where the category is
    labelled, per concept its pixels. Columns run through the categories in order."""

    def __init__(self, units: int, sizes: dict, device="cpu"):
        self.offsets = dict(zip(sizes, torch.tensor([0, *sizes.values()]).cumsum(0).tolist()))
        self.category = torch.repeat_interleave(torch.arange(len(sizes)),
                                                torch.tensor(list(sizes.values()))).to(device)
        total = sum(sizes.values())
        self.both = torch.zeros(units, total, dtype=torch.int64, device=device)
        self.active = torch.zeros(units, len(sizes), dtype=torch.int64, device=device)
        self.labelled = torch.zeros(total, dtype=torch.int64, device=device)

    def update(self, on: tuple, labels: dict) -> None:
        """``on``: the active pixels of a batch, as index tensors ``(b, u, y, x)`` (image,
        unit, row, column); ``labels``: category → (B, L, H, W) label indices of the batch's
        images, a label at most once per pixel."""
        units, total = self.both.shape
        b, u, y, x = on
        batch = len(next(iter(labels.values())))
        keys = [(u[:, None] * total + self.offsets[c] + maps[b, :, y, x]).flatten()
                for c, maps in labels.items()]
        self.both += torch.bincount(torch.cat(keys), minlength=units * total).view(units, total)
        # Bau et al.: the union is summed over images where the category has any label.
        annotated = torch.stack([(m > 0).flatten(1).any(1) for m in labels.values()], 1)
        area = torch.bincount(b * units + u, minlength=batch * units).view(batch, units)
        self.active += area.T @ annotated.long()
        self.labelled += torch.bincount(torch.cat([(self.offsets[c] + m).flatten()
                                                   for c, m in labels.items()]),
                                        minlength=total)

    def iou(self) -> torch.Tensor:
        """(units, concepts) IoU; the columns of "unlabelled" are zero."""
        both = self.both.double()
        union = self.active.double()[:, self.category] + self.labelled.double() - both
        iou = torch.where(union > 0, both / union.clamp(min=1), torch.zeros_like(both))
        iou[:, list(self.offsets.values())] = 0
        return iou


def default_layers(model: nn.Module) -> list[str]:
    """The layers dissected by default: the output of every conv stage, after its
    non-linearity. Conv-2/4/6 and VGG: each ReLU of ``features``; a CIFAR ResNet: the last block
    of each stage; a torchvision ResNet: ``layer1`` … ``layer4``."""
    names = dict(model.named_modules())
    if "features" in names:
        return [f"features.{n}" for n, m in names["features"].named_children()
                if isinstance(m, nn.ReLU)]
    if "blocks" in names:
        blocks = list(names["blocks"].children())
        return [f"blocks.{i}" for i, block in enumerate(blocks)
                if i + 1 == len(blocks) or blocks[i + 1].conv1.stride != (1, 1)]
    if "layer4" in names:
        return [f"layer{i}" for i in range(1, 5)]
    raise ValueError(f"no default layers for {type(model).__name__}: name them (modules: "
                     f"{', '.join(n for n in names if n)})")


class _Seen(Exception):
    """Every hooked layer has run: the rest of the network is not needed."""


@torch.no_grad()
def activations(model: nn.Module, layers, images: torch.Tensor) -> dict:
    """Each named layer's output (B, U, h, w) for a batch of images; the network runs only as
    far as the last of them."""
    modules = dict(model.named_modules())
    missing = [name for name in layers if name not in modules]
    if missing:
        raise ValueError(f"model has no layers {missing}")
    seen = {}

    def keep(name, out):
        if out.dim() != 4:
            raise ValueError(f"layer {name} gives {tuple(out.shape)}, not feature maps")
        seen[name] = out
        if len(seen) == len(layers):
            raise _Seen

    hooks = [modules[name].register_forward_hook(
        lambda _m, _i, out, name=name: keep(name, out)) for name in layers]
    try:
        model(images)
    except _Seen:
        pass
    finally:
        for hook in hooks:
            hook.remove()
    return {name: seen[name] for name in layers}


@dataclass
class Dissection:
    """What dissection found: one row per unit (``units``), the IoU of every unit with every
    concept (``iou[layer]``: units × concepts, columns named by ``concepts``), each unit's
    threshold and its top-activating probe images (``top[layer]``: units × k indices)."""

    units: list
    concepts: list                  # (category, name) per column of iou
    iou: dict
    thresholds: dict
    top: dict
    iou_threshold: float


def dissect(model: nn.Module, probe, layers=None, *, quantile: float = QUANTILE,
            iou_threshold: float = IOU_THRESHOLD, batch_size: int = 100, bins: int = 4096,
            top: int = 8, device: str = "cpu", keep_bytes: int = 2 ** 28,
            progress=None) -> Dissection:
    """Dissect ``layers`` (default :func:`default_layers`) of ``model`` on ``probe``: two passes
    over the probe, the first for thresholds and top images, the second for the IoU sums.
    Activations of the first pass are kept for the second while they fit in ``keep_bytes``;
    beyond that the second pass runs the network again (a large probe never sits in memory).
    ``progress``: a tqdm-like bar advanced once per probe image per pass."""
    layers = list(layers or default_layers(model))
    if not any(len(names) > 1 for names in probe.categories.values()):
        raise ValueError("the probe names no concepts")
    model = model.to(device).eval()
    spans = [(i, min(len(probe), i + batch_size)) for i in range(0, len(probe), batch_size)]
    if not spans:
        raise ValueError("the probe has no images")
    quantiles, best, kept, size = {}, {}, [], 0
    for start, stop in spans:
        images, _ = probe.batch(start, stop)
        maps = activations(model, layers, images.to(device))
        for name, a in maps.items():
            if name not in quantiles:
                quantiles[name] = UnitQuantile(a.shape[1], bins, device)
                best[name] = (torch.empty(a.shape[1], 0, device=device),
                              torch.empty(a.shape[1], 0, dtype=torch.long, device=device))
            quantiles[name].update(a.transpose(0, 1).flatten(1))
            best[name] = _top(best[name], a.amax((2, 3)).T, start, top)
        size += sum(a.numel() * a.element_size() for a in maps.values())
        if kept is not None and size <= keep_bytes:
            kept.append(maps)
        else:
            kept = None
        _advance(progress, stop - start)
    thresholds = {name: q.upper(quantile) for name, q in quantiles.items()}
    sizes = {c: len(names) for c, names in probe.categories.items()}
    tallies = {name: Tally(len(thresholds[name]), sizes, device) for name in layers}
    for i, (start, stop) in enumerate(spans):
        images, labels = probe.batch(start, stop)
        labels = {c: m.to(device) for c, m in labels.items()}
        maps = kept[i] if kept is not None else activations(model, layers, images.to(device))
        size = next(iter(labels.values())).shape[-2:]
        for name, a in maps.items():
            tallies[name].update(active(a, thresholds[name], size), labels)
        _advance(progress, stop - start)
    return _result(layers, probe.categories, tallies, thresholds, best, iou_threshold)


def active(a: torch.Tensor, thresholds: torch.Tensor, size) -> tuple:
    """The pixels where the maps ``a`` (B, U, h, w), upsampled bilinearly to ``size``, exceed
    each unit's threshold: index tensors ``(b, u, y, x)``. A bilinear map never exceeds the
    largest value it interpolates, so only the maps whose peak is above the threshold (a few
    per unit at the top 0.5%) are upsampled."""
    thresholds = thresholds.to(a.dtype)
    b, u = (a.amax((2, 3)) > thresholds).nonzero(as_tuple=True)
    found = [torch.empty(0, dtype=torch.long, device=a.device)] * 4
    step = max(1, 2 ** 24 // (size[0] * size[1]))   # ≤ 16M upsampled values at a time
    for first in range(0, len(b), step):
        bs, us = b[first:first + step], u[first:first + step]
        maps = a[bs, us][:, None]
        if maps.shape[-2:] != tuple(size):
            maps = F.interpolate(maps, size=tuple(size), mode="bilinear", align_corners=False)
        which, y, x = (maps[:, 0] > thresholds[us, None, None]).nonzero(as_tuple=True)
        found = [torch.cat([f, t]) for f, t in zip(found, (bs[which], us[which], y, x))]
    return tuple(found)


def _top(previous, maxima, start, k):
    values, indices = previous
    values = torch.cat([values, maxima], 1)
    indices = torch.cat([indices, start + torch.arange(maxima.shape[1], device=maxima.device)
                         .expand(maxima.shape[0], -1)], 1)
    best = values.topk(min(k, values.shape[1]), dim=1).indices
    return values.gather(1, best), indices.gather(1, best)


def _advance(progress, n):
    if progress is not None:
        progress.update(n)


def _result(layers, categories, tallies, thresholds, best, iou_threshold) -> Dissection:
    concepts = [(c, name) for c, names in categories.items() for name in names[1:]]
    rows, iou = [], {}
    for layer in layers:
        columns = [i for i in range(tallies[layer].both.shape[1])
                   if i not in tallies[layer].offsets.values()]
        iou[layer] = tallies[layer].iou()[:, columns].float().cpu()
        for unit, (score, which) in enumerate(zip(*map(torch.Tensor.tolist, iou[layer].max(1)))):
            rows.append({"layer": layer, "unit": unit, "category": concepts[which][0],
                         "concept": concepts[which][1], "iou": score,
                         "interpretable": score >= iou_threshold,
                         "threshold": float(thresholds[layer][unit])})
    return Dissection(rows, concepts, iou, {k: v.cpu() for k, v in thresholds.items()},
                      {k: v[1].cpu() for k, v in best.items()}, iou_threshold)


def counts(result: Dissection, by: str | None = "layer") -> list[dict]:
    """Interpretable units and unique concepts, per layer (``by="layer"``, with the layer's
    units), per concept category (``by="category"``: a unit counts in the category of its best
    concept; every category of the probe has a row) or in all (``by=None``; a concept detected
    in two layers counts once)."""
    if by not in ("layer", "category", None):
        raise ValueError(f"by must be 'layer', 'category' or None, not {by!r}")
    keys = dict.fromkeys(c for c, _ in result.concepts) if by == "category" else {}
    groups = {key: [] for key in keys}
    for row in result.units:
        groups.setdefault(row[by] if by else "all", []).append(row)
    out = []
    for key, rows in groups.items():
        on = [r for r in rows if r["interpretable"]]
        out.append({by or "all": key, **({} if by == "category" else {"units": len(rows)}),
                    "interpretable": len(on),
                    "concepts": len({(r["category"], r["concept"]) for r in on})})
    return out


def dissect_states(model: str, data, states, probe, layers=None, progress=None,
                   **settings) -> list[Dissection]:
    """Dissect many trained networks of one architecture (``models.for_data(model, 0, data)``
    loaded with each of ``states``), one per worker, each through the store: the entry
    is keyed by the weights themselves, the probe and the settings (``layers`` and
    :func:`dissect`'s keywords), so any network is dissected once. ``progress``: advanced once
    per network."""
    def one(tick, state):
        network = models.for_data(model, 0, data)
        network.load_state_dict(state)
        names = list(layers or default_layers(network))
        params = {"model": model, "weights": _fingerprint(state), "layers": names, **settings}
        return store.cached("dissect", params, lambda: dissect(network, probe, names, **settings),
                            data_fingerprint=probe.fingerprint)

    return engine.parallel([lambda tick, s=s: one(tick, s) for s in states], progress=progress)


def _fingerprint(state: dict) -> str:
    digest = hashlib.sha256()
    for name in sorted(state):
        digest.update(name.encode())
        digest.update(state[name].detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


@torch.no_grad()
def unit_masks(model: nn.Module, layer: str, unit: int, images: torch.Tensor,
               threshold: float, size) -> torch.Tensor:
    """Where ``unit`` of ``layer`` is on in each image: its map upsampled to ``size`` and
    thresholded, bool (N, H, W); for pictures of what a unit detects."""
    a = activations(model.eval(), [layer], images)[layer][:, unit:unit + 1]
    a = F.interpolate(a, size=tuple(size), mode="bilinear", align_corners=False)
    return a[:, 0] > threshold
