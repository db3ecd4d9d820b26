"""repro.data.cifar10: torchvision's CIFAR-10 loader on batches generated in the real python-pickle format."""
import pickle

import numpy as np
import pytest
import torch

from repro.data import fixtures
from repro.data.cifar10 import load_cifar10, normalize, synthetic_cifar10
from repro.data.download import DataMissing


def test_generated_batches_have_the_real_format(tmp_path):
    base = fixtures.write_cifar10(tmp_path, per_batch=30, n_test=10)
    with open(base / "data_batch_3", "rb") as f:
        raw = pickle.load(f, encoding="bytes")   # Python-2 strings: bytes keys when read as bytes
    assert set(raw) == {b"batch_label", b"labels", b"data", b"filenames"}
    assert raw[b"data"].dtype == np.uint8 and raw[b"data"].shape == (30, 3072) and len(raw[b"labels"]) == 30
    with open(base / "batches.meta", "rb") as f:
        assert pickle.load(f, encoding="latin1")["label_names"][0] == "airplane"


def test_loads_generated_batches_through_torchvision(tmp_path):
    base = fixtures.write_cifar10(tmp_path, per_batch=30, n_test=10, seed=2)
    x, y = load_cifar10(tmp_path, train=True)
    x_test, y_test = load_cifar10(tmp_path, train=False)
    assert x.shape == (150, 3, 32, 32) and x.dtype == torch.uint8 and y.shape == (150,)
    assert x_test.shape == (10, 3, 32, 32) and y_test.dtype == torch.int64
    # Channel-major rows: the first 1024 bytes of a row are the red plane, row-major.
    with open(base / "data_batch_1", "rb") as f:
        first = pickle.load(f, encoding="latin1")
    assert torch.equal(x[0], torch.from_numpy(first["data"][0].reshape(3, 32, 32)))
    assert y[:30].tolist() == first["labels"]
    z = normalize(x)
    assert z.dtype == torch.float32 and abs(z.mean().item()) < 2


def test_missing_batch_is_one_line(tmp_path):
    with pytest.raises(DataMissing) as e:
        load_cifar10(tmp_path, train=False)
    assert "\n" not in str(e.value) and "cifar-10-batches-py/test_batch" in str(e.value)


def test_synthetic_images_have_class_dependent_means():
    x, y = synthetic_cifar10(2000, torch.Generator().manual_seed(0), size=16)
    assert x.shape == (2000, 3, 16, 16) and x.dtype == torch.uint8
    means = torch.stack([x[y == k].float().mean(0) for k in range(10)])
    # Classes differ by far more than the sampling error of their means (noise std 48 / sqrt(200) ~ 3.4).
    assert (means[0] - means[1]).abs().mean() > 20


# issue 15, item 6: the integrity check is on: checksums first, then shapes; one line naming the file
def test_integrity_check_is_enabled(tmp_path):
    from repro.data import cifar10
    from repro.data.download import DataInvalid

    base = fixtures.write_cifar10(tmp_path, per_batch=30, n_test=10)
    (base / "data_batch_2").write_bytes(np.random.default_rng(0).bytes(4000))   # garbage
    with pytest.raises(DataInvalid) as e:
        load_cifar10(tmp_path, train=True)
    assert "\n" not in str(e.value) and "data_batch_2: md5" in str(e.value)
    x, _ = load_cifar10(tmp_path, train=False)                   # the test split is intact
    assert x.shape[0] == 10
    # without md5sums.txt, the official checksums apply: generated batches are not the real ones
    (base / "md5sums.txt").unlink()
    with pytest.raises(DataInvalid, match="test_batch: md5 .* is not that of cifar-10-python.tar.gz's test_batch"):
        load_cifar10(tmp_path, train=False)
    ds = cifar10._torchvision_cifar10().__new__(cifar10._torchvision_cifar10())
    ds.root, ds.train = str(tmp_path), False
    assert ds._check_integrity() is False                        # torchvision's own check, no longer bypassed


def test_a_batch_of_the_wrong_shape_is_one_line(tmp_path):
    from repro.data.download import DataInvalid

    base = fixtures.write_cifar10(tmp_path, per_batch=30, n_test=10)
    fixtures._py2_pickle({fixtures.Py2Str("data"): np.zeros((10, 100), np.uint8),
                          fixtures.Py2Str("labels"): [0] * 10}, base / "test_batch")
    import hashlib
    sums = (base / "md5sums.txt").read_text().splitlines()
    sums = [f"{hashlib.md5((base / 'test_batch').read_bytes()).hexdigest()}  test_batch" if s.endswith(" test_batch")
            else s for s in sums]
    (base / "md5sums.txt").write_text("\n".join(sums) + "\n")
    with pytest.raises(DataInvalid, match=r"test_batch: data of shape \(10, 100\), expected uint8 \[N, 3072\]"):
        load_cifar10(tmp_path, train=False)
