"""LaProp fig=1 (single impulse): the optimizers' response to one gradient impulse, simulated for every (mu, nu)
cell at once, their closed forms, and the catalog's reference table (laprop.single_impulse,
laprop.single_impulse_theory, laprop.reference_table). Spec: catalog laprop.md."""
from __future__ import annotations

import numpy as np

from repro.experiments.registry import experiment
from repro.sim.single_impulse import simulate_single_impulse_grid
from repro.theory import laprop as theory


def _is_curve(p, mu, nu) -> bool:
    return np.isclose(mu, p["curve_mu"]) and any(np.isclose(nu, v) for v in p["curve_nus"])


def _impulse_rows(p, steps_of):
    """Rows of the single-impulse figure from steps_of(mu, nu) -> |dx_t| for t = 1..T (in units of lr)."""
    for mu in p["mus"]:
        for nu in p["nus"]:
            s = steps_of(mu, nu) / p["lr"]
            cell = {"optimizer": p["optimizer"], "mu": mu, "nu": nu}
            if _is_curve(p, mu, nu):
                for t, v in enumerate(s, 1):
                    yield {"step": t, "metric": "step_size", "value": v, **cell}
            yield {"metric": "max_step", "value": s.max(), **cell}
            yield {"metric": "argmax_step", "value": float(np.argmax(s) + 1), **cell}
            yield {"metric": "total_displacement", "value": s.sum(), **cell}


@experiment("laprop.single_impulse")
def single_impulse(p, ctx):
    """fig=1: g_1 = G, then 0, through the batched optimizer recursion for every (mu, nu) cell."""
    steps = simulate_single_impulse_grid(p["optimizer"], p["mus"], p["nus"], p["T"], lr=p["lr"], G=p["G"],
                                         eps=p["eps"])
    index = {(mu, nu): (i, j) for i, mu in enumerate(p["mus"]) for j, nu in enumerate(p["nus"])}
    yield from _impulse_rows(p, lambda mu, nu: steps[index[mu, nu]])


@experiment("laprop.single_impulse_theory")
def single_impulse_theory(p, ctx):
    """fig=1: the closed forms (exact for any eps, see repro/theory/laprop.py)."""
    closed = {"adam": theory.adam_single_impulse_steps, "laprop": theory.laprop_single_impulse_steps}[p["optimizer"]]
    yield from _impulse_rows(p, lambda mu, nu: closed(mu, nu, p["T"], lr=p["lr"], G=p["G"], eps=p["eps"]))
    for nu in p["nus"]:
        yield {"metric": "step_bound", "value": theory.laprop_step_bound(nu), "optimizer": "laprop", "nu": nu}


@experiment("laprop.reference_table")
def reference_table(p, ctx):
    """The catalog's single-impulse table (mu = 0.9, eps = 1e-8, 400 steps) as rows, for the claims to compare."""
    for opt, rows in p["table"].items():
        for nu, (max_step, argmax, total) in rows.items():
            cell = {"optimizer": opt, "mu": p["curve_mu"], "nu": float(nu)}
            yield {"metric": "max_step", "value": max_step, **cell}
            yield {"metric": "argmax_step", "value": argmax, **cell}
            yield {"metric": "total_displacement", "value": total, **cell}
