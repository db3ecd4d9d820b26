"""Single-impulse probe of an optimizer (catalog laprop.md, fig=1): feed g_1 = G, g_t = 0 for t >= 2 to one
coordinate at constant lr and record |dx_t| for t = 1..T.

`simulate_single_impulse` drives the real optimizer classes of repro.optim, so it tests them against the closed
forms of repro.theory.laprop. `simulate_single_impulse_grid` runs a whole (mu, nu) grid as one batched tensor.
torch optimizers take one (beta1, beta2) per parameter group, so it re-implements the recursions of
repro.optim.adam (default eps placement) and repro.optim.laprop directly, vectorised over cells; the tests check
it against the per-cell optimizer runs.
"""
from __future__ import annotations

import numpy as np
import torch

from repro.optim import make_optimizer

PROBED_OPTIMIZERS = ("adam", "amsgrad", "laprop")


def simulate_single_impulse(optimizer_name: str, mu: float, nu: float, T: int, lr: float = 1.0, G: float = 1.0,
                            eps: float = 1e-8, dtype: torch.dtype = torch.float64) -> np.ndarray:
    """|dx_t| for t = 1..T from the optimizer class `optimizer_name` (adam | amsgrad | laprop). eps defaults to
    fig=1's 1e-8 for every optimizer, not to each optimizer's own default."""
    _check_name(optimizer_name)
    x = torch.zeros(1, dtype=dtype, requires_grad=True)
    optimizer = make_optimizer(optimizer_name, [x], lr=lr, betas=(mu, nu), eps=eps)
    steps = torch.empty(T, dtype=dtype)
    for t in range(T):
        x.grad = torch.full_like(x, G if t == 0 else 0.0)
        # Without weight decay the update does not depend on x, so restarting from 0 each step gives the step
        # exactly, where x_{t+1} - x_t would lose digits once x is large (Adam's total reaches ~1e7).
        with torch.no_grad():
            x.zero_()
        optimizer.step()
        steps[t] = x.detach().abs()[0]
    return steps.numpy()


def simulate_single_impulse_grid(optimizer_name: str, mus, nus, T: int, lr: float = 1.0, G: float = 1.0,
                                 eps: float = 1e-8, dtype: torch.dtype = torch.float64) -> np.ndarray:
    """|dx_t| for every (mu, nu) cell: array of shape (len(mus), len(nus), T)."""
    _check_name(optimizer_name)
    mu = torch.as_tensor(mus, dtype=dtype)[:, None]
    nu = torch.as_tensor(nus, dtype=dtype)[None, :]
    shape = torch.broadcast_shapes(mu.shape, nu.shape)
    exp_avg, exp_avg_sq, max_exp_avg_sq = (torch.zeros(shape, dtype=dtype) for _ in range(3))
    exp_avg_lr, bias_correction2 = torch.zeros(shape, dtype=dtype), torch.zeros(shape, dtype=dtype)
    steps = torch.empty(*shape, T, dtype=dtype)
    for t in range(1, T + 1):
        g = G if t == 1 else 0.0
        exp_avg_sq = nu * exp_avg_sq + (1 - nu) * g * g
        if optimizer_name == "laprop":
            bias_correction2 = nu * bias_correction2 + (1 - nu)  # EMA of ones, as LaProp keeps c_n
            exp_avg_lr = mu * exp_avg_lr + (1 - mu) * lr
            normalised = g / ((exp_avg_sq / bias_correction2).sqrt() + eps)
            exp_avg = mu * exp_avg + (1 - mu) * lr * normalised  # lr-weighted momentum M_t
            step = lr / exp_avg_lr * exp_avg
        else:
            exp_avg = mu * exp_avg + (1 - mu) * g
            second_moment = exp_avg_sq
            if optimizer_name == "amsgrad":
                max_exp_avg_sq = torch.maximum(max_exp_avg_sq, exp_avg_sq)
                second_moment = max_exp_avg_sq
            denom = second_moment.sqrt() / (1 - nu**t).sqrt() + eps
            step = lr / (1 - mu**t) * exp_avg / denom
        steps[..., t - 1] = step.abs()
    return steps.numpy()


def _check_name(optimizer_name: str) -> None:
    if optimizer_name not in PROBED_OPTIMIZERS:
        raise ValueError(f"cannot probe {optimizer_name!r}; valid choices: {', '.join(PROBED_OPTIMIZERS)}")
