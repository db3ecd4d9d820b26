"""Closed forms of arXiv 2102.05375 (repro.theory.minibatch): exact enumeration of the minibatch noise, Monte Carlo
checks of the noise formulas, cross-checks against the (state-dependent) Lyapunov solver, and every reference value
of the minibatch_noise catalog."""
import itertools
import math

import numpy as np
import pytest

from repro.theory import minibatch as mt
from repro.theory import sgd
from repro.theory.lyapunov import stationary_cov_w

A2 = np.diag([1.0, 0.5])


# ---------------------------------------------------------------------------------------------- Prop 1 / Prop 8


@pytest.mark.parametrize("replacement", [True, False])
def test_prop1_prop8_match_exhaustive_enumeration(replacement):
    rng = np.random.default_rng(0)
    N, S, D = 6, 3, 2
    G = rng.normal(size=(N, D)) + np.array([0.3, -0.2])
    if replacement:
        batches = list(itertools.product(range(N), repeat=S))          # S i.i.d. uniform indices
    else:
        batches = list(itertools.combinations(range(N), S))            # uniform S-subsets
    means = np.array([G[list(b)].mean(0) for b in batches])
    C_enum = np.cov(means.T, bias=True)
    np.testing.assert_allclose(mt.minibatch_noise_cov(G, S, replacement), C_enum, rtol=1e-12, atol=1e-14)


# ---------------------------------------------------------------------------------------------- label noise


def test_lemma1_noise_by_monte_carlo():
    rng = np.random.default_rng(1)
    A = np.array([[1.0, 0.3], [0.3, 0.6]])
    w, sigma2, S = np.array([0.7, -0.4]), 0.5, 4
    x = rng.multivariate_normal(np.zeros(2), A, size=2_000_000)
    g = x * (x @ w - math.sqrt(sigma2) * rng.standard_normal(len(x)))[:, None]
    C_mc = np.cov(g.T) / S
    np.testing.assert_allclose(mt.label_noise_C(A, np.outer(w, w), sigma2, S), C_mc, rtol=0.02, atol=2e-3)


@pytest.mark.parametrize("mu", [0.0, 0.3, 0.5])
@pytest.mark.parametrize("S", [5, 10, 50])
def test_theorem2_equals_the_exact_fixed_point(mu, S):
    lr = 1.5 if mu == 0 else 0.6
    exact = mt.label_noise_cov_lyapunov(A2, 0.8, S, lr, mu)
    np.testing.assert_allclose(mt.label_noise_cov(A2, 0.8, S, lr, mu), exact, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(exact, sgd.minibatch_exact_cov_fresh(A2, 0.8, S, lr, mu), rtol=1e-12)


def test_theorem2_with_a_commuting_matrix_learning_rate():
    Lam = np.diag([0.9, 1.6])
    for mu in (0.0, 0.4):
        np.testing.assert_allclose(mt.label_noise_cov(A2, 1.0, 20, Lam, mu),
                                   mt.label_noise_cov_lyapunov(A2, 1.0, 20, Lam, mu), rtol=1e-10)


@pytest.mark.parametrize("mu", [0.0, 0.5])
def test_theorem3_noise_solves_theorem1(mu):
    S, lr, sigma2 = 16, 0.9, 1.3
    Sigma = mt.label_noise_cov(A2, sigma2, S, lr, mu)
    C = mt.label_noise_C_stationary(A2, sigma2, S, lr, mu)
    np.testing.assert_allclose(C, mt.label_noise_C(A2, Sigma, sigma2, S), rtol=1e-12)
    resid = sgd.thm3_residual(Sigma, A2, C, lr * np.eye(2), mu)        # Theorem 1 of this paper
    assert np.max(np.abs(resid)) < 1e-12 * np.max(np.abs(lr**2 * C))


@pytest.mark.parametrize("mu", [0.0, 0.5, 0.8])
def test_stationarity_region_agrees_with_the_lyapunov_solver(mu):
    for S in (2, 5, 20):
        for lr in np.linspace(0.05, 4.0, 80):
            closed = np.all(np.isfinite(mt.label_noise_cov(A2, 1.0, S, lr, mu)))
            exact = np.all(np.isfinite(mt.label_noise_cov_lyapunov(A2, 1.0, S, lr, mu)))
            assert closed == exact, (mu, S, lr)


def test_momentum_09_has_no_stationary_state():
    # catalog: at mu = 0.9 the unguarded Theorem 2 turns negative (lambda = 1, S = 10, a = 1): Tr[ΛAG⁻¹]/S > 1
    assert np.isinf(mt.label_noise_cov([[1.0]], 1.0, 10, 1.0, 0.9)).all()
    assert mt.label_noise_cov([[1.0]], 1.0, 10, 1.0, 0.5)[0, 0] == pytest.approx(0.2143, abs=5e-5)


def test_one_dimensional_closed_form_and_divergence():
    for lr in (0.3, 1.0, 1.4):
        for S in (5, 13, 40):
            assert mt.label_noise_var_1d(lr, 1.5, 1.0, S) == pytest.approx(mt.label_noise_cov([[1.5]], 1.0, S, lr)[0, 0])
    assert mt.label_noise_critical_lr(1.0, 10) == pytest.approx(1.6667, abs=1e-4)
    assert mt.label_noise_var_1d(1.67, 1.0, 1.0, 10) == np.inf
    assert mt.label_noise_critical_batch(1.5, 1.0) == pytest.approx(6.0)     # fig=3 left: divergence at S = 6
    assert mt.label_noise_var_1d(1.0, 1.5, 1.0, 6) == np.inf


def test_fig3_fig4_reference_values():
    # fig=3 left (a = 1.5, lambda = 1, sigma^2 = 1)
    np.testing.assert_allclose(mt.label_noise_var_1d(1.0, 1.5, 1.0, [13, 15, 20, 30, 40]),
                               [0.2857, 0.2222, 0.1429, 0.0833, 0.0588], atol=5e-5)
    assert mt.label_noise_var_1d(1.0, 1.5, 0.25, 40) == pytest.approx(0.0147, abs=5e-5)   # the text's sigma^2
    # fig=4 left (a = 1, S = 10, sigma^2 = 1): exact, discrete and continuous Hessian approximations
    lrs = [0.5, 1.0, 1.25, 1.5]
    np.testing.assert_allclose(mt.label_noise_var_1d(lrs, 1.0, 1.0, 10), [0.0357, 0.125, 0.250, 0.750], atol=5e-5)
    np.testing.assert_allclose([mt.hessian_cov_discrete([[1.0]], 10, lr)[0, 0] for lr in lrs],
                               [0.0333, 0.100, 0.1667, 0.300], atol=5e-5)
    np.testing.assert_allclose([mt.hessian_cov_continuous([[1.0]], 10, lr)[0, 0] for lr in lrs],
                               [0.025, 0.050, 0.0625, 0.075], atol=1e-12)
    # fig=4 (b, c): A = diag(1, 0.5), lambda = 1.5
    np.testing.assert_allclose(np.diag(mt.label_noise_cov(A2, 1.0, 50, 1.5)), [0.0691, 0.0263], atol=5e-5)
    np.testing.assert_allclose(np.diag(mt.label_noise_cov(A2, 1.0, 10, 1.5)), [0.8443, 0.2515], atol=5e-5)
    np.testing.assert_allclose(np.diag(mt.hessian_cov_discrete(A2, 50, 1.5)), [0.060, 0.024], atol=1e-12)
    np.testing.assert_allclose(np.diag(mt.hessian_cov_discrete(A2, 10, 1.5)), [0.30, 0.12], atol=1e-12)


def test_theorem8_losses():
    A = np.diag([1.0, 0.5, 0.2])
    S, lr, sigma2 = 8, 0.7, 1.4
    Sigma = mt.label_noise_cov(A, sigma2, S, lr)
    L_train, L_test = mt.label_noise_losses(A, sigma2, S, lr)
    assert L_test == pytest.approx(0.5 * np.trace(A @ Sigma), rel=1e-12)
    assert L_train == pytest.approx(L_test + sigma2 / 2, rel=1e-12)
    # the scalar-lambda form Sigma = (lambda sigma^2/S)(1 + lambda kappa/S) G^-1 with the lambda-free kappa
    G = 2 * np.eye(3) - lr * (1 + 1 / S) * A
    kappa = np.trace(A @ np.linalg.inv(G)) / (1 - lr / S * np.trace(A @ np.linalg.inv(G)))
    np.testing.assert_allclose(Sigma, lr * sigma2 / S * (1 + lr * kappa / S) * np.linalg.inv(G), rtol=1e-12)
    # small lambda, large S: Sigma ~ lambda sigma^2/(2S) I
    np.testing.assert_allclose(mt.label_noise_cov(A, sigma2, 1000, 1e-3), 1e-3 * sigma2 / 2000 * np.eye(3), rtol=2e-3)


# ---------------------------------------------------------------------------------------------- input noise


def test_input_noise_is_label_noise_with_K_and_effective_sigma2_by_monte_carlo():
    rng = np.random.default_rng(2)
    A, B, u = np.diag([1.0, 0.5]), np.diag([0.3, 0.2]), np.array([1.0, -0.5])
    K, s2, _, _, w_star = mt.input_noise_parts(A, B, u)
    delta = np.array([0.2, 0.4])
    x = rng.standard_normal((2_000_000, 2)) * np.sqrt(np.diag(A))
    xt = x + rng.standard_normal((2_000_000, 2)) * np.sqrt(np.diag(B))
    g = xt * (xt @ (w_star + delta) - x @ u)[:, None]
    np.testing.assert_allclose(g.mean(0), K @ delta, atol=5e-3)
    np.testing.assert_allclose(mt.input_noise_C(A, B, u, np.outer(delta, delta), 1), np.cov(g.T), rtol=0.02, atol=2e-3)
    assert s2 == pytest.approx(float(u @ A @ np.linalg.inv(K) @ B @ u))


def test_input_noise_catalog_values_and_erratum():
    # a = 1, b = 0.5, u = 1, lambda = 0.8, S = 8: Sigma = 0.0667, L_test = 0.0889 (corrected), 0.1056 (printed)
    Sigma = mt.input_noise_cov([[1.0]], 0.5, 1.0, 8, 0.8)
    assert Sigma[0, 0] == pytest.approx(0.0667, abs=5e-5)
    np.testing.assert_allclose(Sigma, mt.input_noise_cov_lyapunov([[1.0]], 0.5, 1.0, 8, 0.8), rtol=1e-10)
    L_train, L_test = mt.input_noise_losses([[1.0]], 0.5, 1.0, 8, 0.8)
    assert L_test == pytest.approx(0.0889, abs=5e-5)
    assert mt.input_noise_test_loss_printed([[1.0]], 0.5, 1.0, 8, 0.8) == pytest.approx(0.1056, abs=5e-5)
    # L_train = 1/2 Tr[AK^-1BU](1 + lambda kappa'/S)
    K, s2, *_ = mt.input_noise_parts([[1.0]], 0.5, 1.0)
    lk = mt.label_noise_kappa(K, 8, 0.8)
    assert L_train == pytest.approx(s2 / 2 * (1 + lk / 8), rel=1e-12)


# ---------------------------------------------------------------------------------------------- L2


def test_l2_noise_by_monte_carlo():
    rng = np.random.default_rng(3)
    A, gamma, u = np.diag([1.0, 0.5]), 0.3, np.array([1.0, 0.7])
    K, Gam, _, w_star = mt.l2_parts(A, gamma, u)
    delta = np.array([0.25, -0.3])
    x = rng.standard_normal((2_000_000, 2)) * np.sqrt(np.diag(A))
    covs = []
    for d in (delta, -delta):        # Prop 3 averages C(w) over a stationary law with E[delta] = 0
        w = w_star + d
        g = x * (x @ (w - u))[:, None] + Gam @ w
        np.testing.assert_allclose(g.mean(0), K @ d, atol=5e-3)
        covs.append(np.cov(g.T))
    np.testing.assert_allclose(mt.l2_C(A, gamma, u, np.outer(delta, delta), 1), (covs[0] + covs[1]) / 2,
                               rtol=0.02, atol=2e-3)


@pytest.mark.parametrize("case", [(1.0, 0.5, 1, 1.0, 0.5), (1.0, 0.5, 1, 1.0, 2.0), (4.0, 1.0, 64, 1.0, -2.5),
                                  (4.0, 1.0, 64, 1.0, -3.3), (1.0, 0.5, 1, 2.0, -0.2)])
def test_eq11_eq12_equal_the_exact_fixed_point_1d(case):
    a, lr, S, u, gamma = case
    exact = mt.l2_cov_lyapunov([[a]], gamma, u, S, lr)
    np.testing.assert_allclose(mt.l2_cov([[a]], gamma, u, S, lr), exact, rtol=1e-10)
    K = a + gamma
    L_test = 0.5 * a * exact[0, 0] + 0.5 * a * (gamma * u / K) ** 2
    assert mt.l2_test_loss([[a]], gamma, u, S, lr) == pytest.approx(L_test, rel=1e-10)
    assert mt.l2_losses([[a]], gamma, u, S, lr)[1] == pytest.approx(L_test, rel=1e-10)


def test_eq11_eq12_equal_the_exact_fixed_point_2d():
    u = [1.0, 0.0]                                   # along an eigenvector: [Gamma, U] = 0 holds for Gamma = gamma I
    for gamma in (0.3, -0.2, 1.0):
        exact = mt.l2_cov_lyapunov(A2, gamma, u, 8, 0.8)
        np.testing.assert_allclose(mt.l2_cov(A2, gamma, u, 8, 0.8), exact, rtol=1e-10, atol=1e-15)
        K, _, Gp, _ = mt.l2_parts(A2, gamma, u)
        L_test = 0.5 * np.trace(A2 @ exact) + 0.5 * np.trace(A2 @ Gp @ np.outer(u, u) @ Gp.T)
        assert mt.l2_test_loss(A2, gamma, u, 8, 0.8) == pytest.approx(L_test, rel=1e-10)


@pytest.mark.parametrize("case", [(np.diag([1.0, 0.5]), 2.0, [1.0, 1.0], 2, 0.3),
                                  (np.diag([1.0, 0.5]), 0.3, [1.0, 0.7], 4, 0.8),
                                  (np.diag([1.0, 1.0, 0.5]), 0.2, [1.0, 0.3, -0.5], 3, 0.7),   # degenerate a
                                  (np.array([[0.9, 0.2], [0.2, 0.6]]), -0.2, [1.0, -1.0], 2, 0.6)])
def test_l2_cov_equals_the_exact_fixed_point_when_u_is_off_the_eigenvectors(case):
    # [A, U] != 0: Eq. 12 as printed is wrong off the diagonal (not even symmetric); l2_cov is the fixed point
    A, gamma, u, S, lr = case
    assert np.abs(A @ np.outer(u, u) - np.outer(u, u) @ A).max() > 0.1
    exact = mt.l2_cov_lyapunov(A, gamma, u, S, lr)
    Sigma = mt.l2_cov(A, gamma, u, S, lr)
    np.testing.assert_allclose(Sigma, exact, rtol=1e-10, atol=1e-14 * np.abs(exact).max())
    np.testing.assert_allclose(Sigma, Sigma.T, rtol=1e-12)
    eq12 = mt.l2_cov_eq12(A, gamma, u, S, lr)
    assert np.abs(eq12 - exact).max() > 0.005 * np.abs(exact).max()
    assert np.trace(A @ eq12) == pytest.approx(np.trace(A @ exact), rel=1e-10)    # its traces hold
    assert np.trace(eq12) == pytest.approx(np.trace(exact), rel=1e-10)
    K, _, Gp, _ = mt.l2_parts(A, gamma, u)
    L_test = 0.5 * np.trace(A @ exact) + 0.5 * np.trace(A @ Gp @ np.outer(u, u) @ Gp.T)
    assert mt.l2_test_loss(A, gamma, u, S, lr) == pytest.approx(L_test, rel=1e-10)
    assert mt.l2_losses(A, gamma, u, S, lr)[1] == pytest.approx(L_test, rel=1e-10)


def test_l2_cov_falls_back_to_the_solver_when_gamma_does_not_commute_with_A():
    A, Gam, u = np.diag([1.0, 0.5]), np.array([[0.3, 0.1], [0.1, 0.2]]), [1.0, 0.7]
    np.testing.assert_allclose(mt.l2_cov(A, Gam, u, 4, 0.8), mt.l2_cov_lyapunov(A, Gam, u, 4, 0.8), rtol=1e-12)


def test_l2_cov_off_the_eigenvectors_by_simulation():
    import torch

    from repro.sim import minibatch as msim
    from repro.sim.linear import Optimizer

    A, gamma, u, S, lr = [1.0, 0.5], 2.0, [1.0, 1.0], 2, 0.3
    Sigma = mt.l2_cov(np.diag(A), gamma, u, S, lr)
    eq12 = mt.l2_cov_eq12(np.diag(A), gamma, u, S, lr)
    n_threads = torch.get_num_threads()
    torch.set_num_threads(1)                 # small tensors: one thread is fastest on the shared CPU
    try:
        stats = msim.simulate("l2", {"A": A, "S": S, "gamma": gamma, "u": u}, Optimizer(lr), 1500, 1000,
                              generator=torch.Generator().manual_seed(0))
    finally:
        torch.set_num_threads(n_threads)
    sim = stats.pooled.double().numpy()
    np.testing.assert_allclose(np.diag(sim), np.diag(Sigma), rtol=0.03)
    assert sim[0, 1] == pytest.approx(Sigma[0, 1], rel=0.05)                  # 0.0126
    assert abs(sim[0, 1] / eq12[0, 1] - 1) > 0.3 and abs(sim[1, 0] / eq12[1, 0] - 1) > 0.3   # 0.0216, 0.0076


def test_l2_reference_values_and_stability_windows():
    fig3 = [mt.l2_test_loss([[1.0]], g, 1.0, 1, 0.5) for g in (-0.3, -0.1, 0, 0.5, 1, 1.5, 2, 2.2)]
    np.testing.assert_allclose(fig3, [0.684, 0.022, 0, 0.119, 0.25, 0.386, 0.667, 1.080], atol=6e-4)
    fig5 = [mt.l2_test_loss([[4.0]], g, 1.0, 64, 1.0) for g in (-3.6, -3.2, -3.0, -2.8, -2.6, -2.5, -2.4)]
    np.testing.assert_allclose(fig5, [740.6, 66.8, 36.0, 22.7, 17.04, 16.67, 20.57], rtol=2e-3)
    grid = np.linspace(-3.0, -2.0, 10001)
    losses = np.array([mt.l2_test_loss([[4.0]], g, 1.0, 64, 1.0) for g in grid])
    assert grid[np.argmin(losses)] == pytest.approx(-2.53, abs=0.01)
    assert losses.min() == pytest.approx(16.54, abs=0.01)
    lo, hi = mt.l2_stability_window_1d(1.0, 0.5, 1)
    assert (lo, hi) == pytest.approx((1 - math.sqrt(2), 1 + math.sqrt(2)))
    lo, hi = mt.l2_stability_window_1d(4.0, 1.0, 64)
    assert (lo, hi) == pytest.approx((-3.7071, -2.2929), abs=1e-4)
    for g in (lo - 1e-3, hi + 1e-3, 0.0, 1.0):
        assert mt.l2_test_loss([[4.0]], g, 1.0, 64, 1.0) == math.inf
        assert np.isinf(mt.l2_cov_lyapunov([[4.0]], g, 1.0, 64, 1.0)).all()
    for g in (lo + 1e-3, hi - 1e-3):
        assert math.isfinite(mt.l2_test_loss([[4.0]], g, 1.0, 64, 1.0))
    assert mt.l2_test_loss([[1.0]], -1.5, 1.0, 1, 0.5) == math.inf       # K < 0: no minimum


def test_cor1_optimal_weight_decay_turns_negative_at_large_lr():
    grid = np.linspace(-1.0, 1.0, 2001)
    for lr, sign in ((0.2, 0), (1.9, -1)):
        losses = [mt.l2_test_loss([[1.0]], g, 1.0, 16, lr) for g in grid]
        best = grid[int(np.argmin(losses))]
        assert (abs(best) < 1e-9) if sign == 0 else best < -0.01


# ---------------------------------------------------------------------------------------------- high dimension


def test_thm6_limits_and_hessian_line():
    eigs = np.random.default_rng(4).chisquare(5, size=300) / 5
    assert mt.highdim_trace(eigs, 0.0, 32, 0.01) == 0.0
    assert mt.highdim_nominal_residual(1.0, 0.8) == 0.0
    assert mt.highdim_nominal_residual(1.0, 2.5) == pytest.approx(0.6)
    # small lambda: Tr[A Sigma] -> (lambda sigma_r^2/(2S)) Tr[A_hat]
    assert mt.highdim_trace(eigs, 0.7, 32, 1e-6) == pytest.approx(1e-6 * 0.7 / 64 * eigs.sum(), rel=1e-4)
    assert mt.highdim_hessian_trace(1000, 1000, 1.0, 32, 0.01) == pytest.approx(0.15625)
    assert mt.highdim_hessian_trace(5000, 1000, 1.0, 32, 0.01) == pytest.approx(0.15625)
    # Sec 6.2 stability: the trace diverges where sum 1/(2/(lambda a) - 1 + 1/S) reaches S
    lr_max = 2 * 32 / (1.0 * 300)
    assert math.isfinite(mt.highdim_trace(np.ones(300), 1.0, 32, 0.9 * lr_max))
    assert mt.highdim_trace(np.ones(300), 1.0, 32, 1.1 * lr_max) == math.inf
    assert mt.highdim_stability_sum(np.ones(300), 32, 1.1 * lr_max) > 32


# ---------------------------------------------------------------------------------------------- second-order methods


@pytest.mark.parametrize("mu", [0.0, 0.5])
def test_dnm_is_theorem2_with_inverse_hessian_learning_rate(mu):
    A = np.diag([1.0, 0.5, 0.25])
    lr, S = 0.4, 16
    Lam = lr * np.linalg.inv(A)
    np.testing.assert_allclose(mt.dnm_cov(A, 1.2, S, lr, mu), mt.label_noise_cov(A, 1.2, S, Lam, mu), rtol=1e-12)
    np.testing.assert_allclose(mt.dnm_cov(A, 1.2, S, lr, mu), mt.label_noise_cov_lyapunov(A, 1.2, S, Lam, mu),
                               rtol=1e-10)
    g = 2 * (1 - mu) - ((1 - mu) / (1 + mu) + 1 / 2) * lr
    assert np.isinf(mt.dnm_cov(A, 1.0, 2, lr, mu)).all() == (g * 2 - lr * 3 <= 0)


@pytest.mark.parametrize("mu", [0.0, 0.5])
def test_ngd_noiseless_is_a_fixed_point_of_theorem1(mu):
    A = np.diag([1.0, 0.5])
    S, lr = 8, 0.3
    Sigma = mt.ngd_cov_noiseless(A, S, lr, mu)
    C = mt.label_noise_C(A, Sigma, 0.0, S)
    Lam = lr / S * np.linalg.inv(C)
    resid = sgd.thm3_residual(Sigma, A, C, Lam, mu)
    assert np.max(np.abs(resid)) < 1e-12
    np.testing.assert_allclose(stationary_cov_w(A, C, Lam, mu), Sigma, rtol=1e-10)


# ---------------------------------------------------------------------------------------------- Table 2


def test_hessian_approximations_of_table2():
    A, B, u, gamma, S, lr = A2, 0.2 * np.eye(2), [1.0, 0.0], 0.3, 8, 0.8
    np.testing.assert_allclose(mt.hessian_cov_discrete(A, S, lr), sgd.cor2_cov(A, lr, 1 / S))
    np.testing.assert_allclose(mt.hessian_cov_discrete(A, S, 1e-5), mt.hessian_cov_continuous(A, S, 1e-5), rtol=1e-4)
    _, Ltr, Lte = mt.hessian_losses("continuous", "label", S, lr, A, sigma2=1.0)
    assert (Ltr, Lte) == pytest.approx((lr / (4 * S) * 1.5 + 0.5, lr / (4 * S) * 1.5))
    _, Ltr, Lte = mt.hessian_losses("discrete", "label", S, lr, A, sigma2=1.0)
    t = np.trace(A @ np.linalg.inv(2 * np.eye(2) - lr * A))
    assert (Ltr, Lte) == pytest.approx((lr / (2 * S) * t + 0.5, lr / (2 * S) * t))
    K, s2, c_tr, c_te, _ = mt.input_noise_parts(A, B, u)
    _, Ltr, Lte = mt.hessian_losses("discrete", "input", S, lr, A, B=B, u=u)
    Kt = np.linalg.inv(2 * np.eye(2) - lr * K)
    assert (Ltr, Lte) == pytest.approx((lr / (2 * S) * np.trace(K @ Kt) + s2 / 2, lr / (2 * S) * np.trace(A @ Kt) + c_te))
    Kl, Gam, Gp, _ = mt.l2_parts(A, gamma, u)
    U = np.outer(u, u)
    _, Ltr, Lte = mt.hessian_losses("continuous", "l2", S, lr, A, gamma=gamma, u=u)
    assert (Ltr, Lte) == pytest.approx((lr / (4 * S) * np.trace(Kl) + 0.5 * np.trace(A @ np.linalg.inv(Kl) @ Gam @ U),
                                        lr / (4 * S) * np.trace(A) + 0.5 * np.trace(A @ Gp @ U @ Gp.T)))
    # fig=3 right, gamma = 0: 0.125 (continuous) and 0.1667 (discrete)
    assert mt.hessian_losses("continuous", "l2", 1, 0.5, [[1.0]], gamma=0.0, u=1.0)[2] == pytest.approx(0.125)
    assert mt.hessian_losses("discrete", "l2", 1, 0.5, [[1.0]], gamma=0.0, u=1.0)[2] == pytest.approx(1 / 6)


def test_theory_table_has_27_entries_and_its_exact_column_is_exact():
    B = 0.2 * np.eye(2)
    table = mt.theory_table(A2, sigma2=1.0, B=B, gamma=0.3, u=[1.0, 0.0], batch_size=8, lr=0.8)
    assert set(table) == {(s, t) for s in mt.SOURCES for t in mt.THEORIES}
    assert sum(len(v) for v in table.values()) == 27
    assert all(np.all(np.isfinite(v[0])) and math.isfinite(v[1]) and math.isfinite(v[2]) for v in table.values())
    np.testing.assert_allclose(table["label", "exact"][0], mt.label_noise_cov_lyapunov(A2, 1.0, 8, 0.8), rtol=1e-10)
    np.testing.assert_allclose(table["input", "exact"][0], mt.input_noise_cov_lyapunov(A2, B, [1, 0], 8, 0.8), rtol=1e-10)
    np.testing.assert_allclose(table["l2", "exact"][0], mt.l2_cov_lyapunov(A2, 0.3, [1, 0], 8, 0.8), rtol=1e-10)
    # the Hessian approximations miss the exact result (Table 2's message)
    assert table["label", "discrete"][0][0, 0] < 0.9 * table["label", "exact"][0][0, 0]
    assert table["label", "continuous"][0][0, 0] < table["label", "discrete"][0][0, 0]


# ---------------------------------------------------------------------------------------------- tail index


def test_tail_index_is_the_variance_inversion_of_theorem2():
    for lr_a in (0.2, 1.0, 1.8):
        for S in (5, 25, 185):
            var = mt.label_noise_var_1d(lr_a, 1.0, 1.0, S)
            if np.isfinite(var):
                assert mt.tail_index_from_variance(var, 1.0, 1.0) == pytest.approx(mt.tail_index(lr_a, S))
    np.testing.assert_allclose(mt.tail_index([0.2, 1.0, 1.8], 185), [1665, 185, 20.556], atol=1e-3)
    np.testing.assert_allclose(mt.tail_index_continuous(1.0, [5, 185]), [11, 371])
    assert mt.tail_index(1.8, 5) == pytest.approx(0.5556, abs=1e-4)        # < 2: infinite variance


def test_tail_density_is_normalised_with_the_stated_variance():
    a, sigma2, beta = 1.5, 0.7, 6.0
    w = np.linspace(-400, 400, 800_001)
    p = mt.tail_density(w, a, sigma2, beta)
    assert np.trapezoid(p, w) == pytest.approx(1.0, abs=1e-6)
    assert np.trapezoid(w * w * p, w) == pytest.approx(sigma2 / (a * (beta - 2)), rel=1e-3)
    q = (sigma2 + a * w**2) ** (-(1 + beta) / 2)
    np.testing.assert_allclose(p / q, p[0] / q[0], rtol=1e-9)              # p ∝ (sigma^2 + a w^2)^-(1+beta)/2


@pytest.mark.parametrize("nu", [3.0, 5.0, 10.0])
def test_t_mle_recovers_the_degrees_of_freedom(nu):
    rng = np.random.default_rng(int(nu))
    x = 0.4 * rng.standard_normal(300_000) / np.sqrt(rng.chisquare(nu, 300_000) / nu)
    assert mt.tail_index_t_mle(x) == pytest.approx(nu, rel=0.05)


def test_t_mle_of_gaussian_data_is_large_and_hill_recovers_a_pareto_index():
    rng = np.random.default_rng(7)
    assert mt.tail_index_t_mle(rng.standard_normal(200_000)) > 200
    alpha = 3.0
    x = rng.pareto(alpha, 400_000) + 1.0
    assert mt.tail_index_hill(x, k=4000) == pytest.approx(alpha, rel=0.05)
    with pytest.raises(ValueError):
        mt.tail_index_hill(x, k=0)


def _chi2_polynomial_moment(c, S, k):
    """E(1 − cX)^k for X ~ χ²_S from E X^j = S(S+2)...(S+2j−2)."""
    out = 0.0
    for j in range(k + 1):
        out += math.comb(k, j) * (-c) ** j * math.prod(S + 2 * i for i in range(j))
    return out


def test_exact_tail_moment_matches_the_polynomial_moments():
    for S, lr_a in ((3, 0.3), (25, 1.0), (185, 0.2), (5, 1.8), (1, 1.0)):
        for k in (1, 2, 4, 7):
            ref = _chi2_polynomial_moment(lr_a / S, S, k) if k % 2 == 0 else None
            got = math.exp(mt._log_abs_moment(float(k), lr_a / S, S))
            if ref is not None:
                assert got == pytest.approx(ref, rel=1e-9), (S, lr_a, k)


def test_exact_tail_exponent_solves_kesten_and_differs_from_the_student_t_law():
    # alpha = 2 exactly at the divergence lambda* a = 2S/(S + 2), where the Student-t beta is 2 as well
    for S in (3, 10, 40):
        assert mt.tail_index_exact(2 * S / (S + 2), S) == pytest.approx(2.0, rel=1e-7)
    # alpha = 4 where E M^4 = 1 (found from the polynomial moment by bisection)
    S, lo, hi = 10, 0.05, 2 * 10 / 12
    for _ in range(100):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if _chi2_polynomial_moment(mid / S, S, 4) < 1 else (lo, mid)
    assert mt.tail_index_exact(lo, S) == pytest.approx(4.0, rel=1e-7)
    # issue 13 / App. D.3: at a lambda = 0.3, S = 3 the exact exponent is 14.54 (scipy quad gives 14.5401040),
    # not the Student-t beta = 2S/(a lambda) - S = 17
    assert mt.tail_index_exact(0.3, 3) == pytest.approx(14.5401040, abs=1e-6)
    assert mt.tail_index(0.3, 3) == pytest.approx(17.0)
    for lr_a, S in ((0.3, 3), (1.0, 25), (1.8, 65), (0.2, 185)):
        alpha = mt.tail_index_exact(lr_a, S)
        assert mt._log_abs_moment(alpha, lr_a / S, S) == pytest.approx(0.0, abs=1e-6)
        assert alpha < mt.tail_index(lr_a, S)                   # the Student-t law overstates the tail index
    # beyond the divergence of the variance a stationary law still exists while E log|M| < 0, with alpha < 2
    assert 0 < mt.tail_index_exact(2.5, 5) < 2
    assert math.isnan(mt.tail_index_exact(50.0, 5))             # E log|M| > 0: no stationary law

