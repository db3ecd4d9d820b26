"""Closed forms of "Strength of Minibatch Noise in SGD" (Ziyin, Liu, Mori, Ueda; ICLR 2022, arXiv 2102.05375).

Spec: catalog minibatch_noise.md. Pure float64 numpy functions; inputs may be numpy arrays, torch CPU tensors or
python scalars, matrices are returned as numpy float64.

- Prop 1 / Prop 8: the exact minibatch noise of a finite dataset (with / without replacement).
- Label noise (Lemma 1, Thms 2, 3, 8), with momentum μ and a matrix learning rate Λ ([Λ, A] = 0); the 1-D closed
  form λσ²/(2S − λa(S+2)) and its divergence λ* = 2S/(a(S+2)).
- Input noise (Prop 9 / Thm 9): the label-noise results with A → K = A + B and σ² → Tr[AK⁻¹BU]; L_test with the
  catalog's erratum ½Tr[AΣ] + ½Tr[B′ᵀAB′U] (the printed Eq. 134, which uses Tr[KΣ], is kept for the record).
- L2 regularisation (Prop 3 / Thm 4): noise, test loss (Eq. 11) and Σ (Eq. 12, which needs [A, U] = 0; l2_cov solves
  the fixed point in closed form for any u) with their stationarity conditions.
- High-dimensional regression (Prop 4 / Thm 6) on a realised Â, with the realised-residual variant.
- Second-order methods (Sec 6.4): DNM (Λ = λA⁻¹) and NGD at σ = 0.
- Hessian approximations of Table 2 (C ≈ H/S, no σ², as the table writes them): continuous and discrete time.
- Tail index (App D.3): the prediction β = 2S/(aλ) − S, the continuous-time β_cts = 2S/(aλ) + 1, the exact tail
  exponent α of the 1-D stationary law (E|1 − aλχ²_S/S|^α = 1; α < β: the Student-t law has the exact variance,
  not the exact tail), and three estimators from samples: variance inversion, the Student-t maximum likelihood and
  Hill's.
- Exact cross-checks: the same stationary Σ from the (state-dependent) discrete Lyapunov solver of
  repro/theory/lyapunov.py, which makes no assumption beyond Gaussian inputs.

Conventions: ½·MSE losses, minibatch of S i.i.d. samples (fresh or with replacement; Definition 2), torch.optim.SGD
momentum (m_t = μ m_{t−1} + g_t, w_t = w_{t−1} − Λ m_t). Outside the stationarity region covariances and losses
are +inf, so sweeps may cross a divergence boundary.
"""
from __future__ import annotations

import math

import numpy as np

from repro.theory import sgd
from repro.theory.lyapunov import sgdm_state_matrices, solve_state_dependent_lyapunov


def _mat(a) -> np.ndarray:
    return np.atleast_2d(np.asarray(a, dtype=np.float64))


def _lr_mat(lr, D: int) -> np.ndarray:
    lr = np.asarray(lr, dtype=np.float64)
    return lr * np.eye(D) if lr.ndim == 0 else _mat(lr)


def _diag_or_mat(a, D: int) -> np.ndarray:
    """A scalar (times I), a vector (a diagonal) or a matrix, as a [D, D] matrix."""
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 0:
        return float(a) * np.eye(D)
    if a.ndim == 1:
        return np.diag(a)
    return _mat(a)


def _vec(u) -> np.ndarray:
    return np.atleast_1d(np.asarray(u, dtype=np.float64))


def _inf(D: int) -> np.ndarray:
    return np.full((D, D), np.inf)


def _pos_def(M) -> bool:
    M = _mat(M)
    return bool(np.all(np.linalg.eigvalsh((M + M.T) / 2) > 0))


# ----------------------------------------------------------------------------------------------------------
# Prop 1 / Prop 8: exact minibatch noise of a finite dataset.


def minibatch_noise_cov(per_sample_grads, batch_size: int, replacement: bool = True) -> np.ndarray:
    """C = (1/(SN)) Σ_i g_i g_iᵀ − (1/S) ḡḡᵀ (Prop 1, S i.i.d. draws with replacement); times (N−S)/(N−1)
    without replacement (Prop 8). `per_sample_grads` is [N, D]."""
    G = _mat(per_sample_grads)
    N = len(G)
    g = G.mean(0)
    C = (G.T @ G / N - np.outer(g, g)) / batch_size
    return C if replacement else C * (N - batch_size) / (N - 1)


# ----------------------------------------------------------------------------------------------------------
# Label noise: L = (1/2N) Σ (wᵀx_i − y_i)², x ~ N(0, A), y = uᵀx + ε, Var ε = σ², N → ∞; w relative to u.


def label_noise_C(A, Sigma, sigma2: float, batch_size: int) -> np.ndarray:
    """Lemma 1: C = (1/S)(AΣA + Tr[AΣ]A + σ²A)."""
    A, Sigma = _mat(A), _mat(Sigma)
    return (A @ Sigma @ A + np.trace(A @ Sigma) * A + sigma2 * A) / batch_size


def _label_noise_G(A, batch_size, lr, mu):
    """G_μ = 2(1−μ)I − ((1−μ)/(1+μ) + 1/S)ΛA and t = Tr[ΛAG_μ⁻¹]; None where G_μ is not positive definite or
    t/S ≥ 1 (no stationary state: the second moments grow)."""
    A = _mat(A)
    D = len(A)
    LA = _lr_mat(lr, D) @ A
    G = 2 * (1 - mu) * np.eye(D) - ((1 - mu) / (1 + mu) + 1 / batch_size) * LA
    # ΛA is similar to a symmetric PD matrix when [Λ, A] = 0, so G's eigenvalues are real.
    if not np.all(np.linalg.eigvals(G).real > 0):
        return None
    t = float(np.trace(LA @ np.linalg.inv(G)))
    if t / batch_size >= 1:
        return None
    return G, t


def label_noise_kappa(A, batch_size: int, lr, mu: float = 0.0) -> float:
    """κ_μ = Tr[ΛAG_μ⁻¹] / (1 − Tr[ΛAG_μ⁻¹]/S) of Theorem 2 (λ inside); +inf outside stationarity."""
    res = _label_noise_G(A, batch_size, lr, mu)
    if res is None:
        return math.inf
    _, t = res
    return t / (1 - t / batch_size)


def label_noise_cov(A, sigma2: float, batch_size: int, lr, mu: float = 0.0) -> np.ndarray:
    """Theorem 2: Σ = (σ²/S)(1 + κ_μ/S) Λ G_μ⁻¹ (exact for Gaussian inputs, any μ, [Λ, A] = 0)."""
    A = _mat(A)
    res = _label_noise_G(A, batch_size, lr, mu)
    if res is None:
        return _inf(len(A))
    G, t = res
    kappa = t / (1 - t / batch_size)
    return sigma2 / batch_size * (1 + kappa / batch_size) * _lr_mat(lr, len(A)) @ np.linalg.inv(G)


def label_noise_C_stationary(A, sigma2: float, batch_size: int, lr, mu: float = 0.0) -> np.ndarray:
    """Theorem 3: C = (σ²/S)A + (σ²/S²)(1 + κ_μ/S)(ΛAG_μ⁻¹ + Tr[ΛAG_μ⁻¹]I)A."""
    A = _mat(A)
    res = _label_noise_G(A, batch_size, lr, mu)
    if res is None:
        return _inf(len(A))
    G, t = res
    S = batch_size
    kappa = t / (1 - t / S)
    LAG = _lr_mat(lr, len(A)) @ A @ np.linalg.inv(G)
    return sigma2 / S * A + sigma2 / S**2 * (1 + kappa / S) * (LAG + t * np.eye(len(A))) @ A


def label_noise_losses(A, sigma2: float, batch_size: int, lr: float) -> tuple[float, float]:
    """Theorem 8 (scalar λ, μ = 0): L_train = (σ²/2)(1 + λκ/S), L_test = ½Tr[AΣ] = (λσ²/(2S))κ with the λ-free
    κ = Tr[AG⁻¹]/(1 − (λ/S)Tr[AG⁻¹]), G = 2I − λ(1 + 1/S)A."""
    lk = label_noise_kappa(A, batch_size, lr, 0.0)      # = λκ
    if not math.isfinite(lk):
        return math.inf, math.inf
    return sigma2 / 2 * (1 + lk / batch_size), sigma2 / (2 * batch_size) * lk


def label_noise_var_1d(lr, a: float, sigma2: float, batch_size):
    """1-D Theorem 2 at μ = 0: Var[w] = λσ²/(2S − λa(S+2)); +inf beyond λ* (elementwise over λ and S)."""
    lr, S = np.asarray(lr, dtype=np.float64), np.asarray(batch_size, dtype=np.float64)
    den = 2 * S - lr * a * (S + 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, lr * sigma2 / den, np.inf)


def label_noise_critical_lr(a: float, batch_size):
    """λ* = 2S/(a(S+2)), where the 1-D variance diverges (< 2/a, the noiseless threshold)."""
    S = np.asarray(batch_size, dtype=np.float64)
    return 2 * S / (a * (S + 2))


def label_noise_critical_batch(a: float, lr: float) -> float:
    """The S below which the 1-D variance diverges: 2S − λa(S+2) = 0 → S = 2λa/(2 − λa)."""
    return 2 * lr * a / (2 - lr * a) if lr * a < 2 else math.inf


# ----------------------------------------------------------------------------------------------------------
# Input noise: x̃ = x + η, η ~ N(0, B), y = uᵀx. K = A + B, U = uuᵀ, B′ = K⁻¹B.


def input_noise_parts(A, B, u) -> tuple[np.ndarray, float, float, float, np.ndarray]:
    """(K, σ²_eff = Tr[AK⁻¹BU], train constant ½σ²_eff, test constant ½Tr[B′ᵀAB′U], w* = K⁻¹Au)."""
    A = _mat(A)
    D = len(A)
    B, u = _diag_or_mat(B, D), _vec(u)
    K = A + B
    Kinv = np.linalg.inv(K)
    U = np.outer(u, u)
    s2 = float(np.trace(A @ Kinv @ B @ U))
    Bp = Kinv @ B
    return K, s2, s2 / 2, 0.5 * float(np.trace(Bp.T @ A @ Bp @ U)), Kinv @ A @ u


def input_noise_C(A, B, u, Sigma, batch_size: int) -> np.ndarray:
    """C = (1/S)(KΣK + Tr[KΣ]K + Tr[AK⁻¹BU]K): the label-noise form with A → K, σ² → Tr[AK⁻¹BU]."""
    K, s2, *_ = input_noise_parts(A, B, u)
    return label_noise_C(K, Sigma, s2, batch_size)


def input_noise_cov(A, B, u, batch_size: int, lr, mu: float = 0.0) -> np.ndarray:
    """Σ = (λTr[AK⁻¹BU]/S)(1 + λκ′/S)[2I − λ(1 + 1/S)K]⁻¹ (Thm 2 with A → K), about w* = K⁻¹Au."""
    K, s2, *_ = input_noise_parts(A, B, u)
    return label_noise_cov(K, s2, batch_size, lr, mu)


def input_noise_losses(A, B, u, batch_size: int, lr: float, mu: float = 0.0) -> tuple[float, float]:
    """(L_train, L_test): L_train = ½Tr[KΣ] + ½Tr[AK⁻¹BU] (= ½Tr[AK⁻¹BU](1 + λκ′/S) at μ = 0) on the noisy
    inputs; L_test = ½Tr[AΣ] + ½Tr[B′ᵀAB′U] on clean inputs (the catalog's erratum of Eq. 134)."""
    K, s2, c_train, c_test, _ = input_noise_parts(A, B, u)
    Sigma = label_noise_cov(K, s2, batch_size, lr, mu)
    if not np.all(np.isfinite(Sigma)):
        return math.inf, math.inf
    return 0.5 * float(np.trace(K @ Sigma)) + c_train, 0.5 * float(np.trace(_mat(A) @ Sigma)) + c_test


def input_noise_test_loss_printed(A, B, u, batch_size: int, lr: float) -> float:
    """The printed Eq. 134, which uses κ′ (i.e. ½Tr[KΣ]) where ½Tr[AΣ] belongs; kept to document the erratum."""
    K, s2, _, c_test, _ = input_noise_parts(A, B, u)
    Sigma = label_noise_cov(K, s2, batch_size, lr)
    return 0.5 * float(np.trace(K @ Sigma)) + c_test


# ----------------------------------------------------------------------------------------------------------
# L2 regularisation: L_Γ = ½(w−u)ᵀA(w−u) + ½wᵀΓw, no label noise; K = A + Γ, U = uuᵀ, Γ′ = K⁻¹Γ, w* = K⁻¹Au.


def l2_parts(A, gamma, u) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(K, Γ, Γ′, w*). gamma is a scalar (Γ = γI), a diagonal vector or a matrix commuting with A."""
    A = _mat(A)
    D = len(A)
    Gam = _diag_or_mat(gamma, D)
    K = A + Gam
    if not _pos_def(K):   # no minimum: every quantity below is +inf
        return K, Gam, _inf(D), np.full(D, np.inf)
    Kinv = np.linalg.inv(K)
    return K, Gam, Kinv @ Gam, Kinv @ A @ _vec(u)


def l2_C(A, gamma, u, Sigma, batch_size: int) -> np.ndarray:
    """Prop 3: C = (1/S)(AΣA + Tr[AΣ]A + Tr[Γ′ᵀAΓ′U]A + AΓ′UΓ′ᵀA); only the data term is noisy (the regulariser
    gradient is deterministic). For Γ = γI the last term equals the paper's ΓA′UA′Γ."""
    A, Sigma = _mat(A), _mat(Sigma)
    _, _, Gp, _ = l2_parts(A, gamma, u)
    V = Gp @ np.outer(_vec(u), _vec(u)) @ Gp.T          # (w* − u)(w* − u)ᵀ
    return (A @ Sigma @ A + np.trace(A @ Sigma) * A + np.trace(A @ V) * A + A @ V @ A) / batch_size


def _l2_G(A, gamma, u, batch_size, lr):
    """(K, G, t) with G = 2I − λ(K + (1/S)K⁻¹A²), t = Tr[A²K⁻¹G⁻¹]; None outside stationarity
    (K ≻ 0, G ≻ 0 and (λ/S)t < 1)."""
    A = _mat(A)
    K, _, _, _ = l2_parts(A, gamma, u)
    if not _pos_def(K):
        return None
    Kinv = np.linalg.inv(K)
    G = 2 * np.eye(len(A)) - lr * (K + Kinv @ A @ A / batch_size)
    if not _pos_def(G):
        return None
    t = float(np.trace(A @ A @ Kinv @ np.linalg.inv(G)))
    if lr / batch_size * t >= 1:
        return None
    return K, G, t


def _l2_terms(A, gamma, u, batch_size: int, lr: float) -> dict | None:
    """The pieces Eqs. 11 and 12 share: Tr[AK⁻²Γ²U] (base), κ and r; None outside stationarity."""
    A = _mat(A)
    res = _l2_G(A, gamma, u, batch_size, lr)
    if res is None:
        return None
    K, G, t = res
    _, Gam, _, _ = l2_parts(A, gamma, u)
    S, U = batch_size, np.outer(_vec(u), _vec(u))
    Kinv, Ginv = np.linalg.inv(K), np.linalg.inv(G)
    den = 1 - lr / S * t
    return {"A": A, "S": S, "U": U, "Gam": Gam, "Kinv": Kinv, "Ginv": Ginv,
            "base": float(np.trace(A @ Kinv @ Kinv @ Gam @ Gam @ U)), "kappa": t / den,
            "r": float(np.trace(A @ A @ A @ Kinv @ Kinv @ Kinv @ Gam @ Gam @ Ginv @ U)) / den}


def l2_test_loss(A, gamma, u, batch_size: int, lr: float) -> float:
    """Eq. 11: L_test = (λ/(2S))(Tr[AK⁻²Γ²U]κ + r) + ½Tr[AK⁻²Γ²U], with
    κ = Tr[A²K⁻¹G⁻¹]/(1 − (λ/S)Tr[A²K⁻¹G⁻¹]), r = Tr[A³K⁻³Γ²G⁻¹U]/(1 − (λ/S)Tr[A²K⁻¹G⁻¹]); +inf outside
    stationarity."""
    terms = _l2_terms(A, gamma, u, batch_size, lr)
    if terms is None:
        return math.inf
    base, kappa, r = terms["base"], terms["kappa"], terms["r"]
    return lr / (2 * batch_size) * (base * kappa + r) + 0.5 * base


def _common_eigenbasis(A, Gam):
    """Orthogonal Q with QᵀAQ and QᵀΓQ both diagonal, or None when [A, Γ] ≠ 0 (symmetric A and Γ)."""
    A, Gam = _mat(A), _mat(Gam)
    scale = max(1.0, float(np.abs(A).max()), float(np.abs(Gam).max()))
    if np.abs(A @ Gam - Gam @ A).max() > 1e-12 * scale**2:
        return None
    # a generic combination: its eigenvectors diagonalise both commuting matrices (degenerate blocks of the
    # combination are degenerate for both)
    _, Q = np.linalg.eigh(A + (math.sqrt(2) - 1) * Gam)
    for M in (A, Gam):
        R = Q.T @ M @ Q
        if np.abs(R - np.diag(np.diag(R))).max() > 1e-10 * scale:
            return None
    return Q


def l2_cov(A, gamma, u, batch_size: int, lr: float) -> np.ndarray:
    """Σ about w* = K⁻¹Au, in closed form for any u (needs [A, Γ] = 0, true for Γ = γI).

    The fixed point Σ = (I − λK)Σ(I − λK) + λ²C(Σ) with Prop 3's C is, in the common eigenbasis of A and K
    (eigenvalues a_i, k_i; Ṽ = Qᵀ(w* − u)(w* − u)ᵀQ),
        Σ̃_ij = (λ/S)[(Tr[AΣ] + Tr[AV]) a_i δ_ij + a_i a_j Ṽ_ij] / D_ij,  D_ij = k_i + k_j − λk_ik_j − (λ/S)a_ia_j,
    with Tr[AΣ] from its own diagonal. D_ii = k_i g_i (G = 2I − λ(K + K⁻¹A²/S)), so where [A, U] = 0 (Ṽ diagonal)
    this is the paper's Eq. 12, Σ = (λ/S)Tr[AK⁻²Γ²U](1 + λκ/S)AK⁻¹G⁻¹ + (λ/S)(A²K⁻²Γ²U + (λr/S)A)K⁻¹G⁻¹.
    Eq. 12 itself holds only there: for u off A's eigenvectors its off-diagonal entries are wrong (not even
    symmetric). The diagonal, the traces and Eq. 11 need only Ṽ_ii and agree with Eq. 12 for every u.
    Where [A, Γ] ≠ 0 the Lyapunov solver (l2_cov_lyapunov) gives Σ."""
    terms = _l2_terms(A, gamma, u, batch_size, lr)
    if terms is None:
        return _inf(len(_mat(A)))
    A, S, Gam = terms["A"], terms["S"], terms["Gam"]
    Q = _common_eigenbasis(A, Gam)
    if Q is None:
        return l2_cov_lyapunov(A, gamma, u, batch_size, lr)
    a, g = np.diag(Q.T @ A @ Q), np.diag(Q.T @ Gam @ Q)
    k = a + g
    _, _, Gp, _ = l2_parts(A, gamma, u)
    Vt = Q.T @ Gp @ np.outer(_vec(u), _vec(u)) @ Gp.T @ Q          # (w* − u)(w* − u)ᵀ in the eigenbasis
    Dm = k[:, None] + k[None, :] - lr * np.outer(k, k) - lr / S * np.outer(a, a)
    if not np.all(Dm > 0):
        return _inf(len(A))
    d = np.diag(Dm)
    t = float(np.sum(a * a / d))                                     # = Tr[A²K⁻¹G⁻¹]
    tr_AV = float(a @ np.diag(Vt))
    tr_ASigma = lr / S * (tr_AV * t + float(np.sum(a**3 * np.diag(Vt) / d))) / (1 - lr / S * t)
    St = lr / S * ((tr_ASigma + tr_AV) * np.diag(a) + np.outer(a, a) * Vt) / Dm
    return Q @ St @ Q.T


def l2_cov_eq12(A, gamma, u, batch_size: int, lr: float) -> np.ndarray:
    """Eq. 12 as printed (valid for [A, U] = 0): Σ = (λ/S)Tr[AK⁻²Γ²U](1 + λκ/S)AK⁻¹G⁻¹
    + (λ/S)(A²K⁻²Γ²U + (λr/S)A)K⁻¹G⁻¹; kept to document where it fails (u off A's eigenvectors)."""
    terms = _l2_terms(A, gamma, u, batch_size, lr)
    if terms is None:
        return _inf(len(_mat(A)))
    A, S, Kinv, Ginv, U, Gam = (terms[k] for k in ("A", "S", "Kinv", "Ginv", "U", "Gam"))
    base, kappa, r = terms["base"], terms["kappa"], terms["r"]
    KG = Kinv @ Ginv
    return (lr / S * base * (1 + lr * kappa / S) * A @ KG
            + lr / S * (A @ A @ Kinv @ Kinv @ Gam @ Gam @ U + lr * r / S * A) @ KG)


def l2_losses(A, gamma, u, batch_size: int, lr: float) -> tuple[float, float]:
    """(L_train, L_test): L_train = ½Tr[KΣ] + ½Tr[AK⁻¹ΓU] (the regularised loss), L_test = ½Tr[AΣ] +
    ½Tr[AK⁻²Γ²U] (equal to Eq. 11)."""
    A = _mat(A)
    Sigma = l2_cov(A, gamma, u, batch_size, lr)
    if not np.all(np.isfinite(Sigma)):
        return math.inf, math.inf
    K, Gam, Gp, _ = l2_parts(A, gamma, u)
    U = np.outer(_vec(u), _vec(u))
    c_train = 0.5 * float(np.trace(A @ np.linalg.inv(K) @ Gam @ U))
    c_test = 0.5 * float(np.trace(A @ Gp @ U @ Gp.T))
    return 0.5 * float(np.trace(K @ Sigma)) + c_train, 0.5 * float(np.trace(A @ Sigma)) + c_test


def l2_stability_window_1d(a: float, lr: float, batch_size: int) -> tuple[float, float]:
    """The γ interval of stationarity in 1-D: 2k − λk² − 2λa²/S > 0 with k = a + γ (fig=3's ∓√2, fig=5's
    K² − 2K + 0.5 < 0); (nan, nan) if empty."""
    disc = 1 - 2 * lr**2 * a**2 / batch_size
    if disc <= 0:
        return math.nan, math.nan
    k_lo, k_hi = (1 - math.sqrt(disc)) / lr, (1 + math.sqrt(disc)) / lr
    return k_lo - a, k_hi - a


# ----------------------------------------------------------------------------------------------------------
# High-dimensional regression (N, D → ∞, α = N/D), sampling with replacement from the realised data.


def highdim_trace(A_hat_eigs, residual_var: float, batch_size: int, lr: float) -> float:
    """Thm 6 on a realised Â (eigenvalues): Tr[ÂΣ] = max{0, (λσ_r²/S)κ̂}, κ̂ = Tr[Ĝ⁻¹Â]/(1 − (λ/S)Tr[Ĝ⁻¹Â]),
    Ĝ = 2I − λ(1 − 1/S)Â. σ_r² is σ²(1 − 1/α) (nominal) or the realised mean squared residual; +inf outside
    stationarity."""
    a = np.asarray(A_hat_eigs, dtype=np.float64)
    g = 2 - lr * (1 - 1 / batch_size) * a
    if residual_var <= 0:
        return 0.0
    if np.any(g <= 0):
        return math.inf
    t = float(np.sum(a / g))
    if lr / batch_size * t >= 1:
        return math.inf
    return max(0.0, lr * residual_var / batch_size * t / (1 - lr / batch_size * t))


def highdim_nominal_residual(sigma2: float, alpha: float) -> float:
    """σ²(1 − 1/α) for α > 1, 0 otherwise: the expected mean squared residual of least squares."""
    return max(0.0, sigma2 * (1 - 1 / alpha))


def highdim_hessian_trace(n_data: int, dim: int, sigma2: float, batch_size: int, lr: float) -> float:
    """The 'Hessian approximation' of fig=6 as plotted: (λσ²/(2S))·min(N, D)."""
    return lr * sigma2 / (2 * batch_size) * min(n_data, dim)


def highdim_stability_sum(A_hat_eigs, batch_size: int, lr: float) -> float:
    """Sec 6.2: Σ_i 1/(2/(λa_i) − 1 + 1/S), which must stay below S (over the nonzero a_i)."""
    a = np.asarray(A_hat_eigs, dtype=np.float64)
    a = a[a > 1e-12 * max(1.0, a.max())]
    return float(np.sum(1 / (2 / (lr * a) - 1 + 1 / batch_size)))


# ----------------------------------------------------------------------------------------------------------
# Second-order methods (Sec 6.4, label noise).


def dnm_cov(A, sigma2: float, batch_size: int, lr: float, mu: float = 0.0) -> np.ndarray:
    """DNM (Λ = λA⁻¹): Σ = λσ²/(gS − λD) A⁻¹, g = 2(1−μ) − ((1−μ)/(1+μ) + 1/S)λ; stable only if S > λD/g."""
    A = _mat(A)
    D, S = len(A), batch_size
    g = 2 * (1 - mu) - ((1 - mu) / (1 + mu) + 1 / S) * lr
    if g <= 0 or g * S - lr * D <= 0:
        return _inf(D)
    return lr * sigma2 / (g * S - lr * D) * np.linalg.inv(A)


def ngd_cov_noiseless(A, batch_size: int, lr: float, mu: float = 0.0) -> np.ndarray:
    """NGD (Λ = (λ/S)C⁻¹) at σ = 0: Σ = (λ/2)(1/((1+D)(1+μ)) + 1/((1−μ)S)) A⁻¹."""
    A = _mat(A)
    D = len(A)
    return lr / 2 * (1 / ((1 + D) * (1 + mu)) + 1 / ((1 - mu) * batch_size)) * np.linalg.inv(A)


# ----------------------------------------------------------------------------------------------------------
# Hessian approximations of Table 2 (App B): C ≈ H/S with H the Hessian of the loss (A, or K for input noise and
# L2), written as in the table (no σ² factor in Σ).


def hessian_cov_continuous(H, batch_size: int, lr: float) -> np.ndarray:
    """Σ = λ/(2S) I (continuous time: λ/2 H⁻¹C with C = H/S)."""
    return lr / (2 * batch_size) * np.eye(len(_mat(H)))


def hessian_cov_discrete(H, batch_size: int, lr: float) -> np.ndarray:
    """Σ = (λ/S)(2I − λH)⁻¹ (Cor 2 of arXiv 2012.03636 with C = H/S); +inf for λh_max ≥ 2."""
    return sgd.cor2_cov(H, lr, 1.0 / batch_size)


def hessian_losses(form: str, source: str, batch_size: int, lr: float, A, *, sigma2: float = 0.0, B=None,
                   gamma=None, u=None) -> tuple[np.ndarray, float, float]:
    """(Σ, L_train, L_test) of a Hessian approximation (`form` continuous | discrete) for a noise `source`
    (label | input | l2). The trace term uses K for L_train and A for L_test; constants: σ²/2 (label),
    ½Tr[AK⁻¹BU] and ½Tr[B′ᵀAB′U] (input), ½Tr[AK⁻¹ΓU] and ½Tr[AK⁻²Γ²U] (L2)."""
    A = _mat(A)
    if source == "label":
        K, c_train, c_test = A, sigma2 / 2, 0.0
    elif source == "input":
        K, _, c_train, c_test, _ = input_noise_parts(A, B, u)
    elif source == "l2":
        K, Gam, Gp, _ = l2_parts(A, gamma, u)
        if not _pos_def(K):
            return _inf(len(A)), math.inf, math.inf
        U = np.outer(_vec(u), _vec(u))
        c_train = 0.5 * float(np.trace(A @ np.linalg.inv(K) @ Gam @ U))
        c_test = 0.5 * float(np.trace(A @ Gp @ U @ Gp.T))
    else:
        raise ValueError(f"unknown noise source {source!r}; choose label, input or l2")
    if form == "continuous":
        Sigma = hessian_cov_continuous(K, batch_size, lr)
    elif form == "discrete":
        Sigma = hessian_cov_discrete(K, batch_size, lr)
    else:
        raise ValueError(f"unknown form {form!r}; choose continuous or discrete")
    if not np.all(np.isfinite(Sigma)):
        return Sigma, math.inf, math.inf
    return Sigma, 0.5 * float(np.trace(K @ Sigma)) + c_train, 0.5 * float(np.trace(A @ Sigma)) + c_test


def exact_losses(source: str, batch_size: int, lr: float, A, *, sigma2: float = 0.0, B=None, gamma=None,
                 u=None) -> tuple[np.ndarray, float, float]:
    """(Σ, L_train, L_test) of the exact theory for a noise `source` (label | input | l2), μ = 0."""
    A = _mat(A)
    if source == "label":
        Sigma = label_noise_cov(A, sigma2, batch_size, lr)
        L_train, L_test = label_noise_losses(A, sigma2, batch_size, lr)
    elif source == "input":
        Sigma = input_noise_cov(A, B, u, batch_size, lr)
        L_train, L_test = input_noise_losses(A, B, u, batch_size, lr)
    elif source == "l2":
        Sigma = l2_cov(A, gamma, u, batch_size, lr)
        L_train, L_test = l2_losses(A, gamma, u, batch_size, lr)
    else:
        raise ValueError(f"unknown noise source {source!r}; choose label, input or l2")
    return Sigma, L_train, L_test


THEORIES = ("continuous", "discrete", "exact")
SOURCES = ("label", "input", "l2")


def theory_table(A, *, sigma2: float, B, gamma, u, batch_size: int, lr: float) -> dict:
    """Table 2: {(source, theory): (Σ, L_train, L_test)} for the three noise sources (label noise with σ², input
    noise with B, L2 with Γ; teacher u for input noise and L2, label noise measured about u) and the three
    theories (continuous- and discrete-time Hessian approximation, exact)."""
    kw = dict(sigma2=sigma2, B=B, gamma=gamma, u=u)
    out = {}
    for source in SOURCES:
        for theory in THEORIES:
            if theory == "exact":
                out[source, theory] = exact_losses(source, batch_size, lr, A, **kw)
            else:
                out[source, theory] = hessian_losses(theory, source, batch_size, lr, A, **kw)
    return out


# ----------------------------------------------------------------------------------------------------------
# Exact second moments from the state-dependent Lyapunov solver (no closed form assumed), for cross-checks.


def label_noise_cov_lyapunov(A, sigma2: float, batch_size: int, lr, mu: float = 0.0) -> np.ndarray:
    """Σ from the fixed point P = MPMᵀ + B C(P_ww) Bᵀ with Lemma 1's C (sgd.minibatch_exact_cov_fresh, but also
    for a matrix Λ)."""
    A = _mat(A)
    M, Bm = sgdm_state_matrices(A, lr, mu)
    P = solve_state_dependent_lyapunov(M, Bm, sigma2 * A / batch_size,
                                       lambda Sig: (A @ Sig @ A + np.trace(A @ Sig) * A) / batch_size)
    return P[: len(A), : len(A)]


def input_noise_cov_lyapunov(A, B, u, batch_size: int, lr, mu: float = 0.0) -> np.ndarray:
    K, s2, *_ = input_noise_parts(A, B, u)
    return label_noise_cov_lyapunov(K, s2, batch_size, lr, mu)


def l2_cov_lyapunov(A, gamma, u, batch_size: int, lr, mu: float = 0.0) -> np.ndarray:
    """Σ about w* of SGD(M) on the L2 problem: Hessian K, noise l2_C (linear in Σ), from the Lyapunov solver."""
    A = _mat(A)
    K, _, _, _ = l2_parts(A, gamma, u)
    M, Bm = sgdm_state_matrices(K, lr, mu)
    C0 = l2_C(A, gamma, u, np.zeros_like(A), batch_size)
    P = solve_state_dependent_lyapunov(M, Bm, C0, lambda Sig: (A @ Sig @ A + np.trace(A @ Sig) * A) / batch_size)
    return P[: len(A), : len(A)]


# ----------------------------------------------------------------------------------------------------------
# Tail index (App D.3): p(w) ∝ (σ² + aw²)^{−(1+β)/2}, a Student-t law with β degrees of freedom and scale²
# σ²/(aβ), variance σ²/(a(β−2)).


def tail_index(lr_a, batch_size):
    """β = 2S/(aλ) − S: equating the variance of p(w) with the exact 1-D Var[w] of Theorem 2."""
    lr_a, S = np.asarray(lr_a, dtype=np.float64), np.asarray(batch_size, dtype=np.float64)
    return 2 * S / lr_a - S


def tail_index_continuous(lr_a, batch_size):
    """β_cts = 2S/(aλ) + 1 (Mori et al. 2021; Meng et al. 2020)."""
    lr_a, S = np.asarray(lr_a, dtype=np.float64), np.asarray(batch_size, dtype=np.float64)
    return 2 * S / lr_a + 1


def tail_density(w, a: float, sigma2: float, beta: float):
    """The normalised density p(w) = c (σ² + aw²)^{−(1+β)/2}, i.e. Student-t(β) with scale √(σ²/(aβ))."""
    w = np.asarray(w, dtype=np.float64)
    s = math.sqrt(sigma2 / (a * beta))
    logc = math.lgamma((beta + 1) / 2) - math.lgamma(beta / 2) - 0.5 * math.log(beta * math.pi) - math.log(s)
    return np.exp(logc - (beta + 1) / 2 * np.log1p(w * w / (beta * s * s)))


def tail_index_from_variance(var, a: float, sigma2: float):
    """Variance inversion: β̂ = 2 + σ²/(a Var̂[w])."""
    var = np.asarray(var, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return 2 + sigma2 / (a * var)


def _t_profile(x2: np.ndarray, nu: float, s2: float) -> tuple[float, float]:
    """EM for the scale of a zero-location Student-t at fixed ν, then the mean log-likelihood."""
    for _ in range(200):
        wgt = (nu + 1) / (nu + x2 / s2)
        s2_new = float(np.mean(wgt * x2))
        done = abs(s2_new - s2) <= 1e-10 * s2
        s2 = s2_new
        if done:
            break
    ll = (math.lgamma((nu + 1) / 2) - math.lgamma(nu / 2) - 0.5 * math.log(nu * math.pi * s2)
          - (nu + 1) / 2 * float(np.mean(np.log1p(x2 / (nu * s2)))))
    return ll, s2


def tail_index_t_mle(samples, nu_min: float = 0.2, nu_max: float = 1e4) -> float:
    """Student-t maximum-likelihood degrees of freedom (location fixed at 0, free scale): golden-section search
    of the profile likelihood over log ν in [nu_min, nu_max]; returns nu_max when the data look Gaussian."""
    x = np.asarray(samples, dtype=np.float64).ravel()
    x2 = x[np.isfinite(x)] ** 2
    s2_0 = float(np.median(x2)) / 0.455 + 1e-300   # the median of χ²₁ is 0.455
    cache: dict[float, tuple[float, float]] = {}

    def f(lnu):
        if lnu not in cache:
            cache[lnu] = _t_profile(x2, math.exp(lnu), s2_0)
        return cache[lnu][0]

    lo, hi = math.log(nu_min), math.log(nu_max)
    r = (math.sqrt(5) - 1) / 2
    c, d = hi - r * (hi - lo), lo + r * (hi - lo)
    while hi - lo > 1e-4:
        if f(c) > f(d):
            hi, d = d, c
            c = hi - r * (hi - lo)
        else:
            lo, c = c, d
            d = lo + r * (hi - lo)
    return math.exp((lo + hi) / 2)


def tail_index_hill(samples, k: int | None = None) -> float:
    """Hill's estimator of the tail index of |w| from its k largest values (default k = ⌈√n⌉):
    1 / mean(log(|w|_(i) / |w|_(k+1)))."""
    x = np.abs(np.asarray(samples, dtype=np.float64).ravel())
    x = x[np.isfinite(x)]
    n = len(x)
    k = int(math.ceil(math.sqrt(n))) if k is None else int(k)
    if not 1 <= k < n:
        raise ValueError(f"k={k} must lie in [1, n={n})")
    xs = np.partition(x, n - k - 1)
    threshold, largest = xs[n - k - 1], xs[n - k:]
    return float(1 / np.mean(np.log(largest / threshold)))


# The exact tail exponent of the 1-D stationary law (fresh samples). One step is the Kesten recursion
# w' = M w + Q with M = 1 − λa χ²_S/S and Q = λσ√(aχ²_S)/S · z. With E log|M| < 0 and P(|M| > 1) > 0, the
# stationary law has a power tail P(|w| > x) ~ C x^{−α} whose exponent solves E|M|^α = 1 (Kesten 1973, Goldie
# 1991; M and Q may be dependent). App. D.3's Student-t law assumes the tail exponent β = 2S/(aλ) − S that
# matches the exact variance; α equals β only at the divergence (both are 2 where E M² = 1).


def _tanh_sinh(a: float, b: float, level: int = 7):
    """Nodes of the tanh-sinh rule on [a, b] as (log(x − a), log(b − x), log weight): the distances to both ends
    are formed without cancellation, so the endpoint singularities of |1 − cx|^α and x^{S/2−1} are resolved."""
    h = 2.0 ** -level
    t = np.arange(-4.0, 4.0 + h / 2, h)
    u = 0.5 * math.pi * np.sinh(t)
    log_half = math.log(b - a)
    log_lo = log_half - np.logaddexp(0.0, -2 * u)          # x − a = (b − a)/(1 + e^{−2u})
    log_hi = log_half - np.logaddexp(0.0, 2 * u)           # b − x = (b − a)/(1 + e^{2u})
    log_w = math.log(h * math.pi) + np.log(np.cosh(t)) + log_lo + log_hi - log_half   # (b−a)/2·(π/2)cosh t/cosh²u
    return log_lo, log_hi, log_w


def _log_abs_moment(alpha: float, c: float, S: int) -> float:
    """log E|1 − cX|^α for X ~ χ²_S, by tanh-sinh quadrature of the density in log space on [0, m₁], [m₁, 1/c],
    [1/c, m₂], [m₂, x_max] (m₁, m₂: the modes of the integrand on either side of the zero at 1/c)."""
    z = 1.0 / c
    log_norm = -0.5 * S * math.log(2.0) - math.lgamma(0.5 * S)

    def logf(x):
        return alpha * np.log(np.abs(1 - c * x)) + (0.5 * S - 1) * np.log(x) - 0.5 * x + log_norm

    def dlogf(x):
        return alpha * c / (c * x - 1) + (0.5 * S - 1) / x - 0.5

    def mode(lo, hi):
        for _ in range(200):                                 # dlogf decreases from +inf to -inf (or -1/2)
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if dlogf(mid) > 0 else (lo, mid)
        return 0.5 * (lo + hi)

    m1 = mode(z * 1e-15, z * (1 - 1e-15)) if S > 2 else z * 1e-3
    top = z + 2 * alpha + 2 * S + 10
    while dlogf(top) > 0:
        top *= 2
    m2 = mode(z * (1 + 1e-15), top)
    x_max = m2 + 10.0
    while logf(x_max) > logf(m2) - 120:
        x_max = m2 + 2 * (x_max - m2)
    pieces = []
    for a, b, right in ((0.0, m1, False), (m1, z, False), (z, m2, True), (m2, x_max, True)):
        log_lo, log_hi, log_w = _tanh_sinh(a, b)
        x = a + np.exp(log_lo)
        if right:   # |1 − cx| = c(x − z)
            log_abs = math.log(c) + (log_lo if a == z else np.log(x - z))
        else:       # |1 − cx| = c(z − x)
            log_abs = math.log(c) + (log_hi if b == z else np.log(z - x))
        log_x = log_lo if a == 0.0 else np.log(x)
        pieces.append(log_w + alpha * log_abs + (0.5 * S - 1) * log_x - 0.5 * x + log_norm)
    v = np.concatenate(pieces)
    v = v[np.isfinite(v)]
    m = v.max()
    return float(m + math.log(np.exp(v - m).sum()))


def tail_index_exact(lr_a, batch_size) -> float:
    """The exact tail exponent α of the 1-D stationary law (fresh samples): the positive root of
    E|1 − (aλ/S)χ²_S|^α = 1. It is < 2 (infinite variance) beyond the divergence of Theorem 2's variance, where a
    stationary law still exists while E log|M| < 0; nan where E log|M| ≥ 0 (no stationary law)."""
    c, S = float(lr_a) / int(batch_size), int(batch_size)
    f = lambda al: _log_abs_moment(al, c, S)   # noqa: E731; convex in α, f(0) = 0, f'(0) = E log|M|
    eps = 1e-4
    if f(eps) >= 0:
        return math.nan
    lo, hi = eps, 1.0
    while f(hi) < 0:
        lo, hi = hi, 2 * hi
        if hi > 1e7:
            return math.inf
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if f(mid) < 0 else (lo, mid)
        if hi - lo < 1e-10 * hi:
            break
    return 0.5 * (lo + hi)
