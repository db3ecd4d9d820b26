"""MNIST through torchvision's loader, from `data_dir` (LaProp fig=4), and the synthetic stand-in of tiny runs.

The real files are the four uncompressed idx files under <data_dir>/MNIST/raw/ (where
`torchvision.datasets.MNIST(data_dir, download=True)` puts them). A missing one raises DataMissing (one line).
"""
from __future__ import annotations

import torch

from repro.data.download import DataMissing, require, resolve_data_dir

FILES = {True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
         False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
MEAN, STD = 0.1307, 0.3081   # the usual normalisation of MNIST pixels in [0, 1]


def load_idx_dataset(dataset: str, data_dir, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """(images uint8 [N, 28, 28], labels) of torchvision.datasets.<dataset> (MNIST, FashionMNIST: the same idx
    files under <data_dir>/<dataset>/raw), or one DataMissing line naming the file to put there."""
    import torchvision

    for name in FILES[train]:
        try:
            require(data_dir, f"{dataset}/raw/{name}")
        except DataMissing as e:
            raise DataMissing(f"{e} (torchvision.datasets.{dataset}(data_dir, download=True) writes it)") from None
    ds = getattr(torchvision.datasets, dataset)(root=str(resolve_data_dir(data_dir)), train=train, download=False)
    return ds.data, ds.targets


def load_mnist(data_dir, train: bool = True, device="cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """(x [N, 784] float32 normalised, y [N] int64) on `device`, read by torchvision.datasets.MNIST."""
    data, targets = load_idx_dataset("MNIST", data_dir, train)
    x = data.reshape(len(data), -1).to(device=device, dtype=torch.float32).div_(255).sub_(MEAN).div_(STD)
    return x, targets.to(device=device, dtype=torch.int64)


def synthetic_mnist(n: int, generator: torch.Generator, dim: int = 784, classes: int = 10,
                    separation: float = 0.15, device="cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """A fixed 10-class Gaussian mixture shaped like normalised MNIST: x = mu_y + N(0, 1), class means mu_k with
    entries N(0, separation^2) (drawn from `generator`, so fixed by the seed stream), balanced labels."""
    means = separation * torch.randn(classes, dim, generator=generator, device=device)
    y = torch.arange(n, device=device) % classes
    y = y[torch.randperm(n, generator=generator, device=device)]
    x = means[y] + torch.randn(n, dim, generator=generator, device=device)
    return x, y
