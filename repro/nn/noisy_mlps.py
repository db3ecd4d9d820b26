"""The fully-connected networks of the label-noise papers: the tiny-harness MLPs of gambler and volumization and
volumization's MNIST "DNN" (catalogs ../shared/catalog/{gambler,volumization}.md).

    mlp_digits  gambler tiny harness (sklearn digits, 8x8): 64 -> 256 -> 256 -> num_outputs (m+1), ReLU, He init
    mlp_blobs   volumization tiny harness (Gaussian blobs in 64-d): 64 -> 256 -> num_outputs (10), ReLU, PyTorch's
                default init
    mlp_mnist   volumization (Ziyin et al., "Volumization as a Natural Generalization of Weight Decay") MNIST "DNN":
                784 -> 1024 -> num_outputs (10), ReLU, PyTorch's default init, pixels in [0, 1]

Input: a float batch [B, in_dim] (anything else is flattened). Output: logits.

Deviations / choices:
- "He init" of the gambler harness is [reconstructed] (the catalog's harness is the authors' own simulation, no code):
  kaiming_normal_(fan_in, ReLU gain) weights and zero biases, drawn from `generator` when one is given (else from the
  global stream).
- mlp_blobs with a generator draws PyTorch's default init (uniform +-1/sqrt(fan_in)) from it, as repro.nn.mlp does.
"""
from __future__ import annotations

import torch
from torch import nn

from repro.nn.mlp import deep_mlp


def _mlp(dims: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Flatten()]
    for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(dims) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def mlp_digits(num_outputs: int = 11, in_dim: int = 64, width: int = 256,
               generator: torch.Generator | None = None) -> nn.Sequential:
    net = _mlp([in_dim, width, width, num_outputs])
    with torch.no_grad():
        for m in net:
            if isinstance(m, nn.Linear):
                std = (2.0 / m.in_features) ** 0.5            # He: Var w = 2 / fan_in
                m.weight.copy_(torch.randn(m.weight.shape, generator=generator) * std)
                m.bias.zero_()
    return net


def mlp_blobs(num_outputs: int = 10, in_dim: int = 64, width: int = 256,
              generator: torch.Generator | None = None) -> nn.Sequential:
    return nn.Sequential(nn.Flatten(), *deep_mlp(in_dim, width, 2, num_outputs, generator=generator))


def mlp_mnist(num_outputs: int = 10, in_dim: int = 784, width: int = 1024,
              generator: torch.Generator | None = None) -> nn.Sequential:
    return nn.Sequential(nn.Flatten(), *deep_mlp(in_dim, width, 2, num_outputs, generator=generator))
