"""Escape experiments of arXiv 2012.03636: the escaping efficiency E(t) of Thm 7 (Fig 5) and the 1-D Kramers
escape rate of Thm 9 under a loss rescaling L → rL (Fig 6, kramers_rate_vs_scale).

Escaping efficiency: E(t) = E[L(w_t) − L(w_0)] of plain SGD on L = ½ wᵀKw with gradient noise C from
w_0 = 0, estimated from the batched simulator of linear.py.

Kramers escape (the catalog's calibrated configuration, [reconstructed]): a 1-D piecewise-quadratic well
  L(w) = ½ k_a w²                        for w ≤ w_l,
  L(w) = ΔL − ½ |k_b| (w − w_b)²          for w > w_l,
with w_l = √(2lΔL/k_a) (a fraction l of the barrier is climbed under curvature k_a) and
w_b = w_l + √(2(1−l)ΔL/|k_b|) (the barrier top, where L = ΔL). SGD w_t = w_{t−1} − λ(L'(w_{t−1}) + η_t) with
Gaussian gradient noise of variance |L''(w_{t−1})|/S starts at the minimum w = 0; a chain is absorbed at its
first step with w > w_exit = 2w_b − w_l, the mirror image of w_l across the barrier (= w_b + w_l for the
calibrated k_a = |k_b|, l = ½). The rate is γ = 1/(λ E[τ]) because continuous time is t = λ · steps.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from repro.sim.linear import Optimizer, simulate_quadratic

# Calibrated Fig 6 configuration of the catalog: k_a = |k_b| = r, ΔL = 1.1625 r, l = ½, λ = 0.75, S = 1.
CALIBRATED_BARRIER_PER_SCALE = 1.1625
CALIBRATED_L = 0.5
CALIBRATED_LR = 0.75
CALIBRATED_BATCH_SIZE = 1


@dataclass(frozen=True)
class EscapingEfficiency:
    steps: torch.Tensor    # [t_max + 1] step index t
    mean: torch.Tensor     # [t_max + 1] E(t), mean over runs of L(w_t) − L(w_0)
    stderr: torch.Tensor   # [t_max + 1] standard error of the mean


def simulate_escaping_efficiency(K, C, lr: float, t_max: int, runs: int, *, generator: torch.Generator,
                                 dtype: torch.dtype = torch.float32) -> EscapingEfficiency:
    """E(t) for t = 0..t_max of plain SGD with gradient-space noise covariance C from w_0 = 0 (Fig 5)."""
    stats = simulate_quadratic(K, Optimizer(lr), t_max, runs, C, generator=generator, noise_space="grad",
                               record_steps=range(t_max + 1), dtype=dtype)
    K = torch.as_tensor(K, dtype=dtype, device=generator.device).reshape(stats.final.shape[1], -1)
    loss = 0.5 * torch.einsum("tri,ij,trj->tr", stats.snapshots, K, stats.snapshots)
    return EscapingEfficiency(steps=torch.arange(t_max + 1), mean=loss.mean(1), stderr=loss.std(1) / runs**0.5)


@dataclass(frozen=True)
class PiecewiseQuadraticWell:
    k_a: float       # curvature at the minimum (w = 0)
    k_b: float       # curvature magnitude |k_b| at the barrier top
    barrier: float   # ΔL = L(w_b) − L(0)
    l: float         # fraction of ΔL climbed under curvature k_a

    @property
    def w_l(self) -> float:
        return math.sqrt(2 * self.l * self.barrier / self.k_a)

    @property
    def w_b(self) -> float:
        return self.w_l + math.sqrt(2 * (1 - self.l) * self.barrier / self.k_b)

    @property
    def w_exit(self) -> float:
        return 2 * self.w_b - self.w_l

    def loss(self, w: torch.Tensor) -> torch.Tensor:
        return torch.where(w <= self.w_l, 0.5 * self.k_a * w**2, self.barrier - 0.5 * self.k_b * (w - self.w_b) ** 2)


def calibrated_well(scale: float) -> PiecewiseQuadraticWell:
    """The catalog's calibrated Fig 6 well at loss scale r: k_a = |k_b| = r, ΔL = 1.1625 r, l = ½."""
    return PiecewiseQuadraticWell(k_a=scale, k_b=scale, barrier=CALIBRATED_BARRIER_PER_SCALE * scale,
                                  l=CALIBRATED_L)


@dataclass(frozen=True)
class EscapeTimes:
    steps: torch.Tensor   # [runs] first step with w > w_exit; −1 if not absorbed within max_steps
    max_steps: int

    @property
    def all_escaped(self) -> bool:
        return bool((self.steps > 0).all())

    @property
    def mean_steps(self) -> float:
        """Mean escape time in steps; a lower bound when some run was censored at max_steps (those runs
        count as max_steps)."""
        return float(torch.where(self.steps > 0, self.steps, self.max_steps).double().mean())

    @property
    def stderr_steps(self) -> float:
        return float(torch.where(self.steps > 0, self.steps, self.max_steps).double().std()) / len(self.steps) ** 0.5

    def rate(self, lr: float) -> float:
        """γ = 1/(λ E[τ]) in continuous time t = λ · steps."""
        return 1.0 / (lr * self.mean_steps)


def simulate_escape(well: PiecewiseQuadraticWell, lr: float, batch_size: int, runs: int, *,
                    generator: torch.Generator, max_steps: int = 10**6,
                    dtype: torch.dtype = torch.float32) -> EscapeTimes:
    """Escape steps of `runs` SGD chains started at the minimum; absorbed chains leave the batch, so the
    cost follows the number of chains still inside the well."""
    device = generator.device
    w = torch.zeros(runs, dtype=dtype, device=device)
    alive = torch.arange(runs, device=device)
    steps = torch.full((runs,), -1, dtype=torch.long, device=device)
    noise_std_a, noise_std_b = math.sqrt(well.k_a / batch_size), math.sqrt(well.k_b / batch_size)
    for t in range(1, max_steps + 1):
        inside_a = w <= well.w_l
        grad = torch.where(inside_a, well.k_a * w, -well.k_b * (w - well.w_b))
        noise_std = torch.where(inside_a, noise_std_a, noise_std_b)
        eta = torch.randn(w.shape, generator=generator, dtype=dtype, device=device)
        w = w - lr * (grad + noise_std * eta)
        out = w > well.w_exit
        if out.any():
            steps[alive[out]] = t
            w, alive = w[~out], alive[~out]
            if alive.numel() == 0:
                break
    return EscapeTimes(steps=steps, max_steps=max_steps)
