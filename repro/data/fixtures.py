"""Small data sets written in the real on-disk formats (MNIST idx, CIFAR-10 python pickles, the aclImdb tree, GloVe's
text vectors, the Tiny-ImageNet folders with JPEGs, a torchvision weights file), for
the tests: they exercise the real loaders end to end without the real (large, downloaded) files. Never used by a
figure: a tiny run uses synthetic tensors and says data=synthetic."""
from __future__ import annotations

import pickle
import struct
from pathlib import Path

import numpy as np


def _idx(path: Path, array: np.ndarray) -> None:
    """The idx format: magic (0, 0, dtype 0x08 = uint8, ndim), big-endian int32 dims, then the raw bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.write(struct.pack(">BBBB", 0, 0, 0x08, array.ndim))
        f.write(struct.pack(f">{array.ndim}I", *array.shape))
        f.write(array.astype(np.uint8).tobytes())


def _digit_images(labels: np.ndarray, rng: np.random.Generator, size: int) -> np.ndarray:
    """uint8 images: a bright bar whose position and angle depend on the label, on a noisy dark background."""
    yy, xx = np.mgrid[0:size, 0:size] / (size - 1)
    images = rng.integers(0, 40, size=(len(labels), size, size))
    for i, k in enumerate(labels):
        angle = np.pi * k / 10
        d = np.abs((xx - 0.5) * np.sin(angle) - (yy - 0.5) * np.cos(angle) - 0.04 * (k - 4.5))
        images[i] = np.maximum(images[i], (255 * (d < 0.08)).astype(int))
    return images.astype(np.uint8)


def write_mnist(root, n_train: int = 600, n_test: int = 100, seed: int = 0) -> Path:
    """<root>/MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte, as torchvision expects them."""
    rng = np.random.default_rng(seed)
    raw = Path(root) / "MNIST" / "raw"
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = rng.integers(0, 10, size=n).astype(np.uint8)
        _idx(raw / f"{prefix}-images-idx3-ubyte", _digit_images(labels, rng, 28))
        _idx(raw / f"{prefix}-labels-idx1-ubyte", labels)
    return raw


class Py2Str(str):
    """A Python 2 `str` (bytes) in a pickle: the type of every key and name in the real CIFAR-10 batches."""


class _Py2Pickler(pickle._Pickler):
    """Protocol-2 pickler that writes Py2Str as SHORT_BINSTRING / BINSTRING, as Python 2's cPickle did: loaded
    with encoding="latin1" (as torchvision does) they become str, with encoding="bytes" bytes."""

    dispatch = pickle._Pickler.dispatch.copy()

    def save_py2str(self, obj):
        data = obj.encode("latin1")
        if len(data) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(data)) + data)
        self.memoize(obj)

    dispatch[Py2Str] = save_py2str


def _py2_pickle(obj, path: Path) -> None:
    with open(path, "wb") as f:
        _Py2Pickler(f, protocol=2).dump(obj)


def write_cifar10(root, per_batch: int = 100, n_test: int = 100, seed: int = 0) -> Path:
    """<root>/cifar-10-batches-py/{data_batch_1..5, test_batch, batches.meta} in the format of
    cifar-10-python.tar.gz: Python-2 pickles of dicts with Python-2 str keys, 'data' a uint8 [N, 3072] array
    (rows = 1024 red, 1024 green, 1024 blue pixels, row-major), 'labels' a list of ints, 'batch_label' and
    'filenames' Python-2 strings; batches.meta holds 'label_names', 'num_cases_per_batch', 'num_vis'."""
    rng = np.random.default_rng(seed)
    base = Path(root) / "cifar-10-batches-py"
    base.mkdir(parents=True, exist_ok=True)
    means = rng.integers(40, 215, size=(10, 3, 1, 1))
    names_files = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for name in names_files:
        n = n_test if name == "test_batch" else per_batch
        labels = rng.integers(0, 10, size=n)
        images = np.clip(means[labels] + rng.normal(0, 40, size=(n, 3, 32, 32)), 0, 255).astype(np.uint8)
        entry = {Py2Str("batch_label"): Py2Str(f"{name} (generated)"), Py2Str("labels"): labels.tolist(),
                 Py2Str("data"): images.reshape(n, 3072), Py2Str("filenames"): [Py2Str(f"img_{i}.png") for i in range(n)]}
        _py2_pickle(entry, base / name)
    names = "airplane automobile bird cat deer dog frog horse ship truck".split()
    meta = {Py2Str("num_cases_per_batch"): per_batch, Py2Str("num_vis"): 3072,
            Py2Str("label_names"): [Py2Str(c) for c in names]}
    _py2_pickle(meta, base / "batches.meta")
    import hashlib   # the checksums the loader verifies generated files against (the real ones: torchvision's)
    sums = [f"{hashlib.md5((base / n).read_bytes()).hexdigest()}  {n}\n" for n in [*names_files, "batches.meta"]]
    (base / "md5sums.txt").write_text("".join(sums))
    return base


POSITIVE = "great wonderful excellent superb moving brilliant loved enjoyable".split()
NEGATIVE = "awful boring terrible dull waste worst poorly hated".split()
FILLER = "the a movie film plot actor scene story it was and of to is this that with".split()


def write_imdb(root, n_per_class: int = 40, seed: int = 0, length: tuple[int, int] = (10, 60)) -> Path:
    """<root>/aclImdb/{train,test}/{pos,neg}/<id>_<rating>.txt with generated reviews (with <br /> tags) of
    length[0] to length[1] - 1 words (real reviews average roughly 230 words)."""
    rng = np.random.default_rng(seed)
    base = Path(root) / "aclImdb"
    for split in ("train", "test"):
        for folder, words, ratings in (("pos", POSITIVE, (7, 11)), ("neg", NEGATIVE, (1, 5))):
            d = base / split / folder
            d.mkdir(parents=True, exist_ok=True)
            for i in range(n_per_class):
                n = int(rng.integers(*length))
                toks = [str(rng.choice(words)) if rng.random() < 0.2 else str(rng.choice(FILLER)) for _ in range(n)]
                text = " ".join(toks[: n // 2]).capitalize() + ". <br /><br />" + " ".join(toks[n // 2:]) + "."
                (d / f"{i}_{int(rng.integers(*ratings))}.txt").write_text(text, encoding="utf-8")
    return base


def write_glove(root, words, dim: int = 300, extra: int = 20, seed: int = 0) -> Path:
    """<root>/glove.6B/glove.6B.<dim>d.txt: one line per word, "<word> v1 ... v<dim>" with 6-decimal floats (as
    the real file), for `words` plus `extra` words no review uses."""
    rng = np.random.default_rng(seed)
    path = Path(root) / "glove.6B" / f"glove.6B.{dim}d.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    vocab = list(dict.fromkeys(words)) + [f"unused{i}" for i in range(extra)]
    with open(path, "w", encoding="utf-8") as f:
        for w in vocab:
            f.write(w + " " + " ".join(f"{v:.6f}" for v in rng.normal(0, 0.4, dim)) + "\n")
    return path


def write_tiny_imagenet(root, n_classes: int = 4, per_class: int = 3, n_val: int = 6, seed: int = 0) -> Path:
    """<root>/tiny-imagenet-200/ in the layout of tiny-imagenet-200.zip: wnids.txt (unsorted, as the real one),
    words.txt, train/<wnid>/images/<wnid>_<k>.JPEG and train/<wnid>/<wnid>_boxes.txt, val/images/val_<k>.JPEG and
    val/val_annotations.txt (tab-separated file, wnid, box). 64x64 JPEGs with a class colour; the first training
    image of the first class is greyscale (mode L), as a few real ones are."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    base = Path(root) / "tiny-imagenet-200"
    wnids = [f"n0{int(rng.integers(1_000_000, 9_999_999))}" for _ in range(n_classes)]
    colours = rng.integers(30, 225, size=(n_classes, 3))
    base.mkdir(parents=True, exist_ok=True)
    (base / "wnids.txt").write_text("".join(w + "\n" for w in wnids))
    (base / "words.txt").write_text("".join(f"{w}\tclass {i}\n" for i, w in enumerate(wnids)))

    def image(k: int) -> np.ndarray:
        return np.clip(colours[k] + rng.normal(0, 25, size=(64, 64, 3)), 0, 255).astype(np.uint8)

    for k, w in enumerate(wnids):
        d = base / "train" / w / "images"
        d.mkdir(parents=True, exist_ok=True)
        boxes = []
        for j in range(per_class):
            im = Image.fromarray(image(k))
            (im.convert("L") if k == 0 and j == 0 else im).save(d / f"{w}_{j}.JPEG", format="JPEG")
            boxes.append(f"{w}_{j}.JPEG\t0\t0\t63\t63\n")
        (base / "train" / w / f"{w}_boxes.txt").write_text("".join(boxes))
    val = base / "val" / "images"
    val.mkdir(parents=True, exist_ok=True)
    lines = []
    for j in range(n_val):
        k = j % n_classes
        Image.fromarray(image(k)).save(val / f"val_{j}.JPEG", format="JPEG")
        lines.append(f"val_{j}.JPEG\t{wnids[k]}\t{int(rng.integers(0, 20))}\t5\t50\t60\n")
    (base / "val" / "val_annotations.txt").write_text("".join(lines))
    return base


def write_efficientnet_weights(root, variant: str = "b0") -> Path:
    """<root>/<torchvision's weights file name>: the state dict of a randomly initialised torchvision EfficientNet
    (1000 classes) saved with torch.save, the format of torchvision's file (not its values)."""
    import torch
    import torchvision

    from repro.nn.efficientnet_tiny import WEIGHTS

    path = Path(root) / WEIGHTS[variant]
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(getattr(torchvision.models, f"efficientnet_{variant}")(weights=None).state_dict(), path)
    return path
