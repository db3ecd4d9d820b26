"""Exact stationary covariance of linear stochastic recursions (discrete Lyapunov equation).

Implements the ground truth of arXiv 2012.03636 ("Reference implementation notes" of the catalog): every
linear optimiser with constant noise on L = ½ wᵀKw (SGD, SGD-momentum Eq. 5, matrix learning rate Λ of
Thm 3, QHM of Thm 11) is a recursion

    z_t = M z_{t−1} + B ξ_t,   z = (w, m),   Cov ξ = C,

whose stationary covariance P = lim E[z zᵀ] solves P = M P Mᵀ + B C Bᵀ. The w block of P is the Σ of the
paper. A noise covariance that is linear in Σ (exact minibatch noise, arXiv 2102.05375 Lemma 1 and
Prop 8) gives the same fixed-point problem with one more linear term, solved by
``solve_state_dependent_lyapunov``.

Conventions:
- All arithmetic is numpy float64; inputs may be numpy arrays, torch CPU tensors or python scalars.
- vec is the row-major flatten, for which vec(M P Mᵀ) = (M ⊗ M) vec(P).
- A recursion without a stationary state (spectral radius ≥ 1) returns a matrix filled with +inf, so that
  sweeps over λ or μ can cross a divergence boundary without special-casing it.
- Momentum follows torch.optim.SGD (dampening 0): m_t = μ m_{t−1} + g_t, w_t = w_{t−1} − Λ m_t, with
  g_t = K w_{t−1} + η_t. QHM: m_t = μ m_{t−1} + (1−μ) g_t, w_t = w_{t−1} − Λ[(1−ν) g_t + ν m_t].
- The learning rate Λ is a scalar λ or a D×D matrix; a scalar is read as λI.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

# Above this state dimension the (n²×n²) Kronecker system (n = 16: a 256×256 solve) gives way to doubling.
KRONECKER_MAX_DIM = 16


def _as_matrix(a) -> np.ndarray:
    return np.atleast_2d(np.asarray(a, dtype=np.float64))


def _lr_matrix(lr, dim: int) -> np.ndarray:
    lr = np.asarray(lr, dtype=np.float64)
    return lr * np.eye(dim) if lr.ndim == 0 else _as_matrix(lr)


def spectral_radius(M) -> float:
    return float(np.max(np.abs(np.linalg.eigvals(_as_matrix(M)))))


def solve_discrete_lyapunov(M, Q, method: str = "auto") -> np.ndarray:
    """Solve P = M P Mᵀ + Q.

    method: "kronecker" solves (I − M⊗M) vec P = vec Q exactly; "doubling" sums P = Σ_k M^k Q (M^k)ᵀ by
    P ← P + A P Aᵀ, A ← A² (quadratic convergence, for state dimensions where the Kronecker system is
    too large); "auto" picks Kronecker up to KRONECKER_MAX_DIM.
    """
    M, Q = _as_matrix(M), _as_matrix(Q)
    n = M.shape[0]
    if spectral_radius(M) >= 1.0:
        return np.full((n, n), np.inf)
    if method == "auto":
        method = "kronecker" if n <= KRONECKER_MAX_DIM else "doubling"
    if method == "kronecker":
        P = np.linalg.solve(np.eye(n * n) - np.kron(M, M), Q.reshape(-1)).reshape(n, n)
    elif method == "doubling":
        P, A = Q.copy(), M.copy()
        # ρ(M)^(2^j) falls below machine precision after about log2(log(eps)/log ρ) doublings.
        for _ in range(200):
            P_next = P + A @ P @ A.T
            A = A @ A
            converged = np.max(np.abs(P_next - P)) <= 1e-15 * np.max(np.abs(P_next))
            P = P_next
            if converged:
                break
    else:
        raise ValueError(f"unknown method {method!r}")
    return (P + P.T) / 2


def sgdm_state_matrices(K, lr, mu: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """(M, B) of SGD with momentum (Eq. 5), scalar λ or matrix Λ (Thm 3):
    M = [[I − ΛK, −μΛ], [K, μI]],  B = [[−Λ], [I]]."""
    K = _as_matrix(K)
    D = K.shape[0]
    Lam, I = _lr_matrix(lr, D), np.eye(D)
    M = np.block([[I - Lam @ K, -mu * Lam], [K, mu * I]])
    B = np.vstack([-Lam, I])
    return M, B


def qhm_state_matrices(K, lr, mu: float, nu: float) -> tuple[np.ndarray, np.ndarray]:
    """(M, B) of quasi-hyperbolic momentum (Thm 11). Substituting m_t into the w update gives
    w_t = (I − cΛK) w_{t−1} − νμΛ m_{t−1} − cΛ η_t with c = 1 − νμ:
    M = [[I − cΛK, −νμΛ], [(1−μ)K, μI]],  B = [[−cΛ], [(1−μ)I]]."""
    K = _as_matrix(K)
    D = K.shape[0]
    Lam, I = _lr_matrix(lr, D), np.eye(D)
    c = 1.0 - nu * mu
    M = np.block([[I - c * Lam @ K, -nu * mu * Lam], [(1.0 - mu) * K, mu * I]])
    B = np.vstack([-c * Lam, (1.0 - mu) * I])
    return M, B


def stationary_state_cov(M, B, C) -> np.ndarray:
    """Stationary covariance of z = (w, m): P = M P Mᵀ + B C Bᵀ."""
    B = _as_matrix(B)
    return solve_discrete_lyapunov(M, B @ _as_matrix(C) @ B.T)


def stationary_cov_w(K, C, lr, mu: float = 0.0, nu: float | None = None) -> np.ndarray:
    """Σ = lim E[w wᵀ] of SGD / SGD-momentum / matrix-Λ SGD (nu=None) or QHM (nu given) with constant
    gradient-noise covariance C."""
    D = _as_matrix(K).shape[0]
    M, B = sgdm_state_matrices(K, lr, mu) if nu is None else qhm_state_matrices(K, lr, mu, nu)
    return stationary_state_cov(M, B, C)[:D, :D]


def solve_state_dependent_lyapunov(M, B, C0, noise_map: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Solve P = M P Mᵀ + B (C0 + N(P_ww)) Bᵀ, where the gradient-noise covariance C0 + N(Σ) depends
    linearly on the w block Σ = P_ww of the state covariance (exact for noise that is conditionally
    independent of the past given w, e.g. fresh minibatches, whose E[C(w)] is linear in E[w wᵀ]).

    The map P ↦ M P Mᵀ + B N(P_ww) Bᵀ is assembled column by column on the unit basis of P, and the
    linear fixed point is solved directly; +inf if that map has spectral radius ≥ 1 (second moments grow).
    """
    M, B = _as_matrix(M), _as_matrix(B)
    n, D = M.shape[0], B.shape[1]
    T = np.empty((n * n, n * n))
    for j in range(n * n):
        E = np.zeros(n * n)
        E[j] = 1.0
        E = E.reshape(n, n)
        T[:, j] = (M @ E @ M.T + B @ noise_map(E[:D, :D]) @ B.T).reshape(-1)
    if spectral_radius(T) >= 1.0:
        return np.full((n, n), np.inf)
    P = np.linalg.solve(np.eye(n * n) - T, (B @ _as_matrix(C0) @ B.T).reshape(-1)).reshape(n, n)
    return (P + P.T) / 2
