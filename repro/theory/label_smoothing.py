"""The memorization picture of label smoothing (Chen, Ziyin, Wang & Liang, "An Investigation of how Label Smoothing
Affects Generalization", arXiv 2010.12648; catalog label_smoothing.md, "Theory: the memorization picture" [derived]).

Setting: K classes, symmetric label noise with clean rate a (the training label equals the truth with probability a,
else one of the K-1 others uniformly); p is the target mass on the given label, q = (1-p)/(K-1). Assumptions: the
trained network outputs its smoothed training target t(ỹ) = (p on ỹ, q elsewhere) at every training point, and a test
point of true class y receives the output of a training point of the same class (whose label ỹ is noisy).

Three expected test losses of that prediction, as functions of p (`clean_ce`, `noisy_ce`, `smoothed_ce`), and their
minimisers over p ("optimal smoothing points"):

    α(a) = a                                argmin of the plain CE on clean test labels,  E[-ln t(ỹ)_y]
    β(a) = a² + (1-a)²/(K-1)                argmin of the plain CE on noisy test labels (β = P(two noisy labels agree);
                                            the code's `--optimal_smoothing`)
    γ(a) = argmin_{p ∈ [1/K, 1]} G(p; a)    argmin of the label-smoothed CE on clean labels:
           G(p; a) = a [-p ln p - (K-1) q ln q] + (1-a) [-(p + (K-2) q) ln q - q ln p]

G has two competing minima (the boundary p = 1/K and an interior one), so γ jumps at a_c (≈ 0.477 for K = 10) from
1/K to ≈ 0.505 (`gamma_jump`). The noise-agnostic choice p = (K+2)/(3K) is the mean of β(a) over a ~ U[1/K, 1]
(`agnostic`, exact). All pure numpy/math; `gamma` minimises G on a grid of step `step` and refines the best cell by
golden section, so it is exact to ~1e-9 where G has one best minimum.
"""
from __future__ import annotations

import math

import numpy as np

GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0


def _q(p, K: int):
    return (1.0 - np.asarray(p, dtype=float)) / (K - 1)


def _xlogy(x, y):
    x, y = np.broadcast_arrays(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
    with np.errstate(divide="ignore", invalid="ignore"):
        out = x * np.log(y)
    return np.where(x == 0, 0.0, out)


def alpha(a, K: int = 10):
    """α(a) = a: minimiser over p of the clean-label CE (K does not enter)."""
    return np.asarray(a, dtype=float) * 1.0


def beta(a, K: int = 10):
    """β(a) = a² + (1-a)²/(K-1) = (1 - 2a + K a²)/(K-1): the probability that two noisy labels agree."""
    a = np.asarray(a, dtype=float)
    return a ** 2 + (1.0 - a) ** 2 / (K - 1)


def agnostic(K: int = 10) -> float:
    """The noise-agnostic p = (K+2)/(3K) (0.4 at K = 10) = mean of β over a ~ U[1/K, 1]."""
    return (K + 2.0) / (3.0 * K)


def clean_ce(p, a, K: int = 10):
    """E[-ln t(ỹ)_y] = -a ln p - (1-a) ln q: plain CE of the memorised target on clean test labels."""
    return -(_xlogy(a, p) + _xlogy(1.0 - np.asarray(a, dtype=float), _q(p, K)))


def noisy_ce(p, a, K: int = 10):
    """-β ln p - (1-β) ln q: plain CE on test labels that carry the same noise."""
    b = beta(a, K)
    return -(_xlogy(b, p) + _xlogy(1.0 - b, _q(p, K)))


def smoothed_ce(p, a, K: int = 10):
    """G(p; a): the label-smoothed CE (the training objective) of the memorised target on clean test labels."""
    p = np.asarray(p, dtype=float)
    a = np.asarray(a, dtype=float)
    q = _q(p, K)
    same = -(_xlogy(p, p) + (K - 1) * _xlogy(q, q))
    other = -(_xlogy(p + (K - 2) * q, q) + _xlogy(q, p))      # +inf at p = 1 (q = 0 on the true class)
    with np.errstate(invalid="ignore"):
        return a * same + np.where(a == 1.0, 0.0, (1.0 - a) * other)


G = smoothed_ce


def _golden(f, lo: float, hi: float, tol: float = 1e-12) -> float:
    x1, x2 = hi - GOLDEN * (hi - lo), lo + GOLDEN * (hi - lo)
    f1, f2 = f(x1), f(x2)
    while hi - lo > tol:
        if f1 <= f2:
            hi, x2, f2 = x2, x1, f1
            x1 = hi - GOLDEN * (hi - lo)
            f1 = f(x1)
        else:
            lo, x1, f1 = x1, x2, f2
            x2 = lo + GOLDEN * (hi - lo)
            f2 = f(x2)
    return 0.5 * (lo + hi)


def argmin_p(loss, a: float, K: int = 10, step: float = 1e-4, lo: float | None = None, hi: float = 1.0) -> float:
    """argmin over p ∈ [lo, hi] (lo = 1/K by default) of loss(p, a, K): grid of `step`, then golden section on the
    two cells around the best grid point (a boundary minimum stays at the boundary)."""
    lo = 1.0 / K if lo is None else lo
    grid = np.linspace(lo, hi, int(round((hi - lo) / step)) + 1)
    vals = loss(grid, a, K)
    i = int(np.nanargmin(vals))
    if i == 0 or i == len(grid) - 1:
        return float(grid[i])
    x = _golden(lambda t: float(loss(t, a, K)), float(grid[i - 1]), float(grid[i + 1]))
    return x if float(loss(x, a, K)) <= vals[i] else float(grid[i])


def gamma(a, K: int = 10, step: float = 1e-4):
    """γ(a) = argmin_{p ∈ [1/K, 1]} G(p; a) (a scalar or an array of clean rates)."""
    arr = np.asarray(a, dtype=float)
    out = np.array([argmin_p(smoothed_ce, float(x), K, step) for x in arr.reshape(-1)])
    return float(out[0]) if arr.ndim == 0 else out.reshape(arr.shape)


def gamma_jump(K: int = 10, tol: float = 1e-7) -> tuple[float, float]:
    """(a_c, γ just above a_c): the clean rate where the interior minimum of G becomes the global one, by bisection on
    whether γ(a) > 1/K, and the value γ jumps to."""
    u = 1.0 / K
    lo, hi = u, 1.0                      # γ(1/K) = 1/K (the labels carry no information), γ(1) = 1
    while hi - lo > tol:
        mid = 0.5 * (lo + hi)
        if gamma(mid, K) > u + 1e-6:
            hi = mid
        else:
            lo = mid
    return 0.5 * (lo + hi), float(gamma(hi, K))


def optimal_points(a, K: int = 10) -> dict:
    """{"alpha", "beta", "gamma", "agnostic"} at clean rate(s) a."""
    a = np.asarray(a, dtype=float)
    return {"alpha": alpha(a, K), "beta": beta(a, K), "gamma": gamma(a, K),
            "agnostic": np.full_like(a, agnostic(K))}
