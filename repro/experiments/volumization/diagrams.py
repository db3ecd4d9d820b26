"""Volumization as a Natural Generalization of Weight Decay (Liu Ziyin, Zihao Wang, Makoto Yamada, Masahito Ueda;
arXiv 2003.11243). Spec: ../shared/catalog/volumization.md. The step: repro/optim/volumization.py; the toy's closed
form: repro/theory/volumization.py; the authors' numbers: ../shared/reference/volumization/.

The figures that need no training:
  fig=1  step_illustration  three 1-D cases w_t -> w^_{t+1} (base step) -> w_{t+1} per alpha, by the real optimizer;
                            the catalog's unit values of the step as rows (metric unit)
  fig=2  phase_diagram      the regime of the step at every (V, alpha) of a grid, classified from what the real
                            step does to probe weights; the authors' (v, alpha) heat-map cells as kind=paper rows
  fig=18 bias_variance_toy  bias^2, variance and MSE of the volumized 1-D estimate against V: closed form and
                            Monte Carlo
"""
from __future__ import annotations

import numpy as np
import torch

from repro.experiments.registry import experiment
from repro.optim import Volumization, volumize_
from repro.theory import volumization as theory


def _sgd_then_volumize(w_t: float, w_hat: float, V: float, alpha: float) -> float:
    """One step of the real optimizer on a scalar: SGD (lr 1) with the gradient that lands on w_hat, then the wall
    at absolute volume V."""
    w = torch.tensor([w_t], dtype=torch.float64, requires_grad=True)
    opt = Volumization(torch.optim.SGD([w], lr=1.0), v=V, alpha=alpha, kaiming_v=False)
    w.grad = torch.tensor([w_t - w_hat], dtype=torch.float64)
    opt.step()
    return float(w.detach()[0])


@experiment("volumization.step_illustration")
def step_illustration(p, ctx):
    """fig=1. For each case (w_t, w^) in `cases` (in units of V) and each alpha: metric path rows at stage 0 (w_t),
    1 (w^ after the base step) and 2 (w_{t+1} after the wall), columns case, alpha, stage. Then the catalog's unit
    checks, each through the real optimizer: metric unit, columns alpha, V, w_in, value w_out."""
    V = float(p["V"])
    for case, (w_t, w_hat) in enumerate(p["cases"]):
        for alpha in p["alphas"]:
            w_next = _sgd_then_volumize(w_t * V, w_hat * V, V, float(alpha))
            for stage, w in enumerate((w_t * V, w_hat * V, w_next)):
                yield {"metric": "path", "value": w, "case": case, "alpha": float(alpha), "stage": stage}
    for alpha, vol, w_in in p["units"]:
        yield {"metric": "unit", "value": _sgd_then_volumize(w_in, w_in, vol, alpha), "alpha": float(alpha),
               "V": float(vol), "w_in": float(w_in)}
    yield {"metric": "wall", "value": V}


REGIMES = {"none": 0, "weight_decay": 1, "clipping": 2, "elastic": 3, "diverge": 4, "interior": 5}


def classify(V: float, alpha: float, probes: np.ndarray, iterations: int, far: float) -> str:
    """The regime of the wall (V, alpha), from the real step applied to probe weights outside the wall (|w| > V):
    none (nothing moves), weight_decay (V = 0: every weight scaled by one factor in (0, 1)), clipping (every probe
    lands on +-V), elastic (every probe mirrored at the wall: sign(w) w' = 2V - |w|), diverge (a weight `far`
    outside the wall grows under `iterations` repeated steps), else interior (a partial pull-back)."""
    w = torch.tensor(np.concatenate([probes + V, -probes - V]), dtype=torch.float64)
    out = w.clone()
    volumize_(out, V, alpha)
    x = torch.tensor([V + far], dtype=torch.float64)
    for _ in range(iterations):
        volumize_(x, V, alpha)
    if not torch.isfinite(x).all() or x.abs().item() > V + far:
        return "diverge"
    if torch.equal(out, w):
        return "none"
    if torch.allclose(out.abs(), torch.full_like(out, V), rtol=0, atol=1e-12):
        return "clipping"
    if torch.allclose(torch.sign(w) * out, 2 * V - w.abs(), rtol=0, atol=1e-12):
        return "elastic"
    ratio = out / w
    if V == 0 and torch.allclose(ratio, ratio[0].expand_as(ratio), rtol=0, atol=1e-12) and 0 < ratio[0] < 1:
        return "weight_decay"
    return "interior"


@experiment("volumization.phase_diagram")
def phase_diagram(p, ctx):
    """fig=2. Per (V, alpha) grid cell: metric regime, value its code (REGIMES), column regime (name); metric
    diverges (0 or 1); the cell's alpha as metric alpha_<regime>; for weight-decay cells their V (V_weight_decay),
    for the claims. Then the diagram's labels (metric label, column label, at (V, alpha))."""
    Vs = np.linspace(*[float(x) for x in p["V_range"]], int(p["V_points"]))
    alphas = np.round(np.linspace(*[float(x) for x in p["alpha_range"]], int(p["alpha_points"])), 10)
    probes = np.asarray(p["probes"], float)
    for V in Vs:
        for alpha in alphas:
            r = classify(float(V), float(alpha), probes, int(p["iterations"]), float(p["far"]))
            yield {"metric": "regime", "value": REGIMES[r], "regime": r, "V": float(V), "alpha": float(alpha)}
            yield {"metric": "diverges", "value": float(r == "diverge"), "V": float(V), "alpha": float(alpha)}
            yield {"metric": f"alpha_{r}", "value": float(alpha), "V": float(V)}
            if r == "weight_decay":
                yield {"metric": "V_weight_decay", "value": float(V), "alpha": float(alpha)}
    for label, (V, alpha) in p["labels"].items():
        yield {"metric": "label", "value": 1.0, "label": label, "V": float(V), "alpha": float(alpha)}


@experiment("volumization.reference_heatmap")
def reference_heatmap(p, ctx):
    """The authors' (v, alpha) heat-map cells (grid_heatmaps.csv, notebook images) for one dataset and noise rate:
    metric best_acc and last10_acc (%), columns V (the relative volume v) and alpha."""
    import pandas as pd

    from repro.data.download import DataMissing
    from repro.data.reference import reference_root

    path = reference_root() / "volumization" / "grid_heatmaps.csv"
    if not path.exists():
        raise DataMissing(f"missing reference file: put volumization/grid_heatmaps.csv at {path}, or set "
                          "REPRO_REFERENCE to the folder holding volumization/")
    df = pd.read_csv(path)
    df = df[(df["dataset"] == p["dataset"]) & np.isclose(df["noise_rate"], float(p["noise_rate"]))]
    for r in df.itertuples():
        for metric in p["metrics"]:
            yield {"metric": metric, "value": float(getattr(r, metric)), "V": float(r.v), "alpha": float(r.alpha)}


@experiment("volumization.bias_variance_theory")
def bias_variance_theory(p, ctx):
    """fig=18, closed form: bias2, var, mse against V (points in V_range) for w* = w_star, s, alpha; the V of the
    minimum MSE on that grid and the minimum (argmin_mse, min_mse), and the unregularised MSE (mse_noreg, V = inf,
    i.e. s^2)."""
    V = np.linspace(*[float(x) for x in p["V_range"]], int(p["points"]))
    w_star, s, alpha = float(p["w_star"]), float(p["s"]), float(p["alpha"])
    th = theory.volumized_moments(V, w_star, s, alpha)
    for i, v in enumerate(V):
        for metric in ("bias2", "var", "mse"):
            yield {"metric": metric, "value": float(th[metric][i]), "V": float(v)}
    i = int(np.argmin(th["mse"]))
    yield {"metric": "argmin_mse", "value": float(V[i])}
    yield {"metric": "min_mse", "value": float(th["mse"][i])}
    yield {"metric": "mse_noreg", "value": float(theory.volumized_moments(np.inf, w_star, s, alpha)["mse"])}


@experiment("volumization.bias_variance_mc")
def bias_variance_mc(p, ctx):
    """fig=18, Monte Carlo: `samples` draws of w^ ~ N(w*, s^2) (stream "noise") through the step at each V in
    mc_V: bias2, var, mse with standard errors (column se); then the largest deviation from the closed form over
    V and the three metrics (max_abs_dev) and the largest in standard errors of var and mse (max_z)."""
    V = np.asarray(p["mc_V"], float)
    w_star, s, alpha = float(p["w_star"]), float(p["s"]), float(p["alpha"])
    mc = theory.volumized_monte_carlo(V, w_star, s, alpha, int(p["samples"]),
                                      np.random.default_rng(ctx.seed_for("noise")))
    th = theory.volumized_moments(V, w_star, s, alpha)
    se = {"bias2": 2 * np.abs(mc["mean"] - w_star) * mc["se_mean"], "var": mc["se_var"], "mse": mc["se_mse"]}
    dev, z = [], []
    for i, v in enumerate(V):
        for metric in ("bias2", "var", "mse"):
            yield {"metric": metric, "value": float(mc[metric][i]), "V": float(v), "se": float(se[metric][i])}
            dev.append(abs(mc[metric][i] - th[metric][i]))
            if metric != "bias2" and se[metric][i] > 0:
                z.append(abs(mc[metric][i] - th[metric][i]) / se[metric][i])
    yield {"metric": "max_abs_dev", "value": float(max(dev))}
    yield {"metric": "max_z", "value": float(max(z))}
