"""Custom axes for volumization: the step's arrows on the weight axis (fig=1), the regime map of the (V, alpha)
plane with the diagram's labels (fig=2), and the bias-variance curves with Monte Carlo dots (fig=18). Each reads
the rows of one panel only."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap

from repro.plotting.registry import plot

REGIME_NAMES = ["none", "weight_decay", "clipping", "elastic", "diverge", "interior"]
REGIME_COLORS = ["#ffffff", "#1f77b4", "#2ca02c", "#9467bd", "#d62728", "#fdf0c2"]


def _missing(rows, *cols) -> bool:
    return rows.empty or any(c not in rows.columns for c in ("metric", "series", *cols))


@plot("volumization.step_paths")
def step_paths(ax, rows, e):
    """One horizontal track per (case, alpha): w_t (circle) -> w^ (square, base step, grey arrow) -> w_{t+1}
    (filled dot, wall, coloured arrow); the walls at +-V dotted."""
    if _missing(rows, "case", "alpha", "stage"):
        return
    wall = rows[rows["metric"] == "wall"]["value"]
    V = float(wall.iloc[0]) if len(wall) else 1.0
    path = rows[rows["metric"] == "path"]
    alphas = list(dict.fromkeys(path["alpha"]))
    colors = {a: plt.get_cmap("tab10")(i) for i, a in enumerate(alphas)}
    ticks, labels, y = [], [], 0
    for case in sorted(set(path["case"])):
        for alpha in alphas:
            r = path[(path["case"] == case) & (path["alpha"] == alpha)].sort_values("stage")["value"].to_numpy()
            if len(r) != 3:
                continue
            ax.annotate("", xy=(r[1], y), xytext=(r[0], y), arrowprops=dict(arrowstyle="->", color="grey", lw=1))
            ax.annotate("", xy=(r[2], y - 0.18), xytext=(r[1], y - 0.18),
                        arrowprops=dict(arrowstyle="->", color=colors[alpha], lw=1.6))
            ax.plot([r[0]], [y], "o", mfc="none", color="k", ms=5)
            ax.plot([r[1]], [y], "s", mfc="none", color="grey", ms=5)
            ax.plot([r[2]], [y - 0.18], "o", color=colors[alpha], ms=5)
            ticks.append(y)
            labels.append(f"case {int(case) + 1}, alpha={alpha:g}")
            y -= 1
        y -= 0.5
    for x in (-V, V):
        ax.axvline(x, color="k", ls=":", lw=1)
    ax.axvline(0, color="lightgrey", lw=0.6)
    ax.set_yticks(ticks, labels, fontsize=6)
    ax.set_xlim(-1.8 * V, 1.8 * V)
    ax.text(V, ax.get_ylim()[1], " +V", fontsize=7, va="top")
    ax.text(-V, ax.get_ylim()[1], "-V ", fontsize=7, va="top", ha="right")


@plot("volumization.phase")
def phase(ax, rows, e):
    """The regime code of each (V, alpha) cell as a colour map, with the diagram's text labels at their points."""
    if _missing(rows, "V", "alpha"):
        return
    cells = rows[rows["metric"] == "regime"]
    grid = cells.groupby(["alpha", "V"])["value"].first().unstack("V").sort_index()
    Vs, alphas = np.asarray(grid.columns, float), np.asarray(grid.index, float)
    dv = (Vs[1] - Vs[0]) / 2 if len(Vs) > 1 else 0.5
    da = (alphas[1] - alphas[0]) / 2 if len(alphas) > 1 else 0.5
    ax.imshow(grid.to_numpy(float), origin="lower", aspect="auto", interpolation="nearest",
              cmap=ListedColormap(REGIME_COLORS), vmin=-0.5, vmax=len(REGIME_NAMES) - 0.5,
              extent=(Vs[0] - dv, Vs[-1] + dv, alphas[0] - da, alphas[-1] + da))
    for code, (name, color) in enumerate(zip(REGIME_NAMES, REGIME_COLORS)):
        ax.plot([], [], "s", color=color, mec="grey", label=name.replace("_", " "))
    for r in rows[rows["metric"] == "label"].itertuples():
        ax.text(r.V, r.alpha, str(r.label), fontsize=7, ha="center", va="center",
                bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.7))
    ax.legend(fontsize=6, loc="lower right", framealpha=0.9)


@plot("volumization.bias_variance")
def bias_variance(ax, rows, e):
    """Closed-form bias^2, variance and MSE against V (lines), Monte Carlo dots with +-2 se; the minimum marked."""
    if _missing(rows, "V"):
        return
    styles = {"bias2": ("tab:blue", "bias^2"), "var": ("tab:orange", "variance"), "mse": ("k", "MSE")}
    for metric, (color, label) in styles.items():
        th = rows[(rows["kind"] == "theory") & (rows["metric"] == metric)].sort_values("V")
        ax.plot(th["V"], th["value"], color=color, lw=1.3, label=f"{label} (closed form)")
        mc = rows[(rows["kind"] == "experiment") & (rows["metric"] == metric)].sort_values("V")
        if len(mc):
            err = 2 * mc["se"] if "se" in mc.columns else None
            ax.errorbar(mc["V"], mc["value"], yerr=err, fmt="o", ms=3.5, mfc="none", color=color, lw=0.8)
    th = rows[(rows["kind"] == "theory") & (rows["metric"] == "mse")]
    if len(th):
        best = th.loc[th["value"].idxmin()]
        ax.axvline(best["V"], color="grey", ls=":", lw=1)
        ax.annotate(f"min MSE {best['value']:.4f} at V = {best['V']:.2f}", (best["V"], best["value"]),
                    xytext=(10, 25), textcoords="offset points", fontsize=7)
    ax.plot([], [], "o", mfc="none", color="grey", label="Monte Carlo (+-2 se)")
    ax.legend(fontsize=6)
