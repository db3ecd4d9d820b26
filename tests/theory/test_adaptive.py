"""Theorem 1 of adam_variance: closed forms vs the exact 1-D integrals vs Monte Carlo (fixed seeds)."""
import math

import numpy as np
import pytest
import torch

from repro.sim.adaptive import simulate_updates, simulate_updates_loop
from repro.theory import adaptive as A

# catalog, Cor. 2 values [derived]
COR2 = {1: 0.0, 2: 0.18943, 3: 0.25, 4: 0.27949, 5: 0.29687, 10: 0.33080, 15: 0.34182, 20: 0.34727, 29: 0.35231,
        30: 0.35268, 100: 0.36019}


@pytest.mark.parametrize("m", sorted(COR2))
def test_cor2_values_and_both_printed_forms(m):
    assert A.var_abs(m) == pytest.approx(COR2[m], abs=1e-5)
    if m >= 2:
        assert A.var_abs_paper_form(m) == pytest.approx(A.var_abs(m), abs=1e-12)
    assert A.var_abs(m) < 1 - 2 / math.pi


@pytest.mark.parametrize("m", [2, 3, 4, 5, 10, 29, 100])
def test_density_mass_variance_and_integrals(m):
    assert A.density_moment(m, 0) == pytest.approx(1, abs=1e-6)
    assert A.density_moment(m, 2) == pytest.approx(A.var_update(m), abs=1e-6)
    assert A.density_moment(m, 4) - 1 == pytest.approx(A.var_square(m), abs=1e-5)
    ex = A.step_moments(m)                       # the integral route, independent of Eq. 30
    assert ex["second_moment"] == pytest.approx(1, abs=1e-6)
    assert ex["var_abs"] == pytest.approx(A.var_abs(m), abs=1e-6)
    assert ex["mean"] == pytest.approx(0, abs=1e-9)


def test_special_shapes_are_the_corrected_misprints():
    u = np.linspace(-1.7, 1.7, 11)
    assert np.allclose(A.density(u, 3), 1 / (2 * math.sqrt(3)), atol=1e-14)           # not 1/(2 sqrt2) (Eq. 33)
    assert A.density(np.array([1.5]), 3)[0] == pytest.approx(1 / (2 * math.sqrt(3)))  # support is sqrt3, not sqrt2
    v = np.linspace(-1.4, 1.4, 9)
    assert np.allclose(A.density(v, 2), 1 / (math.pi * np.sqrt(2 - v**2)), rtol=1e-12)  # not 1/(pi sqrt(1-u^2))
    assert A.density(np.array([0.0]), 2)[0] == pytest.approx(0.2251, abs=1e-4)
    assert A.density(np.array([2.01]), 4)[0] == 0.0


@pytest.mark.parametrize("m", [2, 3, 4, 10])
def test_cdf_is_the_beta_cdf(m):
    u = np.linspace(-math.sqrt(m), math.sqrt(m), 4001)
    f = A.density(u, m)
    c = A.cdf(u, m)
    assert c[0] == pytest.approx(0, abs=1e-9) and c[-1] == pytest.approx(1, abs=1e-9)
    assert A.cdf(np.array([0.0]), m)[0] == pytest.approx(0.5, abs=1e-9)
    if m >= 3:   # numerical derivative of the CDF equals Eq. 30 away from the edges
        mid = slice(200, -200)
        d = np.gradient(c, u)
        assert np.allclose(d[mid], f[mid], atol=2e-4)


@pytest.mark.parametrize("beta2,t,ref", [(0.9, 2, 0.1778), (0.9, 5, 0.2644), (0.9, 1000, 0.2964), (0.99, 10, 0.3261),
                                         (0.999, 3, 0.2498), (0.999, 100, 0.3595)])
def test_integrals_reproduce_the_catalog_table(beta2, t, ref):
    assert A.step_moments(t, "rmsprop", beta2=beta2)["var_abs"] == pytest.approx(ref, abs=1.5e-4)


def test_integrals_nonzero_mean_and_momentum():
    r = A.step_moments(3, "rmsprop", beta2=0.99, mean=0.5)
    assert r["var_abs"] == pytest.approx(0.246, abs=1e-3) and r["mean"] == pytest.approx(0.428, abs=1e-3)
    r = A.step_moments(10, "rmsprop", beta2=0.99, mean=2.0)
    assert r["var_abs"] == pytest.approx(0.172, abs=1e-3) and r["mean"] == pytest.approx(0.900, abs=1e-3)
    assert A.step_moments(10, "adam_bc", 0.9, 0.999)["var_abs"] == pytest.approx(0.0360, abs=1e-4)
    assert A.step_moments(5, "rmsprop", beta2=0.9)["second_moment"] == pytest.approx(0.946, abs=1e-3)


@pytest.mark.parametrize("m", [2, 3, 10, 29])
def test_monte_carlo_matches_theorem1(m):
    g = torch.Generator().manual_seed(0)
    n = 100_000
    u = simulate_updates(n, m, "rmsprop_avg", generator=g)[-1].numpy()
    assert np.abs(u).max() <= math.sqrt(m) + 1e-12
    se2 = math.sqrt(A.var_square(m) / n)                       # standard error of the mean of u^2
    assert np.mean(u**2) == pytest.approx(1, abs=5 * se2 + 1e-12)
    assert np.var(np.abs(u)) == pytest.approx(A.var_abs(m), abs=0.006)
    x = np.sort(u)
    ks = np.max(np.abs(A.cdf(x, m) - np.arange(1, n + 1) / n))
    assert ks < 1.63 / math.sqrt(n)                              # 1% level of the KS statistic
    # a wrong formula (the paper's misprinted m = 3 support sqrt2, or c = m - 1) is caught:
    assert np.mean(np.abs(u) > math.sqrt(2)) > 0.05 or m < 3
    assert abs(np.mean(u**2) - A.second_moment_unbiased(m)) > 5 * se2


def test_monte_carlo_matches_the_integrals_for_finite_beta_mean_and_momentum():
    n = 100_000
    cases = [dict(variant="rmsprop", beta2=0.9, t=5), dict(variant="adam_bc", beta1=0.9, beta2=0.999, t=5),
             dict(variant="rmsprop_avg", t=5, mean=-1.0), dict(variant="rmsprop_avg", t=5, std=lambda k: k)]
    for i, c in enumerate(cases):
        c = dict(c)
        t = c.pop("t")
        ex = A.step_moments(t, c.get("variant"), c.get("beta1", 0.0), c.get("beta2", 0.999), c.get("mean", 0.0),
                            c.get("std", 1.0))
        u = simulate_updates(n, t, generator=torch.Generator().manual_seed(i), **c)[-1].numpy()
        sd = math.sqrt(np.var(u**2) / n)
        assert np.mean(u**2) == pytest.approx(ex["second_moment"], abs=5 * sd), c
        assert np.mean(u) == pytest.approx(ex["mean"], abs=5 * math.sqrt(np.var(u) / n)), c
        assert np.var(np.abs(u)) == pytest.approx(ex["var_abs"], abs=0.01), c


def test_batched_equals_loop_in_law_and_cauchy_keeps_cor1():
    ref = simulate_updates_loop(2000, 4, torch.Generator().manual_seed(1))[-1].numpy()
    assert np.abs(ref).max() <= 2 + 1e-12 and np.mean(ref**2) == pytest.approx(1, abs=0.06)
    u = simulate_updates(100_000, 10, dist="cauchy", generator=torch.Generator().manual_seed(2))[-1].numpy()
    assert np.mean(u**2) == pytest.approx(1, abs=0.01)
