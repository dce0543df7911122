"""How ``scenes`` draws: shapes (which pixels an object covers), surface textures, and
backgrounds of two regions split by a tilted horizon, each of a kind with its own colour field
and texture, plus specks of clutter that belong to the background::

    scene, region = background(n, size, knobs, generator)  # float (N, 3, S, S), kinds (N, S, S)
    covered = inside(x, y, shape)    # x, y: pixel centres in each object's frame, in radii
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

KINDS = ("sky", "grass", "water", "sand", "wall")


def background(n: int, size: int, knobs, g: torch.Generator):
    rand = lambda *shape: torch.rand(*shape, generator=g)  # noqa: E731
    kinds = torch.randint(0, len(KINDS), (n, 2), generator=g)
    height, tilt = 0.25 + 0.5 * rand(n, 1, 1), 0.7 * rand(n, 1, 1) - 0.35
    ys, xs = _grid(size)
    upper = ys < height + tilt * (xs - 0.5)
    fields = torch.empty(n, 2, 3, size, size)
    for r in range(2):
        for k, kind in enumerate(KINDS):
            which = kinds[:, r] == k
            fields[which, r] = _FIELDS[kind](int(which.sum()), size, g)
    # Each region its own brightness and colour cast, so no colour names a kind by itself.
    brightness = 0.85 + 0.3 * rand(n, 2, 1, 1, 1)
    cast = (2 * rand(n, 2, 3, 1, 1) - 1) * knobs.jitter
    fields = fields * brightness + cast
    scene = torch.where(upper[:, None], fields[:, 0], fields[:, 1])
    scene = scene * _clutter(n, size, knobs.clutter, g)[:, None]
    region = torch.where(upper, kinds[:, :1, None], kinds[:, 1:, None])
    return scene, region


def _grid(size):
    centres = (torch.arange(size, dtype=torch.float32) + 0.5) / size
    return centres.view(-1, 1), centres.view(1, -1)


def _smooth(m, size, rows, cols, g):
    """Smooth random values in [0, 1]: a coarse grid of rows×cols, interpolated to the image."""
    coarse = torch.rand(m, 1, rows, cols, generator=g)
    return F.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=False)


def _colour(rgb):
    return torch.tensor(rgb).view(1, 3, 1, 1)


def _sky(m, size, g):
    ys, _ = _grid(size)
    base = _colour((0.25, 0.45, 0.85)) * (1 - ys) + _colour((0.65, 0.80, 0.95)) * ys
    cloud = ((_smooth(m, size, 3, 4, g) - 0.55) * 4).clamp(0, 1) * 0.8
    return base * (1 - cloud) + 0.97 * cloud


def _grass(m, size, g):
    blades = _smooth(m, size, max(2, size // 4), size, g)  # long along y, sharp along x
    return _colour((0.22, 0.55, 0.18)) * (0.65 + 0.7 * blades)


def _water(m, size, g):
    ys, xs = _grid(size)
    rand = torch.rand(m, 4, 1, 1, generator=g)
    freq, sway, phase, drift = 4 + 3 * rand[:, :1], 1 + 2 * rand[:, 1:2], rand[:, 2:3], rand[:, 3:]
    wave = torch.sin(2 * math.pi * (ys * freq + 0.08 * torch.sin(2 * math.pi * (xs * sway + drift))
                                    + phase))
    return _colour((0.10, 0.35, 0.60)) * (0.85 + 0.2 * wave) + 0.2 * (wave > 0.85)


def _sand(m, size, g):
    ys, xs = _grid(size)
    rand = torch.rand(m, 2, 1, 1, generator=g)
    angle, freq = math.pi * rand[:, :1], 3 + 3 * rand[:, 1:]
    ripple = torch.sin(2 * math.pi * freq * (xs * torch.cos(angle) + ys * torch.sin(angle)))
    speckle = torch.rand(m, 1, size, size, generator=g)
    return _colour((0.86, 0.74, 0.50)) * (0.92 + 0.05 * ripple + 0.12 * speckle)


def _wall(m, size, g):
    ys, xs = (t * size for t in _grid(size))
    rand = torch.rand(m, 3, 1, 1, generator=g)
    high = size / 6 * (0.8 + 0.4 * rand[:, :1])           # brick height in pixels
    y = ys + high * rand[:, 1:2]
    row = torch.floor(y / high)
    x = xs + 2 * high * rand[:, 2:] + high * torch.remainder(row, 2)  # rows offset by half
    col = torch.floor(x / (2 * high))
    mortar = (y - row * high < 1) | (x - col * 2 * high < 1)
    # Each brick its own shade: a random table indexed by (row, column).
    shades = 0.8 + 0.35 * torch.rand(m, 16 * 16, generator=g)
    index = (torch.remainder(row, 16) * 16 + torch.remainder(col, 16)).long().flatten(1)
    shade = shades.gather(1, index).view(m, 1, size, size)
    brick = _colour((0.62, 0.26, 0.18)) * shade
    return torch.where(mortar, _colour((0.78, 0.76, 0.72)), brick)


_FIELDS = {"sky": _sky, "grass": _grass, "water": _water, "sand": _sand, "wall": _wall}


def _clutter(n, size, mean, g):
    """Brightness factors of small dark or light specks (pebbles, leaves), ``mean`` per image."""
    slots = math.ceil(2 * mean)
    if slots == 0:
        return torch.ones(n, size, size)
    rand = torch.rand(n, slots, 5, generator=g)
    present = rand[..., 0] < mean / slots
    cy, cx = size * rand[..., 1, None, None], size * rand[..., 2, None, None]
    radius = (0.6 + 0.9 * rand[..., 3, None, None]) * size / 32
    dark = rand[..., 4] < 0.5
    factor = torch.where(dark, 0.5 + 0.5 * rand[..., 4], 1.3 + 0.6 * (rand[..., 4] - 0.5))
    ys, xs = (t * size for t in _grid(size))
    on = ((ys - cy) ** 2 + (xs - cx) ** 2 <= radius ** 2) & present[..., None, None]
    return torch.where(on, factor[..., None, None], 1.0).prod(1)


def inside(x, y, shape):
    """Which pixels each object covers; x, y in its own frame, in units of its radius; an
    absent object (shape -1) covers none."""
    out = torch.zeros(x.shape, dtype=torch.bool)
    for s, name in enumerate(SHAPE_TESTS):
        which = shape == s
        if which.any():
            out[which] = SHAPE_TESTS[name](x[which], y[which])
    return out


def _star(x, y, outer=1.05, inner=0.45, points=5):
    sector = 2 * math.pi / points
    a = (torch.remainder(torch.atan2(y, x), sector) - sector / 2).abs()  # fold onto one edge
    rho = torch.hypot(x, y)
    px, py = rho * torch.cos(sector / 2 - a), rho * torch.sin(sector / 2 - a)
    ex, ey = inner * math.cos(sector / 2) - outer, inner * math.sin(sector / 2)
    return ex * py - ey * (px - outer) >= 0  # on the centre's side of the edge


def _triangle(x, y, inradius=0.55):
    normals = [(math.cos(t), math.sin(t)) for t in (math.pi / 2, 7 * math.pi / 6, 11 * math.pi / 6)]
    return torch.stack([x * a + y * b <= inradius for a, b in normals]).all(0)


SHAPE_TESTS = {
    "circle": lambda x, y: x * x + y * y <= 1,
    "ring": lambda x, y: (x * x + y * y <= 1) & (x * x + y * y >= 0.25),
    "square": lambda x, y: (x.abs() <= 0.78) & (y.abs() <= 0.78),
    "triangle": _triangle,
    "star": _star,
    "cross": lambda x, y: (((x.abs() <= 0.3) & (y.abs() <= 0.95))
                           | ((y.abs() <= 0.3) & (x.abs() <= 0.95))),
    "crescent": lambda x, y: (x * x + y * y <= 1) & ((x - 0.45) ** 2 + y * y > 0.5625),
    "heart": lambda x, y: ((1.2 * x) ** 2 + (1.2 * y + 0.15) ** 2 - 1) ** 3
                          - (1.2 * x) ** 2 * (1.2 * y + 0.15) ** 3 <= 0,
    "ell": lambda x, y: (((x >= -0.75) & (x <= -0.2) & (y.abs() <= 0.9))
                         | ((x >= -0.75) & (x <= 0.8) & (y >= 0.35) & (y <= 0.9))),
    "bar": lambda x, y: (x.abs() <= 1) & (y.abs() <= 0.32),
}


def pattern(u, v, texture, period, phase_u, phase_v):
    """Where an object's surface shows its secondary colour, in its own frame (pixels)."""
    a = torch.remainder(u + phase_u * period, period) / period   # position within a period
    b = torch.remainder(v + phase_v * period, period) / period
    stripes = a < 0.5
    dots = (a - 0.5) ** 2 + (b - 0.5) ** 2 < 0.09
    checks = (a < 0.5) ^ (b < 0.5)
    plain = torch.zeros_like(stripes)
    return torch.stack([plain, stripes, dots, checks]).gather(0, texture[None]).squeeze(0)
