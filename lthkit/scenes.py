"""Scenes: a colour-image task that lthkit generates, with exact per-pixel concept masks::

    images, labels, masks = generate(1000, seed=0, split="test")
    # images uint8 (N, 3, 32, 32); labels int64 (N,); masks uint8 (N, 5, 32, 32), one label map per
    # category of CATEGORIES, values indexing CONCEPTS[category] (0: the category does not apply)

``data.load("scenes")`` (``dataset`` here) wraps this into normalised train / validation / test
splits through the store. Chapters 2–5 need a task where deep conv nets learn slowly enough for the early phase of
training to matter (CIFAR-10 in the papers, which cannot be had here) and per-pixel labels of
human concepts for network dissection (Broden in the papers).

A scene is a background of two regions split by a tilted horizon, each of a kind (sky, grass,
water, sand, wall) with its own colour field and texture, sprinkled with specks of clutter; on it
lie one *main* object and up to ``distractors`` smaller ones. Every object has a shape (SHAPES),
a primary and a secondary colour (COLOURS), a surface texture painted in the secondary colour
(plain, stripes, dots, checks) and a one-pixel rim in its primary colour; position, scale and
rotation are random, objects occlude one another in a random depth order, and Gaussian pixel
noise and colour jitter blur the palette.

**The class is the shape of the largest object**: the main one, drawn in a circle of radius
``scale`` × the side; distractors are drawn in circles at most ``distractor_scale`` times as
large, and a mostly hidden main object is brought to the front. Like naming the object in a
CIFAR photograph, this needs spatial reasoning: a shape is an arrangement of edges, recognised
at any position, rotation, scale, colour and texture, among distractors of other shapes, so no
pixel, colour or texture statistic gives it away. An MLP must learn each shape at every position
separately; a conv net shares that work across positions (``benchmarks/scenes_learnability.py``
measures the gap). Colour, texture and background are independent of the class, which is what
dissection needs: units that detect them are not class detectors in disguise.

Masks are exact: each concept map labels the pixels painted with that concept, after occlusion.
Generation is vectorised over images in chunks, each from its own seed, so the same
``(seed, split, n, size, knobs)`` gives the same bytes, and the splits are independent streams.
"""
from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass

import numpy as np
import torch

from . import data, store
from . import scene_paint as paint
from .train import single_thread

SHAPES = tuple(paint.SHAPE_TESTS)
CLASSES = SHAPES
COLOURS = {"red": (0.85, 0.10, 0.10), "orange": (0.95, 0.55, 0.05),
           "yellow": (0.95, 0.90, 0.15), "green": (0.15, 0.70, 0.20),
           "cyan": (0.10, 0.80, 0.85), "blue": (0.15, 0.25, 0.85),
           "purple": (0.55, 0.20, 0.75), "pink": (0.95, 0.50, 0.70),
           "white": (0.95, 0.95, 0.95), "black": (0.08, 0.08, 0.08)}
TEXTURES = ("plain", "stripes", "dots", "checks")
PARTS = ("boundary", "interior")
CATEGORIES = ("shape", "colour", "texture", "background", "part")
# Label value v of a category's map names CONCEPTS[category][v]; 0 ("") means "not applicable".
CONCEPTS = {"shape": ("",) + SHAPES, "colour": ("",) + tuple(COLOURS),
            "texture": ("",) + TEXTURES, "background": ("",) + paint.KINDS,
            "part": ("",) + PARTS}
SPLITS = ("train", "val", "test")
PALETTE = torch.tensor(list(COLOURS.values()))
_CHUNK = 1000  # images rendered at once: bounds memory (~100 MB at 32×32), not the result


@dataclass(frozen=True)
class Knobs:
    """Difficulty. Sizes are fractions of the image side; colours are in [0, 1]."""

    distractors: int = 3            # each image has 0..distractors smaller objects (uniform)
    distractor_scale: float = 0.7   # a distractor's radius is 0.35..this × the main object's
    scale: tuple = (0.2, 0.38)      # the main object's radius, as a fraction of the side
    clutter: float = 6.0            # mean number of background specks per image
    noise: float = 0.04             # std of Gaussian pixel noise
    jitter: float = 0.06            # colour jitter, uniform ± per channel, per object and region
    min_visible: float = 0.6        # less of the main object visible: it is brought to the front

    def __post_init__(self):
        object.__setattr__(self, "scale", tuple(self.scale))  # a list from YAML hashes too
        checks = {"distractors": 0 <= self.distractors <= 8,
                  "distractor_scale": 0.35 <= self.distractor_scale < 1,
                  "scale": len(self.scale) == 2 and 0.05 <= self.scale[0] <= self.scale[1] <= 0.5,
                  "clutter": 0 <= self.clutter <= 50, "noise": 0 <= self.noise <= 0.5,
                  "jitter": 0 <= self.jitter <= 0.3, "min_visible": 0 <= self.min_visible <= 1}
        for name, ok in checks.items():
            if not ok:
                raise ValueError(f"scenes knob {name}={getattr(self, name)!r} is out of range "
                                 f"(distractors 0..8, distractor_scale [0.35, 1), scale (lo, hi) "
                                 f"in [0.05, 0.5], clutter 0..50, noise 0..0.5, jitter 0..0.3, "
                                 f"min_visible 0..1)")


def generate(n: int, seed: int = 0, split: str = "train", size: int = 32,
             knobs: Knobs = Knobs(), masks: bool = True):
    """``n`` scenes of ``size``×``size``: uint8 images, balanced int64 labels, uint8 masks (or
    None when ``masks`` is False). Each split is its own stream: the test set does not change
    when the training set grows."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
    if not 8 <= size <= 256:
        raise ValueError(f"image size must be 8..256 pixels, not {size}")
    if n < 0:
        raise ValueError(f"number of images must be ≥ 0, not {n}")
    root = np.random.SeedSequence([int(seed), SPLITS.index(split)])
    label_seed, *chunk_seeds = root.spawn(1 + math.ceil(n / _CHUNK))
    # Exactly balanced classes, in a seeded order.
    labels = (torch.arange(n) % len(CLASSES))[torch.randperm(n, generator=_gen(label_seed))]
    images = torch.empty(n, 3, size, size, dtype=torch.uint8)
    maps = torch.empty(n, len(CATEGORIES), size, size, dtype=torch.uint8) if masks else None
    # One thread: on a quiet 2-core machine a second gains a quarter, on a busy one it lost 5×
    # (50,000 images in 31 s on one thread, 175 s on two, at load 4-8).
    with single_thread():
        for i, chunk_seed in enumerate(chunk_seeds):
            part = slice(i * _CHUNK, min(n, (i + 1) * _CHUNK))
            layout_seed, noise_seed = chunk_seed.spawn(2)
            image, concept = render(layout(labels[part], size, knobs, _gen(layout_seed)), knobs,
                                    _gen(noise_seed), masks)
            images[part] = image
            if masks:
                maps[part] = concept
    return images, labels, maps


def _gen(seed_sequence: np.random.SeedSequence) -> torch.Generator:
    return torch.Generator().manual_seed(int(seed_sequence.generate_state(1, np.uint64)[0]))


def layout(labels: torch.Tensor, size: int, knobs: Knobs, g: torch.Generator) -> dict:
    """Where everything goes: per-object tensors of shape (N, K), slot 0 the main object, and
    the painted background. The numbers drawn do not depend on the knobs' values (except
    ``distractors``, and ``clutter`` which is drawn last), so noise and jitter move nothing."""
    n, k = len(labels), 1 + knobs.distractors
    rand = lambda *shape: torch.rand(*shape, generator=g)  # noqa: E731
    count = torch.randint(0, knobs.distractors + 1, (n, 1), generator=g)
    present = torch.arange(k) <= count
    lo, hi = knobs.scale
    main = (lo + (hi - lo) * rand(n, 1)) * size
    ratio = 0.35 + (knobs.distractor_scale - 0.35) * rand(n, k)
    radius = torch.cat([main, main * ratio[:, 1:]], 1)
    # The main object keeps most of itself in the frame; distractors may hang off the edge.
    margin = torch.cat([0.6 * main, torch.zeros(n, k - 1)], 1)
    cx = margin + (size - 2 * margin) * rand(n, k)
    cy = margin + (size - 2 * margin) * rand(n, k)
    shape = torch.randint(0, len(SHAPES), (n, k), generator=g)
    shape[:, 0] = labels
    primary = torch.randint(0, len(COLOURS), (n, k), generator=g)
    secondary = (primary + torch.randint(1, len(COLOURS), (n, k), generator=g)) % len(COLOURS)
    return dict(
        size=size, present=present, radius=radius, cx=cx, cy=cy, shape=shape,
        angle=2 * math.pi * rand(n, k), primary=primary, secondary=secondary,
        texture=torch.randint(0, len(TEXTURES), (n, k), generator=g),
        period=(3.5 + 2.5 * rand(n, k)) * size / 32, phase=rand(n, k, 2),
        depth=rand(n, k).argsort(1), jitter=(2 * rand(n, k, 2, 3) - 1) * knobs.jitter,
        background=paint.background(n, size, knobs, g))


def render(lay: dict, knobs: Knobs, noise_g: torch.Generator, masks: bool = True):
    """Paint a layout: uint8 images (N, 3, S, S) and concept maps (N, 5, S, S) or None."""
    size, n = lay["size"], len(lay["shape"])
    u, v = _object_frames(lay)                              # pixel offsets in each object's frame
    inside = paint.inside(u / lay["radius"][..., None, None], v / lay["radius"][..., None, None],
                     torch.where(lay["present"], lay["shape"], -1))
    rim = inside & ~_erode(inside, max(1, round(size / 32)))
    owner, covered = _owner(inside, lay["depth"])
    main_seen = ((owner == 0) & covered).sum((1, 2)) / inside[:, 0].sum((1, 2)).clamp(min=1)
    hidden = main_seen < knobs.min_visible
    if hidden.any():  # bring a mostly hidden main object to the front, keeping the label honest
        depth = lay["depth"].clone()
        depth[hidden, 0] = depth.shape[1]
        owner, covered = _owner(inside, depth)

    pick = lambda t: t.gather(1, owner.flatten(1)).view(n, size, size)  # noqa: E731
    at_rim = rim.gather(1, owner[:, None]).squeeze(1)
    texture = pick(lay["texture"])
    pattern = paint.pattern(u.gather(1, owner[:, None]).squeeze(1),
                       v.gather(1, owner[:, None]).squeeze(1), texture,
                       pick(lay["period"]), *(pick(lay["phase"][..., i]) for i in (0, 1)))
    second = pattern & ~at_rim
    colour = torch.where(second, pick(lay["secondary"]), pick(lay["primary"]))
    jitter = _pick_jitter(lay["jitter"], owner, second)
    painted = (PALETTE[colour] + jitter).permute(0, 3, 1, 2)

    scene, region = lay["background"]
    image = torch.where(covered[:, None], painted, scene)
    image = image + knobs.noise * torch.randn(image.shape, generator=noise_g)
    image = (image.clamp(0, 1) * 255).round().to(torch.uint8)

    if not masks:
        return image, None
    maps = torch.stack([(t + 1).to(torch.uint8) for t in (pick(lay["shape"]), colour, texture,
                                                          region, (~at_rim).long())], 1)
    # Objects carry no background label; the background carries no object labels.
    background = CATEGORIES.index("background")
    maps[:, background].masked_fill_(covered, 0)
    objects = [i for i in range(len(CATEGORIES)) if i != background]
    maps[:, objects] *= covered[:, None]
    return image, maps


def _pick_jitter(jitter, owner, second):
    n, k = jitter.shape[:2]
    flat = jitter.reshape(n, k, 6).gather(1, owner.flatten(1)[..., None].expand(-1, -1, 6))
    flat = flat.view(*owner.shape, 2, 3)
    return torch.where(second[..., None], flat[..., 1, :], flat[..., 0, :])


def _object_frames(lay):
    centres = torch.arange(lay["size"], dtype=torch.float32) + 0.5
    dx = centres.view(1, 1, 1, -1) - lay["cx"][..., None, None]
    dy = centres.view(1, 1, -1, 1) - lay["cy"][..., None, None]
    cos, sin = torch.cos(lay["angle"])[..., None, None], torch.sin(lay["angle"])[..., None, None]
    return cos * dx + sin * dy, cos * dy - sin * dx


def _owner(inside, depth):
    """Which object each pixel shows (the front-most covering it), and whether any does."""
    score = inside * (depth + 1)[..., None, None]
    front, owner = score.max(1)
    return owner, front > 0


def _erode(mask, steps):
    # Outside the image counts as inside: where the frame cuts an object there is no outline.
    for _ in range(steps):
        pad = torch.nn.functional.pad(mask.float(), (1, 1, 1, 1), mode="replicate") > 0
        mask = (mask & pad[..., :-2, 1:-1] & pad[..., 2:, 1:-1]
                & pad[..., 1:-1, :-2] & pad[..., 1:-1, 2:])
    return mask


def dataset(augment: bool = True, seed: int = 0, size: int = 32, train: int = 20_000,
            val: int = 2_000, test: int = 2_000, masks=("test",), **knobs) -> data.Dataset:
    """``data.load("scenes", ...)``: the three splits generated through the store (one entry
    each, so the test set is reused when only the training size changes), normalised like
    CIFAR, with concept masks for the splits named in ``masks``."""
    known = {f.name for f in dataclasses.fields(Knobs)}
    if set(knobs) - known:
        raise ValueError(f"scenes has no option {sorted(set(knobs) - known)}; options: seed, "
                         f"size, train, val, test, masks, {', '.join(sorted(known))}")
    masks = (masks,) if isinstance(masks, str) else tuple(masks)
    if set(masks) - set(SPLITS):
        raise ValueError(f"masks names splits of {SPLITS}, not {masks!r}")
    if train <= 0 or test <= 0 or val < 0:
        raise ValueError(f"scenes needs train > 0, test > 0, val ≥ 0 (got {train}, {test}, {val})")
    knobs = Knobs(**knobs)
    splits = {split: _split(split, n, seed, size, knobs, split in masks)
              for split, n in (("train", train), ("val", val), ("test", test))}
    # Normalised like CIFAR: per-channel mean and std of the training images.
    mean, std = _channel_stats(splits["train"][0])
    x = {k: (v[0].float() / 255 - mean) / std for k, v in splits.items()}
    return data.Dataset("scenes", x["train"], splits["train"][1], x["test"], splits["test"][1],
                        num_classes=len(CLASSES), x_val=x["val"] if val else None,
                        y_val=splits["val"][1] if val else None, augment=augment,
                        masks={k: splits[k][2] for k in masks if splits[k][0].numel()},
                        concepts=CONCEPTS)


def _split(split: str, n: int, seed: int, size: int, knobs: Knobs, masks: bool):
    params = dict(seed=seed, split=split, n=n, size=size, masks=masks,
                  knobs=dataclasses.asdict(knobs))
    return store.cached("scenes", params, functools.partial(
        generate, n, seed, split, size, knobs, masks))


def raw(split: str = "test", seed: int = 0, size: int = 32, train: int = 20_000,
        val: int = 2_000, test: int = 2_000, masks=("test",), **knobs):
    """One split of ``dataset(seed=..., ...)`` as generated, before normalisation: uint8
    images (N, 3, S, S), labels, and masks (or None), read back from the store."""
    masks = (masks,) if isinstance(masks, str) else tuple(masks)
    n = {"train": train, "val": val, "test": test}[split]
    return _split(split, n, seed, size, Knobs(**knobs), split in masks)


def _channel_stats(images: torch.Tensor, chunk: int = 4096):
    """Per-channel mean and std of uint8 images (N, C, H, W) in [0, 1], summed in float64 a
    chunk at a time (a float64 copy of 50,000 images would take 1.2 GB)."""
    total = torch.zeros(2, images.shape[1], dtype=torch.float64)
    for i in range(0, len(images), chunk):
        part = images[i:i + chunk].double() / 255
        total += torch.stack([part.sum((0, 2, 3)), (part * part).sum((0, 2, 3))])
    count = images.numel() / images.shape[1]
    mean = total[0] / count
    std = (total[1] / count - mean ** 2).sqrt()
    return mean.float().view(1, -1, 1, 1), std.float().view(1, -1, 1, 1)


def grid(pictures: torch.Tensor, columns: int = 8, gap: int = 1) -> np.ndarray:
    """A gallery as one uint8 RGB array (H, W, 3), for ``plt.imshow`` or ``PIL.Image``.

    ``pictures``: uint8 images (N, 3, S, S), or label maps (N, S, S) shown in fixed colours
    (0 black), e.g. ``masks[:, CATEGORIES.index("shape")]``."""
    if pictures.dim() == 3:
        # Label 0 black; then the palette with its black made grey, so no label hides.
        shown = torch.where(PALETTE.sum(1, keepdim=True) < 0.5, 0.5, PALETTE)
        colours = (torch.cat([torch.zeros(1, 3), shown, torch.rand(
            256, 3, generator=torch.Generator().manual_seed(0))]) * 255).to(torch.uint8)
        pictures = colours[pictures.long()].permute(0, 3, 1, 2)
    if pictures.dim() != 4 or pictures.shape[1] != 3 or pictures.dtype != torch.uint8:
        raise ValueError("grid takes uint8 images (N, 3, S, S) or label maps (N, S, S)")
    n, _, h, w = pictures.shape
    rows = max(1, math.ceil(n / columns))
    canvas = torch.full((rows * (h + gap) + gap, columns * (w + gap) + gap, 3), 255,
                        dtype=torch.uint8)
    for i, picture in enumerate(pictures):
        r, c = divmod(i, columns)
        canvas[gap + r * (h + gap):gap + r * (h + gap) + h,
               gap + c * (w + gap):gap + c * (w + gap) + w] = picture.permute(1, 2, 0)
    return canvas.numpy()
