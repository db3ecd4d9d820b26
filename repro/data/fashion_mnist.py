"""Fashion-MNIST through torchvision's loader, from `data_dir` (escape_rate fig=2, fig=6), and small files in its
real on-disk format for tests and tiny runs.

The real files are the four uncompressed idx files under <data_dir>/FashionMNIST/raw/ (where
`torchvision.datasets.FashionMNIST(data_dir, download=True)` puts them; the names are MNIST's). A missing one raises
DataMissing (one line). `write_fashion_mnist` writes generated files in the same idx format (MNIST's), so that the
loader runs end to end without the real data; rows computed from them say data=synthetic.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from repro.data.fixtures import _idx
from repro.data.mnist import load_idx_dataset
BASE = "FashionMNIST/raw"
MEAN, STD = 0.2860, 0.3530   # the usual normalisation of Fashion-MNIST pixels in [0, 1]


def load_fashion_mnist(data_dir, train: bool = True, device="cpu", normalize: bool = False,
                       limit: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(x [N, 784] float32, y [N] int64) on `device`, read by torchvision.datasets.FashionMNIST: pixels / 255 in
    [0, 1], or standardised with MEAN, STD when `normalize`. `limit` keeps the first `limit` examples."""
    data, targets = load_idx_dataset("FashionMNIST", data_dir, train)
    if limit is not None:
        data, targets = data[:limit], targets[:limit]
    x = data.reshape(len(data), -1).to(device=device, dtype=torch.float32).div_(255)
    if normalize:
        x.sub_(MEAN).div_(STD)
    return x, targets.to(device=device, dtype=torch.int64)


def _garment_images(labels: np.ndarray, rng: np.random.Generator, size: int = 28) -> np.ndarray:
    """uint8 images: a bright class-dependent silhouette (a rectangle whose width, height and vertical position
    depend on the label, with a class-dependent stripe texture) on a noisy dark background."""
    yy, xx = np.mgrid[0:size, 0:size] / (size - 1)
    images = rng.integers(0, 30, size=(len(labels), size, size))
    for i, k in enumerate(labels):
        half_w = 0.12 + 0.03 * (k % 5)
        top, bottom = 0.1 + 0.04 * (k // 5), 0.55 + 0.04 * k
        inside = (np.abs(xx - 0.5) < half_w) & (yy > top) & (yy < min(bottom, 0.95))
        texture = 0.75 + 0.25 * np.cos(2 * np.pi * (k + 1) * yy)
        shade = rng.integers(150, 256)
        images[i] = np.maximum(images[i], (shade * texture * inside).astype(int))
    return np.clip(images, 0, 255).astype(np.uint8)


def write_fashion_mnist(root, n_train: int = 600, n_test: int = 100, seed: int = 0) -> Path:
    """<root>/FashionMNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte in the idx format torchvision reads."""
    rng = np.random.default_rng(seed)
    raw = Path(root) / BASE
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = rng.integers(0, 10, size=n).astype(np.uint8)
        _idx(raw / f"{prefix}-images-idx3-ubyte", _garment_images(labels, rng))
        _idx(raw / f"{prefix}-labels-idx1-ubyte", labels)
    return raw
