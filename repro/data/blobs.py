"""Gaussian blobs: volumization's tiny harness (catalog volumization.md, "Tiny harness"): 10 classes in 64-d, class
means N(0, I) * 6 / sqrt(64), samples = mean + N(0, I); 2,000 training and 1,000 test points. Synthetic: rows on it
say data=synthetic."""
from __future__ import annotations

import torch


def gaussian_blobs(n_train: int = 2000, n_test: int = 1000, dim: int = 64, num_classes: int = 10,
                   separation: float = 6.0, generator: torch.Generator | None = None):
    """(x_train, y_train, x_test, y_test): class means drawn N(0, I) * separation / sqrt(dim), labels uniform, each
    point its class mean plus N(0, I) noise; everything drawn from `generator` (CPU)."""
    g = generator if generator is not None else torch.Generator().manual_seed(0)
    means = torch.randn(num_classes, dim, generator=g) * (separation / dim ** 0.5)
    n = n_train + n_test
    y = torch.randint(0, num_classes, (n,), generator=g)
    x = means[y] + torch.randn(n, dim, generator=g)
    return x[:n_train], y[:n_train], x[n_train:], y[n_train:]
