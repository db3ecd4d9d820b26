"""The compact ARIMA recovers known processes and forecasts as the closed forms say."""
import math

import numpy as np
import pytest

from repro.nn.arima import _normal_quantile, css_residuals, fit_arima


def simulate_arma(phi, theta, n, mu=0.0, sigma=1.0, seed=0, burn=500):
    rng = np.random.default_rng(seed)
    e = rng.normal(0, sigma, size=n + burn)
    z = np.zeros(n + burn)
    for t in range(n + burn):
        s = e[t]
        s += sum(phi[i] * z[t - 1 - i] for i in range(len(phi)) if t - 1 - i >= 0)
        s += sum(theta[j] * e[t - 1 - j] for j in range(len(theta)) if t - 1 - j >= 0)
        z[t] = s
    return z[burn:] + mu


def test_recovers_arma_2_1():
    w = simulate_arma([0.5, -0.3], [0.4], 6000, seed=1)
    res = fit_arima(w, (2, 0, 1))
    assert np.allclose(res.phi, [0.5, -0.3], atol=0.05)
    assert np.allclose(res.theta, [0.4], atol=0.05)
    assert abs(res.sigma2 - 1) < 0.05


def test_recovers_arima_1_1_1_with_drift_and_forecasts_linearly():
    w = simulate_arma([0.3], [-0.2], 6000, mu=0.05, sigma=0.5, seed=2)
    y = 10 + np.cumsum(w)
    res = fit_arima(y, (1, 1, 1), drift=True)
    assert abs(res.mu - 0.05) < 0.03 and abs(res.phi[0] - 0.3) < 0.08 and abs(res.theta[0] + 0.2) < 0.08
    mean, lo, hi = res.forecast(2000)
    slope = (mean[-1] - mean[999]) / 1000
    assert abs(slope - res.mu) < 1e-6                      # far out the forecast grows by mu per step
    assert np.all(lo < mean) and np.all(hi > mean) and np.all(np.diff(hi - lo) > 0)
    flat = fit_arima(y, (1, 1, 1), drift=False).forecast(2000)[0]
    assert abs(flat[-1] - flat[999]) < 1e-6                # without drift it levels off


def test_ar1_forecast_matches_closed_form():
    w = simulate_arma([0.8], [], 3000, mu=2.0, seed=3)
    res = fit_arima(w, (1, 0, 0), drift=True)
    h = np.arange(1, 21)
    mean, lo, hi = res.forecast(20)
    expect = res.mu + res.phi[0] ** h * (w[-1] - res.mu)
    assert np.allclose(mean, expect, atol=1e-9)
    se = math.sqrt(res.sigma2) * np.sqrt(np.cumsum(res.phi[0] ** (2 * (h - 1))))
    assert np.allclose((hi - lo) / 2, _normal_quantile(0.95) * se, rtol=1e-9)


def test_random_walk_interval_and_second_difference():
    rng = np.random.default_rng(4)
    y = np.cumsum(rng.normal(0, 1, size=2000))
    res = fit_arima(y, (0, 1, 0))
    mean, lo, hi = res.forecast(9)
    assert np.allclose(mean, y[-1])
    assert np.allclose((hi - lo) / 2, _normal_quantile(0.95) * math.sqrt(res.sigma2) * np.sqrt(np.arange(1, 10)))
    res2 = fit_arima(np.cumsum(y), (0, 2, 0))              # d = 2: a straight-line continuation
    m2 = res2.forecast(3)[0]
    yy = np.cumsum(y)
    assert np.allclose(np.diff(np.r_[yy[-2:], m2], 2), 0, atol=1e-8)
    assert abs(_normal_quantile(0.95) - 1.6448536) < 1e-6


def test_css_residuals_invert_the_simulation():
    rng = np.random.default_rng(5)
    e = rng.normal(size=300)
    z = np.zeros(300)
    for t in range(300):
        z[t] = e[t] + (0.6 * z[t - 1] if t else 0) + (0.3 * e[t - 1] if t else 0)
    r = css_residuals(z, np.array([0.6]), np.array([0.3]), 0.0)
    # with the pre-sample error set to 0 the residuals converge to the true errors geometrically
    assert abs(r[-1] - e[-1]) < 1e-10


@pytest.mark.parametrize("order", [(2, 1, 1), (2, 2, 1), (3, 1, 1), (2, 1, 2)])
def test_table_2_orders_fit_a_market_like_series(order):
    rng = np.random.default_rng(6)
    y = np.exp(np.cumsum(rng.normal(3e-4, 0.0115, size=6300))) * 0.13
    res = fit_arima(y, order, drift=order[1] == 1)
    mean, lo, hi = res.forecast(100)
    assert np.all(np.isfinite(mean)) and np.all(lo <= mean) and np.all(mean <= hi)
    assert abs(mean[0] - y[-1]) < 0.05
