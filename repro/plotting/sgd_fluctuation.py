"""Custom axes for sgd_fluctuation: scatter clouds with their 3-sigma ellipses, the overshoot path, the
stationary histogram and the Kramers sketch. Each reads the rows of one panel only."""
from __future__ import annotations

import numpy as np

from repro.plotting.registry import plot


def _ellipse(ax, var1, var2, **style):
    t = np.linspace(0, 2 * np.pi, 200)
    ax.plot(3 * np.sqrt(var1) * np.cos(t), 3 * np.sqrt(var2) * np.sin(t), **style)


@plot("sgd_fluctuation.scatter_ellipses")
def scatter_ellipses(ax, rows, e):
    """Final-step points at lr == e['lr'] with the discrete (red dashed) and continuous (black) ellipses
    w^T Sigma^-1 w = 9 from the theory rows (diagonal Sigma)."""
    rows = rows[np.isclose(rows["lr"], e["lr"])]
    pts = rows[rows["metric"].isin(["w1", "w2"])].pivot_table(index="chain", columns="metric", values="value")
    if len(pts):
        ax.scatter(pts["w1"], pts["w2"], s=2, alpha=0.3, color="tab:blue", label="experiment")
    for series, style in (("theory_continuous", dict(color="black", lw=1.2, label="continuous")),
                          ("theory_discrete", dict(color="red", ls="--", lw=1.2, label="discrete"))):
        th = rows[rows["series"] == series].set_index("metric")["value"]
        if {"var_w1", "var_w2"} <= set(th.index):
            _ellipse(ax, th["var_w1"], th["var_w2"], **style)
    ax.set_aspect("equal", adjustable="datalim")
    if ax.get_legend_handles_labels()[0]:   # a panel with no rows at this scale has nothing to label
        ax.legend(fontsize=6, loc="upper right")


@plot("sgd_fluctuation.overshoot")
def overshoot(ax, rows, e):
    """Fig 1 left: the parabola with the discrete (overshooting) and continuous paths on it."""
    w = np.linspace(-2, 2, 200)
    k = e.get("k", 1.0)
    ax.plot(w, 0.5 * k * w**2, color="grey", lw=1)
    for series, style in (("discrete", dict(color="tab:red", marker="o", ms=3)),
                          ("continuous", dict(color="tab:blue", marker=">", ms=3))):
        s = rows[rows["series"] == series].pivot_table(index="step", columns="metric", values="value")
        if len(s):
            ax.plot(s["w"], s["loss"], label=series, **style)
    ax.legend(fontsize=7)


@plot("sgd_fluctuation.stationary_histogram")
def stationary_histogram(ax, rows, e):
    """Fig 1 right: histogram of final-step iterates with the Cor 1 density and the loss."""
    w = rows[(rows["metric"] == "w_final")]["value"]
    ax.hist(w, bins=60, range=(-4, 4), density=True, alpha=0.5, label="experiment")
    dens = rows[rows["metric"] == "density"].sort_values("w")
    ax.plot(dens["w"], dens["value"], color="red", label="discrete theory")
    grid = np.linspace(-2, 2, 100)
    ax.plot(grid, 0.1 * grid**2, color="grey", lw=1, label="loss (scaled)")
    ax.set_xlim(-4, 4)
    ax.legend(fontsize=7)


@plot("sgd_fluctuation.kramers_sketch")
def kramers_sketch(ax, rows, e):
    """Fig 6(a): the double well with a, l, b marked and the two stationary densities at a."""
    loss = rows[rows["metric"] == "loss"].sort_values("w")
    ax.plot(loss["w"], loss["value"], color="black", label="loss")
    for metric, style in (("density_discrete", dict(color="red")), ("density_continuous", dict(color="tab:blue", ls="--"))):
        d = rows[rows["metric"] == metric].sort_values("w")
        ax.plot(d["w"], d["value"] / d["value"].max() * 0.5 * loss["value"].max(), label=metric, **style)
    points = rows[rows["metric"].str.startswith("point_")].set_index("metric")["value"]
    for name in ("a", "l", "b"):
        if f"point_{name}" in points:
            ax.axvline(points[f"point_{name}"], color="grey", lw=0.6)
            ax.text(points[f"point_{name}"], ax.get_ylim()[1] * 0.95, name, fontsize=8)
    if "point_half_width" in points:
        ax.axvline(points["point_half_width"], color="grey", ls=":", lw=0.8)
    ax.legend(fontsize=6)


@plot("sgd_fluctuation.table_bars")
def table_bars(ax, rows, e):
    """Table 1 at a glance: simulation / exact solution and earlier / exact for every (method, entry, mu)."""
    exact = rows[rows["series"] == "lyapunov"].set_index(["mu", "method", "metric"])["value"]
    labels, sim, early = [], [], []
    for key, v in exact.items():
        labels.append(f"{key[1]} {key[2]} mu={key[0]:g}")
        for series, out in (("simulation", sim), ("earlier", early)):
            r = rows[(rows["series"] == series) & (rows["mu"] == key[0]) & (rows["method"] == key[1]) & (rows["metric"] == key[2])]
            out.append(r["value"].iloc[0] / v if len(r) else np.nan)
    y = np.arange(len(labels))
    ax.barh(y - 0.2, sim, height=0.4, label="simulation / exact")
    ax.barh(y + 0.2, early, height=0.4, label="earlier work / exact")
    ax.axvline(1, color="black", lw=0.8)
    ax.set_yticks(y, labels, fontsize=6)
    ax.legend(fontsize=6)
