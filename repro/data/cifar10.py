"""CIFAR-10 through torchvision's loader, from `data_dir` (LaProp fig=T1), and the synthetic stand-in of tiny runs.

The real files are the python-pickle batches of cifar-10-python.tar.gz, extracted to
<data_dir>/cifar-10-batches-py/ (data_batch_1..5, test_batch, batches.meta), where
`torchvision.datasets.CIFAR10(data_dir, download=True)` puts them. A missing one raises DataMissing (one line).
Every file is checked before it is read: its md5 against the official one (torchvision's list), or, for small files
generated in the same format (repro/data/fixtures.py), against the `md5sums.txt` written beside them; then each
batch's shapes (data uint8 [N, 3072], N labels in 0..9) and the meta's 10 label names. A file that fails raises
DataInvalid: one line naming it and what is wrong.
"""
from __future__ import annotations

import os
import pickle

import numpy as np
import torch

from repro.data.download import DataInvalid, DataMissing, file_hash, require, resolve_data_dir

BASE = "cifar-10-batches-py"
TRAIN_FILES = [f"data_batch_{i}" for i in range(1, 6)]
TEST_FILES = ["test_batch"]
MEAN = (0.4914, 0.4822, 0.4465)   # bearpaw/pytorch-classification's normalisation
STD = (0.2023, 0.1994, 0.2010)


MANIFEST = "md5sums.txt"


def expected_md5s(folder) -> dict[str, str]:
    """name -> md5: from md5sums.txt beside the batches (generated files), else torchvision's official list."""
    manifest = os.path.join(folder, MANIFEST)
    if os.path.exists(manifest):
        with open(manifest) as f:
            return {name: md5 for md5, name in (line.split() for line in f if line.strip())}
    import torchvision

    cls = torchvision.datasets.CIFAR10
    return {name: md5 for name, md5 in [*cls.train_list, *cls.test_list]} | {cls.meta["filename"]: cls.meta["md5"]}


def check_batch(path, md5s: dict[str, str]) -> None:
    """md5 first (nothing unverified is unpickled), then the batch's shapes; DataInvalid names what is wrong."""
    name = os.path.basename(path)
    want = md5s.get(name)
    got = file_hash(path, "md5")
    if want is None or got != want:
        raise DataInvalid(f"{path}: md5 {got} is not that of cifar-10-python.tar.gz's {name}"
                          f"{' (' + want + ')' if want else ''}; extract a fresh copy there")
    with open(path, "rb") as f:
        entry = pickle.load(f, encoding="latin1")
    if name == "batches.meta":
        if len(entry.get("label_names", [])) != 10:
            raise DataInvalid(f"{path}: {len(entry.get('label_names', []))} label names, expected 10")
        return
    data, labels = entry.get("data"), entry.get("labels")
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        got = getattr(data, "shape", type(data).__name__)
        raise DataInvalid(f"{path}: data of shape {got}, expected uint8 [N, 3072]")
    if labels is None or len(labels) != len(data) or not all(0 <= y < 10 for y in labels):
        raise DataInvalid(f"{path}: {0 if labels is None else len(labels)} labels for {len(data)} images, "
                          f"or a label outside 0..9")


def _torchvision_cifar10():
    import torchvision

    class CIFAR10(torchvision.datasets.CIFAR10):
        def _check_integrity(self) -> bool:   # the md5s of the official files, or of md5sums.txt (see the doc)
            folder = os.path.join(self.root, self.base_folder)
            md5s = expected_md5s(folder)
            names = [n for n, _ in (self.train_list if self.train else self.test_list)] + [self.meta["filename"]]
            return all(md5s.get(n) == file_hash(os.path.join(folder, n), "md5") for n in names)

        def _load_meta(self) -> None:
            with open(os.path.join(self.root, self.base_folder, self.meta["filename"]), "rb") as f:
                self.classes = pickle.load(f, encoding="latin1")[self.meta["key"]]
            self.class_to_idx = {c: i for i, c in enumerate(self.classes)}

    return CIFAR10


def load_cifar10(data_dir, train: bool = True, device="cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """(x [N, 3, 32, 32] uint8, y [N] int64) on `device`; normalise with `normalize` after augmentation."""
    paths = []
    for name in (TRAIN_FILES if train else TEST_FILES) + ["batches.meta"]:
        try:
            paths.append(require(data_dir, f"{BASE}/{name}"))
        except DataMissing as e:
            raise DataMissing(f"{e} (extract cifar-10-python.tar.gz there, or run "
                              f"torchvision.datasets.CIFAR10(data_dir, download=True))") from None
    md5s = expected_md5s(paths[0].parent)
    for path in paths:
        check_batch(path, md5s)
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
