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
- Randomness comes only from the torch.Generator passed in; the device is the generator's device.
- Default dtype float32. Measured on the 2-core CPU (10⁴ runs): torch.randn is ~5× faster in float32
  than in float64 and a 1000-step white-noise run takes 0.05 s vs 0.27 s. float32 round-off (~6e-8 per
  step, forgotten at the contraction rate 1 − λk) and the per-run float32 running sums (≤ steps terms,
  ≤ 1e-4 relative) are far below the ≥ 1% statistical error of the figures' claims; the tests match the
  float64 Lyapunov solution to < 0.5%, i.e. within their own standard errors.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import torch

from repro.sim.regression import RegressionData

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


class SubsetSampler:
    """Independent uniform S-subsets of {0..N−1} without replacement, one per row, vectorised over rows.

    Sorting N random keys per row (argsort / topk) costs O(N) random numbers per row and step (75 ms per
    step at 10⁴ rows × N = 1000 on 2 CPU cores); a vectorised partial Fisher–Yates needs S sequential
    passes (46 ms). This collision-resolution sampler draws S values with replacement per row and redraws
    rejected slots until the row holds S distinct values, using a [rows, N] mark table in which accepted
    values carry ACCEPTED and the draws of the current round add 1:
      a draw is accepted iff its cell then reads exactly 1 (the value is not yet accepted in that row and no
      other draw of this round hit it); every copy of a value drawn twice in a round is rejected.
    Accept/reject depends only on which draws are equal, never on the values themselves, so the procedure
    commutes with every relabelling of {0..N−1}; its output set is therefore uniform over the S-subsets.
    Each call is independent of the previous ones (the table is cleared). The first round costs O(S) per
    row; the later ones (about 5) touch only the rejected slots, ≈ S²/N per row: ~10 ms per step at
    10⁴ × (N = 1000, S = 100), dominated by the S random integers per row. The number of rounds grows like
    a coupon collector's as S → N, so it is meant for S ≲ N/2.
    """

    def __init__(self, rows: int, n: int, size: int, device: torch.device | str = "cpu"):
        if not 1 <= size <= n:
            raise ValueError(f"subset size {size} must lie in [1, N={n}]")
        self.rows, self.n, self.size = rows, n, size
        # A cell holds ACCEPTED + (draws this round) ≤ ACCEPTED + size, which must not overflow.
        dtype, self.ACCEPTED = (torch.uint8, 128) if size < 128 else (torch.int32, 2**30)
        self.marks = torch.zeros(rows, n, dtype=dtype, device=device)
        self.one = torch.ones((), dtype=dtype, device=device)
        self.accepted = torch.full((), self.ACCEPTED, dtype=dtype, device=device)
        self.empty = torch.zeros((), dtype=dtype, device=device)

    def __call__(self, generator: torch.Generator) -> Tensor:
        """[rows, size] int64 indices; each row is a uniformly random subset in random order."""
        device = self.marks.device
        values = torch.randint(self.n, (self.rows, self.size), generator=generator, device=device)
        # Round 1 on the [rows, N] table (row-wise indexing, no flat offsets): the table is empty, so a
        # cell reads 1 iff exactly one draw of its row hit it.
        self.marks.scatter_add_(1, values, self.one.expand(self.rows, self.size))
        ok = self.marks.gather(1, values) == 1
        self.marks.scatter_(1, values, torch.where(ok, self.accepted, self.empty))
        flat_marks, flat_values = self.marks.view(-1), values.view(-1)
        pending = (~ok).view(-1).nonzero().squeeze(1)   # flat slot ids still to fill
        while pending.numel():
            value = torch.randint(self.n, pending.shape, generator=generator, device=device)
            cell = value + (pending // self.size) * self.n
            flat_marks.scatter_add_(0, cell, self.one.expand(len(cell)))
            hits = flat_marks.gather(0, cell)
            ok = hits == 1
            # Every draw of one cell reads the same `hits`, so these writes agree within a cell: accepted
            # cells (old or new) end at ACCEPTED, cells hit only by rejected new draws return to 0.
            flat_marks.scatter_(0, cell, torch.where(ok | (hits > self.ACCEPTED), self.accepted, self.empty))
            flat_values.index_copy_(0, pending[ok], value[ok])
            pending = pending[~ok]
        self.marks.zero_()           # a dense memset: faster than scattering zeros to the S chosen cells
        return values


def simulate_minibatch_regression(data: RegressionData, opt: Optimizer, batch_size: int, steps: int,
                                  runs: int, *, generator: torch.Generator, sampling: str = "subset",
                                  w0=None, burn_in: int | None = None, record_steps: Sequence[int] = (),
                                  dtype: torch.dtype = torch.float32) -> ChainStats:
    """Chains of `opt` on L = (1/2N) Σ (wᵀx_i − y_i)² with minibatch gradients (1/S) Σ_{i∈B} x_i(x_iᵀw − y_i).

    The center is ŵ (finite data) or w* (fresh). For finite data each sample enters through the features
    (x_i x_iᵀ, x_i ρ_i) with residual ρ_i = y_i − x_iᵀŵ, so that the minibatch gradient at w = ŵ + δ is
    Â_B δ − mean_B(x ρ): one gather-and-sum of N-row features per step instead of recomputing residuals."""
    device = generator.device
    N, D = data.X.shape
    fresh = sampling == "fresh"
    center = (data.w_star if fresh else data.w_hat).to(dtype=dtype, device=device)

    if fresh:
        x_std = data.input_var.sqrt().to(dtype=dtype, device=device)

        def gradient(delta: Tensor) -> Tensor:
            x = torch.randn(runs, batch_size, D, generator=generator, dtype=dtype, device=device) * x_std
            eps = torch.randn(runs, batch_size, generator=generator, dtype=dtype, device=device)
            residual = torch.bmm(x, delta.unsqueeze(2)).squeeze(2) - data.noise_std * eps
            return (x * residual.unsqueeze(-1)).mean(1)
    else:
        X = data.X.double()
        rho = data.y.double() - X @ data.w_hat.double()
        # Divided by S so that the fused gather-and-sum embedding_bag(mode="sum") returns batch means
        # (3× faster than index_select followed by mean on CPU).
        features = torch.cat([(X.unsqueeze(2) * X.unsqueeze(1)).reshape(N, D * D), X * rho.unsqueeze(1)], 1)
        features = (features / batch_size).to(dtype=dtype, device=device)
        if sampling == "subset":
            draw_indices = SubsetSampler(runs, N, batch_size, device)
        elif sampling == "replacement":
            def draw_indices(gen):
                return torch.randint(N, (runs, batch_size), generator=gen, device=device)
        else:
            raise ValueError(f"unknown sampling {sampling!r}")

        def gradient(delta: Tensor) -> Tensor:
            batch = torch.nn.functional.embedding_bag(draw_indices(generator), features, mode="sum")
            A_B, b_B = batch[:, : D * D].view(runs, D, D), batch[:, D * D:]
            if D == 1:
                return A_B[:, 0] * delta - b_B
            return (A_B @ delta.unsqueeze(2)).squeeze(2) - b_B

    delta0 = torch.zeros(runs, D, dtype=dtype, device=device)
    if w0 is not None:
        delta0 += torch.as_tensor(w0, dtype=dtype, device=device)
    delta0 -= center
    return run_chains(gradient, delta0, center, opt, steps, burn_in, record_steps)
