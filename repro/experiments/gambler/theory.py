"""Learning Not to Learn in the Presence of Noisy Labels (Ziyin et al., arXiv 2002.06541; catalog gambler.md, "Plateau
solution", "What the submission states"): the figures' theory rows and the paper's numbers, no training.

    gambler.plateau_theory   L*(a, o) tables, the plateau abstention u and bet p*, the numerical minimum of the expected
                             loss over the (m+1)-simplex against the closed form, the optimal expected loss against o
                             (the three regimes), and the batch-mean fluctuation at the plateau (repro/theory/gambler.py)
    gambler.catalog          numbers quoted by the catalog (the submission's Tables 1-2), as kind=paper rows

No deviation from the authors' code: their early-stopping threshold is the same formula as L* here.
"""
from __future__ import annotations

import numpy as np

from repro.experiments.registry import experiment
from repro.theory import gambler as theory


def _r(x: float, nd: int = 4) -> float:
    return float(round(float(x), nd))


@experiment("gambler.plateau_theory")
def plateau_theory(p, ctx):
    """Rows (each with columns noise_rate r, clean_rate a = 1 - r, o, m):
    table (p["table"]: {o: [...], noise_rate: [...]}, m): l_star, u_plateau, p_star (plateau_loss, plateau_abstention,
        plateau_bet) and in_window (1 if 1/a <= o < m);
    simplex (p["simplex"]: list of [a, o, m]): simplex_min (repro.theory.gambler.minimise_expected_loss, `steps`
        iterations), closed_min (optimal_expected_loss), simplex_gap = |simplex_min - closed_min|, and
        simplex_abstention (f_{m+1} at the numerical minimum) with closed_abstention;
    curve (p["curve"]: {clean_rate: [...], o_min, o_max, points, m}): optimal_loss against o (x column o), the
        minimum over the simplex in closed form, showing total abstention (ln o), the window (L*) and NLL;
    batch_std (p["batch_std"]: {o, batch_size, noise_rate: [...]}): plateau_batch_std."""
    t = p.get("table")
    if t:
        m = int(t.get("m", 10))
        for o in t["o"]:
            for r in t["noise_rate"]:
                a = 1.0 - float(r)
                cols = {"noise_rate": _r(r), "clean_rate": _r(a), "o": float(o), "m": m}
                yield {"metric": "l_star", "value": theory.plateau_loss(a, float(o)), **cols}
                yield {"metric": "u_plateau", "value": theory.plateau_abstention(a, float(o)), **cols}
                yield {"metric": "p_star", "value": theory.plateau_bet(a, float(o)), **cols}
                yield {"metric": "in_window", "value": float(theory.in_window(a, float(o), m)), **cols}
    steps = int(p.get("steps", 20000))
    for a, o, m in p.get("simplex") or []:
        a, o, m = float(a), float(o), int(m)
        f, val = theory.minimise_expected_loss(a, o, m, steps=steps)
        closed = theory.optimal_expected_loss(a, o, m)
        cols = {"noise_rate": _r(1 - a), "clean_rate": _r(a), "o": o, "m": m}
        yield {"metric": "simplex_min", "value": val, **cols}
        yield {"metric": "closed_min", "value": closed, **cols}
        yield {"metric": "simplex_gap", "value": abs(val - closed), **cols}
        yield {"metric": "simplex_abstention", "value": float(f[m]), **cols}
        yield {"metric": "closed_abstention", "value": float(theory.optimal_prediction(a, o, m)[m]), **cols}
    c = p.get("curve")
    if c:
        m = int(c.get("m", 10))
        for o in np.linspace(float(c["o_min"]), float(c["o_max"]), int(c["points"])):
            for a in c["clean_rate"]:
                yield {"metric": "optimal_loss", "value": theory.optimal_expected_loss(float(a), float(o), m),
                       "o": float(o), "clean_rate": _r(a), "noise_rate": _r(1 - float(a)), "m": m}
    b = p.get("batch_std")
    if b:
        for r in b["noise_rate"]:
            yield {"metric": "batch_std", "value": theory.plateau_batch_std(1 - float(r), float(b["o"]),
                                                                          int(b["batch_size"])),
                   "noise_rate": _r(r), "clean_rate": _r(1 - float(r)), "o": float(b["o"])}


@experiment("gambler.catalog")
def catalog(p, ctx):
    """Numbers quoted by the catalog (the submission's tables), as kind=paper rows. p["rows"]: a list of {metric,
    value, <columns>}. p["table"]: {key: column name, columns: [metric names], rows: {key value: [means]}, std:
    {key value: [stds]}, scale (1; 0.01 turns percent into fractions), tol_min ({metric: points}, default 2),
    tol_sigma (2), extra ({column: value} on every row)} -> per (key value, metric) the rows <metric> (mean),
    <metric>_std, and the band <metric>_lo / <metric>_hi = mean -+ max(tol_min, tol_sigma * std) (the claims' "within
    max(2, 2 sigma) points"); a value null (the tables' NA) or a row null is skipped."""
    for row in p.get("rows") or []:
        yield dict(row)
    t = p.get("table")
    if not t:
        return
    scale, extra = float(t.get("scale", 1.0)), t.get("extra") or {}
    tol_min, k = t.get("tol_min") or {}, float(t.get("tol_sigma", 2.0))
    std = t.get("std") or {}
    for key, values in t["rows"].items():
        if values is None:      # a row dropped by a scale profile
            continue
        sds = std.get(key) or std.get(str(key)) or [None] * len(values)
        for name, v, sd in zip(t["columns"], values, sds):
            if v is None:
                continue
            cols = {t["key"]: float(key), **extra}
            yield {"metric": name, "value": float(v) * scale, **cols}
            if sd is None:
                continue
            tol = max(float(tol_min.get(name, 2.0)), k * float(sd)) * scale
            yield {"metric": f"{name}_std", "value": float(sd) * scale, **cols}
            yield {"metric": f"{name}_lo", "value": float(v) * scale - tol, **cols}
            yield {"metric": f"{name}_hi", "value": float(v) * scale + tol, **cols}
