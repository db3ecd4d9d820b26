"""Image data of the Snake paper (catalog snake.md, D6): MNIST and CIFAR-10 through the project's torchvision
loaders (repro/data/mnist.py, repro/data/cifar10.py: files from data_dir, DataMissing when absent), and the
catalog's synthetic stand-ins for tiny runs (labelled data=synthetic):

- MNIST stand-in: 784-d "prototype" images: 10 random binary masks with density 0.2 times U(0.5, 1), plus
  0.35 U(0, 1) noise per sample, clipped to [0, 1] and standardised; the label is the prototype index.
- CIFAR-10 stand-in: 3x32x32 images 0.5 prototype_c + N(0, 1), with 10 Gaussian prototypes.

Every function returns float tensors ready for the model: (x_train, y_train, x_test, y_test).
"""
from __future__ import annotations

import torch


def mnist_standin(n_train: int, n_test: int, generator: torch.Generator, device="cpu"):
    g = generator
    masks = (torch.rand(10, 784, generator=g) < 0.2).float() * (0.5 + 0.5 * torch.rand(10, 784, generator=g))

    def draw(n):
        y = torch.randint(0, 10, (n,), generator=g)
        x = (masks[y] + 0.35 * torch.rand(n, 784, generator=g)).clamp(0, 1)
        return x, y

    xtr, ytr = draw(n_train)
    xte, yte = draw(n_test)
    mean, std = xtr.mean(), xtr.std()
    return ((xtr - mean) / std).to(device), ytr.to(device), ((xte - mean) / std).to(device), yte.to(device)


def cifar_standin(n_train: int, n_test: int, generator: torch.Generator, device="cpu"):
    g = generator
    protos = torch.randn(10, 3, 32, 32, generator=g)

    def draw(n):
        y = torch.randint(0, 10, (n,), generator=g)
        return 0.5 * protos[y] + torch.randn(n, 3, 32, 32, generator=g), y

    xtr, ytr = draw(n_train)
    xte, yte = draw(n_test)
    return xtr.to(device), ytr.to(device), xte.to(device), yte.to(device)


def load_images(dataset: str, source: str, data_dir, generator: torch.Generator, n_train: int = 0, n_test: int = 0,
                device="cpu"):
    """(x_train, y_train, x_test, y_test): real files via torchvision (MNIST flattened to 784 and normalised with
    (0.1307, 0.3081); CIFAR-10 normalised per channel), or the stand-in of n_train / n_test samples."""
    if dataset == "mnist":
        if source == "real":
            from repro.data.mnist import load_mnist
            xtr, ytr = load_mnist(data_dir, train=True, device=device)
            xte, yte = load_mnist(data_dir, train=False, device=device)
            return xtr, ytr, xte, yte
        return mnist_standin(n_train, n_test, generator, device)
    if dataset == "cifar10":
        if source == "real":
            from repro.data.cifar10 import load_cifar10, normalize
            xtr, ytr = load_cifar10(data_dir, train=True, device=device)
            xte, yte = load_cifar10(data_dir, train=False, device=device)
            return normalize(xtr), ytr, normalize(xte), yte
        return cifar_standin(n_train, n_test, generator, device)
    raise ValueError(f"unknown dataset {dataset!r}; choose mnist or cifar10")
