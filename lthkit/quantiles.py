"""Per-unit quantiles of a stream too large to keep, in bounded memory::

    q = UnitQuantile(units=64)
    for a in batches:                       # activations (B, units, h, w)
        q.update(a.transpose(0, 1).flatten(1))
    thresholds = q.upper(0.005)             # each unit's top-0.5% threshold

Network dissection (:mod:`lthkit.dissect`) thresholds each unit at the top 0.5% of its
activations over a whole probe set; at the paper's scale (63,305 Broden images) that is billions
of values per layer, so they are binned as they stream past instead of sorted.
"""
from __future__ import annotations

import torch


class UnitQuantile:
    """Per-unit upper quantiles of a stream of activations, in memory that does not grow with
    the stream: a histogram of ``bins`` per unit over [−R, R), R a power of two. When a value
    reaches R the range doubles as often as needed, pairs of bins merging (the edges of the new
    bins are edges of the old ones, so no count moves to a wrong bin). The estimate lies within
    one bin width (2R / bins) of the exact order statistic::

        q = UnitQuantile(units=64)
        for a in batches: q.update(a.transpose(0, 1).flatten(1))   # (units, values)
        thresholds = q.upper(0.005)                                  # (units,)
    """

    _EMPTY = -100  # no range yet: whatever comes widens it (values below 2**-100 count as 0)

    def __init__(self, units: int, bins: int = 4096, device="cpu"):
        if bins < 4 or bins & (bins - 1):
            raise ValueError(f"bins must be a power of two ≥ 4, not {bins}")
        self.bins = bins
        self.counts = torch.zeros(units, bins, dtype=torch.int64, device=device)
        self.exponent = torch.full((units,), self._EMPTY, dtype=torch.int64, device=device)

    @property
    def radius(self) -> torch.Tensor:
        return torch.pow(2.0, self.exponent.double())

    @property
    def width(self) -> torch.Tensor:
        """Each unit's bin width: the bound on the error of its estimate."""
        return 2 * self.radius / self.bins

    def update(self, values: torch.Tensor) -> None:
        """Add ``values`` (units, n) to the histograms."""
        units, bins = self.counts.shape[0], self.bins
        if values.dim() != 2 or values.shape[0] != units:
            raise ValueError(f"values must be ({units}, n), not {tuple(values.shape)}")
        values = values.float()
        biggest = values.abs().amax(1)
        # the smallest power of two above every value: 2**e, where biggest = m·2**e, m in [½, 1)
        needed = torch.where(biggest > 0, torch.frexp(biggest).exponent.long(),
                             torch.full_like(self.exponent, self._EMPTY))
        self._grow(torch.maximum(needed, self.exponent))
        # bin = floor((v / R + 1) · bins / 2), exact in float64 (R is a power of two), so a value
        # falls in the same bin whatever the batches, and merged bins hold what they would have
        scale = (bins / 2 / self.radius)[:, None]
        index = torch.addcmul(torch.tensor(bins / 2.0, dtype=torch.float64,
                                           device=values.device), values.double(), scale)
        index = index.int().clamp_(max=bins - 1)
        index += (torch.arange(units, dtype=torch.int32, device=index.device) * bins)[:, None]
        self.counts += torch.bincount(index.flatten(), minlength=units * bins).view(units, bins)

    def _grow(self, exponent: torch.Tensor) -> None:
        steps = exponent - self.exponent
        for step in steps.unique().tolist():
            if step == 0:
                continue
            rows = (steps == step).nonzero().flatten()
            # Doubling the range f times maps old bin i to new bin (f−1)·B/2 + i, divided by f;
            # from f = B/2 on, every old bin lands in one of the two bins around zero.
            factor = 2 ** min(step, self.bins.bit_length() - 2)
            half = self.bins // (2 * factor)
            merged = self.counts[rows].view(len(rows), self.bins // factor, factor).sum(-1)
            self.counts[rows] = 0
            self.counts[rows, self.bins // 2 - half:self.bins // 2 + half] = merged
        self.exponent = exponent

    def upper(self, fraction: float) -> torch.Tensor:
        """Each unit's threshold with ``fraction`` of its values above it: the
        (1 − fraction) quantile as ``torch.quantile`` defines it (linear, rank (1−q)(n−1)),
        interpolated within its bin."""
        if not 0 < fraction < 1:
            raise ValueError(f"fraction must lie in (0, 1), not {fraction}")
        counts = self.counts.double()
        n = counts.sum(1, keepdim=True)
        if (n == 0).any():
            raise ValueError("no values seen yet")
        rank = (1 - fraction) * (n - 1)                           # 0-based, as torch.quantile
        cumulative = counts.cumsum(1)
        bin_ = torch.searchsorted(cumulative, rank, right=True).clamp_(max=self.bins - 1)
        before = cumulative.gather(1, bin_) - counts.gather(1, bin_)
        inside = ((rank - before + 0.5) / counts.gather(1, bin_)).clamp(0, 1)
        low = -self.radius[:, None] + bin_ * self.width[:, None]
        return (low + inside * self.width[:, None]).squeeze(1)
