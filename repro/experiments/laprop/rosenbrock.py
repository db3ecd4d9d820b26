"""LaProp figs 1 (heavy-tailed proxy) and 2: Adam / LaProp on the noisy Rosenbrock function, every (mu, nu) cell and
chain as one tensor (laprop.noisy_rosenbrock, laprop.rosenbrock). Spec: catalog laprop.md."""
from __future__ import annotations

import torch

from repro.experiments.registry import experiment
from repro.sim.rosenbrock import run_noisy_rosenbrock


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
