"""Custom axes for the Snake paper (catalog snake.md): fn(ax, rows, entry), registered as "snake.<what>".

Bands follow the official code: at each x the per-seed predictions are sorted; the median is index floor(N/2) and
the band runs from index 1 to N-2 when N >= 5 (for N = 21 the 2nd smallest to the 2nd largest, about 5-95 %),
else from the minimum to the maximum.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from repro.plotting.registry import plot


def order_band(values: np.ndarray) -> tuple[float, float, float]:
    v = np.sort(values[np.isfinite(values)])
    n = len(v)
    if n == 0:
        return np.nan, np.nan, np.nan
    lo, hi = (1, n - 2) if n >= 5 else (0, n - 1)
    return v[n // 2], v[lo], v[hi]


def _median_band(rows: pd.DataFrame, x: str = "x"):
    g = rows.groupby(x)["value"].apply(lambda s: order_band(s.to_numpy(dtype=float)))
    xs = g.index.to_numpy(dtype=float)
    arr = np.array(g.tolist(), dtype=float).reshape(-1, 3)
    return xs, arr[:, 0], arr[:, 1], arr[:, 2]


@plot("snake.extrapolation")
def extrapolation(ax, rows: pd.DataFrame, e: dict) -> None:
    """Ground truth (blue), training points (black), median prediction (red) and its order-statistic band, for
    every experiment series in the rows (colours from entry `colors`)."""
    truth = rows[rows["metric"] == "truth"].sort_values("x")
    if len(truth):
        ax.plot(truth["x"], truth["value"], color="tab:blue", lw=1.0,
                label=(e.get("labels") or {}).get("truth", "ground truth"))
    colors = e.get("colors", {})
    for i, (series, g) in enumerate(rows[rows["metric"] == "pred"].groupby("series", sort=False)):
        xs, med, lo, hi = _median_band(g)
        c = colors.get(series, ["tab:red", "tab:green", "tab:purple", "tab:orange"][i % 4])
        ax.plot(xs, med, color=c, lw=1.4, label=(e.get("labels") or {}).get(series, f"{series} (median)"))
        ax.fill_between(xs, lo, hi, color=c, alpha=0.25, lw=0)
    pts = rows[rows["metric"] == "train_point"]
    if len(pts):
        first = pts[pts["series"] == pts["series"].iloc[0]]
        ax.plot(first["x"], first["value"], "k.", ms=3, label="training points")
    for xv in e.get("vlines", []):
        ax.axvline(xv, color="gray", ls="--", lw=0.8)
    if ax.get_legend_handles_labels()[0]:   # a panel with no rows at this scale has nothing to label
        ax.legend(fontsize=6)


@plot("snake.table")
def table(ax, rows: pd.DataFrame, e: dict) -> None:
    """Table 1: measured (and paper) monotone / periodic / first non-linear term per activation."""
    meas = rows[rows["series"] == e.get("measured", "measured")]
    ref = rows[rows["series"] == e.get("reference", "paper")]
    acts = list(dict.fromkeys(meas["activation"]))

    def val(df, act, metric):
        v = df[(df["activation"] == act) & (df["metric"] == metric)]["value"]
        return float(v.iloc[0]) if len(v) else np.nan

    cells = []
    for act in acts:
        mono = "yes" if val(meas, act, "min_derivative") >= -1e-9 else "no"
        per = "yes" if val(meas, act, "periodic_spread") <= 1e-9 else "no"
        order, coef = val(meas, act, "taylor_order"), val(meas, act, "taylor_coef")
        term = "-" if not order or not np.isfinite(coef) else f"{coef:.4g} x^{int(order)}"
        rorder, rcoef = val(ref, act, "taylor_order"), val(ref, act, "taylor_coef")
        paper = "-" if not (np.isfinite(rorder) and rorder) else f"{rcoef:.4g} x^{int(rorder)}"
        cells.append([act, mono, per, term, paper])
    ax.axis("off")
    t = ax.table(cellText=cells, colLabels=["activation", "monotone", "(semi-)periodic", "first term (fit)",
                                            "paper"], loc="center", fontsize=7)
    t.scale(1, 1.3)


@plot("snake.series_prediction")
def series_prediction(ax, rows: pd.DataFrame, e: dict) -> None:
    """A time-series panel: data (dots), training boundary lines, and per series the median prediction with its
    order-statistic band. Rows: metric `data` (x, value) and `pred` (x, value) per seed."""
    data = rows[rows["metric"] == e.get("data_metric", "data")].drop_duplicates("x").sort_values("x")
    if len(data):
        ax.plot(data["x"], data["value"], e.get("data_marker", "."), color=e.get("data_color", "tab:green"),
                ms=e.get("data_ms", 2), label="data")
    colors = e.get("colors", {})
    for i, (series, g) in enumerate(rows[rows["metric"] == e.get("pred_metric", "pred")].groupby("series", sort=False)):
        xs, med, lo, hi = _median_band(g)
        c = colors.get(series, ["tab:red", "tab:green", "tab:purple", "tab:orange", "tab:blue"][i % 5])
        ax.plot(xs, med, color=c, lw=1.2, label=series)
        lo_rows = rows[(rows["series"] == series) & (rows["metric"] == "pred_lo")]
        if len(lo_rows):      # an explicit interval (ARIMA)
            hi_rows = rows[(rows["series"] == series) & (rows["metric"] == "pred_hi")]
            lo_s, hi_s = lo_rows.groupby("x")["value"].median(), hi_rows.groupby("x")["value"].median()
            ax.fill_between(lo_s.index, lo_s.values, hi_s.reindex(lo_s.index).values, color=c, alpha=0.2, lw=0)
        elif e.get("band", True):
            ax.fill_between(xs, lo, hi, color=c, alpha=0.2, lw=0)
    for xv in e.get("vlines", []):
        ax.axvline(xv, color="gray", ls="--", lw=0.8)
    ax.legend(fontsize=6)


@plot("snake.curves")
def curves(ax, rows: pd.DataFrame, e: dict) -> None:
    """One labelled curve per `hue` value (value against `x`), e.g. Snake_a for several a, or the activations."""
    x, hue = e.get("x", "x"), e["hue"]
    for hv, g in rows.groupby(hue, sort=False):
        g = g.sort_values(x)
        label = f"{e.get('label', hue)}={hv:g}" if isinstance(hv, (int, float)) else str(hv)
        ax.plot(g[x], g["value"], lw=1.2, label=label)
    ax.legend(fontsize=6)


@plot("snake.bars")
def bars(ax, rows: pd.DataFrame, e: dict) -> None:
    """Mean +- sd over seeds of one metric per method (series, or `label_cols` where a series is swept, e.g. the
    ARIMA order and drift); rows of kind `paper` (column `method`) as black markers on the matching bar."""
    exp = rows[rows["kind"] != "paper"].copy()
    cols = [c for c in e.get("label_cols", []) if c in exp.columns]

    def label(r):
        extra = [f"{c}={r[c]}" for c in cols if pd.notna(r[c]) and str(r[c]) != "nan"]
        return str(r.get("method")) if "method" in exp.columns and pd.notna(r.get("method")) and extra else \
            (r["series"] + (" " + " ".join(extra) if extra else ""))

    exp["label"] = [label(r) + (" +drift" if "drift" in cols and str(r.get("drift")) == "True" else "")
                    if "method" in exp.columns and pd.notna(r.get("method")) else label(r) for _, r in exp.iterrows()]
    stats = exp.groupby("label", sort=False)["value"].agg(["mean", "std"])
    xs = np.arange(len(stats))
    ax.bar(xs, stats["mean"], yerr=stats["std"].fillna(0), color="tab:blue", alpha=0.7, capsize=2)
    ax.set_xticks(xs, stats.index, rotation=60, ha="right", fontsize=6)
    paper = rows[rows["kind"] == "paper"]
    for _, r in paper.iterrows():
        if r.get("method") in stats.index:
            i = list(stats.index).index(r["method"])
            ax.plot([i - 0.4, i + 0.4], [r["value"]] * 2, color="black", lw=1.5)


@plot("snake.final_vs_x")
def final_vs_x(ax, rows: pd.DataFrame, e: dict) -> None:
    """The last-epoch value of each run against a swept `x` (markers, median over seeds), and rows of kind
    `paper` as a dashed line."""
    x = e.get("x", "a")
    exp = rows[rows["kind"] == "experiment"]
    if len(exp):
        last = exp[exp["step"] == exp.groupby("run_key")["step"].transform("max")]
        for series, g in last.groupby("series", sort=False):
            s = g.groupby(x)["value"].median().sort_index()
            ax.plot(s.index, s.values, "+", ms=8, mew=1.5, label=series)
    paper = rows[rows["kind"] == "paper"].sort_values(x)
    if len(paper):
        ax.plot(paper[x], paper["value"], "k--", lw=1, label="paper")
    ax.legend(fontsize=6)
