"""LaProp fig=7 (rainbow) axes: evaluation score against agent steps, per optimizer one colour; repro seeds as thin
lines with their mean thick, the authors' released evaluations dashed with a +-SEM band."""
from __future__ import annotations

from repro.plotting.registry import plot

COLORS = {"adam": "tab:blue", "laprop": "tab:red"}


@plot("laprop_rainbow.eval_curves")
def eval_curves(ax, rows, entry):
    mean = rows[rows["metric"] == "eval_score_mean"]
    sem = rows[rows["metric"] == "eval_score_std"]
    for opt in sorted(set(mean["optimizer"].dropna())):
        color = COLORS.get(opt)
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
