"""Single-impulse probe of an optimizer (catalog laprop.md, fig=1): feed g_1 = G, g_t = 0 for t >= 2 to one
coordinate at constant lr and record |dx_t| for t = 1..T.

`simulate_single_impulse` drives the real optimizer classes of repro.optim, so it tests them against the closed
forms of repro.theory.laprop. `simulate_single_impulse_grid` runs a whole (mu, nu) grid as one batched tensor.
torch optimizers take one (beta1, beta2) per parameter group, so it uses repro.sim.batched_adaptive (the recursions of
repro.optim.adam, default eps placement, and repro.optim.laprop with per-cell betas); the tests check it against
the per-cell optimizer runs.
"""
from __future__ import annotations

import numpy as np
import torch

from repro.optim import make_optimizer
from repro.sim.batched_adaptive import BatchedAdaptive

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
    """|dx_t| for every (mu, nu) cell: array of shape (len(mus), len(nus), T), all cells as one tensor through
    repro.sim.batched_adaptive (the recursions of the optimizer classes with per-cell betas)."""
    _check_name(optimizer_name)
    mu = torch.as_tensor(mus, dtype=dtype)[:, None]
    nu = torch.as_tensor(nus, dtype=dtype)[None, :]
    shape = torch.broadcast_shapes(mu.shape, nu.shape)
    opt = BatchedAdaptive(optimizer_name, mu, nu, lr, eps, like=torch.zeros(shape, dtype=dtype))
    steps = torch.empty(*shape, T, dtype=dtype)
    for t in range(T):
        steps[..., t] = opt.update(torch.full(shape, G if t == 0 else 0.0, dtype=dtype)).abs()
    return steps.numpy()


def _check_name(optimizer_name: str) -> None:
    if optimizer_name not in PROBED_OPTIMIZERS:
        raise ValueError(f"cannot probe {optimizer_name!r}; valid choices: {', '.join(PROBED_OPTIMIZERS)}")
