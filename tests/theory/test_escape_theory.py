"""Closed forms of arXiv 2105.09557 (repro.theory.escape): the paper's formulas against each other and against
their definitions, the φ estimators on the paper's own stationary law, and the derived discrete-time references
against independent computations."""
import math

import numpy as np
import pytest

from repro.theory import escape as E


# ---------------------------------------------------------------------------------------------- paper's formulas


def test_phi_slope_and_critical_dimension_values():
    assert E.phi(1, 0.1) == pytest.approx(11.0)
    assert E.phi(4, 1.0, 2.0) == pytest.approx(3.0)
    assert E.temperature(2, 0.1, 1.0) == pytest.approx(0.05)
    # fig=3b: B = 1, eta = 0.1, h* = 1: slope 11 - d/2
    np.testing.assert_allclose(E.first_passage_slope(1, 0.1, 1.0, np.array([1, 2, 4, 8])), [10.5, 10.0, 9.0, 7.0])
    assert E.critical_dimension(1, 0.1) == pytest.approx(22.0)
    # at the critical dimension the exponent of c in the escape rate vanishes: escape no longer slows with c
    for B, lr, h in ((1, 0.1, 1.0), (3, 0.5, 0.7)):
        assert E.first_passage_slope(B, lr, h, E.critical_dimension(B, lr, h)) == pytest.approx(0.0, abs=1e-12)


def test_nd_escape_rate_reduces_to_1d():
    h_star, h_s, Ls, L0, B, lr = 1.3, -0.7, 2.5, 0.4, 2, 0.3
    k1 = E.escape_rate_1d(h_star, h_s, Ls, L0, B, lr)
    kn = E.escape_rate_nd(h_s, [[h_star]], [[h_s]], Ls, L0, B, lr, h_star)
    assert kn == pytest.approx(k1, rel=1e-12)
    # power law in c: doubling c multiplies the rate by 2^-(1/2 + B/(eta h*))
    assert E.escape_rate_1d(h_star, h_s, 2 * Ls, L0, B, lr) / k1 == pytest.approx(2 ** -(0.5 + B / (lr * h_star)))


def test_nd_escape_rate_exponent_and_prefactor():
    Hs, Hsad = np.diag([1.0, 1.0, 1.0]), np.diag([-0.5, 1.0, 1.0])
    B, lr, h = 1, 0.1, 1.0
    k = E.escape_rate_nd(-0.5, Hs, Hsad, 3.0, 1.0, B, lr, h)
    expected = 0.5 / (2 * math.pi) * math.sqrt(1.0 / 0.5) * 3.0 ** -(B / (lr * h) + 1 - 3 / 2)
    assert k == pytest.approx(expected, rel=1e-12)


def _linreg(N, d, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((N, d)), rng.standard_normal(N)


def test_noise_cov_mse_identity_and_decoupling_at_the_minimum():
    X, y = _linreg(200_000, 3)
    theta = np.linalg.lstsq(X, y, rcond=None)[0]
    r = X @ theta - y
    G = X * r[:, None]                                  # per-sample gradients of l = (theta x - y)^2 / 2
    loss = 0.5 * np.mean(r * r)
    H = X.T @ X / len(X)
    # (1/N) sum grad grad^T = (2/N) sum l_mu C_f^mu with C_f = x x^T
    np.testing.assert_allclose(G.T @ G / len(X), 2 * np.einsum("n,ni,nj->ij", 0.5 * r * r, X, X) / len(X), rtol=1e-10)
    B = 4
    exact = E.noise_cov_exact(G, B, sampling="replacement")
    decoupled = E.noise_cov_decoupled(loss, H, B)
    # at theta* the residual is independent of x, so decoupling holds up to sampling error (~1/sqrt(N))
    np.testing.assert_allclose(exact, decoupled, atol=0.02 * np.abs(decoupled).max())
    # away from theta* the multiplicative part of the true noise is twice the decoupled one for Gaussian x:
    # Var_mu(g) = (2 d^2 + 2 L*)/B against (2 L*/B + d^2/B) (d = 1, h = 1)
    x, yy = _linreg(400_000, 1, seed=1)
    t_star = float(np.mean(x[:, 0] * yy) / np.mean(x[:, 0] ** 2))
    delta = 1.5
    r = x[:, 0] * (t_star + delta) - yy
    Ls = 0.5 * np.mean((x[:, 0] * t_star - yy) ** 2)
    ex = E.noise_cov_exact((x[:, 0] * r)[:, None], 1, sampling="replacement")[0, 0]
    assert ex == pytest.approx(2 * delta**2 + 2 * Ls, rel=0.03)
    dec = E.noise_cov_decoupled(0.5 * np.mean(r * r), np.mean(x[:, 0] ** 2), 1)[0, 0]
    assert dec == pytest.approx(2 * Ls + delta**2, rel=0.02)


def test_noise_strength_is_the_trace_of_the_bracket():
    rng = np.random.default_rng(3)
    G = rng.standard_normal((500, 7)) + 0.3
    N, B = len(G), 10
    n = E.noise_strength((G * G).sum(1), G.mean(0))
    f = (N - B) / (N - 1)
    assert np.trace(E.noise_cov_exact(G, B, sampling="subset")) == pytest.approx(f / B * n, rel=1e-12)
    assert E.noise_strength_decoupled(0.3, 2.0) == pytest.approx(1.2)


# ---------------------------------------------------------------------------------------------- stationary law


@pytest.mark.parametrize("phi", [1.2, 3.0, 11.0])
def test_stationary_density_is_normalised_with_the_student_t_variance(phi):
    L0, h = 0.8, 1.3
    a = math.sqrt(2 * L0 / h)
    u = np.linspace(-4000 * a, 4000 * a, 4_000_001)
    p = E.stationary_density_1d(u + 0.2, 0.2, L0, h, phi)
    assert np.trapezoid(p, u) == pytest.approx(1.0, abs=2e-3 if phi < 1.5 else 1e-6)
    if phi > 1.5:
        assert np.trapezoid(p * u * u, u) == pytest.approx(a * a / (2 * phi - 3), rel=1e-3)
    # the density is a power of the loss: P(u) / P(0) = (L(u)/L*)^(-phi)
    L = L0 + h * u[::100000] ** 2 / 2
    np.testing.assert_allclose(p[::100000] / p[len(u) // 2], (L / L0) ** -phi, rtol=1e-10)
    with pytest.raises(ValueError):
        E.stationary_density_1d(0.0, 0.0, L0, h, 0.5)


@pytest.mark.parametrize("phi", [4.0, 11.0, 21.0])
def test_estimators_recover_phi_from_the_papers_law(phi):
    """Samples from P ∝ L^-phi (a Student t with nu = 2 phi - 1 and scale a / sqrt(nu)): both estimators return
    phi, so their deviation on SGD samples (fig=3a) is a property of SGD, not of the estimators."""
    L0, h, theta_star = 0.5, 1.0, 0.3
    a = math.sqrt(2 * L0 / h)
    nu = 2 * phi - 1
    rng = np.random.default_rng(0)
    samples = theta_star + rng.standard_t(nu, size=400_000) * a / math.sqrt(nu)
    assert E.phi_moment(samples, theta_star, L0, h) == pytest.approx(phi, rel=0.03)
    assert E.phi_loghist(samples, theta_star, L0, h) == pytest.approx(phi, rel=0.03)


def test_linreg_minimum_1d():
    x, y = _linreg(1000, 1, seed=5)
    t, L0, h = E.linreg_minimum_1d(x, y)
    ts = np.linspace(t - 1, t + 1, 201)
    losses = [0.5 * np.mean((s * x[:, 0] - y) ** 2) for s in ts]
    assert ts[int(np.argmin(losses))] == pytest.approx(t, abs=1e-2)
    assert min(losses) == pytest.approx(L0, rel=1e-6)
    # L(theta) = L* + h (theta - theta*)^2 / 2 exactly
    assert losses[0] == pytest.approx(L0 + h * (ts[0] - t) ** 2 / 2, rel=1e-10)


# ---------------------------------------------------------------------------------------------- derived references


def test_exact_moment_phi_gaussian_closed_form():
    x, y = _linreg(400_000, 1, seed=2)
    for B, lr in ((1, 0.1), (2, 0.1), (5, 0.1), (3, 0.5), (5, 1.0)):
        assert E.phi_moment_exact(x, y, B, lr) == pytest.approx(float(E.phi_moment_gaussian(B, lr)), rel=0.02)
    assert float(E.phi_moment_gaussian(1, 0.1)) == pytest.approx(10.0)      # the catalog's measured 10.0 (paper: 11)
    assert float(E.phi_moment_gaussian(2, 0.1)) == pytest.approx(19.5)
    # infinite variance (eta (1 + 2/B) >= 2): the moment estimator's floor
    assert E.phi_moment_exact(x, y, 1, 1.0) == 1.5 and float(E.phi_moment_gaussian(2, 1.0)) == 1.5
    # small eta: the discrete-time correction vanishes relative to B/eta
    assert float(E.phi_moment_gaussian(1, 1e-4)) / float(E.phi(1, 1e-4)) == pytest.approx(1.0, rel=1e-3)


def test_exact_stationary_var_matches_the_scalar_recursion():
    """d = 1 with replacement: E d'^2 = E(1 - eta a)^2 E d^2 + eta^2 E c^2 with a = mean_B x^2, c = mean_B x rho."""
    x, y = _linreg(5000, 1, seed=4)
    x = x[:, 0]
    t, _, h = E.linreg_minimum_1d(x, y)
    rho = y - t * x
    for B, lr in ((1, 0.1), (3, 0.7)):
        m2 = 1 - 2 * lr * h + lr**2 * (h * h + np.var(x * x) / B)
        noise = lr**2 * np.mean(x * x * rho * rho) / B
        assert E.exact_stationary_var_1d(x, y, B, lr) == pytest.approx(noise / (1 - m2), rel=1e-8)


def _kesten_moment_root(B, alpha_int):
    """eta with E(1 - eta a)^alpha = 1 for integer alpha, a = chi2_B / B (moments E a^k = prod (1 + 2j/B))."""
    moments = [1.0]
    for k in range(1, alpha_int + 1):
        moments.append(moments[-1] * (1 + 2 * (k - 1) / B))
    # sum_k binom(alpha, k) (-eta)^k E a^k - 1 = 0, divided by eta
    coeffs = [math.comb(alpha_int, k) * (-1) ** k * moments[k] for k in range(1, alpha_int + 1)]
    roots = np.roots(coeffs[::-1])
    real = sorted(r.real for r in roots if abs(r.imag) < 1e-12 and r.real > 0)
    return real[0]


@pytest.mark.parametrize("B,alpha", [(2, 2), (4, 2), (1, 4), (3, 4), (2, 6)])
def test_kesten_exponent_solves_the_moment_equation(B, alpha):
    lr = _kesten_moment_root(B, alpha)
    assert E.kesten_tail_exponent(B, lr) == pytest.approx(alpha, rel=2e-3)
    # alpha = 2 is where the second moment diverges: eta (1 + 2/B) = 2
    if alpha == 2:
        assert lr == pytest.approx(2 / (1 + 2 / B))


def test_kesten_tail_lies_below_the_papers_phi():
    for B in (1, 3, 5):
        for lr in (0.1, 0.5, 1.0):
            assert E.phi_kesten_tail(B, lr) < float(E.phi(B, lr))
    # no stationary law when E log|1 - eta a| >= 0 (eta = 3, B = 1: |1 - 3 x^2| is mostly > 1)
    assert math.isnan(E.kesten_tail_exponent(1, 3.0))
