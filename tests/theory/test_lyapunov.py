"""Discrete Lyapunov solver and the state matrices of SGD / SGDM / matrix-Λ / QHM (repro.theory.lyapunov)."""
import numpy as np
import pytest

from repro.theory import sgd
from repro.theory.lyapunov import (
    qhm_state_matrices,
    sgdm_state_matrices,
    solve_discrete_lyapunov,
    solve_state_dependent_lyapunov,
    stationary_cov_w,
    stationary_state_cov,
)

# The catalog's numerical check: K = diag(1, 0.2), C = [[1, .3], [.3, .5]] (so [C, K] ≠ 0), λ = 0.8.
K = np.diag([1.0, 0.2])
C = np.array([[1.0, 0.3], [0.3, 0.5]])
LR = 0.8


def _stable_matrix(rng, n, radius=0.9):
    M = rng.standard_normal((n, n))
    return radius * M / np.max(np.abs(np.linalg.eigvals(M)))


def _iterate(M, Q, iters=5000):
    P = np.zeros_like(Q)
    for _ in range(iters):
        P = M @ P @ M.T + Q
    return P


@pytest.mark.parametrize("method", ["kronecker", "doubling"])
def test_solver_matches_brute_force_iteration(method):
    rng = np.random.default_rng(0)
    M = _stable_matrix(rng, 4)
    R = rng.standard_normal((4, 4))
    Q = R @ R.T
    P = solve_discrete_lyapunov(M, Q, method=method)
    np.testing.assert_allclose(P, _iterate(M, Q), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(P, M @ P @ M.T + Q, rtol=1e-12, atol=1e-12)


def test_doubling_handles_large_state_and_agrees_with_kronecker():
    rng = np.random.default_rng(1)
    M = _stable_matrix(rng, 20, radius=0.97)
    R = rng.standard_normal((20, 20))
    Q = R @ R.T
    P_auto = solve_discrete_lyapunov(M, Q)     # 20 > KRONECKER_MAX_DIM: doubling
    P_kron = solve_discrete_lyapunov(M, Q, method="kronecker")
    np.testing.assert_allclose(P_auto, P_kron, rtol=1e-9, atol=1e-9)


def test_unstable_recursion_returns_inf():
    M, _ = sgdm_state_matrices(K, 2.1, 0.0)    # λ k_max = 2.1 > 2
    assert np.isinf(solve_discrete_lyapunov(M, np.eye(4))).all()
    assert np.isinf(stationary_cov_w(K, C, 2.75, 0.3)).all()   # μ < (λk − 2)/2 = 0.375
    assert np.isfinite(stationary_cov_w(K, C, 2.75, 0.4)).all()


def test_sgdm_state_matrices_reproduce_one_step_of_eq5():
    rng = np.random.default_rng(2)
    w, m, eta = rng.standard_normal(2), rng.standard_normal(2), rng.standard_normal(2)
    mu = 0.6
    M, B = sgdm_state_matrices(K, LR, mu)
    m_next = mu * m + K @ w + eta
    w_next = w - LR * m_next
    np.testing.assert_allclose(M @ np.r_[w, m] + B @ eta, np.r_[w_next, m_next], atol=1e-15)


def test_qhm_state_matrices_reproduce_one_step():
    rng = np.random.default_rng(3)
    w, m, eta = rng.standard_normal(2), rng.standard_normal(2), rng.standard_normal(2)
    mu, nu = 0.7, 0.4
    M, B = qhm_state_matrices(K, LR, mu, nu)
    g = K @ w + eta
    m_next = mu * m + (1 - mu) * g
    w_next = w - LR * ((1 - nu) * g + nu * m_next)
    np.testing.assert_allclose(M @ np.r_[w, m] + B @ eta, np.r_[w_next, m_next], atol=1e-15)


def test_qhm_limits():
    # ν = 0 is plain SGD; ν = 1 is SGDM with dampening 1−μ, i.e. SGDM at learning rate λ(1−μ).
    mu = 0.5
    np.testing.assert_allclose(stationary_cov_w(K, C, LR, mu, nu=0.0), stationary_cov_w(K, C, LR), rtol=1e-12)
    np.testing.assert_allclose(stationary_cov_w(K, C, LR, mu, nu=1.0), stationary_cov_w(K, C, LR * (1 - mu), mu),
                               rtol=1e-12)


@pytest.mark.parametrize("mu", [0.0, 0.5])
def test_catalog_check_thm2_thm5_table1(mu):
    Sigma = stationary_cov_w(K, C, LR, mu)
    scale = LR**2 * np.abs(C).max()
    assert np.abs(sgd.thm2_residual(Sigma, K, C, LR, mu)).max() < 1e-12 * scale
    L_train = 0.5 * np.trace(K @ Sigma)
    assert L_train == pytest.approx(sgd.thm5_train_loss(K, C, LR, mu), rel=1e-12)
    # Table 1, SGDM row: λ/(2(1−μ)) Tr[(2I − λK/(1+μ))⁻¹C].
    table1 = LR / (2 * (1 - mu)) * np.trace(np.linalg.solve(2 * np.eye(2) - LR * K / (1 + mu), C))
    assert L_train == pytest.approx(table1, rel=1e-12)
    if mu == 0.0:
        assert np.abs(sgd.thm1_residual(Sigma, K, C, LR)).max() < 1e-12


@pytest.mark.parametrize("mu", [0.0, 0.5])
def test_catalog_check_cor1_with_diagonal_C(mu):
    C_diag = np.diag([1.0, 0.5])
    np.testing.assert_allclose(stationary_cov_w(K, C_diag, LR, mu), sgd.cor1_cov(K, C_diag, LR, mu), rtol=1e-12)


@pytest.mark.parametrize("mu", [0.0, 0.5])
def test_thm3_matrix_learning_rate(mu):
    Lam = np.array([[0.6, 0.15], [0.15, 1.1]])     # SPD, does not commute with K or C
    K_full = np.array([[1.0, 0.2], [0.2, 0.4]])
    Sigma = stationary_cov_w(K_full, C, Lam, mu)
    assert np.abs(sgd.thm3_residual(Sigma, K_full, C, Lam, mu)).max() < 1e-12


def test_state_dependent_solver_reduces_to_plain_lyapunov():
    M, B = sgdm_state_matrices(K, LR, 0.3)
    P = solve_state_dependent_lyapunov(M, B, C, lambda S: np.zeros_like(S))
    np.testing.assert_allclose(P, stationary_state_cov(M, B, C), rtol=1e-12)


def test_state_dependent_solver_is_the_fixed_point_and_detects_divergence():
    A = np.array([[1.0]])
    noise_map = lambda S: 2 * A @ S @ A / 10   # 1-D Lemma 1 with S = 10: (AΣA + Tr[AΣ]A)/S
    M, B = sgdm_state_matrices(A, 1.0, 0.0)
    P = solve_state_dependent_lyapunov(M, B, A / 10, noise_map)
    np.testing.assert_allclose(P, M @ P @ M.T + B @ (A / 10 + noise_map(P[:1, :1])) @ B.T, atol=1e-14)
    # λk beyond 2S/(S+2) = 1.667: the second moment diverges.
    M, B = sgdm_state_matrices(A, 1.7, 0.0)
    assert np.isinf(solve_state_dependent_lyapunov(M, B, A / 10, noise_map)).all()
