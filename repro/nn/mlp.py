"""Plain deep fully-connected networks (LaProp fig=4): Linear-ReLU stacks, no normalisation, no residuals, PyTorch's
default initialisation."""
from __future__ import annotations

import torch
from torch import nn


def deep_mlp(in_dim: int, width: int, depth: int, out_dim: int, generator: torch.Generator | None = None) -> nn.Sequential:
    """`depth` Linear layers (depth - 1 hidden layers of `width` ReLU units). With a generator, the default
    initialisation (kaiming_uniform(a=sqrt(5)) weights, uniform biases, as nn.Linear.reset_parameters) draws from
    it, so that runs with the same init stream start from the same network."""
    if depth < 1:
        raise ValueError(f"depth must be >= 1, got {depth}")
    dims = [in_dim] + [width] * (depth - 1) + [out_dim]
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
        layers.append(nn.Linear(a, b))
        if i < depth - 1:
            layers.append(nn.ReLU())
    net = nn.Sequential(*layers)
    if generator is not None:
        with torch.no_grad():
            for m in net:
                if isinstance(m, nn.Linear):
                    bound = 1 / m.in_features ** 0.5   # = kaiming_uniform(a=sqrt(5)) bound for the weight, and the bias bound
                    m.weight.copy_(torch.rand(m.weight.shape, generator=generator) * 2 * bound - bound)
                    m.bias.copy_(torch.rand(m.bias.shape, generator=generator) * 2 * bound - bound)
    return net
