"""Custom axes for minibatch_noise: tail-index estimates against S, 2-D clouds with three 3-sigma ellipses, and
Table 2 drawn as a table. Each reads the rows of one panel only (from the CSV)."""
from __future__ import annotations

import numpy as np

from repro.plotting.registry import plot


@plot("minibatch_noise.tail_index")
def tail_index(ax, rows, e):
    """beta against S at lr == e['lr']: variance inversion (squares), t-MLE (triangles), Hill (crosses), flagged
    points (beta < 4) circled in red, the prediction 2S/(a lambda) - S, the continuous-time 2S/(a lambda) + 1 and,
    where the CSV has it, the exact tail exponent of the stationary law (series exact_tail)."""
    if "lr" in rows.columns and e.get("lr") is not None:
        rows = rows[np.isclose(rows["lr"].astype(float), float(e["lr"]))]
    for series, style, label in (("theory", dict(color="tab:orange", lw=1.4), "2S/(a lambda) - S"),
                                 ("continuous", dict(color="tab:green", ls="--", lw=1.2), "continuous 2S/(a lambda) + 1"),
                                 ("exact_tail", dict(color="black", ls=":", lw=1.2), "exact tail exponent")):
        th = rows[(rows["series"] == series) & (rows["metric"] == "beta")].sort_values("S")
        if len(th):
            ax.plot(th["S"], th["value"], label=label, **style)
    exp = rows[rows["series"] == "experiment"]
    for metric, marker, label in (("beta_var", "s", "variance inversion"), ("beta_tmle", "^", "Student-t MLE"),
                                  ("beta_hill", "x", "Hill")):
        m = exp[exp["metric"] == metric].groupby("S")["value"].median()
        ax.plot(m.index, m.values, ls="none", marker=marker, ms=5, mfc="none", label=label)
    flags = exp[(exp["metric"] == "flag_beta_lt_4") & (exp["value"] > 0.5)]["S"]
    if len(flags):
        bv = exp[(exp["metric"] == "beta_var") & exp["S"].isin(flags)].groupby("S")["value"].median()
        ax.plot(bv.index, bv.values, ls="none", marker="o", ms=10, mfc="none", color="red", label="flagged (beta < 4)")
    ax.legend(fontsize=6)


def _ellipse(ax, var1, var2, **style):
    t = np.linspace(0, 2 * np.pi, 200)
    ax.plot(3 * np.sqrt(var1) * np.cos(t), 3 * np.sqrt(var2) * np.sin(t), **style)


@plot("minibatch_noise.scatter_ellipses")
def scatter_ellipses(ax, rows, e):
    """Final-step points at S == e['S'] with the exact (black), discrete-Hessian (red dashed) and continuous
    (green dotted) 3-sigma ellipses w^T Sigma^-1 w = 9 from the theory rows (diagonal Sigma)."""
    rows = rows[rows["S"] == e["S"]]
    pts = rows[rows["metric"].isin(["w1", "w2"])].pivot_table(index="chain", columns="metric", values="value")
    if len(pts):
        ax.scatter(pts["w1"], pts["w2"], s=2, alpha=0.3, color="tab:blue", label="experiment")
    for series, style in (("exact", dict(color="black", lw=1.3, label="exact")),
                          ("discrete", dict(color="red", ls="--", lw=1.2, label="discrete Hessian")),
                          ("continuous", dict(color="tab:green", ls=":", lw=1.2, label="continuous Hessian"))):
        th = rows[rows["series"] == series].set_index("metric")["value"]
        if {"var_w1", "var_w2"} <= set(th.index):
            _ellipse(ax, th["var_w1"], th["var_w2"], **style)
    ax.set_aspect("equal", adjustable="box")
    ax.legend(fontsize=6, loc="upper right")


@plot("minibatch_noise.table")
def table(ax, rows, e):
    """Table 2 as a table: one row per (noise source, quantity), one column per theory and the simulation."""
    cols = e.get("columns", ["continuous", "discrete", "exact", "simulation"])
    metrics = ["sigma_11", "sigma_22", "L_train", "L_test"]
    cells, labels = [], []
    for noise in ("label", "input", "l2"):
        for metric in metrics:
            labels.append(f"{noise}: {metric}")
            line = []
            for c in cols:
                v = rows[(rows["series"] == c) & (rows["noise"] == noise) & (rows["metric"] == metric)]["value"]
                line.append(f"{v.iloc[0]:.4g}" if len(v) else "")
            cells.append(line)
    ax.axis("off")
    tab = ax.table(cellText=cells, rowLabels=labels, colLabels=cols, loc="center", cellLoc="right")
    tab.auto_set_font_size(False)
    tab.set_fontsize(6)
    tab.scale(1.0, 0.95)
