"""meta_alignment (arXiv 2012.02813) image->audio: CIFAR-10/100 images (source) and ESC-50 clips (target), paired
weakly by the 17 concept clusters of fig 9 (repro/data/meta_alignment/tasks.py, WEAK_CLUSTERS).

On disk (data_dir), the official archives extracted:
    cifar-10-batches-py/            read by repro.data.cifar10.load_cifar10 (md5-checked)
    cifar-100-python/{train,test,meta}   python pickles: b"data" uint8 [N, 3072], b"fine_labels", meta
                                    b"fine_label_names"; md5 against torchvision's list, or md5sums.txt beside
                                    generated files (as for CIFAR-10)
    ESC-50-master/meta/esc50.csv    filename,fold,target,category,esc10,src_file,take
    ESC-50-master/audio/<filename>  5 s mono 44.1 kHz PCM WAV clips
Missing -> DataMissing (one line, with `repro data fetch dataset=...` for the public archives); malformed ->
DataInvalid.
"""
from __future__ import annotations

import csv
import os
import pickle
from dataclasses import dataclass

import numpy as np
import torch

from repro.data.download import DataInvalid, file_hash, require
from repro.data.meta_alignment import tasks as T

CIFAR100 = "cifar-100-python"
ESC50 = "ESC-50-master"
ESC_COLUMNS = ("filename", "fold", "target", "category")


def _cifar100_md5s(folder) -> dict[str, str]:
    manifest = os.path.join(folder, "md5sums.txt")
    if os.path.exists(manifest):
        with open(manifest) as f:
            return {name: md5 for md5, name in (line.split() for line in f if line.strip())}
    import torchvision

    cls = torchvision.datasets.CIFAR100
    return {name: md5 for name, md5 in [*cls.train_list, *cls.test_list]} | {cls.meta["filename"]: cls.meta["md5"]}


def load_cifar100(data_dir, train: bool = True) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """(uint8 images [N, 32, 32, 3], fine labels [N], the 100 fine label names)."""
    files = {}
    for name in ("train" if train else "test", "meta"):
        files[name] = require(data_dir, f"{CIFAR100}/{name}")
    md5s = _cifar100_md5s(files["meta"].parent)
    for name, path in files.items():
        got = file_hash(path, "md5")
        if md5s.get(name) != got:
            raise DataInvalid(f"{path}: md5 {got} is not that of cifar-100-python.tar.gz's {name}; extract a fresh copy")
    with open(files["meta"], "rb") as f:
        names = tuple(n.decode() if isinstance(n, bytes) else n for n in pickle.load(f, encoding="bytes")[b"fine_label_names"])
    if names != T.CIFAR100_CLASSES:
        raise DataInvalid(f"{files['meta']}: fine label names differ from CIFAR-100's")
    with open(files["train" if train else "test"], "rb") as f:
        d = pickle.load(f, encoding="bytes")
    data, labels = d.get(b"data"), np.asarray(d.get(b"fine_labels"))
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072 \
            or len(labels) != len(data) or labels.min() < 0 or labels.max() > 99:
        raise DataInvalid(f"{CIFAR100}: data must be uint8 [N, 3072] with N fine labels in 0..99")
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels, names


@dataclass
class Clip:
    path: str
    fold: int
    target: int
    category: str


def load_esc50(data_dir) -> list[Clip]:
    """The ESC-50 clip list from meta/esc50.csv, every category checked against the 50 official names."""
    meta = require(data_dir, f"{ESC50}/meta/esc50.csv")
    audio = meta.parent.parent / "audio"
    with open(meta, newline="") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or not set(ESC_COLUMNS) <= set(reader.fieldnames):
            raise DataInvalid(f"{meta}: header must contain {', '.join(ESC_COLUMNS)}")
        clips = [Clip(str(audio / r["filename"]), int(r["fold"]), int(r["target"]), r["category"]) for r in reader]
    for c in clips:
        if not 0 <= c.target < 50 or T.ESC50_CLASSES[c.target] != c.category:
            raise DataInvalid(f"{meta}: target {c.target} is not category {c.category!r} in ESC-50")
    return clips


def cluster_members(data_dir, clusters=T.WEAK_CLUSTERS, train: bool = True) -> dict[str, dict]:
    """cluster name -> {"images": uint8 [n, 32, 32, 3], "labels": [n source class names ("c10:frog", ...)],
    "clips": [Clip, ...]}: the CIFAR images of its source classes (c10: CIFAR-10, c100: CIFAR-100) and the ESC-50
    clips of its target classes (a weak pair)."""
    from repro.data.cifar10 import load_cifar10

    x10, y10 = load_cifar10(data_dir, train=train)          # uint8 [N, 3, 32, 32]
    x10, y10 = x10.permute(0, 2, 3, 1).numpy(), y10.numpy()
    x100, y100, _ = load_cifar100(data_dir, train=train)
    clips = load_esc50(data_dir)
    out = {}
    for cl in clusters:
        imgs, labels = [], []
        for member in cl.source_classes:
            src, name = member.split(":")
            if src == "c10":
                imgs.append(x10[y10 == T.CIFAR10_CLASSES.index(name)])
            else:
                imgs.append(x100[y100 == T.CIFAR100_CLASSES.index(name)])
            labels += [member] * len(imgs[-1])
        out[cl.name] = {"images": np.concatenate(imgs), "labels": labels,
                        "clips": [c for c in clips if c.category in cl.target_classes]}
    return out


def clip_spectrogram(clip: Clip) -> torch.Tensor:
    """[1, 128, frames] log-mel spectrogram of one clip (repro/data/meta_alignment/audio.py)."""
    from repro.data.meta_alignment.audio import esc_spectrogram, read_wav

    if not os.path.exists(clip.path):
        raise DataInvalid(f"missing ESC-50 clip {clip.path} (listed in esc50.csv); extract ESC-50-master.zip again")
    samples, rate = read_wav(clip.path)
    return esc_spectrogram(samples, rate)

