"""Distribution of the adaptive-gradient update (Zhang & Ziyin, UAI 2021, arXiv 2105.07222; catalog adam_variance.md).

Theorem 1 (mu = beta1 = 0, eps = 0, g_1..g_m i.i.d. N(0, 1), preconditioner = plain mean, c = m):
    u = g_m / sqrt((1/m) sum_{i<=m} g_i^2),  (u/sqrt(m) + 1)/2 ~ Beta((m-1)/2, (m-1)/2),
    f_m(u) = Gamma(m/2) / (sqrt(pi m) Gamma((m-1)/2)) (1 - u^2/m)^((m-3)/2),  |u| <= sqrt(m)   (Eq. 30)
Cor. 1: Var(u) = 1;  Cor. 2: Var|u| = 1 - (m/pi) (Gamma(m/2)/Gamma((m+1)/2))^2;  Var(u^2) = 2(m-1)/(m+2).

Misprints in the paper (catalog, Method): the paper's Eq. 32 writes the m = 2 density as 1/(pi sqrt(1-u^2)); the
correct one is the arcsine density 1/(pi sqrt(2-u^2)) on (-sqrt2, sqrt2). Eq. 33 writes m = 3 as uniform 1/(2 sqrt2) on
[-sqrt2, sqrt2]; the correct one (Eq. 30 itself) is uniform 1/(2 sqrt3) on (-sqrt3, sqrt3). The paper's n_t = sum g^2
with c_n = 1/t is meant as the mean (1/m) sum g^2 (c = m). We implement the correct forms (from Eq. 30).

Ground truth for finite beta2, beta1 and any Gaussian g_k ~ N(mu_k, sigma_k^2) (catalog "Exact one-dimensional
integrals"): with u = M/sqrt(V), M = sum a_k g_k, V = sum b_k g_k^2, 1/V = int_0^inf e^{-sV} ds and
1/sqrt(V) = pi^{-1/2} int_0^inf s^{-1/2} e^{-sV} ds; under the tilt e^{-s b_k g_k^2} each g_k is N(mu_k/q_k, sigma_k^2/q_k)
with weight q_k^{-1/2} exp(-s b_k mu_k^2/q_k), q_k = 1 + 2 s b_k sigma_k^2. Integrals are done in x = log s by the
trapezoid rule (the integrand decays exponentially at both ends in x), numpy only.
"""
from __future__ import annotations

import math

import numpy as np

_erf = np.vectorize(math.erf, otypes=[float])


# ---------------------------------------------------------------- Theorem 1 and corollaries (beta2 -> 1, c = m)
def density_const(m: int) -> float:
    """Normalising constant of Eq. 30."""
    return math.exp(math.lgamma(m / 2) - math.lgamma((m - 1) / 2)) / math.sqrt(math.pi * m)


def density(u, m: int) -> np.ndarray:
    """f_m(u) of Eq. 30 (m >= 2); 0 outside |u| < sqrt(m). m = 2 is the arcsine density 1/(pi sqrt(2-u^2)) and m = 3
    the uniform 1/(2 sqrt3) (the paper's Eqs. 32-33 misprint both; see the module docstring)."""
    if m < 2:
        raise ValueError("the density exists for m >= 2 (m = 1: u = sign(g))")
    u = np.asarray(u, dtype=np.float64)
    z = 1 - u**2 / m
    out = np.zeros_like(u)
    inside = z > 0
    out[inside] = density_const(m) * z[inside] ** ((m - 3) / 2)
    return out


def _phi_grid(m: int, n: int = 20001):
    """u = sqrt(m) sin(phi): f_m(u) du = C sqrt(m) cos(phi)^(m-2) dphi, smooth on [-pi/2, pi/2] for every m >= 2."""
    phi = np.linspace(-math.pi / 2, math.pi / 2, n)
    w = density_const(m) * math.sqrt(m) * np.cos(phi) ** (m - 2)
    return phi, w


def cdf(u, m: int) -> np.ndarray:
    """P(U <= u) for Theorem 1's law (the Beta((m-1)/2, (m-1)/2) CDF of (u/sqrt(m)+1)/2); m = 1: sign(g)."""
    u = np.asarray(u, dtype=np.float64)
    if m == 1:
        return np.where(u < -1, 0.0, np.where(u < 1, 0.5, 1.0))
    if m == 2:   # exact arcsine CDF (2/pi) arcsin(sqrt z), z = (u/sqrt2 + 1)/2
        z = np.clip((u / math.sqrt(2) + 1) / 2, 0, 1)
        return 2 / math.pi * np.arcsin(np.sqrt(z))
    phi, w = _phi_grid(m)
    c = np.concatenate([[0.0], np.cumsum((w[1:] + w[:-1]) / 2 * np.diff(phi))])
    c /= c[-1]
    x = np.arcsin(np.clip(u / math.sqrt(m), -1, 1))
    return np.interp(x, phi, c)


def density_moment(m: int, k: int) -> float:
    """int u^k f_m(u) du by quadrature in phi (k = 0: total mass); an independent check of Eq. 30."""
    phi, w = _phi_grid(m)
    y = w * (math.sqrt(m) * np.sin(phi)) ** k
    return float(np.sum((y[1:] + y[:-1]) / 2 * np.diff(phi)))


def var_update(m: int) -> float:
    """Cor. 1: Var(u) = E[u^2] = 1 for every m (c = m)."""
    return 1.0


def second_moment_unbiased(m: int) -> float:
    """E[u^2] under the alternative normalisation c = m - 1: (m-1)/m."""
    return (m - 1) / m


def mean_abs(m: int) -> float:
    """E|u| = sqrt(m/pi) Gamma(m/2) / Gamma((m+1)/2)."""
    return math.sqrt(m / math.pi) * math.exp(math.lgamma(m / 2) - math.lgamma((m + 1) / 2))


def var_abs(m: int) -> float:
    """Cor. 2: Var|u| = 1 - (m/pi) (Gamma(m/2)/Gamma((m+1)/2))^2, increasing from 0 (m = 1) to 1 - 2/pi."""
    return 1.0 - mean_abs(m) ** 2


def var_abs_paper_form(m: int) -> float:
    """Cor. 2 as printed: 1 - 4 m Gamma(m/2)^2 / ((m-1)^2 pi Gamma((m-1)/2)^2) (same function, m >= 2)."""
    return 1.0 - 4 * m * math.exp(2 * (math.lgamma(m / 2) - math.lgamma((m - 1) / 2))) / ((m - 1) ** 2 * math.pi)


def var_square(m: int) -> float:
    """Var(u^2) = 2(m-1)/(m+2) (u^2/m ~ Beta(1/2, (m-1)/2))."""
    return 2 * (m - 1) / (m + 2)


def bound(m: int, beta2: float | None = None) -> float:
    """|u_m| <= sqrt(m) (plain mean); with an EMA of rate beta2 and bias correction: sqrt((1-beta2^m)/(1-beta2))."""
    return math.sqrt(m) if beta2 is None else math.sqrt((1 - beta2**m) / (1 - beta2))


# ---------------------------------------------------------------- exact 1-D integrals (ground truth)
def weights(t: int, variant: str = "rmsprop_avg", beta1: float = 0.0, beta2: float = 0.999):
    """(a, b) for steps 1..t: u_t = sum a_k g_k / sqrt(sum b_k g_k^2). rmsprop_avg: b = 1/t (Theorem 1);
    rmsprop: bias-corrected EMA of rate beta2; adam_bc: both moments bias corrected (beta1 momentum)."""
    k = np.arange(1, t + 1, dtype=np.float64)
    if variant == "rmsprop_avg":
        b = np.full(t, 1.0 / t)
    else:
        b = (1 - beta2) * beta2 ** (t - k) / (1 - beta2**t)
    if variant in ("rmsprop_avg", "rmsprop"):
        a = (k == t).astype(np.float64)
    elif variant == "adam_bc":
        a = (1 - beta1) * beta1 ** (t - k) / (1 - beta1**t)
    else:
        raise ValueError(f"unknown variant {variant!r}")
    return a, b


def moments(a, b, mean=0.0, std=1.0, n: int = 6001, lo: float = -40.0, hi: float = 40.0) -> dict:
    """E[u], E[u^2], E|u|, Var(u), Var|u| of u = sum a_k g_k / sqrt(sum b_k g_k^2), g_k ~ N(mean_k, std_k^2)
    independent, by the catalog's 1-D integrals over s = e^x."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    mu = np.broadcast_to(np.asarray(mean, float), a.shape)
    sd = np.broadcast_to(np.asarray(std, float), a.shape)
    keep = (np.abs(a) > 1e-12) | (b > 1e-12)      # truncate negligible weights
    a, b, mu, sd = a[keep], b[keep], mu[keep], sd[keep]
    x = np.linspace(lo, hi, n)
    s = np.exp(x)[:, None]
    q = 1 + 2 * s * b * sd**2
    logZ = np.sum(-0.5 * np.log(q) - s * b * mu**2 / q, axis=1)
    Z = np.exp(logZ)
    M = np.sum(a * mu / q, axis=1)
    S2 = np.sum(a**2 * sd**2 / q, axis=1)
    s1 = s[:, 0]
    dx = x[1] - x[0]

    def integrate(y):    # int y ds = int y s dx
        return float(np.sum(y * s1) * dx)

    rs = math.pi ** -0.5 * s1 ** -0.5
    sq = np.sqrt(S2)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(sq > 0, M / sq, 0.0)
    e_absN = np.sqrt(2 * S2 / math.pi) * np.exp(-0.5 * ratio**2) + M * (1 - 2 * 0.5 * (1 + _erf(-ratio / math.sqrt(2))))
    Eu = integrate(rs * Z * M)
    Eu2 = integrate(Z * (S2 + M**2))
    Eabs = integrate(rs * Z * e_absN)
    return {"mean": Eu, "second_moment": Eu2, "mean_abs": Eabs, "var": Eu2 - Eu**2, "var_abs": Eu2 - Eabs**2}


def step_moments(t: int, variant: str = "rmsprop_avg", beta1: float = 0.0, beta2: float = 0.999,
                 mean=0.0, std=1.0) -> dict:
    """moments() of the update at step t; mean/std may be callables of the step index k = 1..t (arrays)."""
    a, b = weights(t, variant, beta1, beta2)
    k = np.arange(1, t + 1, dtype=np.float64)
    mu = mean(k) if callable(mean) else mean
    sd = std(k) if callable(std) else std
    return moments(a, b, mu, sd)
