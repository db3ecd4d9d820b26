"""The Snake paper's image data: the catalog's D6 stand-ins, and the real loaders on torchvision-format files."""
import pytest
import torch

from repro.data.download import DataMissing
from repro.data.snake_images import cifar_standin, load_images, mnist_standin


def test_mnist_standin_matches_the_catalog():
    xtr, ytr, xte, yte = mnist_standin(2000, 300, torch.Generator().manual_seed(0))
    assert xtr.shape == (2000, 784) and xte.shape == (300, 784)
    assert abs(xtr.mean().item()) < 1e-5 and abs(xtr.std().item() - 1) < 1e-4        # standardised
    assert set(ytr.tolist()) == set(range(10)) and ytr.dtype == torch.int64
    # same label -> same prototype mask: class means far apart compared with the within-class spread
    m0, m1 = xtr[ytr == 0].mean(0), xtr[ytr == 1].mean(0)
    assert (m0 - m1).norm() > 5 * (xtr[ytr == 0] - m0).norm(dim=1).mean() / 784 ** 0.5


def test_cifar_standin_matches_the_catalog():
    xtr, ytr, xte, yte = cifar_standin(512, 128, torch.Generator().manual_seed(0))
    assert xtr.shape == (512, 3, 32, 32) and xte.shape == (128, 3, 32, 32)
    assert 1.0 < xtr.std().item() < 1.3                                   # 0.5 N(0,1) prototype + N(0,1)


def test_real_loaders_read_torchvision_files_and_say_what_is_missing(tmp_path):
    from repro.data.fixtures import write_cifar10, write_mnist
    with pytest.raises(DataMissing):
        load_images("mnist", "real", tmp_path, torch.Generator())
    with pytest.raises(DataMissing):
        load_images("cifar10", "real", tmp_path, torch.Generator())
    write_mnist(tmp_path, n_train=40, n_test=20)
    write_cifar10(tmp_path, per_batch=8, n_test=12)
    xtr, ytr, xte, yte = load_images("mnist", "real", tmp_path, torch.Generator())
    assert xtr.shape == (40, 784) and xte.shape == (20, 784) and xtr.dtype == torch.float32
    xtr, ytr, xte, yte = load_images("cifar10", "real", tmp_path, torch.Generator())
    assert xtr.shape == (40, 3, 32, 32) and yte.shape == (12,) and xtr.dtype == torch.float32
    with pytest.raises(ValueError, match="unknown dataset"):
        load_images("svhn", "real", tmp_path, torch.Generator())
