"""Closed forms of repro.theory.laprop against the catalog (laprop.md, "Derived properties", fig=1) and against
the real optimizers driven by repro.sim.single_impulse."""
import math

import numpy as np
import pytest
import torch

from repro.optim import Adam, LaProp
from repro.sim.single_impulse import simulate_single_impulse, simulate_single_impulse_grid
from repro.theory.laprop import (
    adam_single_impulse_steps,
    adam_step_bound,
    laprop_single_impulse_steps,
    laprop_step_bound,
    laprop_total_displacement_K,
)

MUS = [0.0, 0.5, 0.8, 0.9, 0.95, 0.99]
NUS = [0.1, 0.3, 0.5, 0.7, 0.81, 0.9, 0.99, 0.999]
T, EPS = 400, 1e-8

# Catalog table (mu = 0.9, G = 1, eps = 1e-8, lr = 1, 400 steps):
# nu: (Adam max step, its t, Adam total, LaProp max, LaProp total), as printed (3 significant digits).
TABLE = {
    0.999: (1, 1, 6.01, 1, 3.01),
    0.9: (1, 1, 8.45, 1, 3.01),
    0.81: (1, 1, 42.0, 1, 3.01),
    0.5: (2.22e4, 56, 4.58e5, 1, 3.01),
    0.1: (1.59e6, 19, 1.97e7, 1, 3.01),
}


def as_printed(x):
    """x rounded to 3 significant digits, as in the catalog's table."""
    return float(f"{x:.3g}")


@pytest.mark.parametrize("source", ["closed_form", "optimizer"])
@pytest.mark.parametrize("nu", list(TABLE))
def test_single_impulse_table(nu, source):
    if source == "closed_form":
        adam = adam_single_impulse_steps(0.9, nu, T, eps=EPS)
        laprop = laprop_single_impulse_steps(0.9, nu, T, eps=EPS)
    else:
        adam = simulate_single_impulse("adam", 0.9, nu, T, eps=EPS)
        laprop = simulate_single_impulse("laprop", 0.9, nu, T, eps=EPS)
    adam_max, adam_t, adam_total, laprop_max, laprop_total = TABLE[nu]
    assert as_printed(adam.max()) == adam_max
    assert adam.argmax() + 1 == adam_t
    assert as_printed(adam.sum()) == adam_total
    assert as_printed(laprop.max()) == laprop_max
    assert as_printed(laprop.sum()) == laprop_total


@pytest.mark.parametrize("mu,K,tol", [(0.8, 2.38926, 5e-6), (0.9, 3.00961, 5e-6), (0.99, 5.206, 5e-4), (0.0, 1.0, 0)])
def test_laprop_total_displacement_K(mu, K, tol):
    assert laprop_total_displacement_K(mu) == pytest.approx(K, abs=tol)


def test_K_is_the_long_run_total_of_the_optimizer():
    steps = simulate_single_impulse("laprop", 0.9, 0.5, 2000, eps=EPS)
    assert steps.sum() == pytest.approx(laprop_total_displacement_K(0.9) / (1 + EPS), rel=1e-12)


def _nonzero_close(actual, expected, rtol):
    np.testing.assert_array_equal(actual == 0, expected == 0)
    nonzero = expected != 0
    np.testing.assert_allclose(actual[nonzero], expected[nonzero], rtol=rtol, atol=0)


@pytest.mark.parametrize("name,closed_form", [("adam", adam_single_impulse_steps),
                                              ("laprop", laprop_single_impulse_steps)])
def test_closed_form_equals_optimizer_on_the_grid(name, closed_form):
    # The closed forms hold for any eps (g_t = 0 after the impulse), so they match everywhere to rounding.
    for mu in MUS:
        for nu in NUS:
            _nonzero_close(simulate_single_impulse(name, mu, nu, T, eps=EPS), closed_form(mu, nu, T, eps=EPS), 1e-9)


@pytest.mark.parametrize("mu", MUS)
def test_eps_zero_closed_form_matches_where_eps_is_negligible(mu):
    for nu in NUS:
        simulated = simulate_single_impulse("adam", mu, nu, T, eps=EPS)
        t = np.arange(1, T + 1)
        rms = np.sqrt((1 - nu) * nu ** (t - 1) / (1 - nu**t))  # sqrt(n_t / c_n) for G = 1
        negligible = EPS < 1e-7 * rms
        assert negligible[:2].all()
        np.testing.assert_allclose(simulated[negligible], adam_single_impulse_steps(mu, nu, T)[negligible],
                                   rtol=1e-6, atol=0)
        np.testing.assert_allclose(simulate_single_impulse("laprop", mu, nu, T, eps=EPS),
                                   laprop_single_impulse_steps(mu, nu, T), rtol=1e-6, atol=0)


def test_eps_stops_adams_growth_only_when_mu_exceeds_sqrt_nu():
    with_eps = adam_single_impulse_steps(0.9, 0.5, T, eps=EPS)
    without = adam_single_impulse_steps(0.9, 0.5, T, eps=0.0)
    assert without[-1] > 1e30 and with_eps[-1] < 1e-3  # (mu / sqrt(nu))^t growth vs decay once sqrt(n_t) < eps
    # So the eps = 0 formula has no peak: at eps = 1e-8's peak (t = 56) it is already 3.7x larger.
    assert with_eps.argmax() == 55 and without[55] > 3 * with_eps[55]
    np.testing.assert_allclose(adam_single_impulse_steps(0.9, 0.999, T, eps=EPS),
                               adam_single_impulse_steps(0.9, 0.999, T), rtol=1e-6)
    # At mu = sqrt(nu) the steps level off at (1 - mu) / sqrt(1 - nu) (before eps takes over).
    assert adam_single_impulse_steps(0.9, 0.81, T)[-1] == pytest.approx(0.1 / math.sqrt(0.19), rel=1e-6)


@pytest.mark.parametrize("name", ["adam", "amsgrad", "laprop"])
def test_batched_grid_equals_per_cell_optimizer(name):
    grid = simulate_single_impulse_grid(name, MUS, NUS, T, eps=EPS)
    assert grid.shape == (len(MUS), len(NUS), T)
    for i, mu in enumerate(MUS):
        for j, nu in enumerate(NUS):
            _nonzero_close(grid[i, j], simulate_single_impulse(name, mu, nu, T, eps=EPS), 1e-10)


def test_fig1_claim_on_adam_total_displacement():
    totals = simulate_single_impulse_grid("adam", MUS, NUS, T, eps=EPS).sum(axis=-1)
    mu, nu = np.asarray(MUS)[:, None], np.asarray(NUS)[None, :]
    matched = np.broadcast_to(mu < np.sqrt(nu) - 0.02, totals.shape)
    mismatched = np.broadcast_to(mu / np.sqrt(nu) > 1.2, totals.shape)
    assert matched.sum() > 20 and mismatched.sum() > 10
    assert totals[matched].max() < 100
    assert totals[mismatched].min() > 1e3
    assert as_printed(totals[mismatched].min()) == 2.26e3
    assert totals[MUS.index(0.5), NUS.index(0.1)] == totals[mismatched].min()


def test_laprop_single_impulse_max_step_within_bound_on_the_grid():
    max_steps = simulate_single_impulse_grid("laprop", MUS, NUS, T, eps=EPS).max(axis=-1)
    bounds = np.array([laprop_step_bound(nu) for nu in NUS])
    assert (max_steps <= bounds[None, :]).all()


def _cauchy_grads(seed, steps=300, size=64):
    gen = torch.Generator().manual_seed(seed)
    return [torch.tan(math.pi * (torch.rand(size, generator=gen, dtype=torch.float64) - 0.5)) for _ in range(steps)]


def _max_steps(optimizer, x, grads):
    steps = []
    for g in grads:
        before = x.detach().clone()
        x.grad = g
        optimizer.step()
        steps.append((x.detach() - before).abs().max().item())
    return max(steps)


@pytest.mark.parametrize("mu", MUS)
def test_laprop_step_bound_under_heavy_tailed_gradients(mu):
    grads = _cauchy_grads(seed=0)
    for nu in NUS:
        x = torch.zeros(64, dtype=torch.float64, requires_grad=True)
        max_step = _max_steps(LaProp([x], lr=1e-3, betas=(mu, nu), eps=0.0), x, grads)
        assert max_step <= 1e-3 * laprop_step_bound(nu) * (1 + 1e-12)


@pytest.mark.parametrize("nu", [0.1, 0.5, 0.9, 0.99])
def test_laprop_step_bound_is_tight_at_mu_zero(nu):
    # Tiny gradients then a large one: n_t ~ (1 - nu) g_t^2, c_n ~ 1, so |g^_t| ~ 1 / sqrt(1 - nu).
    x = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    grads = [torch.full((1,), 1e-9, dtype=torch.float64)] * 3000 + [torch.ones(1, dtype=torch.float64)]
    assert _max_steps(LaProp([x], lr=1.0, betas=(0.0, nu), eps=0.0), x, grads) == pytest.approx(
        laprop_step_bound(nu), rel=1e-6)


def test_adam_step_bound():
    grads = _cauchy_grads(seed=1)
    checked = 0
    for mu in MUS:
        for nu in NUS:
            bound = adam_step_bound(mu, nu)
            if mu * mu >= nu:
                assert bound == math.inf
                continue
            assert bound >= 1.0  # the first step is exactly lr
            x = torch.zeros(64, dtype=torch.float64, requires_grad=True)
            assert _max_steps(Adam([x], lr=1.0, betas=(mu, nu), eps=0.0), x, grads) <= bound * (1 + 1e-12)
            assert adam_single_impulse_steps(mu, nu, T).max() <= bound * (1 + 1e-12)
            checked += 1
    assert checked > 20
    # Above the line mu = sqrt(nu) the eps = 0 single impulse alone exceeds any bound.
    assert adam_single_impulse_steps(0.5, 0.2, T).max() > 1e10
    assert adam_step_bound(0.9, 0.999) == pytest.approx(0.1 / math.sqrt(0.001 * (1 - 0.81 / 0.999)), rel=1e-9)
