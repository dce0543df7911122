"""Broden (Bau et al., 2017), the probe set of Network Dissection, read from its folder::

    probe = broden.Probe()                 # $LTHKIT_DATA/broden1_224, else ~/.lthkit/data/...
    images, labels = probe.batch(0, 64)    # normalised images; category → (B, L, h, w) codes
    dissect.dissect(model, probe)

The folder is Broden's release (``broden1_224``, from the NetDissect project; nothing here
downloads it): ``index.csv`` lists each image (``image``, ``split``, image and label sizes
``ih, iw, sh, sw``) with, per category, ``;``-separated label sources: a number is a label of
the whole image (scene, texture), a file name a PNG under ``images/`` whose pixels hold a
label number as red + 256 × green. ``label.csv`` names the label numbers; ``c_<category>.csv``
gives each category's dense codes (``code, number, name``); ``category.csv`` names the
categories. A probe reads images and labels lazily, a batch at a time, so the 63,305 images
never sit in memory.
"""
from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import numpy as np
import torch

from . import data

FOLDER = "broden1_224"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
_FILES = ("index.csv", "category.csv", "label.csv")


def folder(path=None) -> Path:
    """Broden's folder: ``path``, else ``$LTHKIT_DATA/broden1_224`` (or
    ``~/.lthkit/data/broden1_224``)."""
    return Path(path).expanduser().resolve() if path else data.data_root() / FOLDER


def require(path=None) -> None:
    """Raise FileNotFoundError, saying where to put it, unless Broden's index files are in its
    folder (``path``, default :func:`folder`). Cheap: ``lthkit.preflight`` calls it."""
    base = folder(path)
    missing = [name for name in _FILES if not (base / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"broden was not found under {base} (no {missing[0]}). Unpack Broden's release "
            f"({FOLDER}.zip from the NetDissect project, about 1 GB) there, or point "
            f"$LTHKIT_DATA at the folder that holds {FOLDER}/. The default preset needs no "
            f"files: it probes with the generated scenes.")


def _read(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


class Probe:
    """Broden's images and per-pixel labels, read from its folder ``path`` a batch at a time.

    ``categories``: the categories to read (default all of ``category.csv``); ``size``: the
    side images are resized to (default: as stored); ``limit``: the first so many images that
    have any label of those categories; ``mean``/``std``: the normalisation the network was
    trained with (default ImageNet's)."""

    def __init__(self, path=None, categories=None, size: int | None = None,
                 limit: int | None = None, mean=IMAGENET_MEAN, std=IMAGENET_STD):
        require(path)
        self.root = folder(path)
        known = [row["name"] for row in _read(self.root / "category.csv")]
        wanted = list(categories) if categories is not None else known
        unknown = [c for c in wanted if c not in known]
        if unknown or not wanted:
            raise ValueError(f"Broden has no categories {unknown or wanted}; it has "
                             f"{', '.join(known)}")
        self.codes, self.categories = {}, {}
        for category in wanted:
            rows = _read(self.root / f"c_{category}.csv")
            table = {int(r["code"]): (int(r["number"]), r["name"]) for r in rows}
            codes = np.zeros(max(number for number, _ in table.values()) + 1, dtype=np.int64)
            for code, (number, _) in table.items():
                codes[number] = code
            self.codes[category] = codes
            self.categories[category] = ("",) + tuple(
                table[c][1] if c in table else f"{category} {c}"
                for c in range(1, max(table) + 1))
        rows = [r for r in _read(self.root / "index.csv")
                if any(r.get(c) for c in wanted)]
        self.rows = rows[:limit] if limit is not None else rows
        self.size = size
        self.mean = torch.tensor(mean).view(1, 3, 1, 1)
        self.std = torch.tensor(std).view(1, 3, 1, 1)
        digest = hashlib.sha256((self.root / "index.csv").read_bytes())
        digest.update(repr((wanted, size, limit, tuple(mean), tuple(std))).encode())
        self.fingerprint = digest.hexdigest()[:16]

    def __len__(self) -> int:
        return len(self.rows)

    def picture(self, indices) -> torch.Tensor:
        """uint8 images (n, 3, H, W), resized as the network sees them."""
        return torch.stack([self._image(self.rows[int(i)]) for i in indices])

    def batch(self, start: int, stop: int):
        """Normalised images (B, 3, H, W) and, per category, label codes (B, L, sh, sw)."""
        rows = self.rows[start:stop]
        images = self.picture(range(start, stop)).float() / 255
        images = (images - self.mean) / self.std
        shapes = {(int(r["sh"]), int(r["sw"])) for r in rows}
        if len(shapes) != 1:
            raise ValueError(f"images {start}–{stop} have labels of several sizes {shapes}: "
                             f"dissect them in batches of one size")
        (height, width), = shapes
        labels = {}
        for category in self.categories:
            maps = [self._labels(r, category, height, width) for r in rows]
            depth = max(len(m) for m in maps) or 1
            out = torch.zeros(len(rows), depth, height, width, dtype=torch.long)
            for i, m in enumerate(maps):
                if m:
                    out[i, :len(m)] = torch.from_numpy(np.stack(m))
            labels[category] = out
        return images, labels

    def _image(self, row) -> torch.Tensor:
        from PIL import Image

        with Image.open(self.root / "images" / row["image"]) as image:
            image = image.convert("RGB")
            if self.size:
                image = image.resize((self.size, self.size), Image.BILINEAR)
            return torch.from_numpy(np.asarray(image).copy()).permute(2, 0, 1)

    def _labels(self, row, category, height, width) -> list[np.ndarray]:
        from PIL import Image

        codes, out = self.codes[category], []
        for source in filter(None, (row.get(category) or "").split(";")):
            if source.isdigit():             # a label of the whole image
                number = np.full((height, width), int(source), dtype=np.int64)
            else:
                with Image.open(self.root / "images" / source) as png:
                    rgb = np.asarray(png.convert("RGB"), dtype=np.int64)
                if rgb.shape[:2] != (height, width):
                    raise ValueError(f"{source} is {rgb.shape[1]}×{rgb.shape[0]}, but index.csv "
                                     f"gives labels of {width}×{height}")
                number = rgb[..., 0] + 256 * rgb[..., 1]
            # numbers outside this category's table (another category's labels) are no label
            out.append(np.where(number < len(codes), codes[np.minimum(number, len(codes) - 1)],
                                0))
        return out
