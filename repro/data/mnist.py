"""MNIST through torchvision's loader, from `data_dir` (LaProp fig=4), and the synthetic stand-in of tiny runs.

The real files are the four uncompressed idx files under <data_dir>/MNIST/raw/ (where
`torchvision.datasets.MNIST(data_dir, download=True)` puts them). A missing one raises DataMissing (one line).
"""
from __future__ import annotations

import struct

import torch

from repro.data.download import DataInvalid, DataMissing, require, resolve_data_dir

FILES = {True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
         False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
MEAN, STD = 0.1307, 0.3081   # the usual normalisation of MNIST pixels in [0, 1]
IMAGE_MAGIC, LABEL_MAGIC = 0x00000803, 0x00000801   # uint8 (0x08), 3 dims / 1 dim


def check_idx(path, ndim: int, shape_tail: tuple = (), classes: int | None = None) -> int:
    """Validate an uncompressed idx file: its magic number (0, 0, 0x08 = uint8, ndim), its dims (the trailing
    ones must be `shape_tail`) and that its size is exactly header + product of dims. Labels are checked to be
    < classes. Returns the number of items; raises DataInvalid naming the file and what is wrong."""
    with open(path, "rb") as f:
        head = f.read(4 + 4 * ndim)
        size = f.seek(0, 2)
    magic = 0x800 | ndim
    if len(head) < 4 or struct.unpack(">I", head[:4])[0] != magic:
        got = f"0x{struct.unpack('>I', head[:4])[0]:08x}" if len(head) >= 4 else f"{len(head)} bytes"
        raise DataInvalid(f"{path}: not an idx file of uint8 with {ndim} dims (magic number {got}, expected "
                          f"0x{magic:08x}); replace it with the uncompressed original")
    if len(head) < 4 + 4 * ndim:
        raise DataInvalid(f"{path}: idx header cut short ({size} bytes)")
    dims = struct.unpack(f">{ndim}I", head[4:])
    if tuple(dims[1:]) != tuple(shape_tail):
        raise DataInvalid(f"{path}: items of shape {tuple(dims[1:])}, expected {tuple(shape_tail)}")
    n_bytes = 1
    for d in dims:
        n_bytes *= d
    if size != 4 + 4 * ndim + n_bytes:
        raise DataInvalid(f"{path}: {size} bytes, but its header says {dims} ({4 + 4 * ndim + n_bytes} bytes); "
                          f"the file is cut or padded")
    if classes is not None:
        with open(path, "rb") as f:
            f.seek(4 + 4 * ndim)
            top = max(f.read(), default=0)
        if top >= classes:
            raise DataInvalid(f"{path}: label {top} out of range 0..{classes - 1}")
    return dims[0]


def load_idx_dataset(dataset: str, data_dir, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """(images uint8 [N, 28, 28], labels) of torchvision.datasets.<dataset> (MNIST, FashionMNIST: the same idx
    files under <data_dir>/<dataset>/raw), or one DataMissing line naming the file to put there."""
    import torchvision

    paths = []
    for name in FILES[train]:
        try:
            paths.append(require(data_dir, f"{dataset}/raw/{name}"))
        except DataMissing as e:
            raise DataMissing(f"{e} (torchvision.datasets.{dataset}(data_dir, download=True) writes it)") from None
    n_images = check_idx(paths[0], 3, (28, 28))
    n_labels = check_idx(paths[1], 1, (), classes=10)
    if n_images != n_labels:
        raise DataInvalid(f"{paths[1]}: {n_labels} labels for the {n_images} images of {paths[0].name}")
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
