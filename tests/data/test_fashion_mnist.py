"""Fashion-MNIST loader (repro/data/fashion_mnist.py): generated idx files read back through torchvision, and the
one-line message of a missing file."""
import pytest
import torch

from repro.data import fashion_mnist as fm
from repro.data.download import DataMissing
from repro.data.mnist import FILES  # Fashion-MNIST uses MNIST's file names


def test_generated_files_load_through_torchvision(tmp_path):
    raw = fm.write_fashion_mnist(tmp_path, n_train=40, n_test=12, seed=3)
    assert sorted(p.name for p in raw.iterdir()) == sorted(FILES[True] + FILES[False])
    # the idx header: magic 0x00000803 (uint8, 3 dims), then N, 28, 28
    header = (raw / "train-images-idx3-ubyte").read_bytes()[:16]
    assert header[:4] == bytes([0, 0, 8, 3]) and int.from_bytes(header[4:8], "big") == 40
    x, y = fm.load_fashion_mnist(tmp_path)
    assert x.shape == (40, 784) and x.dtype == torch.float32 and y.shape == (40,) and y.dtype == torch.int64
    assert 0.0 <= float(x.min()) and float(x.max()) <= 1.0 and float(x.max()) > 0.5
    xt, yt = fm.load_fashion_mnist(tmp_path, train=False, normalize=True, limit=5)
    assert xt.shape == (5, 784)
    raw_pixels = fm.load_fashion_mnist(tmp_path, train=False, limit=5)[0]
    torch.testing.assert_close(xt, (raw_pixels - fm.MEAN) / fm.STD)
    # the same seed writes the same files; labels cover several classes; the images depend on the label
    again = fm.write_fashion_mnist(tmp_path / "again", n_train=40, n_test=12, seed=3)
    assert (again / "train-images-idx3-ubyte").read_bytes() == (raw / "train-images-idx3-ubyte").read_bytes()
    assert len(set(y.tolist())) >= 5
    means = {k: x[y == k].mean(0) for k in set(y.tolist()) if (y == k).sum() >= 2}
    a, b = list(means)[:2]
    assert float((means[a] - means[b]).abs().max()) > 0.3


def test_missing_file_stops_with_one_line(tmp_path):
    with pytest.raises(DataMissing) as e:
        fm.load_fashion_mnist(tmp_path)
    msg = str(e.value)
    assert "\n" not in msg and "FashionMNIST/raw/train-images-idx3-ubyte" in msg and str(tmp_path) in msg
    assert "torchvision.datasets.FashionMNIST" in msg
