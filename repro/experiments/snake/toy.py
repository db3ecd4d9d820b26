"""Snake figs 1, 4, 10, 11, 12: a 1-W-1 MLP regresses a toy target on two separated intervals and extrapolates
(registry names snake.toy_regression, snake.toy_truth). Data: repro/data/snake_toy.py."""
from __future__ import annotations

import copy

import numpy as np
import torch

from repro.analysis.extrapolation import thm1_residual, thm2_residual
from repro.data.snake_toy import TARGETS, toy_data
from repro.experiments.registry import experiment
from repro.nn.snake_mlp import mlp
from repro.train import fit
from repro.train.losses import mean_squared_error


@experiment("snake.toy_regression")
def toy_regression(p, ctx):
    """Figs 1, 4, 10, 11, 12: a 1-W-1 MLP regresses a target on two separated intervals and is evaluated on
    linspace(-r, r) (scaled input). Rows: per-seed predictions on a plot grid (metric pred, column x), the training
    points (first seed only), and summary metrics computed on the full evaluation grid."""
    torch.manual_seed(ctx.seed_for("torch"))
    x, y, s, gap = toy_data(p, ctx.generator("data"))
    x, y = x.float(), y.float()
    net = mlp([1, int(p["width"]), 1], p["activation"], a=float(p.get("a", 1.0)), generator=ctx.generator("init"))
    opt = torch.optim.SGD(net.parameters(), lr=float(p["lr"]), momentum=float(p["momentum"]))   # full batch
    every = int(p.get("record_every", 0))

    def loss_curve(state, batch):
        if every and (state.step % every == 0 or state.step == 1):
            yield {"step": state.step, "metric": "loss", "value": state.loss.item()}

    yield from fit(opt, lambda batch: mean_squared_error(net(x), y), epochs=int(p["steps"]), on_step=loss_curve)
    r = float(p["r"])
    f = TARGETS[p["target"]]
    with torch.no_grad():
        net64 = copy.deepcopy(net).double()
        xe = torch.linspace(-r, r, int(p.get("n_eval", 1000)), dtype=torch.float64)
        pe = net64(xe[:, None])[:, 0]
        te = f(xe * s)
        yield {"metric": "mse_train", "value": torch.mean((net64(x.double()) - y.double()) ** 2).item()}
        lo = float(p.get("extrap_lo", 1.0))
        far = xe.abs() >= lo
        yield {"metric": "mse_extrap", "value": torch.mean((pe[far] - te[far]) ** 2).item()}
        pf, tf = pe[far].numpy(), te[far].numpy()
        corr = float(np.corrcoef(pf, tf)[0, 1]) if pf.std() > 0 and tf.std() > 0 else float("nan")
        yield {"metric": "corr_extrap", "value": corr}
        inside = xe.abs() < gap
        yield {"metric": "mse_gap", "value": torch.mean((pe[inside] - te[inside]) ** 2).item()}
        for xp in p.get("probe_x", []):
            yield {"metric": "p_at", "value": net64(torch.tensor([[float(xp)]], dtype=torch.float64)).item(),
                   "x": float(xp)}
        if p.get("probe_ends"):      # fig 1: ends of the window and the flatness of the extrapolation
            e = net64(torch.tensor([[-r], [r], [-0.8 * r], [0.8 * r]], dtype=torch.float64))[:, 0]
            ends = e[:2]
            yield {"metric": "end_min", "value": ends.min().item()}
            yield {"metric": "end_max", "value": ends.max().item()}
            yield {"metric": "endabs_min", "value": ends.abs().min().item()}
            yield {"metric": "endabs_max", "value": ends.abs().max().item()}
            flat = ((e[:2] - e[2:]).abs() / e[:2].abs()).max()
            yield {"metric": "flat_rel", "value": flat.item()}
        if p.get("theorems"):        # Thms 1-2 far out, in float64
            yield {"metric": "thm1_rel", "value": thm1_residual(net64)}
            yield {"metric": "thm2_rel", "value": thm2_residual(net64)}
        n_plot = int(p.get("plot_points_periodic" if p["target"] in ("sin", "rect", "sin_sin4") else "plot_points",
                           p.get("plot_points", 101)))
        xp = torch.linspace(-r, r, n_plot, dtype=torch.float64)
        for xi, v in zip(xp.tolist(), net64(xp[:, None])[:, 0].tolist()):
            yield {"metric": "pred", "value": v, "x": xi}
    if ctx.seed == p.get("points_seed", 0):
        for xi, yi in zip(x[:, 0].tolist(), y[:, 0].tolist()):
            yield {"metric": "train_point", "value": yi, "x": xi}


@experiment("snake.toy_truth")
def toy_truth(p, ctx):
    """The ground truth of a toy panel on the plot grid (theory rows)."""
    r = float(p["r"])
    a1, a2 = (1.0, 4.0) if p.get("data_range", "figure") == "text" else (float(p["a1"]), float(p["a2"]))
    xe = torch.linspace(-r, r, int(p.get("truth_points", 1001)), dtype=torch.float64)
    for xi, v in zip(xe.tolist(), TARGETS[p["target"]](xe * (a1 + a2)).tolist()):
        yield {"metric": "truth", "value": v, "x": xi}
