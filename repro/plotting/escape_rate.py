"""Custom axes for escape_rate: φ against B with the paper's and the derived references, the stationary density
against L^(−φ), the first-passage power laws with their theory slopes, the exact/decoupled spectra and the noise
strength against the loss. Each reads the rows of one panel only."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from repro.plotting.registry import plot


def _missing(rows, *cols) -> bool:
    """True when a column the axes need is absent (e.g. a figure whose runs all failed: empty CSV); then the axes
    stay empty instead of failing the whole figure."""
    return rows.empty or any(c not in rows.columns for c in ("metric", "series", *cols))


def _colors(values, cmap="viridis"):
    cm = plt.get_cmap(cmap)
    values = list(values)
    return {v: cm(i / max(1, len(values) - 1) * 0.9) for i, v in enumerate(values)}


@plot("escape_rate.phi_vs_batch")
def phi_vs_batch(ax, rows, e):
    """φ̂ (log-hist: squares, moment: crosses) against B per η; the paper's φ = 1 + B/(ηh*) dashed, the derived
    exact-moment prediction dotted and the Kesten tail exponent dash-dotted (thin)."""
    if _missing(rows, 'lr', 'B'):
        return
    sim = rows[rows["series"] == "sgd_phi"]
    lrs = sorted(set(sim["lr"].dropna())) or sorted(set(rows["lr"].dropna()))
    colors = _colors(lrs)
    for lr in lrs:
        col = colors[lr]
        for metric, marker, label in (("phi_loghist", "s", f"SGD log-hist, eta={lr:g}"), ("phi_moment", "x", None)):
            r = sim[(sim["lr"] == lr) & (sim["metric"] == metric)].sort_values("B")
            ax.plot(r["B"], r["value"], ls="none", marker=marker, mfc="none", color=col, ms=5, label=label)
        for series, style, label in (("theory_phi", dict(ls="--", lw=1.2), "1 + B/(eta h*)" if lr == lrs[0] else None),
                                     ("exact_moment", dict(ls=":", lw=1.2), "exact discrete (moment)" if lr == lrs[0] else None),
                                     ("kesten_tail", dict(ls="-.", lw=0.7, alpha=0.7), "Kesten tail" if lr == lrs[0] else None)):
            r = rows[(rows["series"] == series) & (rows["metric"] == "phi") & (rows["lr"] == lr)].sort_values("B")
            if len(r):
                ax.plot(r["B"], r["value"], color=col, label=label, **style)
    ax.legend(fontsize=6)


@plot("escape_rate.stationary_density")
def stationary_density(ax, rows, e):
    """Histogram density of u = (θ−θ*)/a at η = e['lr'] per B ≤ e['max_B'] (all B without it; markers) against
    the normalised L^(−φ) of the paper (lines)."""
    if _missing(rows, 'lr', 'B', 'u'):
        return
    r = rows[(rows["metric"] == "density") & np.isclose(rows["lr"], e["lr"])]
    if e.get("max_B") is not None:
        r = r[r["B"] <= e["max_B"]]
    Bs = sorted(set(r["B"].dropna()))
    colors = _colors(Bs, "plasma")
    for B in Bs:
        sim = r[(r["series"] == "sgd_phi") & (r["B"] == B)].sort_values("u")
        sim = sim[sim["value"] > 0]
        ax.plot(sim["u"], sim["value"], ls="none", marker="o", ms=2.5, color=colors[B], label=f"SGD B={B:g}")
        th = r[(r["series"] == "theory_phi") & (r["B"] == B)].sort_values("u")
        ax.plot(th["u"], th["value"], color=colors[B], lw=1)
    positive = r[(r["series"] == "sgd_phi") & (r["value"] > 0)]["value"]
    if len(positive) and "ylim" not in e:   # the sampled range, not the theory's far tail
        ax.set_ylim(positive.min() / 5, positive.max() * 3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=6)


@plot("escape_rate.first_passage")
def first_passage(ax, rows, e):
    """Mean t_p against c on log-log axes per d, with standard errors; dashed: the theory slope
    B/(ηh*) + 1 − d/2 through the geometric centre of the points in e['fit_range'] (t_p window, default 10-1e4);
    dotted: the SDE control."""
    if _missing(rows, 'd', 'c'):
        return
    sim = rows[rows["series"] == "sgd_fpt"]
    ds = sorted(set(sim["d"].dropna()))
    colors = _colors(ds)
    for d in ds:
        s = sim[sim["d"] == d]
        tp = s[s["metric"] == "t_p"].sort_values("c")
        err = s[s["metric"] == "t_p_stderr"].set_index("c")["value"].reindex(tp["c"]).to_numpy()
        ax.errorbar(tp["c"], tp["value"], yerr=err, ls="none", marker="s", mfc="none", ms=4, color=colors[d],
                    label=f"d={d:g}")
        slope = rows[(rows["series"] == "theory_fpt") & (rows["d"] == d) & (rows["metric"] == "slope")]["value"]
        fit = s[s["metric"] == "slope_fit"]["value"]
        lo, hi = e.get("fit_range", (10, 1e4))
        pts = tp[(tp["value"] > lo) & (tp["value"] < hi)] if len(tp) > 2 else tp
        pts = pts if len(pts) else tp
        sde = rows[(rows["series"] == "sde_fpt") & (rows["d"] == d) & (rows["metric"] == "t_p")].sort_values("c")
        if len(sde):
            ax.plot(sde["c"], sde["value"], ls=":", lw=1, marker=".", ms=3, color=colors[d],
                    label="SDE control" if d == ds[0] else None)
        if len(slope) and len(pts):
            lc, lt = np.log(pts["c"].to_numpy()).mean(), np.log(pts["value"].to_numpy()).mean()
            cs = np.geomspace(tp["c"].min(), tp["c"].max(), 20)
            ax.plot(cs, np.exp(lt + slope.iloc[0] * (np.log(cs) - lc)), ls="--", lw=1, color=colors[d],
                    label=f"theory {slope.iloc[0]:.1f}" + (f", fit {fit.iloc[0]:.1f}" if len(fit) else ""))
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.legend(fontsize=6)


@plot("escape_rate.spectra")
def spectra(ax, rows, e):
    """Step histograms of log10 λ of M_exact and M_dec at the e['checkpoint']-th checkpoint epoch."""
    if _missing(rows, 'epoch', 'matrix', 'log10_lambda'):
        return
    h = rows[rows["metric"] == "eig_hist"]
    epochs = sorted(set(h["epoch"].dropna()))
    if e["checkpoint"] >= len(epochs):
        return
    epoch = epochs[e["checkpoint"]]
    for matrix, style in (("exact", dict(color="tab:blue", lw=1.4)), ("dec", dict(color="tab:red", lw=1.2, ls="--"))):
        r = h[(h["epoch"] == epoch) & (h["matrix"] == matrix)].sort_values("log10_lambda")
        ax.step(r["log10_lambda"], r["value"], where="mid", label=f"M_{matrix}", **style)
    ax.text(0.02, 0.95, f"epoch {epoch:g}", transform=ax.transAxes, fontsize=7, va="top")
    ax.legend(fontsize=6)


@plot("escape_rate.loss_and_noise")
def loss_and_noise(ax, rows, e):
    """L and c·𝒩 against the epoch for one series, c = the least-squares constant in log space over the second
    half of training (the paper rescales 𝒩 by one constant so that the curves overlay)."""
    if _missing(rows, 'step'):
        return
    r = rows[rows["series"] == e["series_name"]]
    curve = r[r["metric"].isin(["loss", "noise"])].pivot_table(index="step", columns="metric", values="value")
    if not len(curve) or not {"loss", "noise"} <= set(curve.columns):
        return
    late = curve[curve.index > curve.index.max() / 2]
    late = late[(late["loss"] > 0) & (late["noise"] > 0)]
    c = float(np.exp(np.mean(np.log(late["loss"]) - np.log(late["noise"])))) if len(late) else 1.0
    ax.plot(curve.index, curve["loss"], color="black", lw=1.4, label="L")
    ax.plot(curve.index, c * curve["noise"], color="tab:red", lw=1.2, ls="--", label=f"{c:.3g} x N")
    ax.set_yscale("log")
    ax.legend(fontsize=6)


@plot("escape_rate.noise_against_loss")
def noise_against_loss(ax, rows, e):
    """𝒩 against L on log-log axes for every series (late epochs darker), with a dashed slope-1 reference (and a
    dotted slope-2 one with e['slope2']) through the last point."""
    if _missing(rows, 'step'):
        return
    for i, series in enumerate(sorted(set(rows["series"]))):
        r = rows[rows["series"] == series]
        curve = r[r["metric"].isin(["loss", "noise"])].pivot_table(index="step", columns="metric", values="value")
        if not len(curve) or not {"loss", "noise"} <= set(curve.columns):
            continue
        color = plt.get_cmap("tab10")(i)
        ax.plot(curve["loss"], curve["noise"], marker="o", ms=2.5, lw=0.6, color=color, label=series)
        L0, N0 = curve["loss"].iloc[-1], curve["noise"].iloc[-1]
        Ls = np.geomspace(curve["loss"].min(), curve["loss"].max(), 10)
        ax.plot(Ls, N0 * Ls / L0, ls="--", lw=0.8, color=color)
        if e.get("slope2"):
            ax.plot(Ls, N0 * (Ls / L0) ** 2, ls=":", lw=0.8, color=color)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.legend(fontsize=6)


@plot("escape_rate.schematic")
def schematic(ax, rows, e):
    """fig=5: U(θ) − U(θ*) along the escape path (black), the quasi-stationary density near θ* (shaded, right axis),
    the points θ*, θ^s, θ^c (dotted lines, labels) and the probability current J_path over the saddle (arrow)."""
    if _missing(rows, 'theta'):
        return
    u = rows[rows["metric"] == "U"].sort_values("theta")
    ax.plot(u["theta"], u["value"], color="black", lw=1.6, label="U - U* = log L/L*")
    marks = rows[rows["metric"] == "point"]
    top = float(u["value"].max())
    names = {"theta*": "theta*", "theta_s": "z_e^s (saddle)", "theta_c": "z_e^c"}
    for _, m in marks.iterrows():
        ax.axvline(m["value"], ls=":", lw=0.8, color="gray")
        ax.text(m["value"], top * 1.04, names.get(m["label"], m["label"]), ha="center", va="bottom", fontsize=7)
    s = marks[marks["label"] == "theta_s"]
    if len(s):
        x0 = float(s["value"].iloc[0])
        ax.annotate("", xy=(x0 + 0.25, top * 0.8), xytext=(x0 - 0.25, top * 0.8),
                    arrowprops=dict(arrowstyle="->", color="tab:red", lw=1.4))
        ax.text(x0, top * 0.83, "J_path", color="tab:red", ha="center", va="bottom", fontsize=7)
    d = rows[rows["metric"] == "density"].sort_values("theta")
    if len(d):
        ax2 = ax.twinx()
        ax2.fill_between(d["theta"], d["value"], color="tab:blue", alpha=0.25, lw=0)
        ax2.set_ylabel("P(theta) ~ L^-phi", fontsize=7, color="tab:blue")
        ax2.set_ylim(0, float(d["value"].max()) * 1.6)
    ax.set_ylim(top * -0.05, top * 1.15)
    ax.legend(fontsize=6, loc="lower right")


@plot("escape_rate.nn_first_passage")
def nn_first_passage(ax, rows, e):
    """fig=3 (c): mean t_p against c per η (standard errors), dashed: the theory slope (metric slope_theory)
    through the geometric centre of the points in e['fit_range']; the legend gives h_max and the fitted slope."""
    if _missing(rows, 'lr', 'c'):
        return
    lrs = sorted(set(rows.loc[rows["metric"] == "t_p", "lr"].dropna()))
    colors = _colors(lrs, "plasma")
    lo, hi = e.get("fit_range", (1, 1e3))
    for lr in lrs:
        s = rows[rows["lr"] == lr]
        tp = s[s["metric"] == "t_p"].sort_values("c")
        err = s[s["metric"] == "t_p_stderr"].set_index("c")["value"].reindex(tp["c"]).to_numpy()
        fit = s[s["metric"] == "slope_fit"]["value"]
        ax.errorbar(tp["c"], tp["value"], yerr=err, ls="none", marker="o", mfc="none", ms=4, color=colors[lr],
                    label=f"eta={lr:g}" + (f", fit {fit.iloc[0]:.1f}" if len(fit) else ""))
        slope = s[s["metric"] == "slope_theory"]["value"]
        pts = tp[(tp["value"] > lo) & (tp["value"] < hi)]
        pts = pts if len(pts) else tp
        if len(slope) and len(pts):
            lc, lt = np.log(pts["c"].to_numpy()).mean(), np.log(pts["value"].to_numpy()).mean()
            cs = np.geomspace(tp["c"].min(), tp["c"].max(), 20)
            ax.plot(cs, np.exp(lt + slope.iloc[0] * (np.log(cs) - lc)), ls="--", lw=1, color=colors[lr],
                    label=f"theory {slope.iloc[0]:.1f}")
    h = rows[rows["metric"] == "h_max"]["value"]
    if len(h):
        ax.text(0.98, 0.03, f"h_max = {h.iloc[0]:.3g}", transform=ax.transAxes, fontsize=7, ha="right")
    ax.set_xscale("log")
    ax.set_yscale("log")
    cs = np.sort(rows.loc[rows["metric"] == "t_p", "c"].dropna().unique())
    if len(cs):   # ticks at (at most 6 of) the measured levels: c spans less than a decade at tiny scale
        from matplotlib.ticker import NullFormatter
        ticks = cs[np.unique(np.linspace(0, len(cs) - 1, min(6, len(cs))).round().astype(int))]
        ax.set_xticks(ticks, [f"{c:.3g}" for c in ticks])
        ax.xaxis.set_minor_formatter(NullFormatter())
    ax.legend(fontsize=6, loc="upper left")


@plot("escape_rate.eig_histogram")
def eig_histogram(ax, rows, e):
    """fig=7 (a): counts of the Gauss–Newton eigenvalues per bin (log count axis), with h_max and the participation
    ratio in the corner."""
    if _missing(rows, 'eigenvalue'):
        return
    h = rows[rows["metric"] == "eig_hist"].sort_values("eigenvalue")
    width = float(np.diff(h["eigenvalue"]).mean()) if len(h) > 1 else 1.0
    ax.bar(h["eigenvalue"], h["value"], width=width, color="tab:blue", alpha=0.8)
    ax.set_yscale("log")
    notes = []
    for metric, name in (("h_max", "h_1"), ("participation_ratio", "n (PR)")):
        v = rows[rows["metric"] == metric]["value"]
        if len(v):
            notes.append(f"{name} = {v.iloc[0]:.3g}")
    ax.text(0.97, 0.97, "\n".join(notes), transform=ax.transAxes, fontsize=7, va="top", ha="right")


@plot("escape_rate.loss_vs_lr")
def loss_vs_lr(ax, rows, e):
    """fig=4: the loss averaged over each learning-rate step (and the full loss at its end) against η for one
    series, with its pre-trained L* (dotted) and the predicted η_c (dashed)."""
    if _missing(rows, 'lr'):
        return
    r = rows[rows["series"] == e["series_name"]]
    for metric, style in (("loss_avg", dict(color="black", lw=1.2, label="loss (step average)")),
                          ("loss_end", dict(color="tab:gray", lw=0.8, ls="-", alpha=0.7, label="full loss at step end"))):
        c = r[r["metric"] == metric].sort_values("lr")
        ax.plot(c["lr"], c["value"], **style)
    for metric, style, label in (("eta_c", dict(ls="--", color="tab:red"), "eta_c"),):
        v = r[r["metric"] == metric]["value"]
        if len(v) and np.isfinite(v.iloc[0]):
            ax.axvline(v.iloc[0], lw=1, label=f"{label} = {v.iloc[0]:.3g}", **style)
    L0 = r[r["metric"] == "loss_star"]["value"]
    if len(L0):
        ax.axhline(L0.iloc[0], ls=":", lw=0.8, color="tab:blue", label="L* (pre-trained)")
    notes = [f"{n} = {r[r['metric'] == m]['value'].iloc[0]:.3g}" for m, n in (("h_max", "h_max"), ("n_eff", "n"))
             if len(r[r["metric"] == m])]
    ax.text(0.02, 0.97, ", ".join(notes), transform=ax.transAxes, fontsize=7, va="top")
    ax.set_yscale("log")
    ax.legend(fontsize=6, loc="lower right")
