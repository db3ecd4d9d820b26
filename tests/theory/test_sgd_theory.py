"""Closed forms of arXiv 2012.03636 (repro.theory.sgd): cross-checks against the Lyapunov solver and every
reference value of the sgd_fluctuation catalog."""
import numpy as np
import pytest

from repro.theory import sgd
from repro.theory.lyapunov import sgdm_state_matrices, solve_state_dependent_lyapunov, stationary_cov_w

K = np.diag([1.0, 0.2])
C = np.array([[1.0, 0.3], [0.3, 0.5]])
LR = 0.8
I2 = np.eye(2)


# ---------------------------------------------------------------------------------------------- Method section


def test_thm4_cor2_cor3_match_lyapunov():
    sigma2, a = 0.7, 0.3
    np.testing.assert_allclose(sgd.thm4_cov(K, LR, sigma2, a), stationary_cov_w(K, sigma2 * I2 + a * K, LR), rtol=1e-12)
    np.testing.assert_allclose(sgd.cor2_cov(K, LR, a), stationary_cov_w(K, a * K, LR), rtol=1e-12)
    np.testing.assert_allclose(sgd.cor3_cov(K, LR, sigma2), stationary_cov_w(K, sigma2 * I2, LR), rtol=1e-12)


def test_continuous_time_is_the_small_lr_limit():
    C_diag = np.diag([1.0, 0.5])      # Σ_c = λ/(2(1−μ)) K⁻¹C solves ΣK + KΣ = λC/(1−μ) only when [C, K] = 0
    for mu in (0.0, 0.5):
        lr = 1e-4
        np.testing.assert_allclose(stationary_cov_w(K, C_diag, lr, mu), sgd.continuous_cov(K, C_diag, lr, mu),
                                   rtol=1e-3)
        assert sgd.thm5_train_loss(K, C, lr, mu) == pytest.approx(sgd.continuous_train_loss(C, lr, mu), rel=1e-3)


def test_stability_boundary_gives_inf():
    assert np.isinf(sgd.cor1_cov(K, C, 2.0, 0.0)).all()
    assert np.isfinite(sgd.cor1_cov(K, C, 2.75, 0.4)).all()
    assert sgd.thm5_train_loss(K, C, 4.0, 0.9) == np.inf       # λ k_max = 4 ≥ 2(1+μ) = 3.8
    assert sgd.var_white_discrete(2.0) == np.inf


@pytest.mark.parametrize("mu", [0.0, 0.5])
def test_dnm_matches_lyapunov(mu):
    Lam = LR * np.linalg.inv(K)
    Sigma = stationary_cov_w(K, C, Lam, mu)
    np.testing.assert_allclose(sgd.dnm_cov(K, C, LR, mu), Sigma, rtol=1e-12)
    assert sgd.dnm_train_loss(K, C, LR, mu) == pytest.approx(0.5 * np.trace(K @ Sigma), rel=1e-12)
    N, S = 1000, 100
    np.testing.assert_allclose(sgd.dnm_cov_minibatch(K, LR, mu, N, S),
                               stationary_cov_w(K, (N - S) / (N * S) * K, Lam, mu), rtol=1e-12)


@pytest.mark.parametrize("mu", [0.0, 0.5])
def test_ngd_constant_noise_is_self_consistent(mu):
    # Λ = λ J⁻¹ with J = KΣK frozen at the predicted Σ must reproduce Σ (also for [C, K] ≠ 0).
    Sigma = sgd.ngd_cov(K, C, LR, mu)
    Lam = LR * np.linalg.inv(K @ Sigma @ K)
    np.testing.assert_allclose(stationary_cov_w(K, C, Lam, mu), Sigma, rtol=1e-10)
    assert sgd.ngd_train_loss(K, C, LR, mu) == pytest.approx(0.5 * np.trace(K @ Sigma), rel=1e-12)


@pytest.mark.parametrize("mu", [0.0, 0.5])
def test_ngd_state_dependent_noise_is_self_consistent(mu):
    N, S = 1000, 100
    Sigma = sgd.ngd_cov_minibatch(K, LR, mu, N, S)
    Lam = LR * np.linalg.inv(K @ Sigma @ K)
    C_state = (N - S) / (N * S) * K @ Sigma @ K
    np.testing.assert_allclose(stationary_cov_w(K, C_state, Lam, mu), Sigma, rtol=1e-10)


@pytest.mark.parametrize("K_case", [np.diag([1.0, 0.2]), np.array([[1.0, 0.3], [0.3, 0.5]])])
def test_adam_model_is_self_consistent(K_case):
    c = 0.5
    Sigma = sgd.adam_cov(K_case, LR, c)
    C_state = c * K_case @ Sigma @ K_case
    ev, V = np.linalg.eigh(K_case @ Sigma @ K_case + C_state)
    Lam = LR * (V / np.sqrt(ev)) @ V.T
    np.testing.assert_allclose(stationary_cov_w(K_case, C_state, Lam, 0.0), Sigma, rtol=1e-10, atol=1e-14)
    assert sgd.adam_train_loss(K_case, LR, c) == pytest.approx(0.5 * np.trace(K_case @ Sigma), rel=1e-12)


def test_table1_earlier_expansions_are_second_order_accurate():
    """|exact − expansion| = O(λ³): halving λ divides the error by about 8."""
    mu, nu = 0.5, 0.7
    cases = [
        (lambda lr: sgd.thm5_train_loss(K, C, lr), lambda lr: sgd.sgd_train_loss_earlier(K, C, lr)),
        (lambda lr: sgd.thm5_train_loss(K, C, lr, mu), lambda lr: sgd.sgdm_train_loss_earlier(K, C, lr, mu)),
        (lambda lr: sgd.qhm_train_loss(K, C, lr, mu, nu), lambda lr: sgd.qhm_train_loss_earlier(K, C, lr, mu, nu)),
    ]
    for exact, earlier in cases:
        e1, e2 = abs(exact(0.02) - earlier(0.02)), abs(exact(0.01) - earlier(0.01))
        assert 6.0 < e1 / e2 < 10.0


def test_qhm_leading_order_sigma_is_lr_over_2():
    """Finding: the catalog's Table 1 gives λ/(2(1−μ)) K⁻¹C for QHM; the exact solution tends to λ/2 K⁻¹C."""
    lr, mu, nu = 1e-4, 0.5, 0.7
    C_diag = np.diag([1.0, 0.5])
    np.testing.assert_allclose(sgd.qhm_cov(K, C_diag, lr, mu, nu), sgd.qhm_cov_earlier(K, C_diag, lr), rtol=1e-3)
    assert not np.allclose(sgd.qhm_cov(K, C_diag, lr, mu, nu), sgd.continuous_cov(K, C_diag, lr, mu), rtol=0.1)


# ------------------------------------------------------------------------------------- figure reference values


def test_fig1_and_fig2_white_table():
    lk = np.array([0.1, 0.5, 1.0, 1.5, 1.9])
    np.testing.assert_allclose(sgd.var_white_discrete(lk), [5.263, 1.333, 1.000, 1.333, 5.263], atol=5e-4)
    np.testing.assert_allclose(sgd.var_white_continuous(lk), [5.0, 1.0, 0.5, 0.333, 0.263], atol=5e-4)
    assert sgd.var_white_discrete(1.5) / sgd.var_white_continuous(1.5) > 2.5
    # Unit weight-space noise = Cor 1 with C = 1/λ² (k = 1).
    for lr in (0.3, 1.7):
        assert sgd.var_white_discrete(lr) == pytest.approx(sgd.cor1_cov([[1.0]], [[1 / lr**2]], lr)[0, 0], rel=1e-12)


def test_fig2_minibatch_table_and_exact_theory():
    lk = np.array([0.5, 1.0, 1.5, 1.9])
    S = 100
    np.testing.assert_allclose(sgd.var_minibatch_hessian(lk, 1.0, S), [0.00333, 0.0100, 0.030, 0.190], rtol=2e-3)
    np.testing.assert_allclose(sgd.var_minibatch_continuous(lk, S), [0.0025, 0.005, 0.0075, 0.0095], rtol=1e-12)
    np.testing.assert_allclose(sgd.cor2_cov([[1.0]], 1.5, 1 / S)[0, 0], sgd.var_minibatch_hessian(1.5, 1.0, S))
    # Exact N → ∞ theory: λσ²/(2S − λk(S+2)), 0.306 at λk = 1.9, diverging at 2S/(S+2) = 1.96.
    assert sgd.var_minibatch_exact_fresh_sgd(1.9, 1.0, 1.0, S) == pytest.approx(0.306, abs=5e-4)
    assert sgd.var_minibatch_exact_fresh_sgd(1.97, 1.0, 1.0, S) == np.inf
    for lr in (0.5, 1.0, 1.9):
        exact = sgd.minibatch_exact_cov_fresh([[1.0]], 1.0, S, lr)[0, 0]
        assert exact == pytest.approx(sgd.var_minibatch_exact_fresh_sgd(lr, 1.0, 1.0, S), rel=1e-10)
    assert np.isinf(sgd.minibatch_exact_cov_fresh([[1.0]], 1.0, S, 1.97)).all()


@pytest.mark.parametrize("lr, expected", [(0.5, (1.333, 10.26)), (1.8, (2.778, 3.052)), (1.99, (50.25, 2.790))])
def test_fig3_white_sigma_disc(lr, expected):
    K3 = np.diag([1.0, 0.1])
    Sigma = sgd.cor1_cov(K3, np.eye(2) / lr**2, lr)
    np.testing.assert_allclose(np.diag(Sigma), expected, rtol=1e-3)
    np.testing.assert_allclose(sgd.continuous_cov(K3, np.eye(2) / lr**2, lr), np.linalg.inv(2 * lr * K3), rtol=1e-12)


def test_fig3_ellipse_shares():
    """Share of N(0, Σ_disc) inside the 3σ ellipses: 1 − e^{−4.5} = 0.989 for Σ_disc; for the continuous
    ellipse about 0.62 at λ = 1.8 and 0.16 at λ = 1.99 (Monte Carlo, 4·10⁵ samples, SE < 0.001)."""
    K3 = np.diag([1.0, 0.1])
    assert 1 - np.exp(-4.5) == pytest.approx(0.989, abs=5e-4)
    z = np.random.default_rng(0).standard_normal((400_000, 2))
    for lr, expected in [(1.8, 0.62), (1.99, 0.16)]:
        C3 = np.eye(2) / lr**2
        ratio = np.diag(sgd.cor1_cov(K3, C3, lr)) / np.diag(sgd.continuous_cov(K3, C3, lr))
        share = np.mean(z**2 @ ratio <= 9.0)
        assert share == pytest.approx(expected, abs=0.01)


@pytest.mark.parametrize("lr, expected", [(0.5, (0.00333, 0.00256)), (1.8, (0.090, 0.0099)), (1.99, (1.99, 0.011))])
def test_fig3_minibatch_cor2(lr, expected):
    np.testing.assert_allclose(np.diag(sgd.cor2_cov(np.diag([1.0, 0.1]), lr, 0.01)), expected, rtol=1e-2)


def test_fig4_white_momentum():
    lk = 2.75
    mus = np.array([0.5, 0.65, 0.8, 0.9])
    np.testing.assert_allclose(sgd.var_white_discrete(lk, mus), [4.364, 3.117, 3.850, 6.580], atol=5e-4)
    assert sgd.var_white_continuous(lk, 0.65) == pytest.approx(0.52, abs=5e-3)
    grid = np.linspace(0.38, 0.99, 61001)
    values = sgd.var_white_discrete(lk, grid)
    assert values.min() == pytest.approx(3.115, abs=5e-4)
    assert grid[values.argmin()] == pytest.approx(0.658, abs=1e-3)
    # Divergence at μ = (λk − 2)/2 = 0.375.
    assert sgd.var_white_discrete(lk, 0.375) == np.inf
    assert np.isfinite(sgd.var_white_discrete(lk, 0.376))


def test_fig4_minibatch_cor1_and_exact_theory():
    lr, S = 2.75, 100
    mus = [0.5, 0.65, 0.8]
    np.testing.assert_allclose(sgd.var_minibatch_hessian(lr, 1.0, S, np.array(mus)), [0.330, 0.236, 0.291], atol=1e-3)
    exact = [sgd.minibatch_exact_cov_fresh([[1.0]], 1.0, S, lr, mu)[0, 0] for mu in mus]
    np.testing.assert_allclose(exact, [0.971, 0.446, 0.697], atol=1e-3)
    assert sgd.var_minibatch_continuous(lr, S, 0.65) == pytest.approx(lr / (2 * S * 0.35))


@pytest.mark.parametrize("mu", [0.3, 0.5, 0.65, 0.8])
def test_exact_fresh_momentum_matches_thm2_of_minibatch_paper(mu):
    """Independent closed form (arXiv 2102.05375 Thm 2, 1-D, scalar λ):
    Σ = (σ²/S)(1 + κ/S) λ/g with g = 2(1−μ) − ((1−μ)/(1+μ) + 1/S)λa, κ = (λa/g)/(1 − λa/(gS))."""
    lr, a, sigma2, S = 2.75, 1.0, 1.0, 100
    g = 2 * (1 - mu) - ((1 - mu) / (1 + mu) + 1 / S) * lr * a
    kappa = (lr * a / g) / (1 - lr * a / (g * S))
    closed = sigma2 / S * (1 + kappa / S) * lr / g
    exact = sgd.minibatch_exact_cov_fresh([[a]], sigma2, S, lr, mu)[0, 0]
    if g > 0 and closed > 0:
        assert exact == pytest.approx(closed, rel=1e-10)
    else:
        assert exact == np.inf


def test_fig5_escaping_efficiency():
    K5, C5 = np.eye(2), np.eye(2)
    np.testing.assert_allclose(sgd.escaping_efficiency_discrete(K5, C5, 0.2, [1, 5, 30]), [0.0400, 0.0992, 0.1111],
                               atol=5e-5)
    np.testing.assert_allclose(sgd.escaping_efficiency_discrete(K5, C5, 1.85, [1, 5, 30]), [3.42, 9.91, 12.33],
                               atol=5e-3)
    assert sgd.escaping_efficiency_continuous_limit(C5, 0.2) == pytest.approx(0.100)
    assert sgd.escaping_efficiency_continuous_limit(C5, 1.85) == pytest.approx(0.925)
    for lr in (0.2, 1.85):
        t = np.arange(0, 200)
        E_d = sgd.escaping_efficiency_discrete(K5, C5, lr, t)
        E_c = sgd.escaping_efficiency_continuous(K5, C5, lr, t)
        assert np.all(E_d >= E_c - 1e-15)                                               # Cor 4
        assert E_d[-1] == pytest.approx(sgd.escaping_efficiency_discrete_limit(K5, C5, lr), rel=1e-9)
        assert E_c[-1] == pytest.approx(sgd.escaping_efficiency_continuous_limit(C5, lr), rel=1e-9)
    E_d30, E_c30 = sgd.escaping_efficiency_discrete(K5, C5, 1.85, 30), sgd.escaping_efficiency_continuous(K5, C5, 1.85, 30)
    assert E_d30 / E_c30 > 10
    # Non-diagonal K and C: E_d(1) = ½ E[λ²ηᵀKη] = λ²/2 Tr[KC] exactly.
    K_full, C_full = np.array([[1.0, 0.3], [0.3, 0.5]]), C
    expected = 0.7**2 / 2 * np.trace(K_full @ C_full)
    assert sgd.escaping_efficiency_discrete(K_full, C_full, 0.7, 1) == pytest.approx(expected)


def test_fig6_kramers_table():
    r = np.array([0.2, 0.5, 1.0, 1.5, 1.9])
    lr, S, l = 0.75, 1, 0.5
    gamma = sgd.kramers_rate_discrete(r, r, 1.1625 * r, l, lr, S) / r
    np.testing.assert_allclose(gamma, [0.0082, 0.0104, 0.0154, 0.0233, 0.0330], atol=6e-5)
    gamma_c = sgd.kramers_rate_continuous(r, r, 1.1625 * r, l, lr, S) / r
    np.testing.assert_allclose(gamma_c, 0.00717, atol=5e-6)       # independent of the scale r
    assert np.all(np.diff(gamma) > 0)
    # λ → 0: the discrete rate tends to the continuous one (erf → 1, λk_a → 0).
    small = sgd.kramers_rate_discrete(1.0, 1.0, 0.01, l, 1e-4, S)
    assert small == pytest.approx(sgd.kramers_rate_continuous(1.0, 1.0, 0.01, l, 1e-4, S), rel=1e-3)


def test_fig9_white_momentum_lk1():
    mus = np.array([0.0, 0.4, 0.8])
    np.testing.assert_allclose(sgd.var_white_discrete(1.0, mus), [1.000, 1.296, 3.462], atol=5e-4)
    np.testing.assert_allclose(sgd.var_white_continuous(1.0, mus), [0.5, 0.833, 2.5], atol=5e-4)
    grid = np.linspace(0, 0.9, 9001)
    gap = sgd.var_white_discrete(1.0, grid) - sgd.var_white_continuous(1.0, grid)
    assert gap.min() == pytest.approx(0.444, abs=5e-4)
    assert grid[gap.argmin()] == pytest.approx(0.25, abs=1e-3)


def test_fig9_minibatch_lk2():
    lr, S = 2.0, 100
    mus = np.array([0.2, 0.45, 0.8])
    np.testing.assert_allclose(sgd.var_minibatch_hessian(lr, 1.0, S, mus), [0.075, 0.0586, 0.1125], atol=1e-4)
    assert sgd.var_minibatch_hessian(lr, 1.0, S, 0.0) == np.inf
    # The catalog's exact N → ∞ theory relative to Cor 1: 1.14 / 1.13 / 1.23 at μ = 0.3 / 0.45 / 0.75.
    ratios = [sgd.minibatch_exact_cov_fresh([[1.0]], 1.0, S, lr, mu)[0, 0] / sgd.var_minibatch_hessian(lr, 1.0, S, mu)
              for mu in (0.3, 0.45, 0.75)]
    np.testing.assert_allclose(ratios, [1.14, 1.13, 1.23], atol=6e-3)


# ------------------------------------------------------------------------------------------ realised-data theory


def _data(N=1000, D=1, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N, D)) * np.sqrt([1.0, 0.1][:D])
    y = X @ np.ones(D) + rng.standard_normal(N)
    return X, y


def test_realised_data_theory_1d_is_cor1_with_data_moments():
    X, y = _data()
    S, lr = 100, 1.2
    rho = y - X[:, 0] * sgd.least_squares(X, y)[0]
    k_hat = np.mean(X[:, 0] ** 2)
    for sampling, f in [("subset", (1000 - S) / 999), ("replacement", 1.0)]:
        C_hat = f * np.mean(X[:, 0] ** 2 * rho**2) / S
        expected = sgd.cor1_cov([[k_hat]], [[C_hat]], lr)[0, 0]
        assert sgd.realised_data_cov(X, y, S, lr, sampling=sampling)[0, 0] == pytest.approx(expected, rel=1e-12)


def test_exact_finite_theory_limits():
    X, y = _data(D=2)
    # S = N without replacement is full-batch GD: no noise, no fluctuation.
    np.testing.assert_allclose(sgd.minibatch_exact_cov_finite(X, y, 1000, 1.0, sampling="subset"), 0.0, atol=1e-15)
    # Subset and replacement differ in the noise scale f only: with f·(1/S) equal, Σ is equal.
    S_rep = 100
    S_sub = 1000 * S_rep / (999 + S_rep)          # (N−S)/((N−1)S) = 1/S_rep
    np.testing.assert_allclose(sgd.minibatch_exact_cov_finite(X, y, S_sub, 1.0, sampling="subset"),
                               sgd.minibatch_exact_cov_finite(X, y, S_rep, 1.0, sampling="replacement"), rtol=1e-12)
    # Multiplicative noise raises Σ above the additive-only realised-data theory.
    exact = sgd.minibatch_exact_cov_finite(X, y, 100, 1.5, sampling="subset")
    additive = sgd.realised_data_cov(X, y, 100, 1.5, sampling="subset")
    assert np.all(np.diag(exact) > np.diag(additive))


def test_exact_finite_theory_approaches_fresh_theory_for_large_n():
    X, y = _data(N=200_000, seed=1)
    finite = sgd.minibatch_exact_cov_finite(X, y, 100, 1.5, mu=0.3, sampling="replacement")[0, 0]
    fresh = sgd.minibatch_exact_cov_fresh([[1.0]], 1.0, 100, 1.5, mu=0.3)[0, 0]
    assert finite == pytest.approx(fresh, rel=0.02)


def test_exact_fresh_theory_in_2d_is_the_lemma1_fixed_point():
    A = np.diag([1.0, 0.1])
    S, lr, mu = 10, 1.2, 0.4
    Sigma = sgd.minibatch_exact_cov_fresh(A, 1.0, S, lr, mu)
    C_fixed = (A @ Sigma @ A + np.trace(A @ Sigma) * A + A) / S
    np.testing.assert_allclose(stationary_cov_w(A, C_fixed, lr, mu), Sigma, rtol=1e-10)
    M, B = sgdm_state_matrices(A, lr, mu)
    P = solve_state_dependent_lyapunov(M, B, A / S, lambda Sig: (A @ Sig @ A + np.trace(A @ Sig) * A) / S)
    np.testing.assert_allclose(P[:2, :2], Sigma)


def test_kramers_ito_exact_prefactor_is_k_a_not_k_b():
    """The exact mean exit time of the Ito SDE dw = -L'dt + sqrt(lr |L''|/S) dW on the piecewise-quadratic well: its
    small-noise rate is k_a/2pi e^{-E} (Thm 9's |k_b|/2pi is off by k_a/|k_b|)."""
    import math

    for kb in (0.25, 4.0):
        args = (1.0, kb, 1.0, 0.5, 0.05, 1)
        exact = sgd.kramers_rate_ito_exact(*args)
        arrhenius = math.exp(-sgd.kramers_exponent(*args)) / (2 * math.pi)
        assert exact / (1.0 * arrhenius) == pytest.approx(1.0, abs=0.01)
        assert exact / (kb * arrhenius) == pytest.approx(1.0 / kb, rel=0.01)
    # k_a = |k_b| (the calibrated Fig 6 well): the continuous-time formula and the exact rate are 1% apart
    r = 1.0
    args = (r, r, 1.1625 * r, 0.5, 0.75, 1)
    assert sgd.kramers_rate_ito_exact(*args) / sgd.kramers_rate_continuous(*args) == pytest.approx(1.0, abs=0.02)


@pytest.mark.slow
def test_kramers_ito_exact_against_an_euler_maruyama_simulation():
    """An Euler-Maruyama simulation of the Ito SDE at a low barrier (k_a = 1, |k_b| = 4, E = 0.94): its mean exit
    time is the quadrature's (measured 1.04x: discrete monitoring of the exit misses excursions), while Thm 9's
    |k_b|/2pi prefactor makes the exit 2.4x too fast."""
    import math

    import torch

    k_a, k_b, barrier, l, lr, S, dt, runs = 1.0, 4.0, 0.15, 0.5, 0.2, 1, 1e-2, 2000
    exact = sgd.kramers_rate_ito_exact(k_a, k_b, barrier, l, lr, S)
    w_l = math.sqrt(2 * l * barrier / k_a)
    w_b = w_l + math.sqrt(2 * (1 - l) * barrier / k_b)
    g = torch.Generator().manual_seed(0)
    w = torch.zeros(runs, dtype=torch.float64)
    t_exit = torch.zeros(runs, dtype=torch.float64)
    alive = torch.ones(runs, dtype=torch.bool)
    t = 0.0
    while alive.any() and t < 500:
        a = w <= w_l
        drift = torch.where(a, -k_a * w, k_b * (w - w_b))
        sd = torch.sqrt(lr * torch.where(a, k_a, k_b) / S * dt)
        w = w + drift * dt + sd * torch.randn(runs, generator=g, dtype=torch.float64)
        t += dt
        out = alive & (w > 2 * w_b - w_l)
        t_exit[out] = t
        alive &= ~out
    assert not alive.any()
    mean = float(t_exit.mean())
    stderr = float(t_exit.std()) / math.sqrt(runs)
    assert abs(mean * exact - 1) < 3 * stderr / mean + 0.03     # the exact rate: within 3 sigma + Euler bias
    thm9_prefactor = sgd.kramers_rate_continuous(k_a, k_b, barrier, l, lr, S)
    assert mean * thm9_prefactor > 2.0                           # |k_b|/2pi: 2.4x too fast here
