"""Batched minibatch-SGD simulations of "Strength of Minibatch Noise in SGD" (arXiv 2102.05375): label noise,
input noise and L2 regularisation with fresh Gaussian samples every step (the N → ∞ theory), and
high-dimensional regression on a fixed dataset sampled with replacement.

The small problems reuse repro/sim/linear.py: each builds a noisy-gradient oracle g(δ) of the deviation
δ = w − w* and hands it to ``linear.run_chains`` (SGD / momentum / matrix Λ, running statistics, snapshots).
The minibatches are drawn exactly as the paper's Definition 2 with N → ∞: S fresh i.i.d. samples per step
and chain. Exact-in-law shortcuts keep the chains cheap (the 1-D ones dominate the tail-index figures):
- label noise, D = 1: Σ_b x_b(x_b δ − σε_b)/S = q δ − σ√(q/S) z with q = Σ x_b²/S and z ~ N(0, 1), because
  Σ x_b ε_b given x is N(0, Σ x_b²) (S + 1 normals per chain and step instead of 2S); for D > 1 likewise
  Qδ − σLz/√S with Q = XᵀX/S = LLᵀ;
- L2, D = 1: the data gradient is q(w − u) with the same q.

High-dimensional regression (D ~ 1000) would make run_chains' pooled D×D moment dominate, so
``simulate_highdim_regression`` has its own loop in the eigenbasis of Â = XᵀX/N, where Tr[Â δδᵀ] = Σ a_i δ_i²
costs O(D) per step (SGD is equivariant under the rotation x → Vᵀx).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from repro.sim.linear import ChainStats, Optimizer, run_chains

Tensor = torch.Tensor


def _as_diag(v, D: int | None = None) -> np.ndarray:
    v = np.atleast_1d(np.asarray(v, dtype=np.float64))
    if v.ndim != 1:
        raise ValueError("only diagonal input covariances are simulated; pass the diagonal")
    return np.full(D, float(v[0])) if D is not None and len(v) == 1 and D > 1 else v


def _chi_mean(runs: int, S: int, generator: torch.Generator, dtype) -> tuple[Tensor, Tensor]:
    """(q, z): q = mean of S squared standard normals per chain [runs, 1], z an independent N(0, 1) [runs, 1]."""
    n = torch.randn(runs, S + 1, generator=generator, dtype=dtype, device=generator.device)
    return n[:, :S].square().mean(1, keepdim=True), n[:, S:]


def label_noise_gradient(A_diag, sigma: float, batch_size: int, runs: int, generator: torch.Generator,
                         dtype=torch.float32):
    """Oracle δ ↦ (1/S) Σ_b x_b(x_bᵀδ − σε_b), x ~ N(0, diag(A)), ε ~ N(0, 1) fresh every call (δ = w − u)."""
    a = _as_diag(A_diag)
    D, S, device = len(a), batch_size, generator.device
    if D == 1:
        a0 = float(a[0])

        def gradient(delta: Tensor) -> Tensor:
            q, z = _chi_mean(runs, S, generator, dtype)
            q = q * a0
            return q * delta - sigma * (q / S).sqrt() * z
        return gradient
    std = torch.as_tensor(np.sqrt(a), dtype=dtype, device=device)
    if S < D:
        raise ValueError(f"batch size {S} < dimension {D}: the Cholesky form needs S >= D")

    def gradient(delta: Tensor) -> Tensor:
        # Q = XᵀX/S, and Xᵀε/S given X is N(0, Q/S) = L z/√S with LLᵀ = Q: exact in law, 3× faster than
        # drawing the S label noises.
        x = torch.randn(runs, S, D, generator=generator, dtype=dtype, device=device) * std
        Q = torch.bmm(x.transpose(1, 2), x) / S
        L, _ = torch.linalg.cholesky_ex(Q)
        z = torch.randn(runs, D, 1, generator=generator, dtype=dtype, device=device)
        return torch.bmm(Q, delta.unsqueeze(2)).squeeze(2) - (sigma / S**0.5) * torch.bmm(L, z).squeeze(2)
    return gradient


def input_noise_gradient(A_diag, B_diag, u, batch_size: int, runs: int, generator: torch.Generator,
                         dtype=torch.float32):
    """Oracle δ ↦ (1/S) Σ_b x̃_b(x̃_bᵀw − uᵀx_b) at w = w* + δ, x ~ N(0, diag(A)), x̃ = x + η, η ~ N(0, diag(B)),
    w* = K⁻¹Au. Written from x and η (not from the equivalent label-noise form) so the simulation tests it."""
    a = _as_diag(A_diag)
    D, S, device = len(a), batch_size, generator.device
    b = _as_diag(B_diag, D)
    u = np.array(np.broadcast_to(np.asarray(u, dtype=np.float64), (D,)))
    w_star = a * u / (a + b)
    sa, sb = (torch.as_tensor(np.sqrt(v), dtype=dtype, device=device) for v in (a, b))
    ws, ut = (torch.as_tensor(v, dtype=dtype, device=device) for v in (w_star, u))

    def gradient(delta: Tensor) -> Tensor:
        z = torch.randn(runs, S, 2 * D, generator=generator, dtype=dtype, device=device)
        x = z[..., :D] * sa
        xt = x + z[..., D:] * sb
        r = (xt * (delta + ws).unsqueeze(1)).sum(-1) - (x * ut).sum(-1)
        return (xt * r.unsqueeze(-1)).mean(1)
    return gradient, torch.as_tensor(w_star, dtype=dtype, device=device)


def l2_gradient(A_diag, gamma, u, batch_size: int, runs: int, generator: torch.Generator, dtype=torch.float32):
    """Oracle δ ↦ (1/S) Σ_b x_b x_bᵀ(w − u) + Γw at w = w* + δ, Γ = diag(gamma), w* = K⁻¹Au. Only the data term is
    noisy. The offset w* − u = −K⁻¹Γu is formed in float64, so at γ = 0 the chain sees exactly δ."""
    a = _as_diag(A_diag)
    D, S, device = len(a), batch_size, generator.device
    g = _as_diag(gamma, D)
    u = np.array(np.broadcast_to(np.asarray(u, dtype=np.float64), (D,)))
    w_star = a * u / (a + g)
    off = torch.as_tensor(w_star - u, dtype=dtype, device=device)
    gam = torch.as_tensor(g, dtype=dtype, device=device)
    gw = torch.as_tensor(g * w_star, dtype=dtype, device=device)
    if D == 1:
        a0 = float(a[0])

        def gradient(delta: Tensor) -> Tensor:
            q, _ = _chi_mean(runs, S, generator, dtype)
            return (q * a0) * (delta + off) + gam * delta + gw
        return gradient, torch.as_tensor(w_star, dtype=dtype, device=device)
    std = torch.as_tensor(np.sqrt(a), dtype=dtype, device=device)

    def gradient(delta: Tensor) -> Tensor:
        x = torch.randn(runs, S, D, generator=generator, dtype=dtype, device=device) * std
        r = (x * (delta + off).unsqueeze(1)).sum(-1)
        return (x * r.unsqueeze(-1)).mean(1) + gam * delta + gw
    return gradient, torch.as_tensor(w_star, dtype=dtype, device=device)


def simulate(source: str, params: dict, opt: Optimizer, steps: int, runs: int, *, generator: torch.Generator,
             burn_in: int | None = None, record_steps: Sequence[int] = (), dtype=torch.float32) -> ChainStats:
    """Chains of `opt` for a noise `source` with fresh samples, from w = 0 (δ₀ = −w*):
    label  params A (diagonal), sigma2; w measured about u = 0
    input  params A, B (diagonals), u
    l2     params A, gamma, u"""
    A, S, device = params["A"], int(params["S"]), generator.device
    D = len(_as_diag(A))
    if source == "label":
        grad = label_noise_gradient(A, float(params["sigma2"]) ** 0.5, S, runs, generator, dtype)
        center = torch.zeros(D, dtype=dtype, device=device)
    elif source == "input":
        grad, center = input_noise_gradient(A, params["B"], params["u"], S, runs, generator, dtype)
    elif source == "l2":
        grad, center = l2_gradient(A, params["gamma"], params["u"], S, runs, generator, dtype)
    else:
        raise ValueError(f"unknown noise source {source!r}; choose label, input or l2")
    delta0 = (-center).expand(runs, D).clone()
    if source == "label" and params.get("w0") is not None:
        delta0 += torch.as_tensor(params["w0"], dtype=dtype, device=device)
    return run_chains(grad, delta0, center, opt, steps, burn_in, record_steps)


# ----------------------------------------------------------------------------------------------------------
# High-dimensional regression.


@dataclass
class HighDimResult:
    trace: float              # time-and-run average of Tr[Â δδᵀ] = Σ a_i δ_i² over the window
    trace_stderr: float       # standard error over the independent chains
    run_traces: np.ndarray    # [runs] per-chain time averages
    final_trace: float        # across-run mean of Tr[Â δδᵀ] at the last step
    window: int


def simulate_highdim_regression(X, y, lr: float, batch_size: int, steps: int, runs: int, *,
                                generator: torch.Generator, burn_in: int, dtype=torch.float32,
                                every: int = 1) -> HighDimResult:
    """Minibatch SGD on L = (1/2N)‖Xw − y‖² with S indices drawn with replacement per step and chain, from w = 0.
    δ = w − ŵ with ŵ the minimum-norm least-squares solution; the trace is accumulated every `every` steps
    after `burn_in` (an unbiased time average; the chains' correlation time is ≫ every)."""
    device = generator.device
    X64, y64 = torch.as_tensor(X, dtype=torch.float64), torch.as_tensor(y, dtype=torch.float64)
    N, D = X64.shape
    evals, V = torch.linalg.eigh(X64.T @ X64 / N)
    w_hat = torch.linalg.lstsq(X64, y64.unsqueeze(1), driver="gelsd").solution.squeeze(1)
    rho = y64 - X64 @ w_hat
    Xr = (X64 @ V).to(dtype=dtype, device=device)            # inputs in the eigenbasis of Â
    rho_t = rho.to(dtype=dtype, device=device)
    a = evals.clamp(min=0).to(dtype=torch.float64, device=device)
    delta = (-(V.T @ w_hat)).to(dtype=dtype, device=device).expand(runs, D).clone()
    acc = torch.zeros(runs, dtype=torch.float64, device=device)
    count = 0
    for t in range(1, steps + 1):
        idx = torch.randint(N, (runs, batch_size), generator=generator, device=device)
        xb = Xr.index_select(0, idx.view(-1)).view(runs, batch_size, D)     # [runs, S, D]
        # A broadcast multiply-and-sum: 5× faster than bmm / einsum for this [runs, S, D] × [runs, D] on CPU.
        r = (xb * delta.unsqueeze(1)).sum(-1) - rho_t[idx]
        g = torch.bmm(r.unsqueeze(1), xb).squeeze(1) / batch_size
        delta.sub_(g, alpha=lr)
        if t > burn_in and (t - burn_in) % every == 0:
            acc += delta.double().square() @ a
            count += 1
    run_traces = (acc / count).cpu().numpy()
    final = float((delta.double().square() @ a).mean())
    return HighDimResult(trace=float(run_traces.mean()),
                         trace_stderr=float(run_traces.std(ddof=1) / np.sqrt(runs)) if runs > 1 else float("nan"),
                         run_traces=run_traces, final_trace=final, window=count)
