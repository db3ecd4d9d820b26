"""Fully connected networks of the Snake paper: Linear layers with a named activation between them.

`mlp([1, 512, 1], "snake", a=10)` is 1-512-1 with Snake_10; every hidden layer gets its own activation module
(per-unit a when `per_unit=True`). Initialisation is PyTorch's default for nn.Linear (weight and bias
U(-1/sqrt(fan_in), 1/sqrt(fan_in))), drawn from `generator` so that runs are seeded; `init="snake"` uses the
paper's U(-sqrt(3/d), sqrt(3/d)) for the weights instead (Sec. 5).
"""
from __future__ import annotations

import math

import torch
from torch import nn

from repro.nn.activations import make_activation
from repro.nn.snake import snake_init_


@torch.no_grad()
def default_init_(linear: nn.Linear, generator: torch.Generator | None = None) -> nn.Linear:
    """PyTorch's nn.Linear.reset_parameters (kaiming_uniform with a=sqrt(5)), from an explicit generator."""
    bound = 1.0 / math.sqrt(linear.in_features)
    linear.weight.uniform_(-bound, bound, generator=generator)
    if linear.bias is not None:
        linear.bias.uniform_(-bound, bound, generator=generator)
    return linear


def mlp(sizes: list[int], activation: str, *, a: float = 0.5, a_mode: str = "fixed", a_init: str = "const",
        per_unit: bool = False, variance_correction: str = "none", bias: bool = True, bias_last: bool = True,
        init: str = "default", generator: torch.Generator | None = None) -> nn.Sequential:
    """sizes = [d_in, h_1, ..., h_k, d_out]; an activation after every hidden layer."""
    layers: list[nn.Module] = []
    for i, (d_in, d_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        last = i == len(sizes) - 2
        lin = nn.Linear(d_in, d_out, bias=bias_last if last else bias)
        default_init_(lin, generator)
        if init == "snake":
            snake_init_(lin, generator)
        elif init != "default":
            raise ValueError(f"unknown init {init!r}; choose default or snake")
        layers.append(lin)
        if not last:
            layers.append(make_activation(activation, d_out if per_unit else None, a=a, a_mode=a_mode,
                                          a_init=a_init, variance_correction=variance_correction,
                                          generator=generator))
    return nn.Sequential(*layers)
