"""Custom axes for meta_alignment (CroMA, arXiv 2012.02813; catalog meta_alignment.md): the paper's tables and
per-query prediction dumps are tables, which the generic line/heatmap kinds cannot draw.
"""
from __future__ import annotations

import pandas as pd

from repro.plotting.registry import plot


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
