"""Monte Carlo of adaptive-gradient updates on i.i.d. (or time-varying) gradient sequences, all chains as one tensor.

u_t = (first moment, bias corrected) / sqrt(second moment, bias corrected), eps = 0, sign convention u = +g/... (the
catalog's; the parameter update is -lr u, and the theory is symmetric). Variants (catalog "Runner interface"):
  rmsprop_avg  Theorem 1: u_t = g_t / sqrt((1/t) sum_{i<=t} g_i^2)
  rmsprop      bias-corrected EMA: n_t = beta2 n + (1-beta2) g^2, u_t = g_t / sqrt(n_t / (1-beta2^t))
  adam_bc      m_t = beta1 m + (1-beta1) g, u_t = (m_t/(1-beta1^t)) / sqrt(n_t/(1-beta2^t))
  laprop       the paper's written form: momentum of the normalised gradient g_t / sqrt(n_t/c_n)
"""
from __future__ import annotations

import math

import torch

VARIANTS = ("rmsprop_avg", "rmsprop", "adam_bc", "laprop")


def sample_gradients(chains: int, t: int, dist: str, mean: float, std: float, generator, device="cpu",
                     dtype=torch.float64) -> torch.Tensor:
    if dist == "gaussian":
        z = torch.randn(chains, generator=generator, device=device, dtype=dtype)
    elif dist == "cauchy":
        u = torch.rand(chains, generator=generator, device=device, dtype=dtype)
        z = torch.tan(math.pi * (u - 0.5))
    else:
        raise ValueError(f"unknown dist {dist!r}")
    return mean + std * z


def simulate_updates(chains: int, steps: int, variant: str = "rmsprop_avg", beta1: float = 0.0, beta2: float = 0.999,
                     dist: str = "gaussian", mean=0.0, std=1.0, generator=None, device="cpu",
                     dtype=torch.float64) -> torch.Tensor:
    """Updates u_t for t = 1..steps of `chains` independent chains: a [steps, chains] tensor. `mean` and `std`
    are numbers or callables of the step t (1-based), e.g. std=lambda t: t for growing gradient variance."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; choose one of {VARIANTS}")
    out = torch.empty(steps, chains, device=device, dtype=dtype)
    n = torch.zeros(chains, device=device, dtype=dtype)
    mom = torch.zeros(chains, device=device, dtype=dtype)
    for t in range(1, steps + 1):
        mu = mean(t) if callable(mean) else mean
        sd = std(t) if callable(std) else std
        g = sample_gradients(chains, t, dist, mu, sd, generator, device, dtype)
        if variant == "rmsprop_avg":
            n += g * g
            rms = torch.sqrt(n / t)
        else:
            n.mul_(beta2).add_((1 - beta2) * g * g)
            rms = torch.sqrt(n / (1 - beta2**t))
        if variant in ("rmsprop_avg", "rmsprop"):
            u = g / rms
        elif variant == "adam_bc":
            mom.mul_(beta1).add_((1 - beta1) * g)
            u = mom / (1 - beta1**t) / rms
        else:  # laprop
            mom.mul_(beta1).add_((1 - beta1) * g / rms)
            u = mom / (1 - beta1**t)
        out[t - 1] = u
    return out


def simulate_updates_loop(chains: int, steps: int, generator=None) -> torch.Tensor:
    """Reference per-chain Python loop of `rmsprop_avg` (for the benchmark and a consistency test)."""
    out = torch.empty(steps, chains, dtype=torch.float64)
    for c in range(chains):
        n = 0.0
        for t in range(1, steps + 1):
            g = torch.randn((), generator=generator, dtype=torch.float64).item()
            n += g * g
            out[t - 1, c] = g / math.sqrt(n / t)
    return out
