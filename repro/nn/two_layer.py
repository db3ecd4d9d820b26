"""The networks of minibatch_noise fig=1: a two-layer tanh network 784 -> d -> 10 (stability against width) and
softmax regression 784 -> 10 with zero initialisation (negative optimal weight decay)."""
from __future__ import annotations

import torch
from torch import nn


def _default_init_(linear: nn.Linear, generator: torch.Generator) -> None:
    """nn.Linear.reset_parameters drawn from `generator`: weight and bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    (kaiming_uniform(a=sqrt(5)) for the weight), so runs with the same init stream start from the same network."""
    bound = 1 / linear.in_features ** 0.5
    with torch.no_grad():
        linear.weight.copy_(torch.rand(linear.weight.shape, generator=generator) * 2 * bound - bound)
        linear.bias.copy_(torch.rand(linear.bias.shape, generator=generator) * 2 * bound - bound)


def two_layer_tanh(in_dim: int, width: int, out_dim: int, generator: torch.Generator | None = None) -> nn.Sequential:
    """Linear(in_dim, width) -> tanh -> Linear(width, out_dim), PyTorch's default initialisation."""
    net = nn.Sequential(nn.Linear(in_dim, width), nn.Tanh(), nn.Linear(width, out_dim))
    if generator is not None:
        _default_init_(net[0], generator)
        _default_init_(net[2], generator)
    return net


def softmax_regression(in_dim: int, out_dim: int) -> nn.Linear:
    """Multinomial logistic regression (logits = Wx + b) with zero initialisation."""
    net = nn.Linear(in_dim, out_dim)
    with torch.no_grad():
        net.weight.zero_()
        net.bias.zero_()
    return net
