"""Draw a figure from its tidy CSV alone: one axes per entry of each panel's `plot` list.

Axes kinds (the entry's `kind`):
  line     curves of `value` against `x` (default `step`), one per series x `hue` value, aggregated over seeds
           with `agg` (median by default, with a min-max band when there are several seeds). Theory rows are thin
           lines, the authors' released numbers (kind=paper) dashed, experiments solid (or markers with
           `points: true`, as in the papers' "squares = experiment" plots).
  heatmap  `value` over the (x, y) grid for one series, with an optional guide curve `guide: {y: expr-in-x}`.
  hist     a density histogram of `value`, with optional theory rows drawn as a line.
  custom   `fn: name` from repro.plotting.registry, called as fn(ax, rows, entry).
Common keys: metric, series (list), where (an expression of repro/expr.py), title, xlabel, ylabel, logx, logy, xlim, ylim, vlines,
labels ({series: legend text}; a panel's `labels` reach its entries). Entries and claims may range over a facet
(`for_each`, expanded at load time: repro/runner/facets.py); the figure's `layout: {rows, cols}` sets the grid.
"""
from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from repro.plotting import registry  # noqa: E402
from repro import expr  # noqa: E402

KIND_STYLE = {"experiment": dict(lw=1.6), "theory": dict(lw=1.0, alpha=0.9), "paper": dict(lw=1.2, ls="--")}


def _rows(df: pd.DataFrame, panel: str, entry: dict) -> pd.DataFrame:
    out = df[df["panel"] == panel]
    if entry.get("metric"):
        m = entry["metric"]
        out = out[out["metric"].isin(m if isinstance(m, list) else [m])]
    if entry.get("series"):
        out = out[out["series"].isin(entry["series"])]
    if entry.get("where"):
        out = expr.query(out, entry["where"])
    return out


def _line(ax, rows: pd.DataFrame, e: dict) -> None:
    x = e.get("x", "step")
    hue = e.get("hue")
    agg = e.get("agg", "median")
    hue_vals = list(dict.fromkeys(rows[hue])) if hue else [None]
    colors = plt.get_cmap(e.get("cmap", "viridis" if hue else "tab10"))
    series_order = e.get("series") or list(dict.fromkeys(rows["series"]))
    styles = e.get("styles", {})
    # theory/paper series: one legend entry per series beside an experiment (its colours are the experiment's); alone,
    # one per hue value (up to 8), else nothing names their colours
    each_hue = len(hue_vals) <= 8 and not (rows[rows["series"].isin(series_order)]["kind"] == "experiment").any()
    for si, series in enumerate(series_order):
        srows = rows[rows["series"] == series]
        if not len(srows):
            continue
        kind = srows["kind"].iloc[0]
        for hi, hv in enumerate(hue_vals):
            g = srows if hv is None else srows[srows[hue] == hv]
            if not len(g):
                continue
            stats = g.groupby(x)["value"].agg([agg, "min", "max", "count"]).sort_index()
            style = dict(KIND_STYLE.get(kind, {}))
            if hue:
                style["color"] = colors(hi / max(1, len(hue_vals) - 1) * 0.9)
            else:
                style["color"] = colors(si % 10)
            style.update(styles.get(series, {}))
            label = f"{(e.get('labels') or {}).get(series, series)}" + (f" {hue}={hv:g}" if isinstance(hv, (int, float)) else f" {hv}" if hv is not None else "")
            if kind != "experiment" and hi > 0 and not each_hue:
                label = None
            if kind == "experiment" and e.get("points"):
                ax.plot(stats.index, stats[agg], ls="none", marker=style.pop("marker", "s"), ms=4, mfc="none",
                        label=label, **{k: v for k, v in style.items() if k not in ("lw", "ls")})
            else:
                ax.plot(stats.index, stats[agg], label=label, **style)
                if kind == "experiment" and stats["count"].max() > 1 and e.get("band", True):
                    ax.fill_between(stats.index, stats["min"], stats["max"], color=style["color"], alpha=0.15, lw=0)


def _heatmap(ax, rows: pd.DataFrame, e: dict) -> None:
    x, y = e["x"], e["y"]
    grid = rows.groupby([y, x])["value"].agg(e.get("agg", "median")).unstack(x).sort_index()
    values = grid.to_numpy(dtype=float)
    if e.get("log10"):
        with np.errstate(divide="ignore", invalid="ignore"):
            values = np.log10(values)
    im = ax.imshow(values, origin="lower", aspect="auto", cmap=e.get("cmap", "magma"),
                   vmin=e.get("vmin"), vmax=e.get("vmax"))
    ax.set_xticks(range(grid.shape[1]), [f"{v:g}" for v in grid.columns], rotation=45, fontsize=7)
    ax.set_yticks(range(grid.shape[0]), [f"{v:g}" for v in grid.index], fontsize=7)
    ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label=e.get("colorbar", ""))
    guide = e.get("guide")
    if guide:   # a curve y = f(x), mapped onto the index grid by interpolation
        xs = np.asarray(grid.columns, dtype=float)
        ys = np.array([float(expr.evaluate(guide["y"], {x: v})) for v in xs])
        yi = np.interp(ys, np.asarray(grid.index, dtype=float), np.arange(grid.shape[0]))
        ax.plot(np.arange(len(xs)), yi, color=guide.get("color", "cyan"), lw=1.2, label=guide.get("label"))
        if guide.get("label"):
            ax.legend(fontsize=7, loc="upper left")


def _hist(ax, rows: pd.DataFrame, e: dict) -> None:
    exp = rows[rows["kind"] == "experiment"]
    ax.hist(exp["value"], bins=e.get("bins", 60), density=True, alpha=0.6, label="experiment")
    theory = rows[rows["kind"] == "theory"].sort_values(e.get("x", "x"))
    if len(theory):
        ax.plot(theory[e.get("x", "x")], theory["value"], lw=1.2, label="theory")


DRAW = {"line": _line, "heatmap": _heatmap, "hist": _hist}


def grid_shape(n: int, layout: dict | None = None) -> tuple[int, int]:
    """(rows, cols) for n axes: the figure's layout (either key may be left out), else three columns."""
    rows, cols = (layout or {}).get("rows"), (layout or {}).get("cols")
    if rows and cols:
        return rows, cols
    if rows:
        return rows, math.ceil(n / rows)
    cols = cols or min(3, n)
    return math.ceil(n / cols), cols


def draw(df: pd.DataFrame, title: str, panels: dict, out_paths: list, layout: dict | None = None) -> None:
    entries = [(alias, e) for alias, p in panels.items() for e in (p.get("plot") or [])]
    n = max(1, len(entries))
    nrows, ncols = grid_shape(n, layout)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.6 * ncols, 3.6 * nrows), squeeze=False)
    for ax, (alias, e) in zip(axes.flat, entries):
        rows = _rows(df, alias, e)
        kind = e.get("kind", "line")
        if kind == "custom":
            registry.get(e["fn"])(ax, rows, e)
        else:
            DRAW[kind](ax, rows, e)
        if e.get("logx"):
            ax.set_xscale("log")
        if e.get("logy"):
            ax.set_yscale("log")
        for v in e.get("vlines", []):   # e.g. a predicted divergence
            ax.axvline(v, color="grey", ls=":", lw=1)
        if e.get("xlim"):
            ax.set_xlim(*e["xlim"])
        if e.get("ylim"):
            ax.set_ylim(*e["ylim"])
        ax.set_title(e.get("title", alias), fontsize=9)
        ax.set_xlabel(e.get("xlabel", e.get("x", "step")))
        ax.set_ylabel(e.get("ylabel", e.get("y") if kind == "heatmap" else e.get("metric", "value")))
        if kind == "line" and e.get("legend", True) and ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=6, ncol=e.get("legend_cols", 1))
        if not len(rows):
            ax.text(0.5, 0.5, "no rows", ha="center", transform=ax.transAxes)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    scale = df["scale"].iloc[0] if len(df) else ""
    data = ",".join(sorted(set(df["data"].dropna().astype(str)))) if len(df) else ""
    fig.suptitle(f"{title}  [{scale}, data={data}]", fontsize=10)
    fig.tight_layout()
    for p in out_paths:   # no creation date in PDFs: a rerun that reproduces the CSV reproduces the file
        fig.savefig(p, dpi=110, **({"metadata": {"CreationDate": None}} if str(p).endswith(".pdf") else {}))
    plt.close(fig)
