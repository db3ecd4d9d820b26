"""Tiny-ImageNet (cs231n; 200 classes of 64x64 images, 500 train and 50 val images each) for volumization fig=T3
(EfficientNet fine-tuning; catalog volumization.md fig=T3: no train/val split, the val set is the test set).

The files are tiny-imagenet-200.zip extracted under data_dir (`repro data fetch dataset=tiny_imagenet`):
    tiny-imagenet-200/wnids.txt                           the 200 WordNet ids, one per line
    tiny-imagenet-200/train/<wnid>/images/<wnid>_<k>.JPEG  training images
    tiny-imagenet-200/val/images/val_<k>.JPEG             validation images, labelled by
    tiny-imagenet-200/val/val_annotations.txt             "<file>\\t<wnid>\\t<x0>\\t<y0>\\t<x1>\\t<y1>" per line
Class index = position of the wnid in the sorted wnids (torchvision ImageFolder's convention on the train folders;
the authors' loader is not in the catalog). Images are decoded with PIL and converted to RGB (a few of the JPEGs are
greyscale). A missing file or folder raises DataMissing; an image that is not 64x64, or a val label outside wnids.txt,
DataInvalid (one line each).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from repro.data.download import DataInvalid, DataMissing, require

BASE = "tiny-imagenet-200"
SIZE = 64
MEAN = (0.485, 0.456, 0.406)    # ImageNet statistics (the pretrained EfficientNets' normalisation)
STD = (0.229, 0.224, 0.225)


def _require(data_dir, rel: str) -> Path:
    try:
        return require(data_dir, f"{BASE}/{rel}" if rel else BASE)
    except DataMissing as e:
        raise DataMissing(f"{e} (extract tiny-imagenet-200.zip from http://cs231n.stanford.edu/tiny-imagenet-200.zip "
                          f"there)") from None


def read_wnids(data_dir) -> list[str]:
    """The 200 wnids, sorted: the class order."""
    return sorted(w.strip() for w in _require(data_dir, "wnids.txt").read_text().splitlines() if w.strip())


def _read_images(paths: list[Path]) -> torch.Tensor:
    from PIL import Image

    out = np.empty((len(paths), SIZE, SIZE, 3), dtype=np.uint8)
    for i, p in enumerate(paths):
        with Image.open(p) as im:
            if im.size != (SIZE, SIZE):
                raise DataInvalid(f"{p}: a {im.size[0]}x{im.size[1]} image, expected {SIZE}x{SIZE}")
            out[i] = np.asarray(im.convert("RGB"))
    return torch.from_numpy(out).permute(0, 3, 1, 2).contiguous()


def load_tiny_imagenet(data_dir, split: str = "train") -> tuple[torch.Tensor, torch.Tensor]:
    """(x uint8 [N, 3, 64, 64], y int64 [N]) of the train or val split, in sorted file order."""
    if split not in ("train", "val"):
        raise ValueError(f"split must be 'train' or 'val', got {split!r}")
    wnids = read_wnids(data_dir)
    index = {w: i for i, w in enumerate(wnids)}
    paths, labels = [], []
    if split == "train":
        for w in wnids:
            files = sorted(_require(data_dir, f"train/{w}/images").glob("*.JPEG"))
            if not files:
                raise DataMissing(f"{_require(data_dir, f'train/{w}/images')} has no .JPEG images: extract "
                                  f"tiny-imagenet-200.zip again")
            paths += files
            labels += [index[w]] * len(files)
    else:
        folder = _require(data_dir, "val/images")
        for n, line in enumerate(_require(data_dir, "val/val_annotations.txt").read_text().splitlines(), 1):
            if not line.strip():
                continue
            name, wnid = line.split("\t")[:2]
            if wnid not in index:
                raise DataInvalid(f"{BASE}/val/val_annotations.txt line {n}: {wnid!r} is not in wnids.txt")
            path = folder / name
            if not path.exists():
                raise DataMissing(f"missing data file: {path} (listed in val_annotations.txt line {n})")
            paths.append(path)
            labels.append(index[wnid])
        order = sorted(range(len(paths)), key=lambda i: paths[i].name)
        paths, labels = [paths[i] for i in order], [labels[i] for i in order]
    return _read_images(paths), torch.tensor(labels, dtype=torch.int64)


def normalize(x_uint8: torch.Tensor) -> torch.Tensor:
    mean = torch.tensor(MEAN, device=x_uint8.device).view(1, 3, 1, 1)
    std = torch.tensor(STD, device=x_uint8.device).view(1, 3, 1, 1)
    return (x_uint8.float() / 255 - mean) / std
