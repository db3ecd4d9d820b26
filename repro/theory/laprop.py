"""Closed forms for LaProp vs Adam (arXiv 2002.04839; catalog laprop.md, "Derived properties", fig=1).

Notation: momentum mu (= beta1), adaptivity nu (= beta2), c_m = 1 - mu^t, c_n = 1 - nu^t, constant lr.

Single impulse: one coordinate, g_1 = G != 0, g_t = 0 for t >= 2, so m_t = (1-mu) mu^(t-1) G and
n_t = (1-nu) nu^(t-1) G^2 exactly. The step sizes below are therefore exact for every eps, not only eps = 0:
  - Adam:   |dx_t| = lr (|m_t| / c_m) / (sqrt(n_t / c_n) + eps)
            = lr (1-mu) mu^(t-1) / c_m * sqrt(c_n / ((1-nu) nu^(t-1)))   at eps = 0, ~ (mu / sqrt(nu))^(t-1).
    eps matters as soon as sqrt(n_t / c_n) has decayed to ~eps, which for mu > sqrt(nu) is what stops the
    geometric growth (e.g. mu=0.9, nu=0.5: peak 2.22e4 at t=56 with eps=1e-8, unbounded with eps=0).
  - LaProp: |dx_t| = lr |G| / (|G| + eps) * (1-mu) mu^(t-1) / c_m, independent of nu (n_1 / c_n = G^2, and
    g_t = 0 normalises to 0 afterwards).

Step bounds (any gradient sequence, eps = 0):
  - LaProp: |g^_t| <= sqrt(c_n / (1-nu)) and lr m_t / c_m is a convex combination of past lr g^, so
    |dx_t| <= lr / sqrt(1-nu).
  - Adam:   Cauchy-Schwarz on sum_k mu^(t-k) g_k = sum_k (mu^2/nu)^((t-k)/2) nu^((t-k)/2) g_k gives, with r = mu^2/nu,
    |dx_t| / lr <= B_t = (1-mu) / sqrt(1-nu) * sqrt(c_n) / c_m * sqrt((1 - r^t) / (1 - r)),
    finite for all t only if r < 1. `adam_step_bound` returns sup_t B_t (B_1 = 1, and B_t tends to the catalog's
    (1-mu) / sqrt((1-nu)(1-r)), which times sqrt(c_n)/c_m is the catalog's looser form).
"""
from __future__ import annotations

import math

import numpy as np

EPS_PLACEMENTS = ("after_bias_correction", "before_bias_correction")


def adam_single_impulse_steps(mu: float, nu: float, T: int, lr: float = 1.0, G: float = 1.0, eps: float = 0.0,
                              eps_placement: str = "after_bias_correction") -> np.ndarray:
    """|dx_t| of Adam for t = 1..T after a single impulse G; eps_placement as in repro.optim.adam."""
    if eps_placement not in EPS_PLACEMENTS:
        raise ValueError(f"eps_placement must be one of {EPS_PLACEMENTS}, got {eps_placement!r}")
    t = np.arange(1, T + 1, dtype=np.float64)
    c_m, c_n = 1 - mu**t, 1 - nu**t
    corrected_first = (1 - mu) * mu ** (t - 1) * abs(G) / c_m
    # nu^((t-1)/2) rather than sqrt(nu^(t-1)): the latter underflows to 0 long before the former does.
    corrected_rms = math.sqrt(1 - nu) * nu ** ((t - 1) / 2) * abs(G) / np.sqrt(c_n)
    effective_eps = eps if eps_placement == "after_bias_correction" else eps / np.sqrt(c_n)
    with np.errstate(divide="ignore"):  # nu = 0, eps = 0: the step is infinite, which is the point
        return lr * corrected_first / (corrected_rms + effective_eps)


def laprop_single_impulse_steps(mu: float, nu: float, T: int, lr: float = 1.0, G: float = 1.0,
                                eps: float = 0.0) -> np.ndarray:
    """|dx_t| of LaProp for t = 1..T after a single impulse G. `nu` is taken for symmetry with Adam: the result
    does not depend on it."""
    t = np.arange(1, T + 1, dtype=np.float64)
    return lr * abs(G) / (abs(G) + eps) * (1 - mu) * mu ** (t - 1) / (1 - mu**t)


def laprop_total_displacement_K(mu: float) -> float:
    """K(mu) = sum_{t>=1} (1-mu) mu^(t-1) / (1 - mu^t): LaProp's total single-impulse displacement in units of lr
    (|G| >> eps). A Lambert series without an elementary closed form; summed until mu^t < 1e-18."""
    if not 0.0 <= mu < 1.0:
        raise ValueError(f"mu must be in [0, 1), got {mu}")
    if mu == 0.0:
        return 1.0
    n_terms = math.ceil(math.log(1e-18) / math.log(mu)) + 1
    return math.fsum((1 - mu) * mu ** (t - 1) / (1 - mu**t) for t in range(1, n_terms + 1))


def laprop_step_bound(nu: float) -> float:
    """Sup over gradient sequences and t of LaProp's |dx_t| / lr: 1 / sqrt(1 - nu), independent of mu."""
    return 1.0 / math.sqrt(1.0 - nu)


def adam_step_bound(mu: float, nu: float) -> float:
    """Sup over t of the Cauchy-Schwarz bound B_t on Adam's |dx_t| / lr (eps = 0; see the header); inf if
    mu^2 >= nu, where the single impulse already grows without bound."""
    if mu == 0.0:
        return laprop_step_bound(nu)  # mu = 0: both are bias-corrected RMSProp
    if mu * mu >= nu:
        return math.inf
    r = mu * mu / nu
    # B_t converges geometrically; stop once every power of mu, nu, r is below rounding.
    n_terms = math.ceil(math.log(1e-18) / math.log(max(mu, nu, r))) + 1
    t = np.arange(1, n_terms + 1, dtype=np.float64)
    bounds = (1 - mu) / math.sqrt(1 - nu) * np.sqrt(1 - nu**t) / (1 - mu**t) * np.sqrt((1 - r**t) / (1 - r))
    return float(bounds.max())
