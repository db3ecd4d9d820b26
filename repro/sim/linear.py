"""Batched simulation of SGD, SGD-momentum, matrix-preconditioned SGD and QHM on linear problems
(arXiv 2012.03636: Eq. 5 update, Thm 3 matrix learning rate, Thm 11 QHM; the experiments of Figs 2–5, 8, 9
and Table 1).

All chains advance together as one [runs, D] tensor; the only python loop is over steps. Two problems:
- ``simulate_quadratic``: L = ½ wᵀKw with additive gradient noise η of covariance C (constant), gaussian,
  student_t(df) or centred chi2(df) coordinates scaled to unit variance and mixed by a square root of C.
  noise_space="grad" takes C as the gradient-noise covariance (Eq. 2, Thm 7); noise_space="weight" takes C
  as the covariance of the weight perturbation Λη of a plain SGD step, i.e. η has covariance Λ⁻¹CΛ⁻ᵀ
  (C/λ² for scalar λ; the catalog's reading of the white-noise figures). With momentum the noise still
  enters through the gradient, as in Cor 1 with C = 1/λ².
- ``simulate_minibatch_regression``: ½·MSE linear regression on a dataset (regression.py) with
  sampling="subset" (an independent uniform S-subset without replacement per step and chain, the
  catalog's default), "replacement" (S i.i.d. uniform indices) or "fresh" (new x, ε every step: N → ∞).

Conventions:
- Update (torch.optim.SGD, dampening 0): g_t = ∇L(w_{t−1}) + η_t, m_t = μ m_{t−1} + g_t,
  w_t = w_{t−1} − Λ m_t with m_0 = 0. QHM: m_t = μ m_{t−1} + (1−μ) g_t, w_t = w_{t−1} − Λ[(1−ν)g_t + ν m_t].
  Λ is a python float λ or a [D, D] matrix.
- The state is simulated as the deviation δ = w − center from the stationary mean (0 for the quadratic,
  the least-squares ŵ for a finite dataset, w* for fresh samples), which keeps float32 round-off relative
  to the fluctuation rather than to |w|.
- Nothing but running statistics is stored (ChainStats): per-run time averages of δ and δ² over the window
  of steps (burn_in, steps] (default burn_in = steps // 3: the last two-thirds, the catalog's tiny-scale
  rule), the pooled window average of δδᵀ, the final state and optional snapshots at chosen steps.
- Randomness comes only from the torch.Generator passed in (the subset sampler draws one key per step from it
  and expands it with SplitMix64: repro/sim/subset.py); the device is the generator's device.
- Default dtype float32. Measured on the 2-core CPU (10⁴ runs): torch.randn is ~5× faster in float32
  than in float64 and a 1000-step white-noise run takes 0.05 s vs 0.27 s. float32 round-off (~6e-8 per
  step, forgotten at the contraction rate 1 − λk) and the per-run float32 running sums (≤ steps terms,
  ≤ 1e-4 relative) are far below the ≥ 1% statistical error of the figures' claims; the tests match the
  float64 Lyapunov solution to < 0.5%, i.e. within their own standard errors.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import torch

from repro.sim.regression import RegressionData
from repro.sim.subset import SubsetSums

Tensor = torch.Tensor


@dataclass(frozen=True)
class Optimizer:
    lr: float | Tensor          # λ, or the matrix Λ [D, D]
    momentum: float = 0.0       # μ
    nu: float | None = None     # QHM ν; None means SGD(-momentum)


@dataclass
class ChainStats:
    """Statistics of the deviation δ = w − center of `runs` independent chains."""
    center: Tensor              # [D]
    final: Tensor               # [runs, D] δ after the last step
    window: int                 # number of steps in the time averages
    run_mean: Tensor            # [runs, D] time average of δ over the window
    run_sq: Tensor              # [runs, D] time average of δ²
    pooled: Tensor              # [D, D] average of δδᵀ over runs and window
    record_steps: tuple[int, ...]
    snapshots: Tensor | None    # [len(record_steps), runs, D] δ at record_steps (0 = initial state)

    @property
    def runs(self) -> int:
        return self.final.shape[0]

    def mean(self) -> Tensor:
        """Time-and-run averaged δ per coordinate: ≈ 0 at stationarity, a check on the center."""
        return self.run_mean.mean(0)

    def variance(self) -> Tensor:
        """Time-and-run averaged second moment of δ per coordinate: the stationary variance about the known
        stationary mean (no sample mean is subtracted)."""
        return self.run_sq.mean(0)

    def variance_stderr(self) -> Tensor:
        """Standard error of ``variance``; valid because runs are independent (the time correlation is
        inside each run's average)."""
        return self.run_sq.std(0) / self.runs**0.5

    def final_variance(self) -> Tensor:
        """Across-run second moment of δ at the last step (the paper's estimator)."""
        return (self.final**2).mean(0)

    def diverged(self) -> int:
        """Number of runs whose final state is not finite."""
        return int((~torch.isfinite(self.final).all(1)).sum())


# ----------------------------------------------------------------------------------------------------------
# Optimiser step and the step loop.


class _Stepper:
    """In-place optimiser update of a [runs, D] state for one gradient [runs, D]."""

    def __init__(self, opt: Optimizer, like: Tensor):
        D = like.shape[1]
        lr = torch.as_tensor(opt.lr, dtype=like.dtype, device=like.device)
        if lr.ndim == 0:
            self.lr_scalar, self.lr_diag, self.lr_matrix_T = float(lr), None, None
        elif torch.equal(lr, torch.diag(torch.diagonal(lr))):
            # Elementwise scaling is several times faster than a [runs, D] @ [D, D] matmul on CPU.
            self.lr_scalar, self.lr_diag, self.lr_matrix_T = None, torch.diagonal(lr).clone(), None
        else:
            self.lr_scalar, self.lr_diag, self.lr_matrix_T = None, None, lr.reshape(D, D).T.contiguous()
        self.mu, self.nu = float(opt.momentum), opt.nu
        self.m = torch.zeros_like(like) if (self.mu != 0.0 or self.nu is not None) else None

    def __call__(self, w: Tensor, g: Tensor) -> None:
        if self.nu is not None:
            self.m.mul_(self.mu).add_(g, alpha=1.0 - self.mu)
            d = g.mul_(1.0 - self.nu).add_(self.m, alpha=self.nu)
        elif self.m is not None:
            d = self.m.mul_(self.mu).add_(g)
        else:
            d = g
        if self.lr_scalar is not None:
            w.sub_(d, alpha=self.lr_scalar)
        elif self.lr_diag is not None:
            w.sub_(d * self.lr_diag)
        else:
            w.sub_(d @ self.lr_matrix_T)


def run_chains(gradient: Callable[[Tensor], Tensor], delta0: Tensor, center: Tensor, opt: Optimizer,
               steps: int, burn_in: int | None = None, record_steps: Sequence[int] = ()) -> ChainStats:
    """Advance all chains `steps` times with the noisy gradient oracle `gradient(δ) -> [runs, D]` (a fresh
    tensor each call, which the step may overwrite) and collect ChainStats."""
    burn_in = steps // 3 if burn_in is None else burn_in
    if not 0 <= burn_in < steps:
        raise ValueError(f"burn_in={burn_in} must lie in [0, steps={steps})")
    w = delta0.clone()
    step = _Stepper(opt, w)
    run_sum, run_sumsq = torch.zeros_like(w), torch.zeros_like(w)
    # float64: an in-place float32 addmm_ into the running sum drifted by 1e-3 over 400 steps (MKL, CPU);
    # forming wᵀw first and accumulating it in float64 keeps the pooled moment at round-off level.
    pooled = torch.zeros(w.shape[1], w.shape[1], dtype=torch.float64, device=w.device)
    record_steps = tuple(int(t) for t in record_steps)
    wanted = set(record_steps)
    snaps = {0: w.clone()} if 0 in wanted else {}
    for t in range(1, steps + 1):
        step(w, gradient(w))
        if t > burn_in:
            run_sum.add_(w)
            run_sumsq.addcmul_(w, w)
            pooled.add_((w.T @ w).double())
        if t in wanted:
            snaps[t] = w.clone()
    window = steps - burn_in
    return ChainStats(
        center=center, final=w, window=window, run_mean=run_sum / window, run_sq=run_sumsq / window,
        pooled=(pooled / (window * w.shape[0])).to(w.dtype), record_steps=record_steps,
        snapshots=torch.stack([snaps[t] for t in record_steps]) if record_steps else None)


# ----------------------------------------------------------------------------------------------------------
# Quadratic loss with additive noise.


def standard_noise(shape, dist: str, generator: torch.Generator, dtype: torch.dtype,
                   df: int | None = None) -> Tensor:
    """I.i.d. coordinates with mean 0 and variance 1.

    gaussian: N(0, 1). student_t: t_df · √((df−2)/df), df > 2. chi2: (χ²_df − df)/√(2df).
    The χ² variates are sums of df squared normals (integer df), because torch's gamma sampler does not
    take a generator and the run must be reproducible from its seed."""
    device = generator.device
    if dist == "gaussian":
        return torch.randn(shape, generator=generator, dtype=dtype, device=device)
    if dist not in ("student_t", "chi2"):
        raise ValueError(f"unknown noise distribution {dist!r}")
    if df is None or int(df) != df or df < 1:
        raise ValueError(f"{dist} noise needs an integer df >= 1, got {df!r}")
    df = int(df)
    chi2 = torch.randn((df, *shape), generator=generator, dtype=dtype, device=device).square_().sum(0)
    if dist == "chi2":
        return (chi2 - df) / (2.0 * df) ** 0.5
    if df <= 2:
        raise ValueError("student_t noise has infinite variance for df <= 2")
    z = torch.randn(shape, generator=generator, dtype=dtype, device=device)
    return z * torch.rsqrt(chi2 / df) * ((df - 2) / df) ** 0.5


def _psd_sqrt(C: Tensor) -> Tensor:
    """Symmetric square root F of a PSD matrix (F Fᵀ = C), also for singular C (Cholesky is not)."""
    ev, V = torch.linalg.eigh(C)
    return (V * ev.clamp(min=0).sqrt()) @ V.T


def gradient_noise_cov(noise_cov, lr, noise_space: str, dim: int) -> Tensor:
    """Covariance of η in float64: C itself (grad) or Λ⁻¹CΛ⁻ᵀ (weight)."""
    C = torch.as_tensor(noise_cov, dtype=torch.float64)
    C = C * torch.eye(dim, dtype=torch.float64) if C.ndim == 0 else C.reshape(dim, dim)
    if noise_space == "grad":
        return C
    if noise_space == "weight":
        Lam = torch.as_tensor(lr, dtype=torch.float64)
        Lam = Lam * torch.eye(dim, dtype=torch.float64) if Lam.ndim == 0 else Lam.reshape(dim, dim)
        Lam_inv = torch.linalg.inv(Lam)
        return Lam_inv @ C @ Lam_inv.T
    raise ValueError(f"unknown noise_space {noise_space!r}")


def simulate_quadratic(K, opt: Optimizer, steps: int, runs: int, noise_cov, *, generator: torch.Generator,
                       noise_space: str = "grad", noise: str = "gaussian", df: int | None = None, w0=None,
                       burn_in: int | None = None, record_steps: Sequence[int] = (),
                       dtype: torch.dtype = torch.float32) -> ChainStats:
    """Chains of `opt` on L = ½ wᵀKw with additive noise; K is [D, D] (a float means 1-D), noise_cov a
    [D, D] covariance or a float (times I). Starts at w0 (default 0); the center is the minimum 0."""
    device = generator.device
    K = torch.as_tensor(K, dtype=torch.float64)
    D = K.shape[0] if K.ndim else 1
    K = K.reshape(D, D)
    factor = _psd_sqrt(gradient_noise_cov(noise_cov, opt.lr, noise_space, D))
    # Diagonal K and noise factor act elementwise, which is several times faster than tiny matmuls.
    K_diag = torch.equal(K, torch.diag(torch.diagonal(K)))
    F_diag = torch.equal(factor, torch.diag(torch.diagonal(factor)))
    K_op = (torch.diagonal(K) if K_diag else K.T).to(dtype=dtype, device=device).contiguous()
    F_op = (torch.diagonal(factor) if F_diag else factor.T).to(dtype=dtype, device=device).contiguous()

    def gradient(w: Tensor) -> Tensor:
        eta = standard_noise((runs, D), noise, generator, dtype, df)
        eta = eta * F_op if F_diag else eta @ F_op
        return torch.addcmul(eta, w, K_op) if K_diag else torch.addmm(eta, w, K_op)

    delta0 = torch.zeros(runs, D, dtype=dtype, device=device)
    if w0 is not None:
        delta0 += torch.as_tensor(w0, dtype=dtype, device=device)
    center = torch.zeros(D, dtype=dtype, device=device)
    return run_chains(gradient, delta0, center, opt, steps, burn_in, record_steps)


# ----------------------------------------------------------------------------------------------------------
# Minibatch linear regression.


def wishart_factor(runs: int, dim: int, dof: int, generator: torch.Generator, dtype=torch.float32) -> Tensor:
    """[runs, dim, dim] lower-triangular A with A Aᵀ ~ Wishart_dim(dof, I), i.e. the law of Σ_b ξ_b ξ_bᵀ over dof
    standard normal vectors ξ_b (Bartlett): A_ii = √χ²_{dof−i} (i = 0..dim−1), A_ij ~ N(0, 1) below the diagonal."""
    device = generator.device
    k = torch.arange(dof, dof - dim, -1, dtype=dtype, device=device)
    # torch._standard_gamma is torch.distributions.Gamma's sampler; it is the one that takes a generator.
    chi2 = 2 * torch._standard_gamma((k / 2).expand(runs, dim).contiguous(), generator=generator)
    A = torch.diag_embed(chi2.sqrt())
    if dim > 1:
        i, j = torch.tril_indices(dim, dim, -1, device=device)
        A[:, i, j] = torch.randn(runs, len(i), generator=generator, dtype=dtype, device=device)
    return A


def fresh_gradient(x_std: Tensor, noise_std: float, batch_size: int, runs: int, generator: torch.Generator,
                   dtype=torch.float32, method: str = "wishart") -> Callable[[Tensor], Tensor]:
    """Oracle δ ↦ (1/S) Σ_b x_b(x_bᵀδ − σε_b) with S fresh samples x_b ~ N(0, diag(x_std²)), ε_b ~ N(0, 1) per
    chain and step (the N → ∞ minibatch gradient at w = w* + δ).

    method="wishart" draws it exactly in law from sufficient statistics instead of the 2S·D normals: with
    X = [x_b] = ξ D_s, XᵀX = D_s A Aᵀ D_s (A from ``wishart_factor``) and, given X, Xᵀε ~ N(0, XᵀX) = D_s A z
    with z ~ N(0, I_D): D + D(D+1)/2 random numbers per chain and step, independent of S (a 1-D run of the
    catalog's S = 100 is ~15× faster). It needs S ≥ D; "direct" draws the samples themselves."""
    device = generator.device
    x_std = torch.as_tensor(x_std).to(dtype=dtype, device=device)
    D, S = len(x_std), batch_size
    if method == "wishart" and S >= D:
        def gradient(delta: Tensor) -> Tensor:
            LA = x_std[:, None] * wishart_factor(runs, D, S, generator, dtype)          # D_s A: [runs, D, D]
            z = torch.randn(runs, D, 1, generator=generator, dtype=dtype, device=device)
            return (LA @ (LA.transpose(1, 2) @ delta.unsqueeze(2) - noise_std * z)).squeeze(2) / S
        return gradient
    if method not in ("wishart", "direct"):
        raise ValueError(f"unknown method {method!r}")

    def gradient(delta: Tensor) -> Tensor:
        x = torch.randn(runs, S, D, generator=generator, dtype=dtype, device=device) * x_std
        eps = torch.randn(runs, S, generator=generator, dtype=dtype, device=device)
        residual = torch.bmm(x, delta.unsqueeze(2)).squeeze(2) - noise_std * eps
        return (x * residual.unsqueeze(-1)).mean(1)
    return gradient


def simulate_minibatch_regression(data: RegressionData, opt: Optimizer, batch_size: int, steps: int,
                                  runs: int, *, generator: torch.Generator, sampling: str = "subset",
                                  w0=None, burn_in: int | None = None, record_steps: Sequence[int] = (),
                                  dtype: torch.dtype = torch.float32, subset_method: str = "auto") -> ChainStats:
    """Chains of `opt` on L = (1/2N) Σ (wᵀx_i − y_i)² with minibatch gradients (1/S) Σ_{i∈B} x_i(x_iᵀw − y_i).

    The center is ŵ (finite data) or w* (fresh). For finite data each sample enters through the features
    (x_i x_iᵀ, x_i ρ_i) with residual ρ_i = y_i − x_iᵀŵ, so that the minibatch gradient at w = ŵ + δ is
    Â_B δ − mean_B(x ρ): one gather-and-sum of N-row features per step instead of recomputing residuals.
    sampling="subset" sums them with repro.sim.subset.SubsetSums (`subset_method`: auto | kernel | torch)."""
    device = generator.device
    N, D = data.X.shape
    fresh = sampling == "fresh"
    center = (data.w_star if fresh else data.w_hat).to(dtype=dtype, device=device)

    if fresh:
        gradient = fresh_gradient(data.input_var.sqrt(), data.noise_std, batch_size, runs, generator, dtype)
    else:
        X = data.X.double()
        rho = data.y.double() - X @ data.w_hat.double()
        # Divided by S so that the sums over a minibatch are batch means.
        features = torch.cat([(X.unsqueeze(2) * X.unsqueeze(1)).reshape(N, D * D), X * rho.unsqueeze(1)], 1)
        features = (features / batch_size).to(device=device)
        if sampling == "subset":
            # Subset sums in float64 (the sampler's accumulators), rounded once to the chains' dtype.
            subset_sums = SubsetSums(runs, features, batch_size, method=subset_method)

            def batch_means(gen):
                return subset_sums(gen).to(dtype)
        elif sampling == "replacement":
            # float32 features: embedding_bag(mode="sum") is a fused gather-and-sum (3× faster than
            # index_select followed by mean on CPU).
            features32 = features.to(dtype)

            def batch_means(gen):
                indices = torch.randint(N, (runs, batch_size), generator=gen, device=device)
                return torch.nn.functional.embedding_bag(indices, features32, mode="sum")
        else:
            raise ValueError(f"unknown sampling {sampling!r}")

        def gradient(delta: Tensor) -> Tensor:
            batch = batch_means(generator)
            A_B, b_B = batch[:, : D * D].view(runs, D, D), batch[:, D * D:]
            if D == 1:
                return A_B[:, 0] * delta - b_B
            return (A_B @ delta.unsqueeze(2)).squeeze(2) - b_B

    delta0 = torch.zeros(runs, D, dtype=dtype, device=device)
    if w0 is not None:
        delta0 += torch.as_tensor(w0, dtype=dtype, device=device)
    delta0 -= center
    return run_chains(gradient, delta0, center, opt, steps, burn_in, record_steps)
