"""A compact ARIMA(p, d, q) for the Snake paper's market comparison (fig=8, Table 2): none of the project's
dependencies has one (statsmodels is not a dependency), so it is written out here and tested against known
processes (tests/nn/test_arima.py).

Model (statsmodels' sign conventions): w = Delta^d y,  (1 - sum phi_i L^i)(w_t - mu) = (1 + sum theta_j L^j) e_t,
e_t ~ N(0, sigma^2); mu = 0 without drift, else the mean of w (for d = 1 a linear trend in levels, statsmodels'
`trend="t"`).

Fit: conditional sum of squares (CSS): minimise sum_t e_t^2 over t > p with the pre-sample errors set to 0.
Start values by Hannan-Rissanen (a long AR by least squares gives residual estimates; then w_t is regressed on
its lags and the lagged residuals), refined by Levenberg-Marquardt on the CSS residuals with a finite-difference
Jacobian. statsmodels' default is exact Gaussian ML through a Kalman filter; CSS and ML agree to O(1/n) for long
series (here n ~ 6,300), which does not matter for the forecasts compared.

Forecast: the usual recursion with future errors 0, integrated d times from the last observations; the standard
error from the psi weights of phi(L)(1 - L)^d: se_h = sigma sqrt(sum_{k<h} psi_k^2).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


def _difference(y: np.ndarray, d: int) -> np.ndarray:
    w = np.asarray(y, dtype=float)
    for _ in range(d):
        w = np.diff(w)
    return w


def css_residuals(w: np.ndarray, phi: np.ndarray, theta: np.ndarray, mu: float) -> np.ndarray:
    """e_t for t = p..n-1 (pre-sample errors 0)."""
    p, q = len(phi), len(theta)
    z = w - mu
    a = z[p:].copy()
    for i in range(1, p + 1):
        a -= phi[i - 1] * z[p - i: len(z) - i]
    if q == 0:
        return a
    e = np.zeros(len(a))
    th = [float(t) for t in theta]
    a_list = a.tolist()
    for t in range(len(a_list)):
        s = a_list[t]
        for j in range(1, min(q, t) + 1):
            s -= th[j - 1] * e[t - j]
        e[t] = s
    return e


def _hannan_rissanen(w: np.ndarray, p: int, q: int, mu: float) -> tuple[np.ndarray, np.ndarray]:
    z = w - mu
    n = len(z)
    if q == 0 and p == 0:
        return np.zeros(0), np.zeros(0)
    m = min(max(p + q + 5, int(round(math.log(n) ** 2))), n // 4)
    X = np.column_stack([z[m - i: n - i] for i in range(1, m + 1)])
    coef, *_ = np.linalg.lstsq(X, z[m:], rcond=None)
    resid = np.zeros(n)
    resid[m:] = z[m:] - X @ coef
    k = max(p, q)
    start = m + k
    cols = [z[start - i: n - i] for i in range(1, p + 1)] + [resid[start - j: n - j] for j in range(1, q + 1)]
    X2 = np.column_stack(cols)
    b, *_ = np.linalg.lstsq(X2, z[start:], rcond=None)
    return b[:p], b[p:]


@dataclass
class ARIMAResult:
    order: tuple[int, int, int]
    drift: bool
    phi: np.ndarray
    theta: np.ndarray
    mu: float
    sigma2: float
    y: np.ndarray          # the fitted series (levels)
    resid: np.ndarray      # CSS residuals (t = p..n_w-1 of the differenced series)

    def psi_weights(self, h: int) -> np.ndarray:
        """psi_0..psi_{h-1} of phi(L)(1 - L)^d psi(L) = theta(L)."""
        p, d, q = self.order
        ar = np.array([1.0] + [-c for c in self.phi])
        for _ in range(d):
            ar = np.convolve(ar, [1.0, -1.0])
        star = -ar[1:]                     # y_t = sum star_i y_{t-i} + ...
        psi = np.zeros(h)
        psi[0] = 1.0
        for k in range(1, h):
            s = self.theta[k - 1] if k <= q else 0.0
            for i in range(1, min(k, len(star)) + 1):
                s += star[i - 1] * psi[k - i]
            psi[k] = s
        return psi

    def forecast(self, h: int, alpha: float = 0.10) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(mean, lower, upper) of y_{n+1..n+h}; the interval is the central 1 - alpha normal interval."""
        p, d, q = self.order
        w = _difference(self.y, d)
        z = list(w - self.mu)
        e = list(np.zeros(len(w) - len(self.resid))) + list(self.resid)
        for k in range(h):
            s = sum(self.phi[i - 1] * z[-i] for i in range(1, p + 1))
            s += sum(self.theta[j - 1] * e[-j] for j in range(1, q + 1))
            z.append(s)
            e.append(0.0)
        wf = np.asarray(z[len(w):]) + self.mu
        levels = wf
        for level in range(d, 0, -1):      # undo the differences, innermost first
            last = _difference(self.y, level - 1)[-1]
            levels = last + np.cumsum(levels)
        se = math.sqrt(self.sigma2) * np.sqrt(np.cumsum(self.psi_weights(h) ** 2))
        zq = _normal_quantile(1 - alpha / 2)
        return levels, levels - zq * se, levels + zq * se


def _normal_quantile(p: float) -> float:
    """Inverse of the standard normal CDF (bisection on erf; exact enough for interval widths)."""
    lo, hi = -10.0, 10.0
    for _ in range(200):
        mid = (lo + hi) / 2
        if 0.5 * (1 + math.erf(mid / math.sqrt(2))) < p:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def fit_arima(y, order: tuple[int, int, int], drift: bool = False, max_iter: int = 50) -> ARIMAResult:
    p, d, q = (int(v) for v in order)
    y = np.asarray(y, dtype=float)
    w = _difference(y, d)
    mu = float(w.mean()) if drift else 0.0
    phi, theta = _hannan_rissanen(w, p, q, mu)
    params = np.concatenate([phi, theta, [mu] if drift else []])

    def unpack(v):
        return v[:p], v[p:p + q], (v[p + q] if drift else 0.0)

    def resid(v):
        ph, th, m = unpack(v)
        return css_residuals(w, ph, th, m)

    r = resid(params)
    cost = float(r @ r)
    lam = 1e-3
    for _ in range(max_iter):
        if len(params) == 0:
            break
        J = np.empty((len(r), len(params)))
        for k in range(len(params)):
            step = 1e-6 * max(1.0, abs(params[k]))
            v = params.copy()
            v[k] += step
            J[:, k] = (resid(v) - r) / step
        JTJ, JTr = J.T @ J, J.T @ r
        improved = False
        for _ in range(10):
            delta = np.linalg.solve(JTJ + lam * np.diag(np.diag(JTJ) + 1e-12), -JTr)
            cand = params + delta
            ph, th, _m = unpack(cand)
            if q and np.any(np.abs(np.roots(np.r_[1.0, th][::-1]) if q else []) <= 1.0 + 1e-6):
                lam *= 10          # keep the MA part invertible
                continue
            rc = resid(cand)
            cc = float(rc @ rc)
            if cc < cost:
                params, r, improved = cand, rc, cost - cc > 1e-12 * cost
                cost = cc
                lam = max(lam / 10, 1e-12)
                break
            lam *= 10
        if not improved:
            break
    ph, th, m = unpack(params)
    return ARIMAResult(order=(p, d, q), drift=drift, phi=np.asarray(ph, dtype=float), theta=np.asarray(th, dtype=float),
                       mu=float(m), sigma2=cost / max(1, len(r)), y=y, resid=r)
