"""Custom axes for meta_alignment (CroMA, arXiv 2012.02813; catalog meta_alignment.md): fn(ax, rows, entry),
registered as "meta_alignment.<what>". The diagrams (figs 1-4, 8, 9) are drawn from the rows the experiments emit
from the task objects of repro/data/meta_alignment/tasks.py (nodes, edges, boxes with positions), never from pasted
images; the paper's tables and per-query prediction dumps are drawn as tables, which the generic kinds cannot draw.
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


def _text(v) -> str:
    return "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)


@plot("meta_alignment.graph")
def graph(ax, rows: pd.DataFrame, e: dict) -> None:
    """figs 3, 8: the modality-task graph from its node / edge / path_edge rows (positions in the rows): observed
    edges solid black, alignment purple, task grey, the generalization edge dashed red; the known path that
    replaces it drawn thick."""
    ax.set_xlim(-0.15, 1.15)
    ax.set_ylim(-0.15, 1.0)
    ax.axis("off")
    def curve(r):
        """A straight segment, or, between two nodes of one column that are not neighbours, an arc bulging
        outwards (so that it does not run through the nodes between them)."""
        t = np.linspace(0, 1, 30)
        xs, ys = r["x"] + (r["x1"] - r["x"]) * t, r["y"] + (r["y1"] - r["y"]) * t
        if abs(r["x"] - r["x1"]) < 1e-9:
            side = -1 if r["x"] < 0.5 else 1
            xs = xs + side * 4 * t * (1 - t) * 0.12 * abs(r["y1"] - r["y"])
        return xs, ys

    path = rows[rows["metric"] == "path_edge"]
    for _, r in path.iterrows():
        ax.plot(*curve(r), color="gold", lw=6, alpha=0.6, zorder=1)
    for _, r in rows[rows["metric"] == "edge"].iterrows():
        xs, ys = curve(r)
        ax.plot(xs, ys, ls=r["style"], color=r["color"], lw=1.5, zorder=2, label=r["edge_kind"])
        if _text(r.get("pairs")):
            ax.text(xs[15] - 0.02, ys[15], r["pairs"], fontsize=6, color=r["color"], ha="right")
    for _, r in rows[rows["metric"] == "node"].iterrows():
        ax.plot(r["x"], r["y"], "o", ms=14, mfc="#e8f0ff" if r["side"] == "modality" else "#fff0e0", mec="k",
                zorder=3)
        label = _text(r.get("text"))
        if e.get("details", True):
            ax.text(r["x"], r["y"] + 0.05, r["node"], fontsize=7, ha="center", zorder=4)
            ax.text(r["x"], r["y"] - 0.07, label[:38] + ("..." if len(label) > 38 else ""), fontsize=5,
                    ha="center", va="top", zorder=4)
        else:   # names beside the nodes: outside for tasks (right column), modalities (left column)
            right = r["side"] == "task"
            ax.text(r["x"] + (0.05 if right else -0.05), r["y"], r["node"], fontsize=7, va="center",
                    ha="left" if right else "right", zorder=4)
    handles, labels = ax.get_legend_handles_labels()
    uniq = dict(zip(labels, handles))
    if uniq:
        ax.legend(uniq.values(), uniq.keys(), fontsize=6, loc="lower center", ncol=4, frameon=False)


@plot("meta_alignment.boxes")
def boxes(ax, rows: pd.DataFrame, e: dict) -> None:
    """figs 1, 2, 4: boxes (centre x, y, width w, height h, text, colour) and arrows (x, y -> x1, y1) from rows."""
    from matplotlib.patches import FancyBboxPatch

    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.axis("off")
    for _, r in rows[rows["metric"] == "box"].iterrows():
        ax.add_patch(FancyBboxPatch((r["x"] - r["w"] / 2, r["y"] - r["h"] / 2), r["w"], r["h"],
                                    boxstyle="round,pad=0.005", fc=_text(r.get("color")) or "white", ec="k", lw=0.8))
        ax.text(r["x"], r["y"], _text(r["text"]), ha="center", va="center", fontsize=e.get("fontsize", 5.5),
                wrap=True)
    for _, r in rows[rows["metric"] == "arrow"].iterrows():
        ax.annotate("", xy=(r["x1"], r["y1"]), xytext=(r["x"], r["y"]),
                    arrowprops=dict(arrowstyle="->", color=_text(r.get("color")) or "k",
                                    ls="--" if r.get("style") == "dashed" else "-", lw=1.0))
        if _text(r.get("text")):
            ax.text((r["x"] + r["x1"]) / 2, (r["y"] + r["y1"]) / 2 + 0.03, r["text"], fontsize=5.5,
                    ha="center", color=_text(r.get("color")) or "k")


@plot("meta_alignment.cluster_table")
def cluster_table(ax, rows: pd.DataFrame, e: dict) -> None:
    """fig 9: one table row per cluster: its source classes and target classes (from the member rows), and the
    meta-split of each target class when split rows are present."""
    members = rows[rows["metric"] == "member"]
    split_of = {}
    splits = rows[rows["metric"] == "split_classes"]
    if "classes" in splits.columns:
        for _, r in splits[splits["classes"].notna()].iterrows():
            for c in str(r["classes"]).split():
                split_of[c] = r["split"]
    cells = []
    for cluster, g in members.groupby("cluster", sort=True):
        src = ", ".join(g[g["side"] == "source"]["class_name"])
        tgt = ", ".join(f"{c} [{split_of[c]}]" if c in split_of else c for c in g[g["side"] == "target"]["class_name"])
        cells.append([cluster, src, tgt])
    ax.axis("off")
    if cells:
        t = ax.table(cellText=cells, colLabels=e.get("columns", ["cluster", "source classes", "target classes"]),
                     loc="center", cellLoc="left", colWidths=[0.13, 0.42, 0.45])
        t.auto_set_font_size(False)
        t.set_fontsize(5)
        t.scale(1, 1.0)


@plot("meta_alignment.row_table")
def row_table(ax, rows: pd.DataFrame, e: dict) -> None:
    """The selected rows as a table of the entry's `cols` (e.g. fig 8's edge list)."""
    cols = e["cols"]
    ax.axis("off")
    cells = [[_text(r.get(c)) for c in cols] for _, r in rows.iterrows()]
    if cells:
        t = ax.table(cellText=cells, colLabels=cols, loc="center", cellLoc="left")
        t.auto_set_font_size(False)
        t.set_fontsize(5.5)



# ---- tables and prediction dumps (fig=T1-T7, 5, 7, 10) ----
def _text_table(ax, header: list[str], body: list[list[str]], fontsize: int = 7) -> None:
    ax.axis("off")
    if not body:
        return
    t = ax.table(cellText=body, colLabels=header, cellLoc="center", bbox=[0.0, 0.0, 1.0, 0.95])
    t.auto_set_font_size(False)
    t.set_fontsize(fontsize)


@plot("meta_alignment.table")
def table(ax, rows: pd.DataFrame, e: dict) -> None:
    """Mean (and std over seeds) of `metric` (one or a list) per `row` column value (default series) x `col` column
    value (default k_shot; `metric` when the rows have no such column); paper rows (kind=paper) appear as their own rows with the reported means."""
    metric, row, col = e.get("metric", "test_acc"), e.get("row", "series"), e.get("col", "k_shot")
    r = rows[rows["metric"].isin(metric if isinstance(metric, list) else [metric])]
    if col not in r.columns or r[col].isna().all():   # e.g. retrieval rows: one column per metric
        col = "metric"
    if not len(r):
        ax.axis("off")
        return
    label = r[row].astype(str)
    if "method" in r.columns and row == "series":   # paper rows carry the method name: "paper: croma"
        label = label.where(r["kind"] != "paper", "paper: " + r["method"].astype(str))
    r = r.assign(_row=label)
    stats = r.groupby(["_row", col])["value"].agg(["mean", "std", "count"]).reset_index()
    cols = sorted(stats[col].dropna().unique())
    body = []
    for name, g in stats.groupby("_row", sort=False):
        cells = []
        for c in cols:
            m = g[g[col] == c]
            if not len(m):
                cells.append("")
                continue
            mean, std, n = m["mean"].iloc[0], m["std"].iloc[0], m["count"].iloc[0]
            fmt = ".3f" if abs(mean) < 1.5 else ".1f"   # rates (recall, hit rate) vs percentages and ranks
            cells.append(f"{mean:{fmt}}" + (f" +- {std:{fmt}}" if n > 1 and pd.notna(std) else ""))
        body.append([name, *cells])
    names = [str(c) if col == "metric" else f"{col}={c:g}" if isinstance(c, float) else f"{col}={c}" for c in cols]
    _text_table(ax, [row, *names], body)


@plot("meta_alignment.predictions")
def predictions(ax, rows: pd.DataFrame, e: dict) -> None:
    """Per-query predictions of one evaluation task, one column per series (e.g. Oracle, CroMA): true class and
    each series' prediction, marked ok / x (the paper's green / red), at most `max_rows` queries."""
    r = rows[rows["metric"] == "correct"]
    if not len(r):
        ax.axis("off")
        return
    series = list(e.get("series") or sorted(r["series"].unique()))
    first = r[r["series"] == series[0]]
    seed = first["seed"].min() if "seed" in first.columns else None
    body = []
    for q in sorted(first["query"].unique())[: int(e.get("max_rows", 12))]:
        cells = []
        true = None
        for s in series:
            m = r[(r["series"] == s) & (r["query"] == q) & ((r["seed"] == seed) if seed is not None else True)]
            if not len(m):
                cells.append("")
                continue
            true = m["true_name"].iloc[0]
            cells.append(f"{m['pred_name'].iloc[0]} ({'ok' if m['value'].iloc[0] == 1 else 'x'})")
        body.append([str(int(q)), str(true), *cells])
    _text_table(ax, ["query", "true", *series], body, fontsize=6)


@plot("meta_alignment.hparams")
def hparams(ax, rows: pd.DataFrame, e: dict) -> None:
    """fig=T3-T5: parameter, the paper's value, the resolved impl=paper and impl=code values, match (one block per
    axis: the entry's `where` picks it)."""
    used = rows[rows["metric"] == "used_paper"].set_index(["block", "parameter"])["text"]
    code = rows[rows["metric"] == "used_code"].set_index(["block", "parameter"])["text"]
    match = rows[rows["metric"] == "match"].set_index(["block", "parameter"])
    body = []
    for key in match.index:
        body.append([key[1], str(match.loc[key, "text"]).split(" vs ")[-1], str(used.get(key, "")),
                     str(code.get(key, "")), "yes" if match.loc[key, "value"] == 1 else "NO"])
    _text_table(ax, ["parameter", "paper", "impl=paper", "impl=code", "match"], body, fontsize=6)
