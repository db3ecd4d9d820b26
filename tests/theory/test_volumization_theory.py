"""The bias-variance toy of volumization (repro/theory/volumization.py) against Monte Carlo, within a few
standard errors, and against the catalog's alpha = 0 formula and its limits."""
import numpy as np
import pytest
import torch

from repro.optim import volumize_
from repro.theory.volumization import clip_moments_catalog, volumized_moments, volumized_monte_carlo

VS = np.array([0.0, 0.05, 0.3, 0.7, 1.0, 1.4, 2.5])


@pytest.mark.parametrize("alpha", [0.0, 0.5, -1.0, 0.9])
@pytest.mark.parametrize("w_star,s", [(1.0, 0.5), (-0.3, 1.2)])
def test_closed_form_matches_monte_carlo_within_five_standard_errors(alpha, w_star, s):
    th = volumized_moments(VS, w_star, s, alpha)
    mc = volumized_monte_carlo(VS, w_star, s, alpha, n=200_000, rng=np.random.default_rng(1))
    for key, se in (("mean", "se_mean"), ("var", "se_var"), ("mse", "se_mse")):
        z = np.abs(th[key] - mc[key]) / np.maximum(mc[se], 1e-300)
        ok = (z < 5) | (mc[se] == 0) & np.isclose(th[key], mc[key], atol=1e-12)
        assert ok.all(), (key, z)


def test_monte_carlo_catches_a_wrong_formula():
    """The tolerance has teeth: the closed form of another alpha is rejected."""
    th = volumized_moments(VS[1:], 1.0, 0.5, 0.4)
    mc = volumized_monte_carlo(VS[1:], 1.0, 0.5, 0.5, n=200_000, rng=np.random.default_rng(2))
    assert (np.abs(th["mean"] - mc["mean"]) / mc["se_mean"]).max() > 5


def test_alpha_zero_is_the_catalog_formula():
    V = np.linspace(0, 4, 41)
    for w_star, s in ((1.0, 0.5), (0.2, 2.0), (-1.5, 0.7)):
        th = volumized_moments(V, w_star, s, 0.0)
        m1, m2 = clip_moments_catalog(V, w_star, s)
        np.testing.assert_allclose(th["mean"], m1, atol=1e-12)
        np.testing.assert_allclose(th["second"], m2, atol=1e-12)
        assert (th["var"] <= V ** 2 + 1e-12).all() and (th["var"] <= s ** 2 + 1e-12).all()


def test_limits():
    w_star, s = 1.0, 0.5
    big = volumized_moments(50.0, w_star, s, 0.3)                      # V -> inf: the unregularised estimate
    assert big["bias"] == pytest.approx(0, abs=1e-12) and big["var"] == pytest.approx(s ** 2)
    inf = volumized_moments(np.inf, w_star, s, 0.3)
    assert inf["mse"] == pytest.approx(s ** 2) and inf["mean"] == pytest.approx(w_star)
    for alpha in (0.0, 0.5, 0.9):                                      # V = 0: alpha w^
        zero = volumized_moments(0.0, w_star, s, alpha)
        assert zero["mean"] == pytest.approx(alpha * w_star) and zero["var"] == pytest.approx(alpha ** 2 * s ** 2)


def test_monte_carlo_uses_the_optimizer_step():
    """The toy's f is repro.optim's volumize_ (the same map the optimizer applies)."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal(1000) * 2
    for alpha in (0.0, 0.5, -1.0):
        t = torch.tensor(x)
        volumize_(t, 0.8, alpha)
        want = np.where(np.abs(x) > 0.8, np.sign(x) * (alpha * np.abs(x) + (1 - alpha) * 0.8), x)
        np.testing.assert_allclose(t.numpy(), want, atol=1e-14)
