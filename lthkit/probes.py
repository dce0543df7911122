"""What network dissection probes a network with: images, and per pixel the concepts they show::

    probe = scenes_probe(limit=1000)        # the first 1,000 test images of data.load("scenes")
    images, labels = probe.batch(0, 100)   # labels: category → (B, L, H, W) concept indices
    probe.categories["colour"]             # ("", "red", "orange", ...): index 0 is "no label"

A probe is anything with ``len``, ``batch(start, stop)``, ``categories`` and a ``fingerprint``
(for the store); ``picture(indices)`` gives uint8 images to show. :class:`TensorProbe` holds its
images in memory (``scenes``); ``lthkit.broden.Probe`` reads Broden from disk.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import torch


@dataclass(frozen=True, eq=False)
class TensorProbe:
    """Probe images held in memory: ``images`` float (N, C, H, W) as the network takes them;
    ``labels`` category → int tensor (N, H', W') or (N, L, H', W') (L label maps per image, for
    pixels with several labels); ``categories`` category → concept names, index 0 the empty
    name of "no label"; ``pictures`` uint8 (N, 3, H, W) to show, optional."""

    images: torch.Tensor
    labels: dict
    categories: dict
    pictures: torch.Tensor | None = None
    fingerprint: str = field(default="", init=False)

    def __post_init__(self):
        if set(self.labels) != set(self.categories):
            raise ValueError(f"labels are given for {sorted(self.labels)} but concepts are named "
                             f"for {sorted(self.categories)}")
        for category, maps in self.labels.items():
            if len(maps) != len(self.images) or maps.dim() not in (3, 4):
                raise ValueError(f"labels[{category!r}] must be ({len(self.images)}, [L,] H, W), "
                                 f"not {tuple(maps.shape)}")
        digest = hashlib.sha256()
        for name, t in [("images", self.images), *sorted(self.labels.items())]:
            digest.update(f"{name}{tuple(t.shape)}".encode())
            digest.update(t.contiguous().numpy().tobytes())
        digest.update(repr(sorted(self.categories.items())).encode())
        object.__setattr__(self, "fingerprint", digest.hexdigest()[:16])

    def __len__(self) -> int:
        return len(self.images)

    def batch(self, start: int, stop: int):
        """Images (B, C, H, W) and labels {category: long (B, L, H', W')} of ``start:stop``."""
        labels = {c: (m[start:stop] if m.dim() == 4 else m[start:stop, None]).long()
                  for c, m in self.labels.items()}
        return self.images[start:stop], labels

    def picture(self, indices) -> torch.Tensor:
        if self.pictures is None:
            raise ValueError("this probe was made without pictures to show")
        return self.pictures[torch.as_tensor(indices)]


def normalisation(dataset: str, options: dict | None = None) -> tuple:
    """Per-channel (mean, std) that ``data.load(dataset, **options)`` normalises its images
    with, so that another probe (Broden) reaches a network as its training images did."""
    from . import data, scenes

    if dataset == "cifar10":
        return data._CIFAR_MEAN, data._CIFAR_STD
    if dataset == "scenes":
        mean, std = scenes._channel_stats(scenes.raw("train", **(options or {}))[0])
        return tuple(mean.flatten().tolist()), tuple(std.flatten().tolist())
    raise ValueError(f"no image normalisation for {dataset!r} (cifar10, scenes)")


def scenes_probe(limit: int | None = None, dataset: str = "scenes",
                 options: dict | None = None) -> TensorProbe:
    """The first ``limit`` test images of ``data.load("scenes", **options)`` with their concept
    masks (``scenes.CONCEPTS``) and, to show, the images as generated; normalised like the
    images of ``dataset`` (``options`` are then that dataset's), that the networks trained on."""
    from . import scenes

    options = dict(options or {}) if dataset == "scenes" else {}
    images, _, maps = scenes.raw("test", **{**options, "masks": ("test",)})
    n = len(images) if limit is None else min(limit, len(images))
    mean, std = (torch.tensor(v).view(1, -1, 1, 1) for v in normalisation(dataset, options))
    return TensorProbe((images[:n].float() / 255 - mean) / std,
                       {c: maps[:n, i] for i, c in enumerate(scenes.CATEGORIES)},
                       dict(scenes.CONCEPTS), images[:n])
