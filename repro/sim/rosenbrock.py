"""The noisy Rosenbrock toy task (catalog laprop.md fig=2, and the heavy-tailed proxy of fig=1 panel b).

f(x, y) = (1 - x)^2 + 100 (y - x^2)^2, started at (-1.2, 1.0). Each step the optimizer sees the true gradient
plus i.i.d. noise of scale sigma per coordinate: gaussian (std sigma) or cauchy (scale sigma). Every chain
(hyperparameter cell x seed) is one row of one tensor, advanced together by repro/sim/batched_adaptive.py.
"""
from __future__ import annotations

import torch

from repro.sim.batched_adaptive import BatchedAdaptive

START = (-1.2, 1.0)
NOISES = ("gaussian", "cauchy")


def rosenbrock(xy: torch.Tensor) -> torch.Tensor:
    x, y = xy[..., 0], xy[..., 1]
    return (1 - x) ** 2 + 100 * (y - x * x) ** 2


def rosenbrock_grad(xy: torch.Tensor) -> torch.Tensor:
    x, y = xy[..., 0], xy[..., 1]
    return torch.stack((-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)), dim=-1)


def sample_noise(kind: str, shape, sigma, generator, dtype, device) -> torch.Tensor:
    if kind == "gaussian":
        return sigma * torch.randn(shape, generator=generator, dtype=dtype, device=device)
    if kind == "cauchy":   # inverse CDF: tan(pi (u - 1/2))
        u = torch.rand(shape, generator=generator, dtype=dtype, device=device)
        return sigma * torch.tan(torch.pi * (u - 0.5))
    raise ValueError(f"unknown noise {kind!r}; choose one of: {', '.join(NOISES)}")


def run_noisy_rosenbrock(optimizer: str, mu, nu, *, chains: int, T: int, lr: float, eps: float, noise: str,
                         sigma: float, generator: torch.Generator, record_every: int = 0,
                         dtype=torch.float64, device="cpu"):
    """Run chains for every (mu, nu) cell (mu, nu broadcastable tensors of the cell shape).

    Returns (final_loss [cells..., chains], max_step_over_lr [cells..., chains], curve) where max_step is the
    largest |dx| over coordinates and steps, and curve is a list of (step, loss [cells..., chains]) every
    `record_every` steps (empty when 0)."""
    mu = torch.as_tensor(mu, dtype=dtype, device=device)
    nu = torch.as_tensor(nu, dtype=dtype, device=device)
    cells = torch.broadcast_shapes(mu.shape, nu.shape)
    xy = torch.tensor(START, dtype=dtype, device=device).expand(*cells, chains, 2).clone()
    opt = BatchedAdaptive(optimizer, mu.expand(cells)[..., None, None], nu.expand(cells)[..., None, None], lr, eps,
                          like=xy)
    max_step = torch.zeros(*cells, chains, dtype=dtype, device=device)
    curve = []
    for t in range(1, T + 1):
        g = rosenbrock_grad(xy) + sample_noise(noise, xy.shape, sigma, generator, dtype, device)
        dx = opt.update(g)
        xy += dx
        torch.maximum(max_step, dx.abs().amax(-1) / lr, out=max_step)
        if record_every and (t % record_every == 0 or t == T):
            curve.append((t, rosenbrock(xy)))
    return rosenbrock(xy), max_step, curve
