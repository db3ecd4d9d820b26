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
