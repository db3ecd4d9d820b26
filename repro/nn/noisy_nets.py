"""The networks of the three label-noise papers (gambler, label_smoothing, volumization) by name, so that figure
configs and the stacked trainer (repro/noisy/grid.py) can name a model by string:

    make_noisy_model(name, num_outputs, **kwargs) -> nn.Module

Every model takes a float batch (images [B, C, H, W] or flat features [B, D]; token ids [B, T] int64 for the text
models) and returns logits [B, num_outputs]. For the gambler num_outputs = m + 1 (the last logit is abstention).
`seed=...` (any model) draws the initialisation from torch's generator seeded with it, leaving the caller's global
random state untouched.

    name              paper(s): what                                                     kwargs (defaults)
    cnn_basic         gambler, label_smoothing: MNIST CNN_basic (noisy_cnns.py)           in_channels=1, image_size=28
    cnn_basic_cifar   gambler fig=4: CNN_basic, 3-channel 32x32 variant [reconstructed]   (in_channels=3, image_size=32)
    cnn_small         gambler, label_smoothing: LeNet-5 CIFAR CNN_small                   in_channels=3, image_size=32
    resnet18          gambler, label_smoothing, volumization: kuangliu-style CIFAR ResNet-18 (cifar_cnns.resnet18)
    mlp_digits        gambler tiny harness: 64-256-256-(m+1), ReLU, He init (noisy_mlps.py)
    mlp_blobs         volumization tiny harness: 64-256-10, ReLU, PyTorch default init
    mlp_mnist         volumization MNIST "DNN": 784-1024-10, ReLU
    lstm_glove        gambler IMDB: frozen GloVe-300d, LSTM 256, Linear on h_T (noisy_text.py)   vectors (required)
    lstmatt           volumization IMDB "LSTMATT" (embedding bug on by default)     vocab_size, vectors, embedding_bug
    efficientnet_b0   volumization fig=T3: torchvision EfficientNet-B0 for Tiny-ImageNet   weights="imagenet", data_dir
    efficientnet_b1   the same, B1 (240 px)                                                  (efficientnet_tiny.py)

Deviations from the authors' code are listed in each model's file. resnet18 is repro.nn.cifar_cnns.resnet18 (the
torchvision blocks with kuangliu's CIFAR stem; torchvision's init, not kuangliu's PyTorch defaults) with its final
layer replaced by Linear(512 -> num_outputs).
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn


def _cnn_basic(num_outputs: int, **kw) -> nn.Module:
    from repro.nn.noisy_cnns import CNNBasic

    return CNNBasic(num_outputs, **kw)


def _cnn_basic_cifar(num_outputs: int, **kw) -> nn.Module:
    from repro.nn.noisy_cnns import CNNBasic

    return CNNBasic(num_outputs, **{"in_channels": 3, "image_size": 32, **kw})


def _cnn_small(num_outputs: int, **kw) -> nn.Module:
    from repro.nn.noisy_cnns import CNNSmall

    return CNNSmall(num_outputs, **kw)


def _resnet18(num_outputs: int) -> nn.Module:
    from repro.nn.cifar_cnns import resnet18

    net = resnet18()
    net.fc = nn.Linear(net.fc.in_features, num_outputs)
    return net


def _mlp(which: str) -> Callable[..., nn.Module]:
    def make(num_outputs: int, **kw) -> nn.Module:
        from repro.nn import noisy_mlps

        return getattr(noisy_mlps, which)(num_outputs, **kw)
    return make


def _lstm_glove(num_outputs: int, **kw) -> nn.Module:
    from repro.nn.noisy_text import LSTMGlove

    return LSTMGlove(num_outputs, **kw)


def _lstmatt(num_outputs: int, **kw) -> nn.Module:
    from repro.nn.noisy_text import LSTMAttention

    return LSTMAttention(num_outputs, **kw)


def _efficientnet(variant: str) -> Callable[..., nn.Module]:
    def make(num_outputs: int, **kw) -> nn.Module:
        from repro.nn.efficientnet_tiny import TinyImageNetEfficientNet

        return TinyImageNetEfficientNet(variant, num_outputs, **kw)
    return make


NOISY_MODELS: dict[str, Callable[..., nn.Module]] = {
    "cnn_basic": _cnn_basic, "cnn_basic_cifar": _cnn_basic_cifar, "cnn_small": _cnn_small, "resnet18": _resnet18,
    "mlp_digits": _mlp("mlp_digits"), "mlp_blobs": _mlp("mlp_blobs"), "mlp_mnist": _mlp("mlp_mnist"),
    "lstm_glove": _lstm_glove, "lstmatt": _lstmatt,
    "efficientnet_b0": _efficientnet("b0"), "efficientnet_b1": _efficientnet("b1"),
}
TEXT_MODELS = ("lstm_glove", "lstmatt")   # these take token ids [B, T], the others float batches


def make_noisy_model(name: str, num_outputs: int, **kwargs) -> nn.Module:
    """The named network with `num_outputs` logits; kwargs go to its constructor (see the table above)."""
    try:
        factory = NOISY_MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; choose one of: {', '.join(NOISY_MODELS)}") from None
    seed = kwargs.pop("seed", None)
    if seed is None:
        return factory(num_outputs, **kwargs)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return factory(num_outputs, **kwargs)
