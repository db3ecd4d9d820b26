"""repro.data.mnist: torchvision's MNIST loader on idx files generated in the real format, and the synthetic
stand-in."""
import struct

import pytest
import torch

from repro.data import fixtures
from repro.data.download import DataMissing
from repro.data.mnist import MEAN, STD, load_mnist, synthetic_mnist


def test_loads_generated_idx_files_through_torchvision(tmp_path):
    raw = fixtures.write_mnist(tmp_path, n_train=50, n_test=20, seed=1)
    # The files are idx: magic 0x00000803 (uint8, 3 dims) / 0x00000801, big-endian sizes.
    head = (raw / "train-images-idx3-ubyte").read_bytes()[:16]
    assert struct.unpack(">IIII", head) == (0x803, 50, 28, 28)
    assert struct.unpack(">II", (raw / "t10k-labels-idx1-ubyte").read_bytes()[:8]) == (0x801, 20)
    x, y = load_mnist(tmp_path, train=True)
    x_test, y_test = load_mnist(tmp_path, train=False)
    assert x.shape == (50, 784) and x.dtype == torch.float32 and y.shape == (50,) and y.dtype == torch.int64
    assert x_test.shape == (20, 784) and y_test.shape == (20,)
    # Pixels round-trip: the loader's normalisation inverted gives the bytes written.
    written = torch.frombuffer(bytearray((raw / "train-images-idx3-ubyte").read_bytes()[16:]), dtype=torch.uint8)
    torch.testing.assert_close((x * STD + MEAN) * 255, written.view(50, 784).float(), atol=1e-3, rtol=0)
    labels = torch.frombuffer(bytearray((raw / "train-labels-idx1-ubyte").read_bytes()[8:]), dtype=torch.uint8)
    assert torch.equal(y, labels.long())


def test_missing_file_is_one_line_naming_the_path(tmp_path):
    with pytest.raises(DataMissing) as e:
        load_mnist(tmp_path)
    msg = str(e.value)
    assert "\n" not in msg and str(tmp_path / "MNIST" / "raw" / "train-images-idx3-ubyte") in msg


def test_synthetic_mixture_is_fixed_by_the_generator_and_balanced():
    a = synthetic_mnist(200, torch.Generator().manual_seed(3))
    b = synthetic_mnist(200, torch.Generator().manual_seed(3))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert a[0].shape == (200, 784) and torch.bincount(a[1], minlength=10).tolist() == [20] * 10
    assert not torch.equal(a[0], synthetic_mnist(200, torch.Generator().manual_seed(4))[0])


# issue 15, item 6: bad idx files stop with one line naming the file and what is wrong
def _bad_mnist_cases():
    import numpy as np

    def random_bytes(raw):
        (raw / "train-images-idx3-ubyte").write_bytes(np.random.default_rng(0).bytes(5000))

    def cut(raw):
        p = raw / "train-images-idx3-ubyte"
        p.write_bytes(p.read_bytes()[:-100])

    def gz(raw):
        import gzip
        p = raw / "train-labels-idx1-ubyte"
        p.write_bytes(gzip.compress(p.read_bytes()))

    def count(raw):
        p = raw / "train-labels-idx1-ubyte"
        data = p.read_bytes()
        p.write_bytes(data[:4] + struct.pack(">I", 49) + data[8:-1])

    def label(raw):
        p = raw / "train-labels-idx1-ubyte"
        p.write_bytes(p.read_bytes()[:-1] + bytes([200]))

    return [(random_bytes, "train-images-idx3-ubyte: not an idx file"), (cut, "the file is cut or padded"),
            (gz, "train-labels-idx1-ubyte: not an idx file"), (count, "49 labels for the 50 images"),
            (label, "label 200 out of range 0..9")]


@pytest.mark.parametrize("damage,expect", _bad_mnist_cases(), ids=["random", "cut", "gzipped", "count", "label"])
def test_bad_idx_file_is_one_line_naming_it(tmp_path, damage, expect):
    from repro.data.download import DataInvalid

    raw = fixtures.write_mnist(tmp_path, n_train=50, n_test=20, seed=1)
    damage(raw)
    with pytest.raises(DataInvalid) as e:
        load_mnist(tmp_path, train=True)
    msg = str(e.value)
    assert "\n" not in msg and expect in msg and str(raw) in msg, msg
