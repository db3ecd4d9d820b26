"""Closed forms for "Volumization as a Natural Generalization of Weight Decay" (Liu Ziyin, Zihao Wang, Makoto
Yamada, Masahito Ueda; arXiv 2003.11243). Spec: ../shared/catalog/volumization.md, "Theory toy: bias-variance" and
fig=18 (the paper's exact toy is unknown: this is the catalog's [derived] proposal, generalised to any alpha).

The toy: a 1-D estimate w^ ~ N(w*, s^2) (the unregularised fit), put through one volumization step of volume V and
wall parameter alpha (repro.optim.volumization.volumize_):

    f(w^) = w^                          |w^| <= V
          = alpha w^ + (1 - alpha) V    w^ >  V
          = alpha w^ - (1 - alpha) V    w^ < -V

Its mean and second moment follow from the partial moments of the normal on the three intervals,
M_k(l, u) = E[w^^k 1{l < w^ <= u}], with z = (x - w*)/s and Phi, phi the standard normal CDF and density:

    M_0 = Phi(z_u) - Phi(z_l)
    M_1 = w* M_0 + s (phi(z_l) - phi(z_u))
    M_2 = (w*^2 + s^2) M_0 + 2 w* s (phi(z_l) - phi(z_u)) + s^2 (z_l phi(z_l) - z_u phi(z_u))

At alpha = 0 (clipping to [-V, V]) this is the catalog's formula (`clip_moments_catalog`, kept verbatim as a check);
bias = E f - w*, Var = E f^2 - (E f)^2 <= min(V^2, s^2) there, MSE = bias^2 + Var. Checked against Monte Carlo in
tests/theory/test_volumization_theory.py.
"""
from __future__ import annotations

import numpy as np
from scipy.stats import norm


def _partial_moments(lo, hi, w_star, s):
    """(M_0, M_1, M_2) of N(w*, s^2) on (lo, hi]; lo = -inf / hi = +inf allowed."""
    zl, zu = (np.asarray(lo, float) - w_star) / s, (np.asarray(hi, float) - w_star) / s
    pl, pu = norm.pdf(zl), norm.pdf(zu)
    with np.errstate(invalid="ignore"):   # inf * 0 at an infinite end: the limit is 0
        zpl = np.where(np.isfinite(zl), zl * pl, 0.0)
        zpu = np.where(np.isfinite(zu), zu * pu, 0.0)
    m0 = norm.cdf(zu) - norm.cdf(zl)
    m1 = w_star * m0 + s * (pl - pu)
    m2 = (w_star ** 2 + s ** 2) * m0 + 2 * w_star * s * (pl - pu) + s ** 2 * (zpl - zpu)
    return m0, m1, m2


def volumized_moments(V, w_star: float, s: float, alpha: float = 0.0) -> dict:
    """Mean, second moment, bias, bias^2, variance and MSE of the volumized estimate f(w^) (above), elementwise over
    V (array-like, V >= 0)."""
    V = np.asarray(V, float)
    a = float(alpha)
    i0, i1, i2 = _partial_moments(-V, V, w_star, s)
    u0, u1, u2 = _partial_moments(V, np.inf, w_star, s)
    d0, d1, d2 = _partial_moments(-np.inf, -V, w_star, s)
    c = (1 - a) * V
    tails = (u0 + d0) > 0
    with np.errstate(invalid="ignore"):   # V = inf: no mass outside, the wall terms are 0 (not inf * 0)
        mean = i1 + a * (u1 + d1) + np.where(tails, c * (u0 - d0), 0.0)
        second = i2 + a ** 2 * (u2 + d2) + np.where(tails, 2 * a * c * (u1 - d1) + c ** 2 * (u0 + d0), 0.0)
    bias = mean - w_star
    var = second - mean ** 2
    return {"mean": mean, "second": second, "bias": bias, "bias2": bias ** 2, "var": var, "mse": bias ** 2 + var}


def clip_moments_catalog(V, w_star: float, s: float) -> tuple:
    """(E[w_V], E[w_V^2]) for w_V = clip(w^, -V, V), written exactly as the catalog states it."""
    V = np.asarray(V, float)
    a, b = (-V - w_star) / s, (V - w_star) / s
    Pa, Pb, pa, pb = norm.cdf(a), norm.cdf(b), norm.pdf(a), norm.pdf(b)
    m1 = -V * Pa + V * (1 - Pb) + w_star * (Pb - Pa) + s * (pa - pb)
    m2 = V ** 2 * (Pa + 1 - Pb) + (w_star ** 2 + s ** 2) * (Pb - Pa) + 2 * w_star * s * (pa - pb) \
        + s ** 2 * (a * pa - b * pb)
    return m1, m2


def volumized_monte_carlo(V, w_star: float, s: float, alpha: float, n: int, rng: np.random.Generator) -> dict:
    """Monte Carlo of the same quantities from n draws of w^ per V (common draws across V), with the standard error
    of the mean, of the variance and of the MSE (sample moments of (f - w*)^2 and of the centred square)."""
    draws = w_star + s * rng.standard_normal(int(n))
    out = {k: [] for k in ("mean", "var", "bias2", "mse", "se_mean", "se_var", "se_mse")}
    for v in np.atleast_1d(np.asarray(V, float)):
        f = np.where(np.abs(draws) > v, np.sign(draws) * (alpha * np.abs(draws) + (1 - alpha) * v), draws)
        m = f.mean()
        sq_err, centred = (f - w_star) ** 2, (f - m) ** 2
        out["mean"].append(m)
        out["var"].append(f.var(ddof=1))
        out["bias2"].append((m - w_star) ** 2)
        out["mse"].append(sq_err.mean())
        out["se_mean"].append(f.std(ddof=1) / np.sqrt(n))
        out["se_var"].append(centred.std(ddof=1) / np.sqrt(n))
        out["se_mse"].append(sq_err.std(ddof=1) / np.sqrt(n))
    return {k: np.asarray(v) for k, v in out.items()}
