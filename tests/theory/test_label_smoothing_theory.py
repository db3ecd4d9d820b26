"""repro/theory/label_smoothing.py against the catalog's values (label_smoothing.md, "Theory: the memorization
picture", fig=3 tiny check (1)), a direct numerical minimisation (scipy) and a Monte-Carlo memorizer."""
import numpy as np
import pytest
from scipy.integrate import quad
from scipy.optimize import minimize_scalar

from repro.theory import label_smoothing as ls

# the notebook's hard-coded γ table (K = 10), catalog "Reference values"
GAMMA_TABLE = {0.48: 0.5051, 0.50: 0.5995, 0.55: 0.729, 0.60: 0.8067, 0.70: 0.8985, 0.80: 0.9504, 0.90: 0.9819,
               0.99: 0.9989}


def test_beta_values_and_closed_forms():
    assert ls.beta(0.5) == pytest.approx(0.27778, abs=1e-5)
    assert np.allclose(ls.beta(np.array([0.2, 0.5, 0.8, 1.0])), [0.111, 0.278, 0.644, 1.0], atol=5e-4)
    a = np.linspace(0, 1, 11)
    assert np.allclose(ls.beta(a), (1 - 2 * a + 10 * a ** 2) / 9)
    assert np.array_equal(ls.alpha(a), a)


def test_gamma_catalog_values():
    assert ls.gamma(0.5) == pytest.approx(0.5995, abs=0.002)
    assert ls.gamma(0.8) == pytest.approx(0.9504, abs=0.002)
    for a, g in GAMMA_TABLE.items():     # the table has 3-4 decimals
        assert ls.gamma(a) == pytest.approx(g, abs=6e-4), a
    assert ls.gamma(0.47) == pytest.approx(0.1) and ls.gamma(0.3) == pytest.approx(0.1)


def test_gamma_jump_at_a_c():
    a_c, g_c = ls.gamma_jump()
    assert 0.475 <= a_c <= 0.480
    assert 0.45 < g_c < 0.51                           # first-order jump from 1/K to ~0.5
    # at a_c the two minima of G are equally deep
    assert ls.G(0.1, a_c) == pytest.approx(float(ls.G(g_c, a_c)), abs=1e-6)


def test_agnostic_is_the_mean_of_beta():
    mean, _ = quad(lambda a: float(ls.beta(a)), 0.1, 1.0)
    assert mean / 0.9 == pytest.approx(0.400, abs=1e-9) and ls.agnostic(10) == pytest.approx(0.4)
    for K in (2, 5, 100):
        m, _ = quad(lambda a: float(ls.beta(a, K)), 1 / K, 1.0)
        assert m / (1 - 1 / K) == pytest.approx(ls.agnostic(K), rel=1e-9)


@pytest.mark.parametrize("a", [0.3, 0.5, 0.6, 0.75, 0.9])
@pytest.mark.parametrize("K", [3, 10])
def test_minimisers_match_scipy_bounded_minimisation(a, K):
    """α and β are the minimisers of their losses, and γ the global one of G (scipy on each side of the jump)."""
    u = 1 / K
    for loss, want in ((ls.clean_ce, ls.alpha(a, K)), (ls.noisy_ce, ls.beta(a, K))):
        r = minimize_scalar(lambda p: float(loss(p, a, K)), bounds=(1e-6, 1 - 1e-9), method="bounded",
                            options={"xatol": 1e-10})
        assert r.x == pytest.approx(float(want), abs=1e-5)
    cands = [minimize_scalar(lambda p: float(ls.G(p, a, K)), bounds=b, method="bounded", options={"xatol": 1e-10})
             for b in ((u, 0.5), (0.3, 1.0), (u, 1.0))]
    best = min([u] + [c.x for c in cands], key=lambda p: float(ls.G(p, a, K)))
    assert ls.gamma(a, K) == pytest.approx(best, abs=1e-5)


def test_memorizer_monte_carlo_recovers_alpha_beta_gamma():
    """Sample the picture directly: a test point of class y gets the target of a same-class training point whose
    label is noisy; the empirical argmins over a p grid land within 0.02 of α, β, γ (fig=3 tiny check (2))."""
    rng = np.random.default_rng(0)
    K, n, ps = 10, 200_000, np.round(np.arange(0.10, 0.9951, 0.005), 3)   # q > 0
    for a in (0.6, 0.8):
        y = rng.integers(0, K, n)
        flip = rng.random(n) >= a
        ytil = np.where(flip, (y + rng.integers(1, K, n)) % K, y)                # uniform over the K-1 others
        flip2 = rng.random(n) >= a
        ytest_noisy = np.where(flip2, (y + rng.integers(1, K, n)) % K, y)
        same, same_noisy = (ytil == y).mean(), (ytil == ytest_noisy).mean()
        q = (1 - ps) / (K - 1)
        clean = -(same * np.log(ps) + (1 - same) * np.log(q))
        noisy = -(same_noisy * np.log(ps) + (1 - same_noisy) * np.log(q))
        smooth = same * -(ps * np.log(ps) + (K - 1) * q * np.log(q)) \
            + (1 - same) * -((ps + (K - 2) * q) * np.log(q) + q * np.log(ps))
        assert abs(ps[np.argmin(clean)] - ls.alpha(a)) <= 0.02
        assert abs(ps[np.argmin(noisy)] - ls.beta(a)) <= 0.02
        assert abs(ps[np.argmin(smooth)] - ls.gamma(a)) <= 0.02


def test_optimal_points_shapes():
    out = ls.optimal_points(np.array([0.5, 0.8]))
    assert set(out) == {"alpha", "beta", "gamma", "agnostic"} and all(v.shape == (2,) for v in out.values())
    assert np.allclose(out["gamma"], [ls.gamma(0.5), ls.gamma(0.8)])
