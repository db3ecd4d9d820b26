"""LaProp vs Adam (arXiv 2002.04839): the figures' experiment functions. Spec: catalog laprop.md."""
from __future__ import annotations

import numpy as np
import torch

from repro.experiments.registry import experiment
from repro.optim.probe import simulate_single_impulse_grid
from repro.sim.rosenbrock import run_noisy_rosenbrock
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


@experiment("laprop.noisy_rosenbrock")
def noisy_rosenbrock(p, ctx):
    """Noisy Rosenbrock (fig=2, and fig=1's heavy-tailed proxy): every (mu, nu) cell x chain as one tensor.
    Rows per cell and chain: final loss and max_t |dx_t| / lr; a loss curve every `record_every` steps."""
    mus = torch.tensor(p["mus"], dtype=torch.float64)[:, None]
    nus = torch.tensor(p["nus"], dtype=torch.float64)[None, :]
    final, max_step, curve = run_noisy_rosenbrock(
        p["optimizer"], mus, nus, chains=p["chains"], T=p["T"], lr=p["lr"], eps=p["eps"], noise=p["noise"],
        sigma=p["sigma"], generator=ctx.generator("noise"), record_every=p.get("record_every", 0),
        device=ctx.device)
    final, max_step = final.cpu().numpy(), max_step.cpu().numpy()
    for i, mu in enumerate(p["mus"]):
        for j, nu in enumerate(p["nus"]):
            for c in range(p["chains"]):
                cell = {"optimizer": p["optimizer"], "mu": mu, "nu": nu, "chain": c}
                yield {"metric": "final_loss", "value": final[i, j, c], **cell}
                yield {"metric": "max_step", "value": max_step[i, j, c], **cell}
                for t, loss in curve:
                    yield {"step": t, "metric": "loss", "value": loss[i, j, c].item(), **cell}


@experiment("laprop.rosenbrock")
def rosenbrock(p, ctx):
    """fig=2: noisy Rosenbrock, one (optimizer, noise, sigma) per run; every nu x chain (= seed, as a batch
    dimension) advances as one tensor through repro/sim/rosenbrock.py. Rows: per nu and chain the final loss and
    max_t |dx_t| / lr; per nu the median loss over chains every `record_every` steps (metric median_loss). Every
    row records the optimizer's eps (each optimizer's own default: the catalog leaves eps unspecified)."""
    mus = torch.tensor([p["mu"]], dtype=torch.float64)[:, None]
    nus = torch.tensor(p["nus"], dtype=torch.float64)[None, :]
    final, max_step, curve = run_noisy_rosenbrock(
        p["optimizer"], mus, nus, chains=p["chains"], T=p["T"], lr=p["lr"], eps=p["eps"], noise=p["noise"],
        sigma=p["sigma"], generator=ctx.generator("noise"), record_every=p["record_every"], device=ctx.device)
    final, max_step = final[0].cpu().numpy(), max_step[0].cpu().numpy()
    for j, nu in enumerate(p["nus"]):
        cell = {"optimizer": p["optimizer"], "eps": p["eps"], "mu": p["mu"], "nu": nu}
        for c in range(p["chains"]):
            yield {"metric": "final_loss", "value": final[j, c], "chain": c, **cell}
            yield {"metric": "max_step", "value": max_step[j, c], "chain": c, **cell}
        for t, loss in curve:
            yield {"step": t, "metric": "median_loss", "value": loss[0, j].median().item(), **cell}
