"""CIFAR-10 through torchvision's loader, from `data_dir` (LaProp fig=T1), and the synthetic stand-in of tiny runs.

The real files are the python-pickle batches of cifar-10-python.tar.gz, extracted to
<data_dir>/cifar-10-batches-py/ (data_batch_1..5, test_batch, batches.meta), where
`torchvision.datasets.CIFAR10(data_dir, download=True)` puts them. A missing one raises DataMissing (one line).
torchvision's md5 checks are skipped (existence is checked here), so that small files generated in the same format
(repro/data/fixtures.py) load through the same code.
"""
from __future__ import annotations

import os
import pickle

import torch

from repro.data.download import DataMissing, require, resolve_data_dir

BASE = "cifar-10-batches-py"
TRAIN_FILES = [f"data_batch_{i}" for i in range(1, 6)]
TEST_FILES = ["test_batch"]
MEAN = (0.4914, 0.4822, 0.4465)   # bearpaw/pytorch-classification's normalisation
STD = (0.2023, 0.1994, 0.2010)


def _torchvision_cifar10():
    import torchvision

    class CIFAR10(torchvision.datasets.CIFAR10):
        def _check_integrity(self) -> bool:
            return True   # existence checked by load_cifar10 (require); md5 skipped, see the module doc

        def _load_meta(self) -> None:
            with open(os.path.join(self.root, self.base_folder, self.meta["filename"]), "rb") as f:
                self.classes = pickle.load(f, encoding="latin1")[self.meta["key"]]
            self.class_to_idx = {c: i for i, c in enumerate(self.classes)}

    return CIFAR10


def load_cifar10(data_dir, train: bool = True, device="cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """(x [N, 3, 32, 32] uint8, y [N] int64) on `device`; normalise with `normalize` after augmentation."""
    for name in (TRAIN_FILES if train else TEST_FILES) + ["batches.meta"]:
        try:
            require(data_dir, f"{BASE}/{name}")
        except DataMissing as e:
            raise DataMissing(f"{e} (extract cifar-10-python.tar.gz there, or run "
                              f"torchvision.datasets.CIFAR10(data_dir, download=True))") from None
    ds = _torchvision_cifar10()(root=str(resolve_data_dir(data_dir)), train=train, download=False)
    x = torch.from_numpy(ds.data).permute(0, 3, 1, 2).contiguous().to(device)
    return x, torch.tensor(ds.targets, dtype=torch.int64, device=device)


def normalize(x_uint8: torch.Tensor) -> torch.Tensor:
    mean = torch.tensor(MEAN, device=x_uint8.device).view(1, 3, 1, 1)
    std = torch.tensor(STD, device=x_uint8.device).view(1, 3, 1, 1)
    return (x_uint8.float() / 255 - mean) / std


def synthetic_cifar10(n: int, generator: torch.Generator, size: int = 16, classes: int = 10,
                      contrast: float = 80.0, device="cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """Random uint8 images with class-dependent means (the catalog's offline stand-in): each class has a mean
    colour per channel and a mean spatial pattern; x = clamp(128 + contrast * pattern_y + 48 * noise)."""
    patterns = torch.randn(classes, 3, size, size, generator=generator, device=device)
    patterns = torch.nn.functional.avg_pool2d(patterns, 3, stride=1, padding=1)   # smooth: shapes, not pixels
    patterns = patterns / patterns.flatten(1).std(1).view(-1, 1, 1, 1)
    y = torch.arange(n, device=device) % classes
    y = y[torch.randperm(n, generator=generator, device=device)]
    x = 128 + contrast * patterns[y] + 48 * torch.randn(n, 3, size, size, generator=generator, device=device)
    return x.clamp_(0, 255).to(torch.uint8), y
