"""Snake activation (Ziyin, Hartwig & Ueda, "Neural Networks Fail to Learn Periodic Functions and How to Fix It",
NeurIPS 2020, arXiv 2006.08195, Eq. 3):

    Snake_a(x) = x + sin^2(a x) / a  =  x + (1 - cos(2 a x)) / (2 a)

Properties (catalog snake.md, Method): derivative 1 + sin(2 a x) in [0, 2] (monotone); Snake_a(0) = 0; x <= Snake_a(x)
<= x + 1/a; the periodic part has period pi/a; a -> 0 gives x + a x^2; a -> inf gives x plus a ripple of height 1/a.

Proposition 1 (x ~ N(0, 1)):  E[Snake_a]   = (1 - e^{-2a^2}) / (2a)
                              Var[Snake_a] = 1 + (1 + e^{-8a^2} - 2 e^{-4a^2}) / (8a^2) = 1 + (1 - e^{-4a^2})^2 / (8a^2)
maximised at a_max ~ 0.56045 (sigma^2 = 1.20363). The forms below use expm1 so that small a stays accurate.

`Snake` is the module: a scalar or per-unit a, fixed (a buffer) or learnable (a parameter kept positive with abs at
init and clamp_min(1e-6) in the forward), initialised to a constant or to |N(0, 50^2)| (the official code's
`halfnormal50`), and the variance correction of Sec. 5: `paper` divides by sigma_a, `center_var` (an extension, not
in the paper) subtracts E[Snake_a] first.
"""
from __future__ import annotations

import math

import torch
from torch import nn

A_MAX = 0.5604532115             # argmax_a Var[Snake_a(x)], x ~ N(0, 1) (golden-section on the closed form)
A_MIN_POSITIVE = 1e-6            # a learnable a is clamped to at least this
INITS = ("const", "halfnormal50")
MODES = ("fixed", "learnable")
CORRECTIONS = ("none", "paper", "center_var")


def snake(x: torch.Tensor, a) -> torch.Tensor:
    """Snake_a(x) = x + sin(a x)^2 / a; `a` is a float or a tensor broadcastable to x (every a > 0)."""
    return x + torch.sin(a * x).pow(2) / a


def snake_grad(x: torch.Tensor, a) -> torch.Tensor:
    """d Snake_a / dx = 1 + sin(2 a x)."""
    return 1 + torch.sin(2 * a * x)


def _as_tensor(a) -> torch.Tensor:
    return a if isinstance(a, torch.Tensor) else torch.as_tensor(a, dtype=torch.float64)


def snake_mean(a):
    """E[Snake_a(x)] for x ~ N(0, 1): (1 - e^{-2a^2}) / (2a)."""
    t = _as_tensor(a)
    return -torch.expm1(-2 * t * t) / (2 * t)


def snake_second_moment(a):
    """E[Snake_a(x)^2] for x ~ N(0, 1): 1 + (3 + e^{-8a^2} - 4 e^{-2a^2}) / (8a^2) (proof of Prop. 1)."""
    t = _as_tensor(a)
    a2 = t * t
    # 3 + e^{-8a^2} - 4 e^{-2a^2} = expm1(-8a^2) - 4 expm1(-2a^2)
    return 1 + (torch.expm1(-8 * a2) - 4 * torch.expm1(-2 * a2)) / (8 * a2)


def snake_variance(a):
    """Var[Snake_a(x)] for x ~ N(0, 1) (Proposition 1): 1 + (1 - e^{-4a^2})^2 / (8a^2)."""
    t = _as_tensor(a)
    a2 = t * t
    return 1 + torch.expm1(-4 * a2).pow(2) / (8 * a2)


def snake_std(a):
    return snake_variance(a).sqrt()


def snake_variance_argmax(lo: float = 0.1, hi: float = 2.0, iters: int = 200) -> tuple[float, float]:
    """(argmax, max) of Var[Snake_a] over a by golden-section search on the closed form (float64)."""
    g = (math.sqrt(5) - 1) / 2
    f = lambda a: float(snake_variance(torch.tensor(a, dtype=torch.float64)))  # noqa: E731
    a, b = lo, hi
    c, d = b - g * (b - a), a + g * (b - a)
    for _ in range(iters):
        if f(c) > f(d):
            b = d
        else:
            a = c
        c, d = b - g * (b - a), a + g * (b - a)
    x = (a + b) / 2
    return x, f(x)


class Snake(nn.Module):
    """Snake_a as a layer.

    num_features: None for one scalar a; an int for one a per unit, broadcast along `dim` (-1 for (N, F) inputs,
                  1 for (N, C, H, W)).
    a:            the initial value for a_init="const".
    a_mode:       "fixed" (a is a buffer) or "learnable" (an nn.Parameter, kept positive).
    a_init:       "const" (every a = `a`) or "halfnormal50" (a = |N(0, 50^2)| per unit, the official code's init).
    variance_correction: "none"; "paper" = Snake_a(u) / sigma_a; "center_var" = (Snake_a(u) - E[Snake_a]) / sigma_a.
    generator:    for the halfnormal50 draw (seeded runs).
    """

    def __init__(self, num_features: int | None = None, a: float = 0.5, *, a_mode: str = "fixed",
                 a_init: str = "const", variance_correction: str = "none", dim: int = -1,
                 generator: torch.Generator | None = None, dtype=None, device=None):
        super().__init__()
        if a_mode not in MODES:
            raise ValueError(f"unknown a_mode {a_mode!r}; choose one of {MODES}")
        if a_init not in INITS:
            raise ValueError(f"unknown a_init {a_init!r}; choose one of {INITS}")
        if variance_correction not in CORRECTIONS:
            raise ValueError(f"unknown variance_correction {variance_correction!r}; choose one of {CORRECTIONS}")
        shape = () if num_features is None else (int(num_features),)
        kw = {"dtype": dtype or torch.get_default_dtype(), "device": device}
        if a_init == "const":
            if not a > 0:
                raise ValueError(f"Snake needs a > 0, got a={a}")
            init = torch.full(shape, float(a), **kw)
        else:
            init = torch.empty(shape, **kw)
            init.normal_(0.0, 50.0, generator=generator)
            init = init.abs().clamp_min(A_MIN_POSITIVE)
        self.a_mode, self.a_init, self.variance_correction, self.dim = a_mode, a_init, variance_correction, dim
        self.num_features = num_features
        if a_mode == "learnable":
            self.a = nn.Parameter(init)
        else:
            self.register_buffer("a", init)

    def effective_a(self) -> torch.Tensor:
        """a as used in the forward: clamped to >= 1e-6 (a no-op for fixed a, which is positive at init)."""
        return self.a.clamp_min(A_MIN_POSITIVE)

    def _broadcast(self, t: torch.Tensor, ndim: int) -> torch.Tensor:
        if t.ndim == 0:
            return t
        shape = [1] * ndim
        shape[self.dim] = -1
        return t.reshape(shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.effective_a()
        ab = self._broadcast(a, x.ndim)
        y = snake(x, ab)
        if self.variance_correction == "none":
            return y
        if self.variance_correction == "center_var":
            y = y - self._broadcast(snake_mean(a), x.ndim)
        return y / self._broadcast(snake_std(a), x.ndim)

    def extra_repr(self) -> str:
        a = self.a.detach()
        shown = f"{a.item():g}" if a.ndim == 0 else f"per-unit[{a.numel()}]"
        return (f"a={shown}, a_mode={self.a_mode}, a_init={self.a_init}, "
                f"variance_correction={self.variance_correction}")


@torch.no_grad()
def snake_init_(linear: nn.Linear, generator: torch.Generator | None = None) -> nn.Linear:
    """The paper's initialisation for Snake networks (Sec. 5): W ~ U(-sqrt(3/d), sqrt(3/d)) with d = fan_in, so that
    Var(W) = 1/d (the text's E[W^2] = 1/sqrt(d) is a typo); the bias is left as PyTorch initialises it."""
    bound = math.sqrt(3.0 / linear.in_features)
    linear.weight.uniform_(-bound, bound, generator=generator)
    return linear
