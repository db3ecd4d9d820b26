"""Weight histograms and the near-wall fraction of fig=15 (repro/nn/weight_stats.py), and the quantization of
fig=16 (repro.optim.volumization.binarize_)."""
import pytest
import torch

from repro.nn.weight_stats import near_wall_fraction, weight_histogram
from repro.optim import Volumization, volumize_
from repro.optim.volumization import binarize_


def test_histogram_counts_everything_on_the_shared_range():
    w = torch.randn(1000, generator=torch.Generator().manual_seed(0))
    counts, edges = weight_histogram(w, bins=256, lim=5.0)
    assert counts.sum() == 1000 and len(edges) == 257 and edges[0] == -5.0 and edges[-1] == 5.0
    counts, edges = weight_histogram(w)
    assert counts.sum() == 1000 and edges[-1] == pytest.approx(w.abs().max().item())


def test_near_wall_fraction_counts_the_band_around_plus_minus_v():
    w = torch.tensor([1.0, -0.85, 1.15, 0.7, -1.3, 0.0, 0.81, -1.19])
    assert near_wall_fraction(w, 1.0, rel=0.2) == pytest.approx(5 / 8)
    with pytest.raises(ValueError):
        near_wall_fraction(w, 0.0)


def test_volumized_weights_pile_up_at_the_walls():
    """fig=15's statistic: clipping a Gaussian at +-V (alpha = 0) moves mass into the band; alpha = 1 does not."""
    w = torch.randn(100_000, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    V = 0.5
    clipped = w.clone()
    volumize_(clipped, V, 0.0)
    assert near_wall_fraction(clipped, V) > 0.6 > 0.2 > near_wall_fraction(w, V)


def test_binarize_sets_each_weight_to_plus_minus_its_volume():
    torch.manual_seed(0)
    lin = torch.nn.Linear(30, 10)
    with torch.no_grad():
        lin.bias[:3] = 0.0
    opt = Volumization(torch.optim.SGD(lin.parameters(), lr=0.0), v=0.5, alpha=0.5)
    lin(torch.randn(4, 30)).sum().backward()
    opt.step()
    done = binarize_(opt)
    assert set(done) == {lin.weight, lin.bias}
    for p in (lin.weight, lin.bias):
        V = opt.state[p]["V"]
        a = p.detach().abs()
        assert V > 0 and ((a == 0) | torch.isclose(a, torch.tensor(V))).all()
    assert (lin.bias[:3] == 0).all() and (lin.weight.abs() == opt.state[lin.weight]["V"]).all()
