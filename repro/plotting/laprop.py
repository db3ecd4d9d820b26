"""Custom axes for the LaProp figures (catalog laprop.md): fn(ax, rows, entry), see repro/plotting/figure.py."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from repro.plotting.registry import plot

MARKERS = "osD^v<>"


@plot("laprop.categorical")
def categorical(ax, rows, e):
    """`value` (aggregated with `agg`, median by default, min-max band over the rest) against a categorical `x`
    (equally spaced ticks, so that sigma = 0 sits next to 0.1 on a log-like axis), one line per series x `hue`.
    Series are told apart by marker and `styles`, hue values by colour."""
    x, hue, agg = e["x"], e.get("hue"), e.get("agg", "median")
    if not len(rows):
        return
    xs = sorted(rows[x].dropna().unique())
    pos = {v: i for i, v in enumerate(xs)}
    hue_vals = list(dict.fromkeys(rows[hue].dropna())) if hue else [None]   # CSV order, as the line kind
    cmap = plt.get_cmap(e.get("cmap", "viridis"))
    series_order = e.get("series") or list(dict.fromkeys(rows["series"]))
    for si, series in enumerate(series_order):
        srows = rows[rows["series"] == series]
        for hi, hv in enumerate(hue_vals):
            g = srows if hv is None else srows[srows[hue] == hv]
            if not len(g):
                continue
            stats = g.groupby(x)["value"].agg([agg, "min", "max"]).sort_index()
            px = np.array([pos[v] for v in stats.index], dtype=float)
            style = {"color": cmap(hi / max(1, len(hue_vals) - 1) * 0.9), "marker": MARKERS[si % len(MARKERS)],
                     "ms": 4, "lw": 1.2, **e.get("styles", {}).get(series, {})}
            label = series + (f" {hue}={hv:g}" if hv is not None else "")
            ax.plot(px, stats[agg], label=label, **style)
            if e.get("band", True):
                ax.fill_between(px, stats["min"], stats["max"], color=style["color"], alpha=0.08, lw=0)
    ax.set_xticks(range(len(xs)), [f"{v:g}" for v in xs])
    if e.get("hline") is not None:
        ax.axhline(e["hline"], color="grey", lw=0.8, ls=":")
    ax.legend(fontsize=5.5, ncol=e.get("legend_cols", 1))


@plot("laprop.table")
def table(ax, rows, e):
    """A table of `value` per series: mean +- std over seeds (and n), e.g. final test accuracy (fig=T1)."""
    ax.axis("off")
    if not len(rows):
        return
    series_order = e.get("series") or list(dict.fromkeys(rows["series"]))
    cells = []
    for series in series_order:
        v = rows[rows["series"] == series]["value"].to_numpy(dtype=float)
        if len(v):
            std = f" +- {np.std(v, ddof=1):.2f}" if len(v) > 1 else ""
            cells.append([series, f"{np.mean(v):.2f}{std}", str(len(v)), ", ".join(f"{x:.2f}" for x in v)])
    t = ax.table(cellText=cells, colLabels=[e.get("label", "series"), e.get("ylabel", "mean"), "seeds", "values"],
                 loc="center", cellLoc="center")
    t.auto_set_font_size(False)
    t.set_fontsize(8)
    t.scale(1, 1.6)


RAINBOW_COLORS = {"adam": "tab:blue", "laprop": "tab:red"}


@plot("laprop.rainbow_eval_curves")
def rainbow_eval_curves(ax, rows, entry):
    """fig=7 (rainbow): evaluation score against agent steps, per optimizer one colour; repro seeds as thin lines
    with their mean thick, the authors' released evaluations dashed with a +-SEM band."""
    mean = rows[rows["metric"] == "eval_score_mean"]
    sem = rows[rows["metric"] == "eval_score_std"]
    for opt in sorted(set(mean["optimizer"].dropna())):
        color = RAINBOW_COLORS.get(opt)
        exp = mean[(mean["kind"] == "experiment") & (mean["optimizer"] == opt)]
        for _, g in exp.groupby("seed"):
            g = g.sort_values("step")
            ax.plot(g["step"], g["value"], color=color, lw=0.6, alpha=0.5)
        if len(exp):
            avg = exp.groupby("step")["value"].mean()
            ax.plot(avg.index, avg.to_numpy(), color=color, lw=1.8, marker="o" if len(avg) < 10 else None, ms=3,
                    label=f"repro {opt} (seed mean, {exp['seed'].nunique()} seeds)")
        ref = mean[(mean["kind"] == "paper") & (mean["optimizer"] == opt)].sort_values("step")
        if len(ref):
            ax.plot(ref["step"], ref["value"], color=color, lw=1.0, ls="--", label=f"paper {opt}")
            band = sem[(sem["kind"] == "paper") & (sem["optimizer"] == opt)].set_index("step")["value"]
            band = band.reindex(ref["step"]).to_numpy()
            ax.fill_between(ref["step"], ref["value"] - band, ref["value"] + band, color=color, alpha=0.15, lw=0)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=6)
