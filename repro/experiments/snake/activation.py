"""Snake figs 2, 20 and Table 1: the activation itself (shapes, Proposition 1's variance, the forward variance
drift through a deep Snake MLP), the activation table and the paper's quoted numbers (snake.shapes,
snake.variance_theory, snake.variance_mc, snake.activation_table, snake.table_reference, snake.reference,
snake.forward_variance). No training."""
from __future__ import annotations

import math

import numpy as np
import torch

from repro.experiments.registry import experiment
from repro.nn.activations import activation_fn
from repro.nn.snake import snake, snake_grad, snake_mean, snake_std, snake_variance, snake_variance_argmax


@experiment("snake.shapes")
def shapes(p, ctx):
    """Snake_a on a grid (analytic): the curve for the plot, and the properties the claims check on the full grid."""
    a = float(p["a"])
    x = torch.linspace(-float(p["xmax"]), float(p["xmax"]), int(p["grid"]), dtype=torch.float64)
    y = snake(x, a)
    h = x[1] - x[0]
    fd = (y[1:] - y[:-1]) / h
    yield {"metric": "min_fd_derivative", "value": fd.min().item()}
    yield {"metric": "min_derivative", "value": snake_grad(x, a).min().item()}
    yield {"metric": "value_at_0", "value": snake(torch.zeros((), dtype=torch.float64), a).item()}
    yield {"metric": "lower_gap", "value": (y - x).min().item()}           # >= 0: Snake >= x
    yield {"metric": "upper_gap", "value": (x + 1 / a - y).min().item()}   # >= 0: Snake <= x + 1/a
    yield {"metric": "end_left", "value": y[0].item()}
    yield {"metric": "end_right", "value": y[-1].item()}
    step = max(1, (len(x) - 1) // int(p.get("plot_points", 200)))
    for xi, v in zip(x[::step].tolist(), y[::step].tolist()):
        yield {"metric": "snake", "value": v, "x": xi}


@experiment("snake.variance_theory")
def variance_theory(p, ctx):
    """Proposition 1: sigma_a^2 on a log grid of a, its maximum, and its value at the Monte Carlo a's."""
    for a in np.geomspace(float(p["a_min"]), float(p["a_max"]), int(p["points"])):
        yield {"metric": "variance", "value": float(snake_variance(float(a))), "a": float(a)}
    for a in p["mc_a"]:
        yield {"metric": "variance_at", "value": float(snake_variance(float(a))), "a": float(a)}
        yield {"metric": "mean_at", "value": float(snake_mean(float(a))), "a": float(a)}
    amax, vmax = snake_variance_argmax()
    yield {"metric": "argmax_a", "value": amax}
    yield {"metric": "max_variance", "value": vmax}


@experiment("snake.variance_mc")
def variance_mc(p, ctx):
    """Monte Carlo Var[Snake_a(x)], x ~ N(0, 1), float64."""
    g = ctx.generator("noise")
    for a in p["mc_a"]:
        x = torch.randn(int(p["samples"]), generator=g, dtype=torch.float64)
        s = snake(x, float(a))
        yield {"metric": "variance_at", "value": s.var().item(), "a": float(a)}
        yield {"metric": "mean_at", "value": s.mean().item(), "a": float(a)}


# ----------------------------------------------------------------------------------------------------------------
# Table 1: periodic and non-periodic activations
# ----------------------------------------------------------------------------------------------------------------

@experiment("snake.activation_table")
def activation_table(p, ctx):
    """Per activation: min of a finite-difference derivative on [-10, 10]; the spread of f(x + P) - f(x) for
    P in {pi, 2 pi} (0 for a (semi-)periodic f); the first non-linear Taylor term from a float64 polynomial fit
    on [-h, h]; and the curve for the plot."""
    x = torch.linspace(-10, 10, 20001, dtype=torch.float64)
    h = float(p["taylor_h"])
    u = torch.linspace(-1, 1, 401, dtype=torch.float64)
    for name in p["activations"]:
        f = activation_fn(name, a=1.0)
        y = f(x)
        fd = (y[1:] - y[:-1]) / (x[1] - x[0])
        yield {"metric": "min_derivative", "value": fd.min().item(), "activation": name}
        spread = min((f(x + P) - y).max().item() - (f(x + P) - y).min().item() for P in (math.pi, 2 * math.pi))
        yield {"metric": "periodic_spread", "value": spread, "activation": name}
        # fit in the scaled variable u = x/h: f(h u) = sum b_k u^k, so c_k = b_k / h^k
        fu = f(h * u).numpy()
        coef = np.polynomial.polynomial.polyfit(u.numpy(), fu, 6)
        c = [coef[k] / h ** k for k in range(7)]
        resid = np.abs(np.polynomial.polynomial.polyval(u.numpy(), coef) - fu).max()
        smooth = resid <= 1e-9 * h        # a kink (ReLU) leaves a residual ~1e-3 h: no Taylor expansion ("-")
        order = next((k for k in (2, 3, 4) if abs(c[k]) > float(p["taylor_zero"])), 0) if smooth else 0
        yield {"metric": "taylor_order", "value": float(order), "activation": name}
        yield {"metric": "taylor_coef", "value": c[order] if order else float("nan"), "activation": name}
        for xi, v in zip(x[::200].tolist(), y[::200].tolist()):
            yield {"metric": "f", "value": v, "x": xi, "activation": name}


@experiment("snake.table_reference")
def table_reference(p, ctx):
    """Table 1 of the paper as rows: monotone (1/0), periodic (1/0), first non-linear term order (0 = none, the
    table's "-") and coefficient."""
    for name, (mono, per, order, coef) in p["table"].items():
        yield {"metric": "monotone", "value": float(mono), "activation": name}
        yield {"metric": "periodic", "value": float(per), "activation": name}
        yield {"metric": "taylor_order", "value": float(order), "activation": name}
        if order:
            yield {"metric": "taylor_coef", "value": float(coef), "activation": name}


@experiment("snake.reference")
def reference(p, ctx):
    """Numbers quoted by the paper or the catalog, as rows ({metric, value, <columns>} each) for claims to join."""
    for row in p["rows"]:
        yield dict(row)


# ----------------------------------------------------------------------------------------------------------------
# fig 20 (forward check): variance drift through a deep Snake MLP
# ----------------------------------------------------------------------------------------------------------------

@experiment("snake.forward_variance")
def forward_variance(p, ctx):
    """A `depth`-layer Snake MLP without bias, paper init U(+-sqrt(3/d)), N(0, 1) inputs: the std of the
    pre-activation of every layer, and std(layer depth)/std(layer 1), per a and variance-correction mode."""
    g = ctx.generator("init")
    d, depth = int(p["width"]), int(p["depth"])
    x = torch.randn(int(p["samples"]), d, generator=ctx.generator("data"), dtype=torch.float64)
    bound = math.sqrt(3.0 / d)
    weights = [(torch.rand(d, d, generator=g, dtype=torch.float64) * 2 - 1) * bound for _ in range(depth)]
    for a in p["a_values"]:
        for mode in p["modes"]:
            h, stds = x, []
            for W in weights:
                u = h @ W.T
                stds.append(u.std().item())
                h = snake(u, a)
                if mode == "center_var":
                    h = h - snake_mean(a).item()
                if mode in ("paper", "center_var"):
                    h = h / snake_std(a).item()
            for layer, s in enumerate(stds, 1):
                yield {"step": layer, "metric": "preact_std", "value": s, "a": float(a), "mode": mode}
            yield {"metric": "std_ratio", "value": stds[-1] / stds[0], "a": float(a), "mode": mode}
