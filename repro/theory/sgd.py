"""Closed forms of "Noise and Fluctuation of Finite Learning Rate SGD" (Liu, Ziyin, Ueda; arXiv 2012.03636).

Implements, as pure float64 functions of (K, C, λ, μ, ...):
- Thm 1 / Thm 2 / Thm 3 as residuals (zero when Σ is the stationary covariance), Cor 1, the continuous-time
  Σ_c of Mandt et al., Thm 4 with Cor 2 / Cor 3, and the training loss of Thm 5 (discrete and continuous);
- Thm 7 escaping efficiency E_d(t), E_c(t) and their t → ∞ limits;
- Thm 9 Kramers escape rate (discrete) and the continuous rate of Xie et al. 2021;
- Sec. 6.4 / App. E.2.7 second-order methods: DNM (Λ = λK⁻¹), NGD (Λ = λJ⁻¹, constant and state-dependent
  C), the Adam model Λ = λ(KΣK + C)^(−1/2) with C = cKΣK, and QHM (Thm 11) through the Lyapunov solver,
  because h(K) of Eqs. 90–92 is not transcribed reliably;
- the "earlier work" small-λ expansions of Table 1;
- 1-D helpers of Figs 2, 4, 8, 9 (white noise in weight space, minibatch noise in the Hessian approximation);
- minibatch regression theory on realised data: the catalog's additive "realised-data theory" and the exact
  finite-N / N → ∞ second-moment fixed points (arXiv 2102.05375 Lemma 1 and Prop 8).

Conventions:
- K is the (symmetric, positive-definite) Hessian, C the gradient-noise covariance, λ the learning rate,
  μ the momentum of Eq. 5 (torch.optim.SGD convention, m_t = μ m_{t−1} + g_t, w_t = w_{t−1} − λ m_t).
- Inputs may be numpy arrays, torch CPU tensors or python scalars; matrices are returned as numpy float64.
- Outside the stationarity region (λ k_max ≥ 2(1+μ), or a diverging second-moment recursion) the
  covariances and losses are +inf, so sweeps can cross a divergence boundary.
- White noise "in weight space" (catalog, noise_space=weight): the perturbation λη of a step has unit
  variance, i.e. C = 1/λ², so the 1-D variances depend on λk only.
- Minibatch regression: L = (1/2N) Σ_i (wᵀx_i − y_i)² (½·MSE), batch size S; the finite-population factor
  of subset sampling without replacement is f = (N−S)/(N−1), f = 1 with replacement.
"""
from __future__ import annotations

import math

import numpy as np

from repro.theory.lyapunov import (
    sgdm_state_matrices,
    solve_state_dependent_lyapunov,
    stationary_cov_w,
)


def _mat(a) -> np.ndarray:
    return np.atleast_2d(np.asarray(a, dtype=np.float64))


def _unstable(K, lr, mu: float) -> bool:
    """Necessary stability condition of Sec. 3: λ k_max < 2(1+μ)."""
    return lr * np.max(np.linalg.eigvalsh(_mat(K))) >= 2.0 * (1.0 + mu)


def _inf_like(K) -> np.ndarray:
    return np.full(_mat(K).shape, np.inf)


def _trace_fn_K_C(K, C, fn) -> np.ndarray:
    """Tr[fn(K) C] through the eigendecomposition K = V diag(k) Vᵀ; fn acts elementwise on k and may
    broadcast over leading axes (e.g. a time grid), returning one trace per leading index."""
    k, V = np.linalg.eigh(_mat(K))
    c_diag = np.einsum("ij,jk,ki->i", V.T, _mat(C), V)
    return np.sum(fn(k) * c_diag, axis=-1)


# ----------------------------------------------------------------------------------------------------------
# Stationary fluctuation: Thms 1-5, Cor 1-3, continuous time.


def thm1_residual(Sigma, K, C, lr) -> np.ndarray:
    """ΣK + KΣ − λKΣK − λC (Thm 1, μ = 0)."""
    Sigma, K, C = _mat(Sigma), _mat(K), _mat(C)
    return Sigma @ K + K @ Sigma - lr * K @ Sigma @ K - lr * C


def thm2_residual(Sigma, K, C, lr, mu) -> np.ndarray:
    """(1−μ)λ(KΣ+ΣK) − (1+μ²)/(1−μ²) λ²KΣK + μ/(1−μ²) λ²(K²Σ+ΣK²) − λ²C (Thm 2)."""
    Sigma, K, C = _mat(Sigma), _mat(K), _mat(C)
    K2 = K @ K
    return ((1 - mu) * lr * (K @ Sigma + Sigma @ K)
            - (1 + mu**2) / (1 - mu**2) * lr**2 * K @ Sigma @ K
            + mu / (1 - mu**2) * lr**2 * (K2 @ Sigma + Sigma @ K2)
            - lr**2 * C)


def thm3_residual(Sigma, K, C, Lam, mu) -> np.ndarray:
    """Thm 3 (matrix learning rate Λ):
    (1−μ)(ΛKΣ+ΣKΛ) − (1+μ²)/(1−μ²) ΛKΣKΛ + μ/(1−μ²)(ΛKΛKΣ+ΣKΛKΛ) − ΛCΛ."""
    Sigma, K, C, Lam = _mat(Sigma), _mat(K), _mat(C), _mat(Lam)
    LK, KL = Lam @ K, K @ Lam
    return ((1 - mu) * (LK @ Sigma + Sigma @ KL)
            - (1 + mu**2) / (1 - mu**2) * LK @ Sigma @ KL
            + mu / (1 - mu**2) * (LK @ LK @ Sigma + Sigma @ KL @ KL)
            - Lam @ C @ Lam)


def cor1_cov(K, C, lr, mu=0.0) -> np.ndarray:
    """Cor 1 ([C, K] = 0): Σ = λ(1+μ)/(1−μ) [K(2(1+μ)I − λK)]⁻¹ C."""
    K, C = _mat(K), _mat(C)
    if _unstable(K, lr, mu):
        return _inf_like(K)
    G = K @ (2 * (1 + mu) * np.eye(len(K)) - lr * K)
    return lr * (1 + mu) / (1 - mu) * np.linalg.solve(G, C)


def continuous_cov(K, C, lr, mu=0.0) -> np.ndarray:
    """Continuous-time Σ_c = λ/(2(1−μ)) K⁻¹C (Mandt et al. 2017; the solution of ΣK + KΣ = λC/(1−μ) when
    [C, K] = 0); also the 'earlier' Σ of Table 1 for SGD and SGDM."""
    return lr / (2 * (1 - mu)) * np.linalg.solve(_mat(K), _mat(C))


def thm4_cov(K, lr, sigma2, a) -> np.ndarray:
    """Thm 4 (C = σ²I + aK, μ = 0): Σ = λ(σ²I + aK)[K(2I − λK)]⁻¹."""
    K = _mat(K)
    if _unstable(K, lr, 0.0):
        return _inf_like(K)
    I = np.eye(len(K))
    return lr * (sigma2 * I + a * K) @ np.linalg.inv(K @ (2 * I - lr * K))


def cor2_cov(K, lr, a) -> np.ndarray:
    """Cor 2 (σ = 0, minibatch-like noise C = aK): Σ = aλ(2I − λK)⁻¹."""
    K = _mat(K)
    if _unstable(K, lr, 0.0):
        return _inf_like(K)
    return a * lr * np.linalg.inv(2 * np.eye(len(K)) - lr * K)


def cor3_cov(K, lr, sigma2) -> np.ndarray:
    """Cor 3 (a = 0, isotropic noise C = σ²I): Σ = σ²λ[K(2I − λK)]⁻¹."""
    K = _mat(K)
    if _unstable(K, lr, 0.0):
        return _inf_like(K)
    return sigma2 * lr * np.linalg.inv(K @ (2 * np.eye(len(K)) - lr * K))


def thm5_train_loss(K, C, lr, mu=0.0) -> float:
    """Thm 5: L_train = ½Tr[KΣ] = λ/(4(1−μ)) Tr[(I − λK/(2(1+μ)))⁻¹ C], any K and C."""
    K = _mat(K)
    if _unstable(K, lr, mu):
        return math.inf
    return lr / (4 * (1 - mu)) * float(np.trace(np.linalg.solve(np.eye(len(K)) - lr * K / (2 * (1 + mu)), _mat(C))))


def continuous_train_loss(C, lr, mu=0.0) -> float:
    """Continuous-time L_train = λ/(4(1−μ)) Tr[C]."""
    return lr / (4 * (1 - mu)) * float(np.trace(_mat(C)))


# ----------------------------------------------------------------------------------------------------------
# Thm 7: escaping efficiency E(t) = E[L(w_t) − L(w_0)] from w_0 = 0, μ = 0.


def escaping_efficiency_discrete(K, C, lr, t):
    """E_d(t) = (λ/4) Tr[(I − λK/2)⁻¹ (I − (I − λK)^{2t}) C]; t a step count or an array of them."""
    t = np.asarray(t, dtype=np.float64)[..., None]
    return lr / 4 * _trace_fn_K_C(K, C, lambda k: (1 - (1 - lr * k) ** (2 * t)) / (1 - lr * k / 2))


def escaping_efficiency_continuous(K, C, lr, t):
    """E_c(t) = (λ/4) Tr[(I − e^{−2λKt}) C] (Zhu et al. 2019), t in steps (continuous time λt)."""
    t = np.asarray(t, dtype=np.float64)[..., None]
    return lr / 4 * _trace_fn_K_C(K, C, lambda k: 1 - np.exp(-2 * lr * k * t))


def escaping_efficiency_discrete_limit(K, C, lr) -> float:
    """E_d(∞) = (λ/2) Tr[(2I − λK)⁻¹ C]."""
    K = _mat(K)
    if _unstable(K, lr, 0.0):
        return math.inf
    return lr / 2 * float(np.trace(np.linalg.solve(2 * np.eye(len(K)) - lr * K, _mat(C))))


def escaping_efficiency_continuous_limit(C, lr) -> float:
    """E_c(∞) = (λ/4) Tr[C]."""
    return lr / 4 * float(np.trace(_mat(C)))


# ----------------------------------------------------------------------------------------------------------
# Thm 9: Kramers escape rate in 1-D with noise C = k(w)/S.  l is the fraction of the barrier ΔL climbed
# under the curvature k_a of the minimum (catalog reading, consistent with Xie et al. 2021).

_erf = np.vectorize(math.erf, otypes=[np.float64])


def kramers_rate_discrete(k_a, k_b, barrier, l, lr, batch_size):
    """γ = |k_b|/(2π) √(2/(2−λk_a)) erf(√(S(2−λk_a)ΔL/(λk_a)))
    · exp[−(2SΔL/λ)(l(1−λk_a/2)/k_a + (1−l)/|k_b|)]."""
    k_a, k_b, barrier = (np.asarray(v, dtype=np.float64) for v in (k_a, k_b, barrier))
    kb, S, h = np.abs(k_b), batch_size, 2 - lr * k_a
    prefactor = kb / (2 * np.pi) * np.sqrt(2 / h) * _erf(np.sqrt(S * h * barrier / (lr * k_a)))
    return prefactor * np.exp(-(2 * S * barrier / lr) * (l * (1 - lr * k_a / 2) / k_a + (1 - l) / kb))


def kramers_rate_continuous(k_a, k_b, barrier, l, lr, batch_size):
    """γ_c = |k_b|/(2π) exp[−(2SΔL/λ)(l/k_a + (1−l)/|k_b|)] (Xie et al. 2021)."""
    k_a, k_b, barrier = (np.asarray(v, dtype=np.float64) for v in (k_a, k_b, barrier))
    kb, S = np.abs(k_b), batch_size
    return kb / (2 * np.pi) * np.exp(-(2 * S * barrier / lr) * (l / k_a + (1 - l) / kb))


def kramers_exponent(k_a, k_b, barrier, l, lr, batch_size):
    """E = (2SΔL/λ)(l/k_a + (1−l)/|k_b|): the continuous-time Arrhenius exponent of Thm 9's setting."""
    return 2 * batch_size * barrier / lr * (l / k_a + (1 - l) / abs(k_b))


def kramers_rate_ito_exact(k_a, k_b, barrier, l, lr, batch_size, w_exit=None, n=400_001) -> float:
    """γ = 1/E[τ] of the Itô limit of SGD, dw = −L'(w) dt + √(λ|L''(w)|/S) dW (continuous time t = λ · steps), on
    the piecewise-quadratic well of repro/sim/escape.py (minimum 0, curvature k_a up to w_l = √(2lΔL/k_a), then
    ΔL − ½|k_b|(w − w_b)² up to the top w_b), started at the minimum and absorbed at w_exit (default 2w_b − w_l, as
    the simulation). Exact mean first-passage time by quadrature: E[τ] = ∫_0^{w_exit} s(y) ∫_{−∞}^y m(z) dz dy with
    the scale density s = exp(∫ 2L'/σ²) and the speed density m = 2/(σ² s), σ² = λ|L''|/S.

    Its small-noise limit is k_a/(2π) e^{−E} (E: kramers_exponent): ln s = 2S L_eff/λ has curvature S/λ in both
    pieces, so k_b drops out of the prefactor and the minimum's curvature k_a (from σ² there) stays. Thm 9 (and
    kramers_rate_continuous) use |k_b|/(2π), which fits an anti-Itô reading of the state-dependent noise; the two
    agree when k_a = |k_b| (the calibrated Fig 6 well)."""
    kb = abs(float(k_b))
    w_l = math.sqrt(2 * l * barrier / k_a)
    w_b = w_l + math.sqrt(2 * (1 - l) * barrier / kb)
    w_exit = 2 * w_b - w_l if w_exit is None else float(w_exit)
    lo = -12 * math.sqrt(lr / batch_size)      # m(z) ~ exp(−S z²/λ) below the minimum: e^{−144} at lo
    z = np.linspace(lo, w_exit, n)
    log_s = np.where(z <= w_l, batch_size * z**2 / lr,
                     batch_size / lr * (w_l**2 + (w_l - w_b) ** 2 - (z - w_b) ** 2))
    sigma2 = lr * np.where(z <= w_l, k_a, kb) / batch_size
    m = 2 / sigma2 * np.exp(-log_s)
    dz = z[1] - z[0]
    M = np.concatenate([[0.0], np.cumsum((m[1:] + m[:-1]) / 2) * dz])     # ∫_lo^y m
    f = np.exp(log_s) * M
    inside = z >= 0
    zi, fi = z[inside], f[inside]
    T = float(np.sum((fi[1:] + fi[:-1]) / 2 * np.diff(zi)))
    return 1.0 / T


# ----------------------------------------------------------------------------------------------------------
# Second-order methods (Sec. 6.4, App. E.2.7) and QHM (Thm 11).


def _minibatch_factor(n_data, batch_size) -> float:
    """(N−S)/(NS): the Hessian-approximation noise scale C = (N−S)/(NS) K of Secs. 6.1 and 6.4."""
    return (n_data - batch_size) / (n_data * batch_size)


def dnm_cov(K, C, lr, mu=0.0) -> np.ndarray:
    """DNM (Λ = λK⁻¹): Σ = λ/(1−μ) · (1+μ)/(2(1+μ) − λ) · K⁻¹CK⁻¹."""
    K = _mat(K)
    if lr >= 2 * (1 + mu):
        return _inf_like(K)
    Kinv = np.linalg.inv(K)
    return lr / (1 - mu) * (1 + mu) / (2 * (1 + mu) - lr) * Kinv @ _mat(C) @ Kinv


def dnm_cov_minibatch(K, lr, mu, n_data, batch_size) -> np.ndarray:
    """DNM with C = (N−S)/(NS) K: Σ = λ/(1−μ) · (1+μ)/(2(1+μ)−λ) · (N−S)/(NS) · K⁻¹."""
    return dnm_cov(K, _minibatch_factor(n_data, batch_size) * _mat(K), lr, mu)


def dnm_train_loss(K, C, lr, mu=0.0) -> float:
    """DNM: L_train = (1+μ)/(1−μ) · λ/(4(1+μ) − 2λ) · Tr[K⁻¹C]."""
    if lr >= 2 * (1 + mu):
        return math.inf
    return (1 + mu) / (1 - mu) * lr / (4 * (1 + mu) - 2 * lr) * float(np.trace(np.linalg.solve(_mat(K), _mat(C))))


def _ngd_Q(K, C, lr, mu) -> np.ndarray:
    """Q = [λ²/(4(1+μ)²) I + 2λ/(1−μ) CK⁻¹]^{1/2}. CK⁻¹ is similar to the SPD K^{-1/2}CK^{-1/2}, so it is
    diagonalisable with positive eigenvalues and the principal square root is taken on its eigenbasis."""
    K, C = _mat(K), _mat(C)
    X = lr**2 / (4 * (1 + mu) ** 2) * np.eye(len(K)) + 2 * lr / (1 - mu) * C @ np.linalg.inv(K)
    ev, V = np.linalg.eig(X)
    return ((V * np.sqrt(ev)) @ np.linalg.inv(V)).real


def ngd_cov(K, C, lr, mu=0.0) -> np.ndarray:
    """NGD (Λ = λJ⁻¹, J = KΣK) with constant C: Σ = ½K⁻¹[Q + λ/(2(1+μ)) I]."""
    K = _mat(K)
    return 0.5 * np.linalg.solve(K, _ngd_Q(K, C, lr, mu) + lr / (2 * (1 + mu)) * np.eye(len(K)))


def ngd_train_loss(K, C, lr, mu=0.0) -> float:
    """NGD, constant C: L_train = ¼ Tr[Q + λ/(2(1+μ)) I]."""
    K = _mat(K)
    return 0.25 * float(np.trace(_ngd_Q(K, C, lr, mu))) + 0.25 * lr / (2 * (1 + mu)) * len(K)


def ngd_cov_minibatch(K, lr, mu, n_data, batch_size) -> np.ndarray:
    """NGD with state-dependent C = (N−S)/(NS) KΣK: Σ = λ[(1+μ)(N−S)/(NS) + 1 − μ]/(2(1−μ²)) K⁻¹."""
    f = _minibatch_factor(n_data, batch_size)
    return lr * ((1 + mu) * f + 1 - mu) / (2 * (1 - mu**2)) * np.linalg.inv(_mat(K))


def adam_cov(K, lr, c) -> np.ndarray:
    """Adam model Λ = λ(KΣK + C)^{−1/2} with C = cKΣK, μ = 0: Σ = λ²(1+c)/4 I."""
    return lr**2 * (1 + c) / 4 * np.eye(len(_mat(K)))


def adam_train_loss(K, lr, c) -> float:
    """Adam model: L_train = λ²(1+c)/8 Tr[K]."""
    return lr**2 * (1 + c) / 8 * float(np.trace(_mat(K)))


def qhm_cov(K, C, lr, mu, nu) -> np.ndarray:
    """QHM (Thm 11) stationary Σ = λ² h(K)⁻¹ C, computed exactly with the Lyapunov solver."""
    return stationary_cov_w(K, C, lr, mu, nu)


def qhm_train_loss(K, C, lr, mu, nu) -> float:
    """QHM L_train = ½Tr[KΣ] = (λ²/2) Tr[h(K)⁻¹KC] (Cor 7), from the Lyapunov solution."""
    return 0.5 * float(np.trace(_mat(K) @ qhm_cov(K, C, lr, mu, nu)))


# ----------------------------------------------------------------------------------------------------------
# Table 1, "earlier work" column: small-λ expansions.


def sgd_train_loss_earlier(K, C, lr) -> float:
    """λ/4 Tr C + λ²/8 Tr[KC] (+ O(λ³))."""
    K, C = _mat(K), _mat(C)
    return lr / 4 * float(np.trace(C)) + lr**2 / 8 * float(np.trace(K @ C))


def sgdm_train_loss_earlier(K, C, lr, mu) -> float:
    """λ/(4(1−μ)) Tr C + λ²/(8(1−μ²)) Tr[KC]."""
    K, C = _mat(K), _mat(C)
    return lr / (4 * (1 - mu)) * float(np.trace(C)) + lr**2 / (8 * (1 - mu**2)) * float(np.trace(K @ C))


def qhm_train_loss_earlier(K, C, lr, mu, nu) -> float:
    """λ/4 Tr C + λ²/8 [1 + 2μν/(1−μ) (2μν/(1+μ) − 1)] Tr[KC] (Gitman et al.)."""
    K, C = _mat(K), _mat(C)
    bracket = 1 + 2 * mu * nu / (1 - mu) * (2 * mu * nu / (1 + mu) - 1)
    return lr / 4 * float(np.trace(C)) + lr**2 / 8 * bracket * float(np.trace(K @ C))


def qhm_cov_earlier(K, C, lr) -> np.ndarray:
    """Leading order of the QHM Σ when [C, K] = 0: λ/2 K⁻¹C. The catalog's Table 1 transcribes λ/(2(1−μ)) K⁻¹C, which
    contradicts both its own L_train row (λ/4 Tr C at leading order) and the Lyapunov solution of the
    update with m_t = μ m_{t−1} + (1−μ) g_t; the form consistent with both is used."""
    return lr / 2 * np.linalg.solve(_mat(K), _mat(C))


# ----------------------------------------------------------------------------------------------------------
# 1-D figure helpers (elementwise on arrays; +inf where unstable).


def var_white_discrete(lk, mu=0.0):
    """Cor 1 with unit weight-space noise (C = 1/λ²): (1+μ)/((1−μ) λk (2(1+μ) − λk))."""
    lk = np.asarray(lk, dtype=np.float64)
    stable = (lk > 0) & (lk < 2 * (1 + mu))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(stable, (1 + mu) / ((1 - mu) * lk * (2 * (1 + mu) - lk)), np.inf)


def var_white_continuous(lk, mu=0.0):
    """Continuous time with unit weight-space noise: 1/(2(1−μ)λk)."""
    return 1.0 / (2 * (1 - mu) * np.asarray(lk, dtype=np.float64))


def var_minibatch_hessian(lr, k, batch_size, mu=0.0):
    """Cor 1 with the Hessian approximation C = k/S (Cor 2 at μ = 0):
    (λ/S)(1+μ)/((1−μ)(2(1+μ) − λk))."""
    lk = np.asarray(lr, dtype=np.float64) * k
    with np.errstate(divide="ignore"):
        return np.where(lk < 2 * (1 + mu), (lr / batch_size) * (1 + mu) / ((1 - mu) * (2 * (1 + mu) - lk)), np.inf)


def var_minibatch_continuous(lr, batch_size, mu=0.0):
    """Continuous time with C = k/S: λ/(2S(1−μ))."""
    return np.asarray(lr, dtype=np.float64) / (2 * batch_size * (1 - mu))


def var_minibatch_exact_fresh_sgd(lr, k, sigma2, batch_size):
    """Exact 1-D variance of plain SGD (μ = 0) with fresh Gaussian samples (N → ∞; with-replacement
    sampling is the same process): λσ²/(2S − λk(S+2)), +inf beyond λk = 2S/(S+2) (arXiv 2102.05375)."""
    den = 2 * batch_size - np.asarray(lr, dtype=np.float64) * k * (batch_size + 2)
    with np.errstate(divide="ignore"):
        return np.where(den > 0, lr * sigma2 / den, np.inf)


# ----------------------------------------------------------------------------------------------------------
# Minibatch linear regression: exact second-moment fixed points and the realised-data theory.
# A per-sample gradient at w = ŵ + δ is x_i(x_iᵀδ − ρ_i) with residual ρ_i = y_i − x_iᵀŵ. The minibatch
# noise is conditionally independent of the past given δ, and its conditional covariance C(δ) averaged over
# the stationary law is linear in Σ = E[δδᵀ] (E[δ] = 0 there), so the second moments obey the linear
# fixed point of ``solve_state_dependent_lyapunov``. This is exact; no Gaussian or Hessian approximation.


def sampling_factor(n_data, batch_size, sampling: str) -> float:
    """Finite-population factor of the minibatch-mean covariance: (N−S)/(N−1) for subset sampling without
    replacement (Prop 8 of arXiv 2102.05375), 1 with replacement or fresh samples."""
    if sampling == "subset":
        return (n_data - batch_size) / (n_data - 1)
    if sampling in ("replacement", "fresh"):
        return 1.0
    raise ValueError(f"unknown sampling {sampling!r}")


def least_squares(X, y) -> np.ndarray:
    """ŵ = argmin ½·MSE: the stationary mean of minibatch SGD on a finite dataset."""
    return np.linalg.lstsq(_mat(X), np.asarray(y, dtype=np.float64), rcond=None)[0]


def minibatch_exact_cov_fresh(A, sigma2, batch_size, lr, mu=0.0) -> np.ndarray:
    """Exact Σ = E[(w−w*)(w−w*)ᵀ] with fresh samples x ~ N(0, A), label noise variance σ² (N → ∞):
    C(Σ) = (1/S)(AΣA + Tr[AΣ]A + σ²A) (Lemma 1 of arXiv 2102.05375; uses Gaussian fourth moments).
    In 1-D this is the 3×3 system on (E w², E wm, E m²); it reproduces λσ²/(2S − λk(S+2)) at μ = 0."""
    A = _mat(A)
    M, B = sgdm_state_matrices(A, lr, mu)
    P = solve_state_dependent_lyapunov(M, B, sigma2 * A / batch_size,
                                       lambda Sig: (A @ Sig @ A + np.trace(A @ Sig) * A) / batch_size)
    return P[: len(A), : len(A)]


def minibatch_exact_cov_finite(X, y, batch_size, lr, mu=0.0, sampling: str = "subset") -> np.ndarray:
    """Exact Σ = E[(w−ŵ)(w−ŵ)ᵀ] of minibatch SGD(M) on the realised dataset (X, y):
    C(Σ) = (f/S) [(1/N) Σ_i (x_iᵀΣx_i + ρ_i²) x_i x_iᵀ − ÂΣÂ],  Â = XᵀX/N."""
    X, y = _mat(X), np.asarray(y, dtype=np.float64)
    N = len(X)
    rho = y - X @ least_squares(X, y)
    A_hat = X.T @ X / N
    scale = sampling_factor(N, batch_size, sampling) / batch_size
    XX = np.einsum("ni,nj->nij", X, X)

    def noise_map(Sig):
        quad = np.einsum("ni,ij,nj->n", X, Sig, X)
        return scale * (np.einsum("n,nij->ij", quad, XX) / N - A_hat @ Sig @ A_hat)

    M, B = sgdm_state_matrices(A_hat, lr, mu)
    C0 = scale * np.einsum("n,nij->ij", rho**2, XX) / N
    return solve_state_dependent_lyapunov(M, B, C0, noise_map)[: X.shape[1], : X.shape[1]]


def realised_data_noise(X, y, batch_size, sampling: str = "subset") -> tuple[np.ndarray, np.ndarray]:
    """The catalog's realised-data theory inputs: (K̂, C) with K̂ = XᵀX/N and the additive part of the noise
    at ŵ, C = f · (1/N) Σ_i ρ_i² x_i x_iᵀ / S (1-D: k̂ = mean x², C = f · mean(x²ρ²)/S)."""
    X, y = _mat(X), np.asarray(y, dtype=np.float64)
    N = len(X)
    rho = y - X @ least_squares(X, y)
    C = sampling_factor(N, batch_size, sampling) * (X * rho[:, None] ** 2).T @ X / (N * batch_size)
    return X.T @ X / N, C


def realised_data_cov(X, y, batch_size, lr, mu=0.0, sampling: str = "subset") -> np.ndarray:
    """Realised-data theory: the stationary Σ for (K̂, C) of ``realised_data_noise`` (Cor 1 in 1-D, where
    [C, K] = 0; the Lyapunov solution in general). Omits the multiplicative noise that
    ``minibatch_exact_cov_finite`` keeps."""
    K_hat, C = realised_data_noise(X, y, batch_size, sampling)
    return stationary_cov_w(K_hat, C, lr, mu)
