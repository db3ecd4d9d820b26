"""On the distributional properties of adaptive gradients (Zhang & Ziyin, UAI 2021; arXiv 2105.07222).
Spec: catalog adam_variance.md (Method; figs 1, 5, 6, 7). Closed forms and exact 1-D integrals: repro/theory/adaptive.py;
Monte Carlo (all chains as one tensor): repro/sim/adaptive.py.

Rows carry an `m` column (the step, = t): one run simulates steps 1..max(ms) and reports every requested m.
Gradients: g_t = mean_scale * t^mean_power + t^std_power * z_t with z_t standard Gaussian or Cauchy (`dist`).
"""
from __future__ import annotations

import math

import numpy as np
import torch

from repro.experiments.registry import experiment
from repro.sim.adaptive import simulate_updates
from repro.theory import adaptive as theory


def _mean_std(p):
    ms, mp, sp = float(p.get("mean_scale", 0.0)), float(p.get("mean_power", 0.0)), float(p.get("std_power", 0.0))
    return (lambda t: ms * t**mp), (lambda t: t**sp)


def _bound(p, m):
    return theory.bound(m, None if p.get("variant", "rmsprop_avg") == "rmsprop_avg" else float(p.get("beta2", 0.999)))


def _ks2(x: np.ndarray, y: np.ndarray) -> float:
    x, y = np.sort(x), np.sort(y)
    z = np.concatenate([x, y])
    return float(np.max(np.abs(np.searchsorted(x, z, side="right") / len(x) - np.searchsorted(y, z, side="right") / len(y))))


def _simulate(p, seed, variant=None):
    mean, std = _mean_std(p)
    g = torch.Generator().manual_seed(int(seed))
    return simulate_updates(int(p["chains"]), int(max(p["ms"])), variant or p.get("variant", "rmsprop_avg"),
                            float(p.get("beta1", 0.0)), float(p.get("beta2", 0.999)), p.get("dist", "gaussian"),
                            mean, std, generator=g).numpy()


@experiment("adam_variance.updates")
def updates(p, ctx):
    """Monte Carlo updates: moments, edge/central mass, bound, KS against Theorem 1, and count histograms."""
    seed = ctx.seed_for("noise")
    U = _simulate(p, seed)
    avg = _simulate(p, seed, "rmsprop_avg") if p.get("compare_avg") else None   # same gradients
    n = U.shape[1]
    for m in p["ms"]:
        u = U[m - 1]
        r = u / math.sqrt(m)
        c = u - u.mean()
        yield {"m": m, "metric": "mean", "value": float(u.mean())}
        yield {"m": m, "metric": "var", "value": float(u.var())}
        yield {"m": m, "metric": "second_moment", "value": float(np.mean(u**2))}
        yield {"m": m, "metric": "var_abs", "value": float(np.var(np.abs(u)))}
        yield {"m": m, "metric": "skew", "value": float(np.mean(c**3) / np.mean(c**2) ** 1.5)}
        yield {"m": m, "metric": "max_abs_over_bound", "value": float(np.abs(u).max() / _bound(p, m))}
        yield {"m": m, "metric": "edge_frac", "value": float(np.mean(np.abs(r) > 0.9))}
        yield {"m": m, "metric": "central_frac", "value": float(np.mean(np.abs(r) < 0.1))}
        h20, _ = np.histogram(np.abs(r), bins=20, range=(0, 1))
        yield {"m": m, "metric": "abs_hist20_argmin", "value": float(np.argmin(h20))}
        if p.get("ks"):
            x = np.sort(u)
            ks = np.max(np.maximum(np.abs(theory.cdf(x, m) - np.arange(1, n + 1) / n),
                                   np.abs(theory.cdf(x, m) - np.arange(0, n) / n)))
            yield {"m": m, "metric": "ks", "value": float(ks)}
        if avg is not None:
            yield {"m": m, "metric": "ks_vs_avg", "value": _ks2(u, avg[m - 1])}
        bins = int(p.get("bins", 60))
        lim = float(p.get("hist_range", 3.3))
        counts, edges = np.histogram(u, bins=bins, range=(-lim, lim))
        centres = (edges[1:] + edges[:-1]) / 2
        width = edges[1] - edges[0]
        for x, k in zip(centres, counts):
            yield {"m": m, "u": float(x), "metric": "count", "value": float(k)}
            yield {"m": m, "u": float(x), "metric": "density", "value": float(k / (n * width))}
        if p.get("scaled_hist"):
            counts, edges = np.histogram(r, bins=bins, range=(-1, 1))
            for x, k in zip((edges[1:] + edges[:-1]) / 2, counts):
                yield {"m": m, "u": float(x), "metric": "count_scaled", "value": float(k)}


@experiment("adam_variance.update_theory")
def update_theory(p, ctx):
    """Exact moments of u_m from the catalog's 1-D integrals (any beta2, beta1, Gaussian mean/std schedule)."""
    mean, std = _mean_std(p)
    for m in p["ms"]:
        r = theory.step_moments(m, p.get("variant", "rmsprop_avg"), float(p.get("beta1", 0.0)),
                                float(p.get("beta2", 0.999)), mean, std)
        for k in ("mean", "var", "second_moment", "var_abs"):
            yield {"m": m, "metric": k, "value": r[k]}


@experiment("adam_variance.pdf_theory")
def pdf_theory(p, ctx):
    """Eq. 30 on a grid (or the N(0,1) density with `form: gaussian`) and its checks: mass, variance, special values."""
    lim, pts = float(p.get("xlim", 3.0)), int(p.get("grid_points", 2001))
    every = max(1, pts // int(p.get("grid_points_out", pts)))
    x = np.linspace(-lim, lim, pts)
    if p.get("form") == "gaussian":
        f = np.exp(-x**2 / 2) / math.sqrt(2 * math.pi)
        for xi, fi in zip(x[::every], f[::every]):
            yield {"u": float(xi), "metric": "pdf", "value": float(fi)}
        return
    for m in p["ms"]:
        f = theory.density(x, m)
        for xi, fi in zip(x[::every], f[::every]):
            yield {"m": m, "u": float(xi), "metric": "pdf", "value": float(min(fi, 10.0))}
        yield {"m": m, "metric": "integral", "value": theory.density_moment(m, 0)}
        yield {"m": m, "metric": "variance", "value": theory.density_moment(m, 2) - theory.density_moment(m, 1) ** 2}
        yield {"m": m, "metric": "pdf_at_0", "value": float(theory.density(np.array([0.0]), m)[0])}
        yield {"m": m, "metric": "var_abs", "value": theory.var_abs(m)}
        inside = np.abs(x) < math.sqrt(m) - 1e-9
        yield {"m": m, "metric": "max_dev_from_uniform", "value": float(np.max(np.abs(f[inside] - 1 / (2 * math.sqrt(3)))))}
