"""Each network of repro.nn.noisy_nets with the paper setting it serves (gambler, label_smoothing, volumization;
catalogs ../shared/catalog/<paper>.md "Setups" / "Shared experimental protocol" / fig=T3): its real loader, input
transform, label noise, loss, optimizer and batch size, as one training batch ready to step. Used by the full-size
smoke tests (tests/noisy/test_model_setups.py, on generated files in the real formats), by
benchmarks/bench_noisy_models.py (time per step, on generated or real files) and as the reference of which data
path goes with which model.

  model            data (loader in repro.data)   input                 noise (rate)       loss        optimizer    batch
  cnn_basic        MNIST (mnist)                 pixels/255, 1x28x28   symmetric 0.5      gambler 9.9 Adam 1e-3      128
  cnn_basic_cifar  CIFAR-10 (cifar10)            pixels/255            symmetric 0.5      gambler 9.9 Adam 1e-3      128
  cnn_small        CIFAR-10                      pixels/255            symmetric 0.5      gambler 9.9 Adam 1e-3      128
  resnet18         CIFAR-10                      crop+flip, normalised symmetric 0.2      CE (10)     SGD 0.01 m0.9  128
  mlp_digits       sklearn digits (digits)       pixels/16             symmetric 0.5      gambler 9.9 Adam 1e-3      128
  mlp_blobs        10 blobs in 64-d (synthetic)  features              replace_uniform .6 CE          Vadam2 1e-3 *  128
  mlp_mnist        MNIST                         pixels/255, 784       replace_uniform .4 CE          Vadam2 1e-4 *  128
  lstm_glove       IMDB fixed (imdb) + GloVe     token ids, 200        flip_exact 0.2     gambler 1.95 LaProp 1e-3 ** 32
  lstmatt          IMDB fixed (imdb)             token ids, 200        flip_exact 0.4     CE          Vadam2 1e-4 *  128
  efficientnet_b*  Tiny-ImageNet (tiny_imagenet) ImageNet-normalised   none               CE (200)    Vadam2 1e-4 ***128
  (symmetric = noisify(..., "symmetric"); * v = 0.5, alpha = 0.5; ** betas (0.9, 0.9), eps 1e-15; *** v = 1,
  alpha = 0.99)

The gambler setups have m+1 outputs and use the gambler's loss after warm-up (the o here); "Vadam2" is
repro.optim.Volumization around repro.optim.Adam. `batch_size` overrides the paper's batch (the CPU smoke tests use
smaller ones for the big networks); the batch is the first `batch_size` rows of a fixed permutation of the training
set (fewer when the files hold fewer). Deviation from every paper: one fixed batch, no epoch loop (that is the
trainer's, repro/noisy/grid.py).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from repro.nn.noisy_nets import NOISY_MODELS, make_noisy_model


@dataclass
class Setup:
    name: str
    model: nn.Module
    optimizer: torch.optim.Optimizer
    loss_fn: Callable[[tuple], torch.Tensor]   # batch -> scalar loss
    batch: tuple[torch.Tensor, torch.Tensor]   # (inputs, noisy labels)
    data: str                                  # what the batch was read from


def _first(x: torch.Tensor, y: torch.Tensor, batch_size: int, seed: int = 0):
    idx = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))[:batch_size]
    return x[idx], y[idx]


def _gambler(o: float) -> Callable:
    from repro.nn.gambler_loss import GamblerLoss

    return GamblerLoss(payoff=o)


def _vadam(params, lr: float, v: float, alpha: float):
    from repro.optim import Adam, Volumization

    return Volumization(Adam(params, lr=lr, eps=1e-15), v=v, alpha=alpha)


def _mnist_images(data_dir):
    from repro.data.mnist import load_idx_dataset

    data, targets = load_idx_dataset("MNIST", data_dir, train=True)
    return data.float().div(255).unsqueeze(1), targets.long()


def _cifar(data_dir):
    from repro.data.cifar10 import load_cifar10

    return load_cifar10(data_dir, train=True)


def build_setup(name: str, data_dir, batch_size: int | None = None, seed: int = 0, weights="imagenet",
                device="cpu") -> Setup:
    """The named network in its paper setting with one training batch read from data_dir (see the table), on
    `device`."""
    from repro.data import noisy_labels as nl
    from repro.optim import Adam

    if name not in NOISY_MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of: {', '.join(NOISY_MODELS)}")
    ce = nn.CrossEntropyLoss()
    extra: dict = {}
    if name in ("cnn_basic", "cnn_basic_cifar", "cnn_small", "mlp_digits"):
        if name == "cnn_basic":
            x, y, data = *_mnist_images(data_dir), "mnist"
        elif name == "mlp_digits":
            from repro.data.digits import load_digits

            x, y, data = *load_digits(), "digits"
        else:
            xu, y = _cifar(data_dir)
            x, data = xu.float().div(255), "cifar10"
        y = nl.noisify(y, "symmetric", 0.5, 10).labels
        outputs, crit, bs = 11, _gambler(9.9), 128
        opt = lambda ps: Adam(ps, lr=1e-3)  # noqa: E731
    elif name == "resnet18":
        from repro.data.cifar10 import normalize
        from repro.train.augment import random_crop_flip

        xu, y = _cifar(data_dir)
        x = normalize(random_crop_flip(xu, torch.Generator().manual_seed(seed)))
        y, data = nl.noisify(y, "symmetric", 0.2, 10).labels, "cifar10"
        outputs, crit, bs = 10, ce, 128
        opt = lambda ps: torch.optim.SGD(ps, lr=0.01, momentum=0.9)  # noqa: E731
    elif name == "mlp_blobs":
        g = torch.Generator().manual_seed(seed)
        means = torch.randn(10, 64, generator=g) * (6 / 64 ** 0.5)
        y = torch.arange(2000) % 10
        x, data = means[y] + torch.randn(2000, 64, generator=g), "synthetic blobs"
        y = nl.replace_uniform(y, 0.6, 10, generator=seed).labels
        outputs, crit, bs = 10, ce, 128
        opt = lambda ps: _vadam(ps, 1e-3, 0.5, 0.5)  # noqa: E731
    elif name == "mlp_mnist":
        x, y = _mnist_images(data_dir)
        x, data = x.flatten(1), "mnist"
        y = nl.replace_uniform(y, 0.4, 10, generator=seed).labels
        outputs, crit, bs = 10, ce, 128
        opt = lambda ps: _vadam(ps, 1e-4, 0.5, 0.5)  # noqa: E731
    elif name in ("lstm_glove", "lstmatt"):
        from repro.data.imdb import load_imdb_fixed

        imdb = load_imdb_fixed(data_dir)
        rate = 0.2 if name == "lstm_glove" else 0.4
        y_noisy, _, _, _ = imdb.noisy_labels(nl.flip_exact(imdb.all_train_labels, rate, generator=seed))
        x, y, data = imdb.train[0], y_noisy, "imdb"
        if name == "lstm_glove":
            from repro.data.glove import load_vectors
            from repro.optim import LaProp

            extra["vectors"], _ = load_vectors(data_dir, imdb.itos)
            outputs, crit, bs, data = 3, _gambler(1.95), 32, "imdb + glove.6B.300d"
            opt = lambda ps: LaProp(ps, lr=1e-3, betas=(0.9, 0.9), eps=1e-15)  # noqa: E731
        else:
            extra["vocab_size"] = len(imdb.itos)
            outputs, crit, bs = 2, ce, 128
            opt = lambda ps: _vadam(ps, 1e-4, 0.5, 0.5)  # noqa: E731
    else:   # efficientnet_b0 / b1
        from repro.data.tiny_imagenet import load_tiny_imagenet, normalize

        xu, y = load_tiny_imagenet(data_dir, "train")
        x, data = normalize(xu), "tiny_imagenet"
        extra.update(weights=weights, data_dir=data_dir)
        outputs, crit, bs = 200, ce, 128
        opt = lambda ps: _vadam(ps, 1e-4, 1.0, 0.99)  # noqa: E731
    model = make_noisy_model(name, outputs, seed=seed, **extra).to(device)
    optimizer = opt([p for p in model.parameters() if p.requires_grad])
    batch = tuple(t.to(device) for t in _first(x, y, batch_size or bs, seed))
    return Setup(name, model, optimizer, lambda b: crit(model(b[0]), b[1]), batch, data)


def run_steps(setup: Setup, steps: int) -> tuple[list[float], list[float]]:
    """(losses, seconds) of `steps` optimizer steps on the setup's batch (through repro.train.train_step)."""
    from repro.train.loop import train_step

    setup.model.train()
    losses, seconds = [], []
    for _ in range(steps):
        t0 = time.perf_counter()
        loss, _ = train_step(setup.optimizer, setup.loss_fn, setup.batch)
        loss = float(loss)
        if setup.batch[0].is_cuda:
            torch.cuda.synchronize()
        seconds.append(time.perf_counter() - t0)
        losses.append(loss)
    return losses, seconds
