"""The activations the Snake paper compares, by config name (catalog snake.md, Method):

    snake    x + sin^2(a x)/a          (repro.nn.snake.Snake: fixed or learnable a, variance correction)
    relu     max(0, x)                 lrelu    Leaky-ReLU, PyTorch default slope 0.01
    tanh     tanh x                    sigmoid  1/(1 + e^-x)
    swish    x sigmoid(x) (SiLU)       sin      sin x
    sincos   sin x + cos x             xsin     x + sin x
    identity x

`make_activation(name, **snake_kw)` returns a module; `ACTIVATION_FNS[name]` the pure function (Snake at a = 1
unless `a` is passed to `activation_fn`).
"""
from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch import nn

from repro.nn.snake import Snake, snake

NAMES = ("snake", "relu", "tanh", "lrelu", "swish", "sin", "sincos", "xsin", "sigmoid", "identity")


def _sin(x):
    return torch.sin(x)


def _sincos(x):
    return torch.sin(x) + torch.cos(x)


def _xsin(x):
    return x + torch.sin(x)


def _identity(x):
    return x


ACTIVATION_FNS = {
    "relu": F.relu,
    "tanh": torch.tanh,
    "lrelu": F.leaky_relu,          # negative_slope=0.01
    "swish": F.silu,
    "sin": _sin,
    "sincos": _sincos,
    "xsin": _xsin,
    "sigmoid": torch.sigmoid,
    "identity": _identity,
    "snake": functools.partial(snake, a=1.0),
}


def activation_fn(name: str, a: float = 1.0):
    """The pure function for `name` (Snake at frequency `a`)."""
    if name == "snake":
        return functools.partial(snake, a=a)
    try:
        return ACTIVATION_FNS[name]
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; choose one of {', '.join(NAMES)}") from None


class Elementwise(nn.Module):
    """A parameter-free activation as a module (one class for all, so models can be built from names)."""

    def __init__(self, name: str):
        super().__init__()
        self.name = name
        self.fn = activation_fn(name)

    def forward(self, x):
        return self.fn(x)

    def extra_repr(self) -> str:
        return self.name


def make_activation(name: str, num_features: int | None = None, *, a: float = 0.5, a_mode: str = "fixed",
                    a_init: str = "const", variance_correction: str = "none", dim: int = -1,
                    generator: torch.Generator | None = None) -> nn.Module:
    """A fresh activation module. The Snake keywords are ignored by the other activations; `num_features`
    gives Snake one a per unit (broadcast along `dim`), None one shared a."""
    if name == "snake":
        return Snake(num_features, a, a_mode=a_mode, a_init=a_init, variance_correction=variance_correction,
                     dim=dim, generator=generator)
    if name not in ACTIVATION_FNS:
        raise ValueError(f"unknown activation {name!r}; choose one of {', '.join(NAMES)}")
    return Elementwise(name)
