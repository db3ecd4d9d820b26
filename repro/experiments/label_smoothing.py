"""Label smoothing (Chen, Ziyin, Wang & Liang, "An Investigation of how Label Smoothing Affects Generalization",
arXiv 2010.12648): the figures' experiment functions. Spec: catalog label_smoothing.md. The losses are
repro/nn/label_smoothing_loss.py, the memorization picture (α, β, γ, a_c, agnostic) repro/theory/label_smoothing.py,
the authors' released grids repro/data/reference.py (`load_label_smoothing_reference`).

The functions here need no training: they read the authors' per-run logs (kind=paper rows, data=real) and evaluate
the theory (kind=theory rows). Our own trained grids (label_smoothing.train_grid, repro/experiments/
label_smoothing_grid.py) go through the same row makers (grid_rows, curve_rows, relaxation_rows), so that claims
compare ours with the authors' cell by cell. Grid cells carry the columns `clean_rate` (a) and `p`; per-column summaries carry
`clean_rate` only, so that claims join them with the theory curves `by: [clean_rate]`.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from repro.data.reference import load_label_smoothing_reference
from repro.experiments.registry import experiment
from repro.theory import label_smoothing as theory


def _r2(x) -> float:
    return float(round(float(x), 2))


def _grid(p: dict) -> pd.DataFrame:
    """The reference grid named by p["file"] (default the May-2020 MNIST grid), restricted to p["step"] (0.05: the
    catalog's grid-0.05), p["p_min"], and optionally the lists p["a_values"] / p["p_values"] (the tiny subsets)."""
    df = load_label_smoothing_reference(p.get("file", "mnist_grid_final"), step=p.get("step"), p_min=p.get("p_min"))
    if p.get("model"):
        df = df[df["model"] == p["model"]]
    if p.get("a_values") is not None:
        df = df[df["clean_rate"].isin([_r2(a) for a in p["a_values"]])]
    if p.get("p_values") is not None:
        df = df[df["p"].isin([_r2(v) for v in p["p_values"]])]
    if not len(df):
        raise ValueError(f"no reference cells left for {p}")
    return df.sort_values(["clean_rate", "p"]).reset_index(drop=True)


def column_summaries(df: pd.DataFrame, p_strong: float = 0.2, p_mild: float = 0.95) -> pd.DataFrame:
    """One row per clean rate a of a grid with test_acc_last / test_loss_last: argmax_p of accuracy (the smallest p
    on ties) and the max, argmin_p of the test loss and the min, the values at p = 1, at p_mild and at p_strong,
    improvement = acc(p_mild) - acc(1) (fig=5), acc_gap_strong = acc(p_strong) - acc(1) (fig=1), and argmin_prev,
    the argmin at the previous (smaller) clean rate (NaN for the first), for the non-decreasing check of fig=3."""
    out = []
    for a, col in df.groupby("clean_rate", sort=True):
        col = col.sort_values("p")
        at = col.set_index("p")
        ia, il = col["test_acc_last"].to_numpy().argmax(), col["test_loss_last"].to_numpy().argmin()
        row = {"clean_rate": float(a), "argmax_p_acc": float(col["p"].iloc[ia]),
               "max_acc": float(col["test_acc_last"].iloc[ia]), "argmin_p_loss": float(col["p"].iloc[il]),
               "min_loss": float(col["test_loss_last"].iloc[il]),
               "min_error": 1 - float(col["test_acc_last"].iloc[ia]) / 100}
        for name, pv in (("p1", 1.0), ("mild", _r2(p_mild)), ("strong", _r2(p_strong))):
            if pv in at.index:
                row[f"acc_{name}"] = float(at.loc[pv, "test_acc_last"])
                row[f"loss_{name}"] = float(at.loc[pv, "test_loss_last"])
                row[f"error_{name}"] = 1 - row[f"acc_{name}"] / 100
        if "acc_mild" in row and "acc_p1" in row:
            row["improvement"] = row["acc_mild"] - row["acc_p1"]
        if "acc_strong" in row and "acc_p1" in row:
            row["acc_gap_strong"] = row["acc_strong"] - row["acc_p1"]
        out.append(row)
    s = pd.DataFrame(out)
    s["argmin_prev"] = s["argmin_p_loss"].shift(1)
    return s


def grid_rows(df: pd.DataFrame, p: dict, cols: dict):
    """Rows of one (a, p) grid (columns clean_rate, p, test_acc_last in %, test_loss_last), the authors' or ours.
    p["outputs"] (list, default both): "cells" -> per (clean_rate, p): test_acc (%, last epoch), test_loss,
    test_error = 1 - acc/100 and rel_acc (accuracy min-max rescaled to [0, 1] within its a-column, fig=2);
    "columns" -> column_summaries' metrics per clean_rate (argmin_prev as a column of argmin_p_loss), and
    argmin_a_improvement, the a of the most negative fig=5 bar. `cols` go into every row (dataset, data)."""
    outputs = set(p.get("outputs", ["cells", "columns"]))
    if "cells" in outputs:
        lo = df.groupby("clean_rate")["test_acc_last"].transform("min")
        hi = df.groupby("clean_rate")["test_acc_last"].transform("max")
        rel = ((df["test_acc_last"] - lo) / (hi - lo).replace(0, np.nan)).fillna(1.0)
        for r, rv in zip(df.itertuples(index=False), rel):
            cell = {"clean_rate": float(r.clean_rate), "p": float(r.p), **cols}
            yield {"metric": "test_acc", "value": float(r.test_acc_last), **cell}
            yield {"metric": "test_loss", "value": float(r.test_loss_last), **cell}
            yield {"metric": "test_error", "value": 1 - float(r.test_acc_last) / 100, **cell}
            yield {"metric": "rel_acc", "value": float(rv), **cell}
    if "columns" in outputs:
        s = column_summaries(df, p.get("p_strong", 0.2), p.get("p_mild", 0.95))
        for r in s.to_dict("records"):
            a = r.pop("clean_rate")
            prev = r.pop("argmin_prev")
            for metric, v in r.items():
                if v is None or (isinstance(v, float) and math.isnan(v)):
                    continue
                extra = {"argmin_prev": prev} if metric == "argmin_p_loss" else {}
                yield {"metric": metric, "value": float(v), "clean_rate": a, **extra, **cols}
        if "improvement" in s.columns and s["improvement"].notna().any():
            worst = s.loc[s["improvement"].idxmin()]
            yield {"metric": "argmin_a_improvement", "value": float(worst["clean_rate"]), **cols}


@experiment("label_smoothing.reference_grid")
def reference_grid(p, ctx):
    """The authors' grid (see _grid) as rows: grid_rows' "cells" and "columns" outputs."""
    df = _grid(p)
    cols = {"dataset": str(df["dataset"].iloc[0]) if "dataset" in df.columns else "mnist", "data": "real"}
    yield from grid_rows(df, p, cols)


@experiment("label_smoothing.reference_curves")
def reference_curves(p, ctx):
    """The authors' per-epoch curves (p["file"], default mnist_grid_curves: the 0.05 sub-grid of the May-2020 MNIST
    grid; cifar10_grid_curves with p["model"]) for the cells a_values x p_values, as the rows curve_rows gives."""
    df = load_label_smoothing_reference(p.get("file", "mnist_grid_curves"))
    if p.get("model"):
        df = df[df["model"] == p["model"]]
    df = df[df["clean_rate"].isin([_r2(a) for a in p["a_values"]]) & df["p"].isin([_r2(v) for v in p["p_values"]])]
    if not len(df):
        raise ValueError(f"no reference curves for a in {p['a_values']}, p in {p['p_values']}")
    cols = {"dataset": "cifar10" if "cifar" in p.get("file", "") else "mnist", "data": "real"}
    for (a, pv), g in df.groupby(["clean_rate", "p"], sort=True):
        g = g.sort_values("epoch")
        yield from curve_rows(float(a), float(pv), g["epoch"].to_numpy(), g["test_acc"].to_numpy(),
                              g["test_loss"].to_numpy(), g["train_loss"].to_numpy(), cols)


def curve_rows(a: float, pv: float, epochs, test_acc, test_loss, train_loss, cols: dict):
    """One cell's learning curves: per epoch (step) test_acc_epoch (%), test_loss_epoch (plain CE on clean labels),
    train_loss_epoch (the smoothed objective on the noisy labels); and its summaries (no step): peak_acc and
    peak_acc_epoch (the first epoch of the maximum: the relaxation time), final_acc, final_train_loss."""
    cell = {"clean_rate": _r2(a), "p": _r2(pv), **cols}
    for e, acc, tl, trl in zip(epochs, test_acc, test_loss, train_loss):
        yield {"step": int(e), "metric": "test_acc_epoch", "value": float(acc), **cell}
        yield {"step": int(e), "metric": "test_loss_epoch", "value": float(tl), **cell}
        yield {"step": int(e), "metric": "train_loss_epoch", "value": float(trl), **cell}
    i = int(np.argmax(test_acc))
    yield {"metric": "peak_acc", "value": float(test_acc[i]), **cell}
    yield {"metric": "peak_acc_epoch", "value": float(epochs[i]), **cell}
    yield {"metric": "final_acc", "value": float(test_acc[-1]), **cell}
    yield {"metric": "final_train_loss", "value": float(train_loss[-1]), **cell}


@experiment("label_smoothing.theory_curves")
def theory_curves(p, ctx):
    """α(a), β(a), γ(a) (metrics alpha, beta, gamma; column clean_rate) on a ∈ [a_min, a_max] in steps of a_step
    (rounded to 2 decimals so that they join with the grids), plus the jump a_c and γ(a_c+) (metrics a_c,
    gamma_jump) and the agnostic point (metric agnostic). K = p["K"] (10)."""
    K = int(p.get("K", 10))
    n = int(round((float(p["a_max"]) - float(p["a_min"])) / float(p["a_step"]))) + 1
    for a in np.round(np.linspace(float(p["a_min"]), float(p["a_max"]), n), 2):
        a = float(a)
        yield {"metric": "alpha", "value": float(theory.alpha(a, K)), "clean_rate": a}
        yield {"metric": "beta", "value": float(theory.beta(a, K)), "clean_rate": a}
        yield {"metric": "gamma", "value": float(theory.gamma(a, K)), "clean_rate": a}
    a_c, g_c = theory.gamma_jump(K)
    yield {"metric": "a_c", "value": a_c}
    yield {"metric": "gamma_jump", "value": g_c}
    yield {"metric": "agnostic", "value": theory.agnostic(K)}


@experiment("label_smoothing.catalog")
def catalog(p, ctx):
    """Numbers quoted by the catalog (computed there from the authors' logs or notebook), as rows ({metric, value,
    <columns>} each) for claims to join."""
    for row in p["rows"]:
        yield dict(row)


def loglog_slope(x, y) -> tuple[float, float]:
    """OLS of ln y on ln x: (slope, intercept)."""
    lx, ly = np.log(np.asarray(x, dtype=float)), np.log(np.asarray(y, dtype=float))
    slope, intercept = np.polyfit(lx, ly, 1)
    return float(slope), float(intercept)


def spearman(x, y) -> float:
    """Spearman's rank correlation (average ranks for ties): the Pearson correlation of the ranks; NaN if either
    side is constant."""
    rx, ry = pd.Series(np.asarray(x, dtype=float)).rank(), pd.Series(np.asarray(y, dtype=float)).rank()
    if rx.std() == 0 or ry.std() == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


def relaxation_rows(df: pd.DataFrame, p: dict, data: str = "real"):
    """fig=6 from a grid with test_acc_best_epoch (the relaxation time: first epoch of maximum test accuracy) per
    (clean_rate, p): metric peak_epoch with x = p - 1/K and in_fit (p_fit_min <= p <= p_max; p_fit_min optional,
    e.g. 0.2 to drop the runs whose peak is censored by the epoch budget); the OLS slope of ln epoch on ln(p - 1/K)
    over the fitted points per clean rate (metrics slope, intercept, n_fit) and pooled over all of them (the same
    metrics with clean_rate empty and fit = "pooled"); and per clean rate the Spearman rank correlation of the peak
    epoch with p over every p > 1/K (metric spearman_p_peak, fit = "per_a": the catalog's fig=6 tiny check, rho <=
    -0.8 for a peak that comes no later as p grows; ties get average ranks; NaN when every peak epoch is the same)."""
    K = int(p.get("K", 10))
    u = 1.0 / K
    df = df[df["p"] > u + 1e-9]
    lo, hi = float(p.get("p_fit_min") or 0.0) - 1e-9, float(p.get("p_max", 0.95)) + 1e-9
    in_fit = (df["p"] >= lo) & (df["p"] <= hi)
    fit = df[in_fit]
    for r, f in zip(df.itertuples(index=False), in_fit):
        yield {"metric": "peak_epoch", "value": float(r.test_acc_best_epoch), "clean_rate": float(r.clean_rate),
               "p": float(r.p), "x": float(r.p) - u, "in_fit": bool(f), "data": data}
    for a, g in fit.groupby("clean_rate"):
        if len(g) < 2:
            continue
        s, c = loglog_slope(g["p"] - u, g["test_acc_best_epoch"])
        for metric, v in (("slope", s), ("intercept", c), ("n_fit", float(len(g)))):
            yield {"metric": metric, "value": v, "clean_rate": float(a), "fit": "per_a", "data": data}
    for a, g in df.groupby("clean_rate"):
        if len(g) >= 3:
            yield {"metric": "spearman_p_peak", "value": spearman(g["p"], g["test_acc_best_epoch"]),
                   "clean_rate": float(a), "fit": "per_a", "data": data}
    if len(fit) >= 2:
        s, c = loglog_slope(fit["p"] - u, fit["test_acc_best_epoch"])
        for metric, v in (("slope", s), ("intercept", c), ("n_fit", float(len(fit)))):
            yield {"metric": metric, "value": v, "fit": "pooled", "data": data}


@experiment("label_smoothing.relaxation", version=2)   # 2: spearman_p_peak rows
def relaxation(p, ctx):
    """fig=6 on the authors' grid (see _grid): relaxation_rows."""
    yield from relaxation_rows(_grid(p), p)


@experiment("label_smoothing.memorizer")
def memorizer(p, ctx):
    """fig=3 tiny check (2), no network: K well-separated Gaussian clusters (centres N(0, sep^2 I) in `dim` dimensions,
    unit noise), n_train training points with symmetric label noise (the Co-teaching `noisify`, random_state
    noise_seed) and n_test test points. A 1-nearest-neighbour "memorizer" predicts, for a test point, the smoothed
    target t(ỹ) of its neighbour's noisy label; its losses over p in [p_min, p_max] (step p_step) are computed with
    repro.nn.label_smoothing_loss on log t: plain CE on clean test labels (argmin -> alpha), plain CE on noisy test
    labels (noisify with random_state noise_seed + 1; -> beta) and the label-smoothed CE on clean labels (-> gamma).
    Rows per clean rate (p["memorizer_a"]): argmin_clean, argmin_noisy, argmin_smoothed, nn_true_class (the fraction
    of neighbours of the test point's own class, which the picture assumes is 1) and train_clean_rate (realised)."""
    import torch

    from repro.data.noisy_labels import noisify
    from repro.nn.label_smoothing_loss import smoothed_targets, smoothing_loss

    K, dim, sep = int(p.get("K", 10)), int(p["dim"]), float(p["sep"])
    n_train, n_test = int(p["n_train"]), int(p["n_test"])
    g = ctx.generator("data")
    centres = torch.randn(K, dim, generator=g, dtype=torch.float64) * sep
    ytr = torch.randint(0, K, (n_train,), generator=g)
    yte = torch.randint(0, K, (n_test,), generator=g)
    xtr = centres[ytr] + torch.randn(n_train, dim, generator=g, dtype=torch.float64)
    xte = centres[yte] + torch.randn(n_test, dim, generator=g, dtype=torch.float64)
    nn_idx = torch.cat([torch.cdist(xte[i:i + 2000], xtr).argmin(dim=1) for i in range(0, n_test, 2000)])
    ps = np.round(np.arange(float(p["p_min"]), float(p["p_max"]) + 1e-9, float(p["p_step"])), 6)
    seed = int(p.get("noise_seed", 0))
    for a in p["memorizer_a"]:
        a = _r2(a)
        noisy_train = noisify(ytr, "symmetric", 1.0 - a, K, random_state=seed).labels
        noisy_test = noisify(yte, "symmetric", 1.0 - a, K, random_state=seed + 1).labels
        ytil = noisy_train[nn_idx]
        losses = {"clean": [], "noisy": [], "smoothed": []}
        for pv in ps:
            log_t = smoothed_targets(ytil, float(pv), K, dtype=torch.float64).log()   # the memorised prediction
            losses["clean"].append(float(smoothing_loss(log_t, yte, 1.0)))
            losses["noisy"].append(float(smoothing_loss(log_t, noisy_test, 1.0)))
            losses["smoothed"].append(float(smoothing_loss(log_t, yte, float(pv))))
        for name, vals in losses.items():
            yield {"metric": f"argmin_{name}", "value": float(ps[int(np.argmin(vals))]), "clean_rate": a}
        yield {"metric": "nn_true_class", "value": float((ytr[nn_idx] == yte).double().mean()), "clean_rate": a}
        yield {"metric": "train_clean_rate", "value": float((noisy_train == ytr).double().mean()), "clean_rate": a}
