"""Custom axes for adam_variance: curves of `value` against `u`, one per (series, m)."""
from __future__ import annotations

import matplotlib.pyplot as plt

from repro.plotting.registry import plot


@plot("adam_variance.curves")
def curves(ax, rows, e):
    """One line per series x m (rows without m: one line per series), x = `u`; `step: true` draws histograms."""
    cmap = plt.get_cmap("tab10")
    i = 0
    for series, srows in rows.groupby("series", sort=False):
        groups = srows.groupby("m", sort=True) if "m" in srows and srows["m"].notna().any() else [(None, srows)]
        for m, g in groups:
            g = g.sort_values("u")
            label = f"{series}" + (f" m={m:g}" if m is not None else "")
            style = dict(ls="--", color="black") if m is None else dict(color=cmap(i % 10))
            if e.get("step"):
                ax.step(g["u"], g["value"], where="mid", label=label, lw=1.0, **style)
            else:
                ax.plot(g["u"], g["value"], label=label, lw=1.2, **style)
            i += 1
    ax.legend(fontsize=6)


@plot("adam_variance.update_hist")
def update_hist(ax, rows, e):
    """One histogram panel at m = e["m"]: each experiment series (and seed) as a step histogram of `density`, theory
    rows at that m (Eq. 30) as lines, theory rows without m (N(0,1)) dashed black."""
    m = e["m"]
    cmap = plt.get_cmap("tab10")
    at_m = rows[rows["m"] == m] if "m" in rows else rows.iloc[:0]
    exp = at_m[at_m["kind"] == "experiment"]
    keys = ["series", "seed"] if exp["seed"].nunique() > 1 else ["series"]
    for i, (key, g) in enumerate(exp.groupby(keys, sort=False)):
        g = g.sort_values("u")
        label = " ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in (key if isinstance(key, tuple) else (key,)))
        ax.step(g["u"], g["value"], where="mid", lw=1.0, color=cmap((i + 1) % 10), label=label)
    for series, g in at_m[at_m["kind"] == "theory"].groupby("series", sort=False):
        g = g.sort_values("u")
        ax.plot(g["u"], g["value"], lw=1.2, color=cmap(0), label=f"{series} (Eq. 30)")
    free = rows[(rows["kind"] == "theory") & rows["m"].isna()] if "m" in rows else rows[rows["kind"] == "theory"]
    for series, g in free.groupby("series", sort=False):
        g = g.sort_values("u")
        ax.plot(g["u"], g["value"], lw=1.0, ls="--", color="green", label=series)
    ax.legend(fontsize=6)
