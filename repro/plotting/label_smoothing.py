"""Custom axes for label_smoothing, drawn from the tidy CSV alone (the authors' grid cells as kind=paper rows, the
theory curves as kind=theory rows): the (a, p) heat-maps with theory curves and argmin/argmax markers (fig=2, fig=3),
test error against p (fig=4), the mild-smoothing bars (fig=5) and the relaxation power law (fig=6). As in the
authors' notebook, x = a (clean rate) and y = p."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from repro.plotting.registry import plot

CURVE_STYLE = {"alpha": dict(color="gold", ls=":", lw=1.6, label="alpha = a"),
               "beta": dict(color="tab:blue", ls="--", lw=1.4, label="beta"),
               "gamma": dict(color="tab:orange", ls="-", lw=2.2, label="gamma")}


def _missing(rows, *cols) -> bool:
    return rows.empty or any(c not in rows.columns for c in ("metric", "series", *cols))


def _pick(rows, series, metric):
    return rows[(rows["series"] == series) & (rows["metric"] == metric)]


def _edges(v):
    v = np.asarray(v, dtype=float)
    if len(v) == 1:
        return np.array([v[0] - 0.025, v[0] + 0.025])
    mid = (v[1:] + v[:-1]) / 2
    return np.concatenate([[v[0] - (mid[0] - v[0])], mid, [v[-1] + (v[-1] - mid[-1])]])


@plot("label_smoothing.grid_heatmap")
def grid_heatmap(ax, rows, e):
    """e["cells"] = {series, metric}: pcolormesh of the metric over x = clean_rate, y = p; e["contours"]: levels;
    e["curves"]: theory metrics (alpha, beta, gamma) of e.get("theory_series", "theory") drawn over a, beta shifted
    by e.get("beta_shift", 0) as in the notebook; e["marks"]: {series, metric} per-column p drawn as "+"."""
    if _missing(rows, "clean_rate", "p"):
        return
    c = e["cells"]
    cells = _pick(rows, c["series"], c["metric"])
    grid = cells.pivot_table(index="p", columns="clean_rate", values="value").sort_index()
    xs, ys = grid.columns.to_numpy(float), grid.index.to_numpy(float)
    im = ax.pcolormesh(_edges(xs), _edges(ys), grid.to_numpy(float), cmap=e.get("cmap", "viridis"),
                       vmin=e.get("vmin"), vmax=e.get("vmax"), shading="flat")
    ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label=e.get("colorbar", c["metric"]))
    if e.get("contours") and len(xs) > 1 and len(ys) > 1:
        cs = ax.contour(xs, ys, grid.to_numpy(float), levels=e["contours"], colors="white", linewidths=0.6)
        ax.clabel(cs, fontsize=5)
    theory = rows[rows["series"] == e.get("theory_series", "theory")]
    for m in e.get("curves", []):
        t = theory[(theory["metric"] == m) & theory["clean_rate"].between(xs.min(), xs.max())].sort_values("clean_rate")
        shift = e.get("beta_shift", 0.0) if m == "beta" else 0.0
        ax.plot(t["clean_rate"], t["value"] - shift, **CURVE_STYLE.get(m, {"label": m}))
    mk = e.get("marks")
    if mk:
        m = _pick(rows, mk["series"], mk["metric"]).sort_values("clean_rate")
        ax.plot(m["clean_rate"], m["value"], ls="none", marker="+", ms=7, mew=1.5, color=mk.get("color", "red"),
                label=mk.get("label", mk["metric"]))
    ax.set_xlim(_edges(xs)[0], _edges(xs)[-1])
    ax.set_ylim(_edges(ys)[0], _edges(ys)[-1])
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=6, loc="lower right")


@plot("label_smoothing.error_curves")
def error_curves(ax, rows, e):
    """Test error (1 - acc/100) against p, one dashed curve per clean rate of e["series"] (default paper), a "x" at
    each curve's minimum and a "+" at p = 1; log y."""
    if _missing(rows, "clean_rate", "p"):
        return
    s = _pick(rows, e.get("series_name", "paper"), "test_error")
    rates = sorted(set(s["clean_rate"].dropna()))
    cm = plt.get_cmap("viridis")
    for i, a in enumerate(rates):
        g = s[s["clean_rate"] == a].sort_values("p")
        col = cm(i / max(1, len(rates) - 1) * 0.9)
        ax.plot(g["p"], g["value"], ls="--", color=col, label=f"a={a:g}")
        j = g["value"].idxmin()
        ax.plot(g.loc[j, "p"], g.loc[j, "value"], marker="x", ms=7, color=col, ls="none")
        one = g[g["p"] == 1.0]
        ax.plot(one["p"], one["value"], marker="+", ms=9, color=col, ls="none")
    ax.set_yscale("log")
    ax.legend(fontsize=6)


@plot("label_smoothing.bars")
def bars(ax, rows, e):
    """acc(p_mild) - acc(p = 1) per clean rate (metric improvement of e.get("series_name", "paper")): positive bars
    orange, negative purple, dashed zero line."""
    if _missing(rows, "clean_rate"):
        return
    b = _pick(rows, e.get("series_name", "paper"), "improvement").sort_values("clean_rate")
    colors = ["tab:orange" if v > 0 else "tab:purple" for v in b["value"]]
    ax.bar(b["clean_rate"], b["value"], width=0.04, color=colors)
    ax.axhline(0, color="black", ls="--", lw=0.8)


@plot("label_smoothing.relaxation")
def relaxation(ax, rows, e):
    """Log-log scatter of the relaxation time (metric peak_epoch of series e.get("series_name", "paper")) against
    p - 1/K (column x) for e["a_values"], the
    pooled OLS fit over the fitted points (grey), and a red line of slope e["exponent"] (the authors' -0.72) through
    the pooled fit at the geometric mean of the fitted x."""
    if _missing(rows, "clean_rate", "x"):
        return
    rows = rows[rows["series"] == e.get("series_name", "paper")]
    pk = rows[rows["metric"] == "peak_epoch"]
    cm = plt.get_cmap("viridis")
    avals = e.get("a_values") or sorted(set(pk["clean_rate"].dropna()))
    for i, a in enumerate(avals):
        g = pk[(pk["clean_rate"] - a).abs() < 1e-9]
        if not len(g):
            continue
        ax.plot(g["x"], g["value"], ls="none", marker="o", ms=3, mfc="none",
                color=cm(i / max(1, len(avals) - 1) * 0.9), label=f"a={a:g}")
    fit = pk[pk["in_fit"].astype(str).str.lower() == "true"]
    pooled = rows[rows["metric"].isin(["slope", "intercept"]) & (rows["fit"] == "pooled")]
    pooled = pooled.set_index("metric")["value"]
    if len(fit) and {"slope", "intercept"} <= set(pooled.index):
        xs = np.geomspace(fit["x"].min(), fit["x"].max(), 50)
        ax.plot(xs, np.exp(pooled["intercept"]) * xs ** pooled["slope"], color="grey", lw=1,
                label=f"pooled OLS slope {pooled['slope']:.3f}")
        x0 = float(np.exp(np.log(fit["x"]).mean()))
        y0 = np.exp(pooled["intercept"]) * x0 ** pooled["slope"]
        k = float(e.get("exponent", -0.72))
        ax.plot(xs, y0 * (xs / x0) ** k, color="red", lw=1.4, label=f"~ (p - 1/K)^{k:g}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.legend(fontsize=6)


@plot("label_smoothing.argmin_vs_theory")
def argmin_vs_theory(ax, rows, e):
    """Per-column optimal p of the data (metric e.get("metric_name", "argmin_p_loss") of each series in
    e["data_series"], markers) against the theory curves e["curves"] of the theory series (lines)."""
    if _missing(rows, "clean_rate"):
        return
    markers = ["+", ".", "x", "s"]
    name = e.get("metric_name", "argmin_p_loss")
    for i, s in enumerate(e.get("data_series", ["paper"])):
        m = _pick(rows, s, name).sort_values("clean_rate")
        ax.plot(m["clean_rate"], m["value"], ls="none", marker=markers[i % 4], ms=6, mfc="none", label=s)
    theory = rows[rows["series"] == e.get("theory_series", "theory")]
    for c in e.get("curves", ["alpha", "beta", "gamma"]):
        t = _pick(theory, e.get("theory_series", "theory"), c).sort_values("clean_rate")
        ax.plot(t["clean_rate"], t["value"], **CURVE_STYLE.get(c, {"label": c}))
    ax.legend(fontsize=6)
