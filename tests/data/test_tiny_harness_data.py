"""The label-noise papers' tiny-harness data: the fixed digits split and the Gaussian blobs."""
import torch

from repro.data.blobs import gaussian_blobs
from repro.data.digits import digits_split, load_digits


def test_digits_split_is_a_fixed_partition_of_all_1797_digits():
    xa, ya, xb, yb = digits_split(1200)
    assert xa.shape == (1200, 64) and xb.shape == (597, 64)
    x, y = load_digits()
    together = torch.cat([xa, xb])
    # a permutation of the file's rows: same multiset of rows, not the file's order
    assert torch.equal(torch.sort(together.sum(1)).values, torch.sort(x.sum(1)).values)
    assert not torch.equal(together, x)
    again = digits_split(1437)
    assert torch.equal(again[0][:1200], xa) and again[1].shape == (1437,)
    assert not torch.equal(digits_split(1200, shuffle_seed=1)[0], xa)


def test_blobs_shapes_classes_and_seed():
    g = lambda s: torch.Generator().manual_seed(s)
    xa, ya, xb, yb = gaussian_blobs(generator=g(0))
    assert xa.shape == (2000, 64) and xb.shape == (1000, 64) and set(ya.tolist()) == set(range(10))
    assert torch.equal(gaussian_blobs(generator=g(0))[0], xa)
    assert not torch.equal(gaussian_blobs(generator=g(1))[0], xa)
    # nearest class mean classifies well at separation 6 in 64-d (the catalog's clean test accuracy ~ 1)
    means = torch.stack([xa[ya == c].mean(0) for c in range(10)])
    assert (torch.cdist(xb, means).argmin(1) == yb).float().mean() > 0.95
