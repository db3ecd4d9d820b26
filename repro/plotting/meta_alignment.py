"""Custom axes for meta_alignment (catalog meta_alignment.md): fn(ax, rows, entry), registered as
"meta_alignment.<what>". The diagrams (figs 1-4, 8, 9) are drawn from the rows the experiments emit from the task
objects of repro/data/meta_alignment/tasks.py (nodes, edges, boxes with positions), never from pasted images.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from repro.plotting.registry import plot

# --- fig 12 and the diagrams (meta_aux) -------------------------------------------------------------------------


@plot("meta_alignment.tradeoff")
def tradeoff(ax, rows: pd.DataFrame, e: dict) -> None:
    """fig 12: the alignment curves (mean over repeats, squares; the [derived] expectation as a thin line) against
    n_align, the supervised source (dashed) and target (dotted) lines, and the paper's readings (grey x)."""
    labels = e.get("labels") or {}
    colors = {"strong": "tab:blue", "weak": "tab:orange"}
    for series, style in ((e.get("source", "supervised_source"), "--"), (e.get("target", "supervised_target"), ":")):
        g = rows[(rows["series"] == series) & (rows["metric"] == "test_loss")]
        if len(g):
            ax.axhline(g["value"].mean(), color="k", ls=style, lw=1.2, label=labels.get(series, series))
    for series in e.get("curves", ["strong", "weak"]):
        g = rows[rows["series"] == series]
        sim = g[g["metric"] == "test_loss"].groupby("n_align")["value"].mean()
        th = g[g["metric"] == "theory_loss"].groupby("n_align")["value"].mean()
        c = colors.get(series)
        if len(sim):
            ax.plot(sim.index, sim.to_numpy(), ls="none", marker="s", ms=4, mfc="none", color=c,
                    label=labels.get(series, series))
        if len(th):
            ax.plot(th.index, th.to_numpy(), lw=0.8, color=c, alpha=0.7)
    paper = rows[rows["kind"] == "paper"]
    if "curve" in paper.columns:
        for curve, g in paper[paper["n_align"].notna()].groupby("curve"):
            ax.plot(g["n_align"], g["value"], ls="none", marker="x", ms=4, color=colors.get(curve, "grey"),
                    alpha=0.6, label=f"paper, {curve} (read from plot)")
    if "line" in paper.columns:
        for _, r in paper[paper["line"].notna()].iterrows():
            ax.axhline(r["value"], color="grey", lw=0.8, alpha=0.5, ls="--" if r["line"] == "source" else ":")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=6)
