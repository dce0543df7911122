"""The streaming per-unit quantile against torch's exact one, on streams whose range grows."""
import pytest
import torch

from lthkit import quantiles


def _stream(seed=0):
    """Batches of six units of unlike kinds, whose range grows as the stream goes on."""
    g = torch.Generator().manual_seed(seed)
    batches = []
    for i in range(12):
        b = torch.randn(6, 3000, generator=g)
        b[0] *= 1e-3                                        # small values
        b[1] = b[1].exp() * 100                             # heavy right tail, large values
        b[2] = b[2].relu() * (torch.rand(3000, generator=g) < 0.02)   # almost all exactly 0
        b[3] = -b[3].abs()                                  # only negative values
        b[4] = torch.zeros(3000)                            # a dead unit
        b[5] = b[5].relu()
        batches.append(b * 2 ** (i // 3))                   # the range doubles, thrice
    return batches


@pytest.mark.parametrize("fraction", [0.005, 0.05, 0.5, 0.9])
def test_streaming_quantile_is_within_a_bin_of_the_exact_one(fraction):
    batches = _stream()
    q = quantiles.UnitQuantile(6, bins=1024)
    for b in batches:
        q.update(b)
    exact = torch.quantile(torch.cat(batches, 1).double(), 1 - fraction, dim=1)
    estimate = q.upper(fraction)
    assert ((estimate - exact).abs() <= q.width).all(), (estimate, exact, q.width)
    # the bound is tight enough to mean something: under 0.2% of each unit's range
    assert (q.width <= 2 * 2 * torch.cat(batches, 1).abs().amax(1).double() / 1024 + 1e-30).all()


def test_streaming_quantile_does_not_depend_on_how_the_stream_is_cut():
    whole = torch.cat(_stream(1), 1)
    one, many = quantiles.UnitQuantile(6), quantiles.UnitQuantile(6)
    one.update(whole)
    for part in whole.split(777, dim=1):
        many.update(part)
    assert torch.equal(one.counts, many.counts)
    assert torch.equal(one.upper(0.005), many.upper(0.005))


def test_streaming_quantile_memory_does_not_grow_with_the_stream():
    q = quantiles.UnitQuantile(3, bins=256)
    for _ in range(50):
        q.update(torch.randn(3, 1000) * 1e6)
    assert q.counts.shape == (3, 256) and int(q.counts.sum()) == 3 * 50 * 1000


def test_streaming_quantile_rejects_bad_input():
    with pytest.raises(ValueError, match="power of two"):
        quantiles.UnitQuantile(2, bins=1000)
    q = quantiles.UnitQuantile(2)
    with pytest.raises(ValueError, match="no values"):
        q.upper(0.005)
    with pytest.raises(ValueError, match=r"\(2, n\)"):
        q.update(torch.zeros(3, 5))
