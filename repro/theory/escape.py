"""Closed forms of "Power-Law Escape Rate of SGD" (Mori, Ziyin, Liu, Ueda; ICML 2022, arXiv 2105.09557).
Spec: ../shared/catalog/escape_rate.md ("Method").

Paper's results (pure float64 functions):
- the minibatch noise covariance, exact Σ = (f/B)[(1/N) Σ ∇ℓ∇ℓᵀ − ∇L∇Lᵀ] (f = (N−B)/(N−1) without
  replacement) and its decoupled Gauss–Newton form Σ ≈ (2L/B) H*; the noise strength 𝒩 = Tr of the bracket;
- the temperature T = η h*/B of the τ-time Langevin dynamics on U = log L;
- the stationary exponent φ = 1 + B/(η h*) of P_ss ∝ L^(−φ) and its 1-D normalised density;
- the 1-D and n-D escape rates κ, the critical dimension n_c = 2(B/(η h*) + 1) and the first-passage slope
  d log t_p / d log c = B/(η h*) + 1 − n/2.

Derived here for the linear-regression testbed of fig=3 (not in the paper; tests/theory/test_escape_theory.py):
- the estimators of φ from samples of θ (d = 1): the moment estimator φ̂ = L*/(h Var θ) + 3/2 and the weighted
  least-squares fit of the log-histogram against log L;
- the exact stationary second moment of discrete-time minibatch SGD on the realised data (with replacement),
  through repro.theory.sgd.minibatch_exact_cov_finite, and the φ̂ that the moment estimator then returns: for
  Gaussian x, h = 1, B/η − B/2 + 1/2 (10 at B = 1, η = 0.1, against the paper's 11);
- the Kesten tail exponent of the same process: θ_{k+1} − θ* = A_k (θ_k − θ*) + b_k with A = 1 − η·mean_B x², so
  the density decays as |θ − θ*|^(−(α+1)) with E|A|^α = 1 (Kesten 1973), i.e. as L^(−(α+1)/2).
"""
from __future__ import annotations

import math

import numpy as np

from repro.theory import sgd

# ----------------------------------------------------------------------------------------------------------
# Noise covariance and noise strength.


def finite_population_factor(n_data: int, batch_size: int, sampling: str = "subset") -> float:
    """(N−B)/(N−1) without replacement (the paper's Eq. for Σ), 1 with replacement."""
    return sgd.sampling_factor(n_data, batch_size, sampling)


def noise_cov_exact(per_sample_grads, batch_size: int, sampling: str = "subset") -> np.ndarray:
    """Σ = (f/B) [(1/N) Σ_μ ∇ℓ_μ∇ℓ_μᵀ − ∇L∇Lᵀ] from the [N, P] per-sample gradients."""
    G = np.atleast_2d(np.asarray(per_sample_grads, dtype=np.float64))
    N = len(G)
    g = G.mean(0)
    return finite_population_factor(N, batch_size, sampling) / batch_size * (G.T @ G / N - np.outer(g, g))


def noise_cov_decoupled(loss: float, hessian, batch_size: int) -> np.ndarray:
    """The paper's approximation Σ ≈ (2 L(θ)/B) H* (decoupling + Gauss–Newton; (N−B)/(N−1) ≈ 1 dropped)."""
    return 2.0 * float(loss) / batch_size * np.atleast_2d(np.asarray(hessian, dtype=np.float64))


def noise_strength(per_sample_sq_norms, full_grad) -> float:
    """𝒩 = (1/N) Σ_μ |∇ℓ_μ|² − |∇L|² (Sec. 5.2); Tr Σ = (f/B) 𝒩."""
    g = np.asarray(full_grad, dtype=np.float64).ravel()
    return float(np.mean(np.asarray(per_sample_sq_norms, dtype=np.float64)) - g @ g)


def noise_strength_decoupled(loss: float, mean_sq_output_grad: float) -> float:
    """The theory's 𝒩 ≈ 2 L(θ) (1/N) Σ_μ |∇f_μ|² (MSE, scalar output)."""
    return 2.0 * float(loss) * float(mean_sq_output_grad)


# ----------------------------------------------------------------------------------------------------------
# Stationary law and escape.


def temperature(batch_size, lr, h_star):
    """T = η h*/B of dz = −∇_z log L dτ + sqrt(2T) dW̃ (isotropic outlier subspace)."""
    return np.asarray(lr, dtype=np.float64) * h_star / np.asarray(batch_size, dtype=np.float64)


def phi(batch_size, lr, h_star=1.0):
    """φ = 1 + B/(η h*): P_ss(θ) ∝ L(θ)^(−φ)."""
    return 1.0 + np.asarray(batch_size, dtype=np.float64) / (np.asarray(lr, dtype=np.float64) * h_star)


def stationary_density_1d(theta, theta_star: float, loss_star: float, h: float, exponent: float) -> np.ndarray:
    """Normalised P(θ) ∝ L(θ)^(−φ) for L = L* + h(θ−θ*)²/2 (d = 1): a Student-t shape
    (1 + (θ−θ*)²/a²)^(−φ) / (a √π Γ(φ−½)/Γ(φ)) with a² = 2L*/h; normalisable for φ > ½."""
    if exponent <= 0.5:
        raise ValueError(f"L^(-phi) is not normalisable for phi = {exponent} <= 1/2")
    a = math.sqrt(2.0 * loss_star / h)
    log_z = math.log(a) + 0.5 * math.log(math.pi) + math.lgamma(exponent - 0.5) - math.lgamma(exponent)
    u = (np.asarray(theta, dtype=np.float64) - theta_star) / a
    return np.exp(-exponent * np.log1p(u * u) - log_z)


def escape_rate_1d(h_star: float, h_saddle: float, loss_saddle: float, loss_star: float, batch_size, lr):
    """κ = (1/2π) sqrt(h* |h^s|) [L(θ^s)/L(θ*)]^(−(1/2 + B/(η h*))) (1-D, t = ηk time)."""
    c = loss_saddle / loss_star
    return math.sqrt(h_star * abs(h_saddle)) / (2 * math.pi) * c ** (-(0.5 + batch_size / (lr * h_star)))


def escape_rate_nd(h_escape: float, hess_star, hess_saddle, loss_saddle: float, loss_star: float, batch_size, lr,
                   h_star: float):
    """κ = (|h_e^s|/2π) sqrt(det Ĥ(θ*) / |det Ĥ(θ^s)|) c^(−(B/(η h*) + 1 − n/2)), with Ĥ the Hessians restricted
    to the n-dimensional outlier subspace ([n, n] arrays) and c = L(θ^s)/L(θ*)."""
    Hs = np.atleast_2d(np.asarray(hess_star, dtype=np.float64))
    Hsad = np.atleast_2d(np.asarray(hess_saddle, dtype=np.float64))
    n = Hs.shape[0]
    c = loss_saddle / loss_star
    prefactor = abs(h_escape) / (2 * math.pi) * math.sqrt(np.linalg.det(Hs) / abs(np.linalg.det(Hsad)))
    return prefactor * c ** (-first_passage_slope(batch_size, lr, h_star, n))


def critical_dimension(batch_size, lr, h_star=1.0):
    """n_c = 2 (B/(η h*) + 1): a minimum with n ≥ n_c outlier directions is unstable (the exponent of c in κ
    changes sign)."""
    return 2.0 * (np.asarray(batch_size, dtype=np.float64) / (np.asarray(lr, dtype=np.float64) * h_star) + 1.0)


def first_passage_slope(batch_size, lr, h_star=1.0, n=1):
    """d log t_p / d log c = φ − n/2 = B/(η h*) + 1 − n/2 (t_p ∝ 1/κ)."""
    return phi(batch_size, lr, h_star) - np.asarray(n, dtype=np.float64) / 2.0


def participation_ratio(eigenvalues) -> float:
    """Effective dimension n = (Σ_i p_i²)⁻¹ with p_i = h_i / Σ_j h_j (App. E), over the nonnegative eigenvalues
    (round-off negatives count as 0): k equal outliers and zeros give k."""
    h = np.clip(np.asarray(eigenvalues, dtype=np.float64).ravel(), 0.0, None)
    total = h.sum()
    if total <= 0:
        return float("nan")
    p = h / total
    return float(1.0 / np.sum(p * p))


def critical_learning_rate(batch_size, h_max, n):
    """η_c = 2B / ((n − 2) h_max): the exponent B/(η h_max) + 1 − n/2 of c in κ vanishes at η_c, so a minimum with
    n > 2 effective directions is stable only for η < η_c (Eq. 16/18; +inf for n ≤ 2)."""
    n = np.asarray(n, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return np.where(n > 2, 2.0 * np.asarray(batch_size, dtype=np.float64) / ((n - 2) * h_max), np.inf)


def double_well_loss(theta, loss_star: float = 1.0, barrier: float = 1.0):
    """The schematic landscape of fig=5: L(θ) = L* + ΔL θ²(θ − 2)², minima θ* = 0 and 2 (L = L*), saddle θ^s = 1
    (L = L* + ΔL), h* = L''(0) = 8ΔL, h^s = L''(1) = −4ΔL."""
    t = np.asarray(theta, dtype=np.float64)
    return loss_star + barrier * t * t * (t - 2.0) ** 2


def double_well_points(loss_star: float = 1.0, barrier: float = 1.0) -> dict:
    """θ*, θ^s and the curvatures h*, h^s of ``double_well_loss`` (roots of L' = 4ΔL θ(θ − 1)(θ − 2))."""
    return {"theta_star": 0.0, "theta_saddle": 1.0, "h_star": 8.0 * barrier, "h_saddle": -4.0 * barrier,
            "loss_star": float(loss_star), "loss_saddle": float(loss_star + barrier)}


# ----------------------------------------------------------------------------------------------------------
# Estimators of φ from stationary samples of θ (d = 1, L = L* + h(θ−θ*)²/2).


def phi_moment(samples, theta_star: float, loss_star: float, h: float) -> float:
    """φ̂ = L*/(h Var θ) + 3/2, Var about the known θ* (the Student-t variance a²/(2φ−3)); ≥ 3/2 always."""
    d = np.asarray(samples, dtype=np.float64) - theta_star
    return float(loss_star / (h * np.mean(d * d)) + 1.5)


def phi_loghist(samples, theta_star: float, loss_star: float, h: float, bins: int = 41,
                quantile: float = 0.999, min_count: int = 10) -> float:
    """Fit log P(θ) = const − φ log L(θ) to the histogram of θ: `bins` equal bins on [θ* − q, θ* + q], q the
    `quantile` of |θ − θ*|; bins with fewer than `min_count` samples dropped; least squares weighted by the bin
    counts (the inverse variance of a log count). Returns φ̂ = −slope (nan with fewer than 3 usable bins)."""
    d = np.asarray(samples, dtype=np.float64) - theta_star
    q = float(np.quantile(np.abs(d), quantile))
    counts, edges = np.histogram(d, bins=bins, range=(-q, q))
    centers = 0.5 * (edges[1:] + edges[:-1])
    keep = counts >= min_count
    if keep.sum() < 3:
        return float("nan")
    x = np.log1p(h * centers[keep] ** 2 / (2 * loss_star))     # log(L/L*)
    y = np.log(counts[keep])
    w = counts[keep].astype(np.float64)
    xm, ym = np.average(x, weights=w), np.average(y, weights=w)
    slope = np.sum(w * (x - xm) * (y - ym)) / np.sum(w * (x - xm) ** 2)
    return float(-slope)


def linreg_minimum_1d(x, y) -> tuple[float, float, float]:
    """(θ*, L*, h) of the d = 1 testbed L = (1/2N) Σ (θx − y)²: least squares, its loss and h = mean x²."""
    x, y = np.asarray(x, dtype=np.float64).ravel(), np.asarray(y, dtype=np.float64).ravel()
    h = float(np.mean(x * x))
    theta = float(np.mean(x * y) / h)
    return theta, float(0.5 * np.mean((theta * x - y) ** 2)), h


# ----------------------------------------------------------------------------------------------------------
# Exact discrete-time references for the testbed (derived).


def exact_stationary_var_1d(x, y, batch_size: int, lr: float, sampling: str = "replacement") -> float:
    """Exact stationary E[(θ−θ*)²] of minibatch SGD on the realised 1-D data (multiplicative noise included;
    +inf where the second moment diverges), from repro.theory.sgd.minibatch_exact_cov_finite."""
    X = np.asarray(x, dtype=np.float64).reshape(-1, 1)
    return float(sgd.minibatch_exact_cov_finite(X, np.asarray(y, dtype=np.float64).ravel(), batch_size, lr,
                                                sampling=sampling)[0, 0])


def phi_moment_exact(x, y, batch_size: int, lr: float, sampling: str = "replacement") -> float:
    """What the moment estimator returns for infinitely many samples: L*/(h Var_exact) + 3/2 (3/2 when the
    variance diverges)."""
    _, loss_star, h = linreg_minimum_1d(x, y)
    var = exact_stationary_var_1d(x, y, batch_size, lr, sampling)
    return float(loss_star / (h * var) + 1.5) if np.isfinite(var) else 1.5


def phi_moment_gaussian(batch_size, lr, h: float = 1.0):
    """Closed form of ``phi_moment_exact`` for x ~ N(0, h) independent of the residual, with replacement:
    Var = 2ηL*/(B(2 − ηh(1 + 2/B))), hence φ̂ = B/(ηh) − B/2 + 1/2 (finite variance iff ηh(1 + 2/B) < 2)."""
    B, lr = np.asarray(batch_size, dtype=np.float64), np.asarray(lr, dtype=np.float64)
    stable = lr * h * (1 + 2 / B) < 2
    return np.where(stable, B / (lr * h) - B / 2 + 0.5, 1.5)


def kesten_tail_exponent(batch_size: int, lr: float, h: float = 1.0, grid: int = 200001) -> float:
    """α > 0 with E|1 − η a|^α = 1, a = mean of B draws of x² with x ~ N(0, h) (a = h χ²_B/B): the stationary
    density of θ − θ* decays as |θ − θ*|^(−(α+1)) (Kesten), i.e. as L^(−φ_tail) with φ_tail = (α+1)/2.
    nan if E log|1 − ηa| ≥ 0 (no stationary law). The expectation is a quadrature over s = sqrt(a/h), whose
    density ∝ s^(B−1) e^(−B s²/2) is smooth."""
    B = int(batch_size)
    a_max = 64.0 + 40.0 / (lr * h)    # beyond where |1 − ηa|^α e^(−Ba/2) peaks for the α of interest
    s = np.linspace(0.0, math.sqrt(a_max / h), grid)[1:]
    log_w = (B - 1) * np.log(s) - B * s * s / 2
    log_w -= log_w.max() + math.log(np.sum(np.exp(log_w - log_w.max())))
    log_abs = np.log(np.abs(1.0 - lr * h * s * s) + 1e-300)
    if np.sum(np.exp(log_w) * log_abs) >= 0:
        return float("nan")

    def f(alpha):   # log E|A|^α, a log-sum-exp over the grid
        z = log_w + alpha * log_abs
        m = z.max()
        return m + math.log(np.sum(np.exp(z - m)))

    lo, hi = 1e-6, 1.0
    while f(hi) < 0:
        lo, hi = hi, 2 * hi
        if hi > 1e4:
            return float("inf")
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if f(mid) < 0 else (lo, mid)
    return 0.5 * (lo + hi)


def phi_kesten_tail(batch_size: int, lr: float, h: float = 1.0) -> float:
    """φ_tail = (α + 1)/2: the far tail of discrete minibatch SGD on the Gaussian testbed is L^(−φ_tail)."""
    alpha = kesten_tail_exponent(batch_size, lr, h)
    return (alpha + 1) / 2 if np.isfinite(alpha) else float("nan")
