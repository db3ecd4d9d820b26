"""Snake (Ziyin, Hartwig & Ueda, NeurIPS 2020, arXiv 2006.08195): the figures' experiment functions.
Spec: catalog snake.md. The activation is repro/nn/snake.py (others in repro/nn/activations.py); models are
repro/nn/snake_mlp.py, snake_resnet.py, elman.py (RNN) and arima.py; data are repro/data/snake_series.py (real
series and their stand-ins) and repro/data/snake_images.py (MNIST / CIFAR-10 and their stand-ins).
"""
from __future__ import annotations

import copy
import math
import time

import numpy as np
import torch

from repro.experiments.registry import experiment
from repro.nn.activations import activation_fn
from repro.nn.elman import ElmanRNN
from repro.nn.snake_mlp import mlp
from repro.nn.snake import snake, snake_grad, snake_mean, snake_std, snake_variance, snake_variance_argmax

# ----------------------------------------------------------------------------------------------------------------
# D1: toy extrapolation data (figs 1, 4, 10, 11, 12)
# ----------------------------------------------------------------------------------------------------------------

TARGETS = {
    "x": lambda x: x,
    "tanh": torch.tanh,
    "sin": torch.sin,
    "x2": lambda x: x * x,
    "rect": lambda x: torch.ceil(torch.sin(x)),               # ceil(sin x): 0/1 wave (and -1 where sin x == -1)
    "sin_sin4": lambda x: torch.sin(x) + torch.sin(4 * x) / 4,
}


def toy_data(p, generator):
    """The official notebook's generator: 32 points in [a1, a1+a2] and 32 in [-a1-a2, -a1] (raw x), target on raw
    x, input scaled by s = a1 + a2. `data_range=text` uses the text's [-5, 5] with a gap [-1, 1] instead."""
    a1, a2 = (1.0, 4.0) if p.get("data_range", "figure") == "text" else (float(p["a1"]), float(p["a2"]))
    s = a1 + a2
    n = int(p.get("n_per_side", 32))
    u = torch.rand(2 * n, generator=generator, dtype=torch.float64) * a2 + a1
    raw = torch.cat([u[:n], -u[n:]])
    f = TARGETS[p["target"]]
    return (raw / s)[:, None], f(raw)[:, None], s, a1 / s


def _sgd_full_batch(net, x, y, steps, lr, momentum, weight_decay=0.0, record_every=0):
    opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    curve = []
    for t in range(1, steps + 1):
        opt.zero_grad(set_to_none=True)
        loss = torch.mean((net(x) - y) ** 2)
        loss.backward()
        opt.step()
        if record_every and (t % record_every == 0 or t == 1):
            curve.append((t, loss.item()))
    return curve


@experiment("snake.toy_regression")
def toy_regression(p, ctx):
    """Figs 1, 4, 10, 11, 12: a 1-W-1 MLP regresses a target on two separated intervals and is evaluated on
    linspace(-r, r) (scaled input). Rows: per-seed predictions on a plot grid (metric pred, column x), the training
    points (first seed only), and summary metrics computed on the full evaluation grid."""
    torch.manual_seed(ctx.seed_for("torch"))
    x, y, s, gap = toy_data(p, ctx.generator("data"))
    x, y = x.float(), y.float()
    net = mlp([1, int(p["width"]), 1], p["activation"], a=float(p.get("a", 1.0)), generator=ctx.generator("init"))
    curve = _sgd_full_batch(net, x, y, int(p["steps"]), float(p["lr"]), float(p["momentum"]),
                            record_every=int(p.get("record_every", 0)))
    for t, v in curve:
        yield {"step": t, "metric": "loss", "value": v}
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
            yield {"metric": "thm1_rel", "value": _thm1_residual(net64)}
            yield {"metric": "thm2_rel", "value": _thm2_residual(net64)}
        n_plot = int(p.get("plot_points_periodic" if p["target"] in ("sin", "rect", "sin_sin4") else "plot_points",
                           p.get("plot_points", 101)))
        xp = torch.linspace(-r, r, n_plot, dtype=torch.float64)
        for xi, v in zip(xp.tolist(), net64(xp[:, None])[:, 0].tolist()):
            yield {"metric": "pred", "value": v, "x": xi}
    if ctx.seed == p.get("points_seed", 0):
        for xi, yi in zip(x[:, 0].tolist(), y[:, 0].tolist()):
            yield {"metric": "train_point", "value": yi, "x": xi}


def _thm1_residual(net64) -> float:
    """Thm 1 (ReLU extrapolates linearly): max over x0 = +-1e8, h = +-1e7 of
    |f(x0+2h) - 2f(x0+h) + f(x0)| / (1 + |f(x0+2h)|)."""
    worst = 0.0
    for x0, h in ((1e8, 1e7), (-1e8, -1e7)):
        v = net64(torch.tensor([[x0], [x0 + h], [x0 + 2 * h]], dtype=torch.float64))[:, 0]
        worst = max(worst, abs(v[2] - 2 * v[1] + v[0]).item() / (1 + abs(v[2].item())))
    return worst


def _thm2_residual(net64) -> float:
    """Thm 2 (tanh extrapolates to a constant): max over signs of |f(2e8) - f(1e8)| / (1 + |f(1e8)|)."""
    worst = 0.0
    for sgn in (1.0, -1.0):
        v = net64(torch.tensor([[sgn * 1e8], [sgn * 2e8]], dtype=torch.float64))[:, 0]
        worst = max(worst, abs(v[1] - v[0]).item() / (1 + abs(v[0].item())))
    return worst


@experiment("snake.toy_truth")
def toy_truth(p, ctx):
    """The ground truth of a toy panel on the plot grid (theory rows)."""
    r = float(p["r"])
    a1, a2 = (1.0, 4.0) if p.get("data_range", "figure") == "text" else (float(p["a1"]), float(p["a2"]))
    xe = torch.linspace(-r, r, int(p.get("truth_points", 1001)), dtype=torch.float64)
    for xi, v in zip(xe.tolist(), TARGETS[p["target"]](xe * (a1 + a2)).tolist()):
        yield {"metric": "truth", "value": v, "x": xi}


# ----------------------------------------------------------------------------------------------------------------
# fig 2: Snake at different a; Proposition 1
# ----------------------------------------------------------------------------------------------------------------

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




# ----------------------------------------------------------------------------------------------------------------
# figs 9 and 13: recurrent networks
# ----------------------------------------------------------------------------------------------------------------

def _spearman(x, y) -> float:
    rx = np.argsort(np.argsort(np.asarray(x, dtype=float)))
    ry = np.argsort(np.argsort(np.asarray(y, dtype=float)))
    return float(np.corrcoef(rx, ry)[0, 1])


def _snake_sine_model(p, generator):
    w = int(p["snake_width"])
    return mlp([1, w, w, 1], "snake", a=float(p["a"]), generator=generator)


def _relu_rnn(p):
    rnn = torch.nn.RNN(1, int(p["rnn_hidden"]), nonlinearity="relu")
    return rnn, torch.nn.Linear(int(p["rnn_hidden"]), 1)


def _noisy_sine_split(p):
    """design=figure: train t = 0..199, validate t = 200..299; design=text: T = 100, validate t = 101..300."""
    if p.get("design", "figure") == "text":
        T, val = 100, torch.arange(101, 301, dtype=torch.float32)
    else:
        T, val = int(p["T"]), torch.arange(int(p["T"]), int(p["T"]) + int(p["val_len"]), dtype=torch.float32)
    return T, torch.arange(T, dtype=torch.float32), val


@experiment("snake.noisy_sine")
def noisy_sine(p, ctx):
    """Fig 9(a, b): y = sin(0.1 t) + N(0, sigma^2) on the training range; hold-out against the clean sine.
    model=snake: MLP 1-54-54-1 on t/T, Adam, full batch. model=rnn: nn.RNN (ReLU, hidden 53) + linear readout,
    teacher-forced one-step prediction, then free-running over the hold-out. `reps` repetitions per sigma^2 (the
    Spearman statistic needs the medians over repetitions, so they live in one run); rows carry sigma2 and rep."""
    torch.manual_seed(ctx.seed_for("torch"))
    T, t_tr, t_val = _noisy_sine_split(p)
    w = float(p["omega"])
    clean_val = torch.sin(w * t_val)
    g_noise, g_init = ctx.generator("noise"), ctx.generator("init")
    medians = []
    for s2 in p["sigma2"]:
        mses = []
        for rep in range(int(p["reps"])):
            y = torch.sin(w * t_tr) + math.sqrt(s2) * torch.randn(len(t_tr), generator=g_noise)
            if p["model"] == "snake":
                net = _snake_sine_model(p, g_init)
                opt = torch.optim.Adam(net.parameters(), lr=float(p["snake_lr"]))
                xin, yin = (t_tr / T)[:, None], y[:, None]
                for _ in range(int(p["snake_steps"])):
                    opt.zero_grad(set_to_none=True)
                    loss = torch.mean((net(xin) - yin) ** 2)
                    loss.backward()
                    opt.step()
                with torch.no_grad():
                    pred = net((t_val / T)[:, None])[:, 0]
            else:
                rnn, head = _relu_rnn(p)
                params = list(rnn.parameters()) + list(head.parameters())
                opt = torch.optim.Adam(params, lr=float(p["rnn_lr"]))
                seq = y[:, None, None]
                for _ in range(int(p["rnn_epochs"])):
                    opt.zero_grad(set_to_none=True)
                    hs, _ = rnn(seq[:-1])
                    loss = torch.mean((head(hs) - seq[1:]) ** 2)
                    loss.backward()
                    opt.step()
                with torch.no_grad():
                    hs, h = rnn(seq)
                    x_t, out = head(hs[-1]), []
                    n_skip = int(t_val[0].item()) - T    # text design: the hold-out starts one step later
                    for _ in range(n_skip + len(t_val)):
                        out.append(x_t)
                        o, h = rnn(x_t[None], h)
                        x_t = head(o[0])
                    pred = torch.stack(out)[n_skip:, 0, 0]
            mse = torch.mean((pred - clean_val) ** 2).item()
            mses.append(mse)
            yield {"metric": "holdout_mse", "value": mse, "sigma2": float(s2), "rep": rep}
            yield {"metric": "holdout_sse", "value": mse * len(t_val), "sigma2": float(s2), "rep": rep}
            if rep == 0 and float(s2) == float(p["show_sigma2"]):
                for ti, yi in zip(t_tr.tolist(), y.tolist()):
                    yield {"metric": "train_series", "value": yi, "x": ti, "sigma2": float(s2)}
                for ti, yi in zip(t_val.tolist(), pred.tolist()):
                    yield {"metric": "holdout_pred", "value": yi, "x": ti, "sigma2": float(s2)}
        med = float(np.median(mses))
        medians.append(med)
        yield {"metric": "median_mse", "value": med, "sigma2": float(s2)}
    if len(medians) > 1:
        yield {"metric": "spearman_noise", "value": _spearman(p["sigma2"], medians)}


@experiment("snake.update_time", version=2, device="any")   # the paper's claim is a GPU timing; not yet run on CUDA
def update_time(p, ctx):
    """Fig 9(c): wall time of one gradient update against the series length T, over `updates` updates after
    `warmup`: the median (metric time_per_update, robust to the process being preempted on a shared machine) and
    the mean (time_per_update_mean, the paper's statistic). Snake: one full-batch Adam step of the 1-54-54-1 MLP on
    T points; RNN: one BPTT Adam step over T steps. Runs on the slot's device (a GPU on a GPU box: the paper's
    claims are about GPU time) and says which in the `device` column; the models are built on the CPU from a CPU
    generator (the same initial weights on any device) and then moved."""
    torch.manual_seed(ctx.seed_for("torch"))
    dev = ctx.device
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    for T in p["T_values"]:
        T = int(T)
        t = torch.arange(T, dtype=torch.float32, device=dev)
        y = torch.sin(float(p["omega"]) * t)
        if p["model"] == "snake":
            net = _snake_sine_model(p, torch.Generator().manual_seed(ctx.seed_for("init"))).to(dev)
            opt = torch.optim.Adam(net.parameters(), lr=1e-3)
            xin, yin = (t / T)[:, None], y[:, None]

            def update():
                opt.zero_grad(set_to_none=True)
                torch.mean((net(xin) - yin) ** 2).backward()
                opt.step()
        else:
            rnn, head = _relu_rnn(p)
            rnn, head = rnn.to(dev), head.to(dev)
            opt = torch.optim.Adam(list(rnn.parameters()) + list(head.parameters()), lr=1e-3)
            seq = y[:, None, None]

            def update():
                opt.zero_grad(set_to_none=True)
                hs, _ = rnn(seq[:-1])
                torch.mean((head(hs) - seq[1:]) ** 2).backward()
                opt.step()
        for _ in range(int(p["warmup"])):
            update()
        sync()
        times = []
        for _ in range(int(p["updates"])):
            t0 = time.perf_counter()
            update()
            sync()
            times.append(time.perf_counter() - t0)
        yield {"metric": "time_per_update", "value": float(np.median(times)), "T": T, "device": dev.type}
        yield {"metric": "time_per_update_mean", "value": float(np.mean(times)), "T": T, "device": dev.type}


def periodic_signal(t: torch.Tensor) -> torch.Tensor:
    """Fig 13's x(t) = cos(t/2) + 2 sin(t/3)."""
    return torch.cos(t / 2) + 2 * torch.sin(t / 3)


@experiment("snake.rnn_periodic")
def rnn_periodic(p, ctx):
    """Fig 13: an Elman RNN (hidden 32, activation tanh / relu / snake) learns x_{t+1} from x_t on t = 0..100
    (teacher forcing, Adam, full sequence), then runs free from t = 100 to 800. Rows: teacher-forced training MSE,
    roll-out MSE on t in (100, 800], and the prediction every `plot_every` steps."""
    torch.manual_seed(ctx.seed_for("torch"))
    t_end, t_train = int(p["t_end"]), int(p["t_train"])
    t = torch.arange(t_end + 1, dtype=torch.float32)
    x = periodic_signal(t)
    net = ElmanRNN(int(p["hidden"]), p["activation"], a=float(p.get("a", 1.0)), generator=ctx.generator("init"))
    opt = torch.optim.Adam(net.parameters(), lr=float(p["lr"]))
    seq = x[: t_train + 1, None, None]
    for epoch in range(1, int(p["epochs"]) + 1):
        opt.zero_grad(set_to_none=True)
        out, _ = net(seq[:-1])
        loss = torch.mean((out - seq[1:]) ** 2)
        loss.backward()
        opt.step()
        if epoch % int(p["record_every"]) == 0 or epoch == 1:
            yield {"step": epoch, "metric": "train_loss", "value": loss.item()}
    with torch.no_grad():
        out, h = net(seq)                          # inputs x_0..x_100: outputs predict x_1..x_101
        train_mse = torch.mean((out[:-1] - seq[1:]) ** 2).item()
        roll = net.rollout(out[-1], h, t_end - t_train - 1)          # predictions of x_102..x_800
        pred = torch.cat([out[:, 0, 0], roll[:, 0, 0]])             # x_1..x_800
        finite = bool(torch.isfinite(pred).all())
        yield {"metric": "train_mse", "value": train_mse}
        later = pred[t_train:]                                       # x_101..x_800
        yield {"metric": "rollout_mse", "value": torch.mean((later - x[t_train + 1:]) ** 2).item()}
        yield {"metric": "rollout_finite", "value": float(finite)}
        for ti in range(1, t_end + 1, int(p["plot_every"])):
            yield {"metric": "pred", "value": pred[ti - 1].item(), "x": float(ti)}


@experiment("snake.signal_truth")
def signal_truth(p, ctx):
    """The clean signal of figs 9 (signal=sine: sin(omega t)) and 13 (signal=periodic) on t = 0..t_end."""
    t = torch.arange(0, int(p["t_end"]) + 1, int(p.get("plot_every", 1)), dtype=torch.float64)
    f = periodic_signal(t) if p["signal"] == "periodic" else torch.sin(float(p["omega"]) * t)
    for ti, v in zip(t.tolist(), f.tolist()):
        yield {"metric": "data", "value": v, "x": ti}


# ----------------------------------------------------------------------------------------------------------------
# Real series: figs 6, 7, 8, 14, 15, 16 and Table 2 (data in repro/data/snake_series.py)
# ----------------------------------------------------------------------------------------------------------------

def _data_label(p) -> str:
    return "real" if p.get("data_source", "synthetic") in ("real", "embedded") else "synthetic"


def _series_net(p, generator):
    """MLP 1-w_1-...-1 with the run's activation; Snake options (a, per-unit, init, fixed/learnable) from p."""
    return mlp([1, *[int(w) for w in p["widths"]], 1], p["activation"], a=float(p.get("a", 1.0)),
               a_mode=p.get("a_mode", "fixed"), a_init=p.get("a_init", "const"), per_unit=bool(p.get("per_unit")),
               bias_last=bool(p.get("bias_last", True)), generator=generator)


def _fit(net, x, y, p, ctx, record=None, extra_epochs=()):
    """SGD with momentum (and weight decay); full batch when batch is 0/None, else shuffled minibatches from the
    `data` stream. lr may be a schedule [[lr, epochs], ...]. Calls record(epoch, train_loss) every
    `record_every` epochs, at the first and last epoch and at `extra_epochs`."""
    schedule = p["lr"] if isinstance(p["lr"], list) else [[p["lr"], p["epochs"]]]
    opt = torch.optim.SGD(net.parameters(), lr=float(schedule[0][0]), momentum=float(p.get("momentum", 0.0)),
                          weight_decay=float(p.get("weight_decay", 0.0)))
    batch = int(p.get("batch") or 0)
    g = ctx.generator("data")
    n = len(x)
    total = sum(int(e) for _, e in schedule)
    every = int(p.get("record_every", 0) or 0)
    epoch = 0
    for lr, epochs in schedule:
        for group in opt.param_groups:
            group["lr"] = float(lr)
        for _ in range(int(epochs)):
            epoch += 1
            if batch:
                perm = torch.randperm(n, generator=g)
                for i in range(0, n, batch):
                    idx = perm[i:i + batch]
                    opt.zero_grad(set_to_none=True)
                    loss = torch.mean((net(x[idx]) - y[idx]) ** 2)
                    loss.backward()
                    opt.step()
            else:
                opt.zero_grad(set_to_none=True)
                loss = torch.mean((net(x) - y) ** 2)
                loss.backward()
                opt.step()
            if record is not None and (epoch == 1 or epoch == total or (every and epoch % every == 0)
                                       or epoch in extra_epochs):
                with torch.no_grad():
                    record(epoch, torch.mean((net(x) - y) ** 2).item())


def dominant_period(t: np.ndarray, y: np.ndarray, periods: np.ndarray) -> float:
    """The period P maximising the variance explained by a sinusoid after removing a linear trend (a least-squares
    periodogram on a grid of periods, so it works on short, unevenly long windows)."""
    A = np.c_[np.ones_like(t), t]
    r = y - A @ np.linalg.lstsq(A, y, rcond=None)[0]
    best, best_p = -1.0, float("nan")
    for P in periods:
        B = np.c_[np.sin(2 * np.pi * t / P), np.cos(2 * np.pi * t / P), A]
        fit = B @ np.linalg.lstsq(B, r, rcond=None)[0]
        power = float(fit @ fit)
        if power > best:
            best, best_p = power, float(P)
    return best_p


@experiment("snake.temperature_data")
def temperature_data(p, ctx):
    """The weekly series of fig 6 (°C against years), for the plot."""
    from repro.data.snake_series import load_temperature, weekly_pipeline
    w = weekly_pipeline(load_temperature(ctx.data_dir, p["data_source"], p.get("variant", "authors_csv"),
                                         seed=int(p.get("data_seed", 0))))
    for xi, v in zip(w.x.tolist(), w.temp.tolist()):
        yield {"metric": "data", "value": v, "x": xi, "data": _data_label(p)}


@experiment("snake.temperature")
def temperature(p, ctx):
    """Fig 6: MLP 1-100-100-1 on the weekly Minamitorishima temperature (Y = T/mean T), trained on the first 312
    weeks (SGD, momentum 0.99, weight decay, batch 32). Rows: loss curves (train; "test" = all 469 weeks, as the
    code), MSE in °C² on the training and held-out weeks, the normalised whole-range loss, the dominant period of
    the detrended held-out prediction, and the prediction (°C) for the plot."""
    from repro.data.snake_series import load_temperature, weekly_pipeline
    torch.manual_seed(ctx.seed_for("torch"))
    lab = _data_label(p)
    w = weekly_pipeline(load_temperature(ctx.data_dir, p["data_source"], p.get("variant", "authors_csv"),
                                         seed=int(p.get("data_seed", 0))))
    X = torch.tensor(w.x, dtype=torch.float32)[:, None]
    Y = torch.tensor(w.y, dtype=torch.float32)[:, None]
    n = w.n_train
    net = _series_net(p, ctx.generator("init"))
    rows = []

    def record(epoch, train_loss):
        with torch.no_grad():
            rows.append({"step": epoch, "metric": "train_loss", "value": train_loss, "data": lab})
            rows.append({"step": epoch, "metric": "test_loss", "value": torch.mean((net(X) - Y) ** 2).item(),
                         "data": lab})

    _fit(net, X[:n], Y[:n], p, ctx, record)
    yield from rows
    with torch.no_grad():
        pred = net(X)[:, 0].numpy() * w.scale
    yield {"metric": "train_mse_c2", "value": float(np.mean((pred[:n] - w.temp[:n]) ** 2)), "data": lab}
    yield {"metric": "heldout_mse_c2", "value": float(np.mean((pred[n:] - w.temp[n:]) ** 2)), "data": lab}
    yield {"metric": "whole_loss", "value": float(np.mean((pred / w.scale - w.y) ** 2)), "data": lab}
    periods = np.arange(0.3, 3.0001, 0.005)
    yield {"metric": "period", "value": dominant_period(w.x[n:], pred[n:], periods), "data": lab}
    for i in range(0, len(w.x), int(p.get("plot_every", 1))):
        yield {"metric": "pred", "value": float(pred[i]), "x": float(w.x[i]), "data": lab}


@experiment("snake.body_temperature", version=2)
def body_temperature(p, ctx):
    """Fig 7: MLP 1-64-64-1 (no output bias) on the 25 body-temperature points (X = hour/108 - 1,
    Y = °C - 36.6), SGD with momentum and the code's lr schedule, full batch; predict hours 0..719."""
    from repro.data.snake_series import load_body_temperature
    torch.manual_seed(ctx.seed_for("torch"))
    lab = _data_label(p)
    df = load_body_temperature(ctx.data_dir, p["data_source"], seed=int(p.get("data_seed", 0)))
    x = torch.tensor(df["hour"].to_numpy() / 108 - 1, dtype=torch.float32)[:, None]
    y = torch.tensor(df["celsius"].to_numpy() - 36.6, dtype=torch.float32)[:, None]
    net = _series_net(p, ctx.generator("init"))
    _fit(net, x, y, p, ctx)
    hours = np.arange(int(p["horizon_hours"]))
    with torch.no_grad():
        yield {"metric": "train_mse", "value": torch.mean((net(x) - y) ** 2).item(), "data": lab}
        pred = net(torch.tensor(hours / 108 - 1, dtype=torch.float32)[:, None])[:, 0].numpy() + 36.6
    after = pred[hours >= int(p["train_hours"])]
    yield {"metric": "pred_min_after", "value": float(after.min()), "data": lab}
    yield {"metric": "pred_max_after", "value": float(after.max()), "data": lab}
    yield {"metric": "p_last", "value": float(pred[-1]), "data": lab}
    clock = np.array([pred[hours % 24 == h].mean() for h in range(24)])
    finite = bool(np.isfinite(clock).all())          # a diverged run has no peak hour
    yield {"metric": "clock_argmax", "value": float(np.argmax(clock)) if finite else float("nan"), "data": lab}
    yield {"metric": "clock_argmin", "value": float(np.argmin(clock)) if finite else float("nan"), "data": lab}
    for h in range(24):
        yield {"metric": "clock_mean", "value": float(clock[h]), "x": float(h), "data": lab}
    for i in range(0, len(hours), int(p.get("plot_every", 1))):
        yield {"metric": "pred", "value": float(pred[i]), "x": float(hours[i]), "data": lab}


@experiment("snake.body_data")
def body_data(p, ctx):
    from repro.data.snake_series import load_body_temperature
    df = load_body_temperature(ctx.data_dir, p["data_source"], seed=int(p.get("data_seed", 0)))
    for h, c in zip(df["hour"].tolist(), df["celsius"].tolist()):
        yield {"metric": "data", "value": c, "x": h, "data": _data_label(p)}
        yield {"metric": "data_clock", "value": c, "x": float(h % 24), "data": _data_label(p)}


def _market(p, ctx):
    from repro.data.snake_series import load_market, market_pipeline
    v, n_na = load_market(ctx.data_dir, p["data_source"], p.get("variant", "authors_txt"),
                          seed=int(p.get("data_seed", 0)))
    return market_pipeline(v, int(p.get("n_train", 6300))), n_na


def _detrended_stats(pred: np.ndarray, hf_period: float) -> tuple[float, float, float]:
    """(variance after removing a linear fit, spectral power at periods < hf_period samples, its fraction)."""
    t = np.arange(len(pred), dtype=float)
    A = np.c_[np.ones_like(t), t]
    r = pred - A @ np.linalg.lstsq(A, pred, rcond=None)[0]
    spec = np.abs(np.fft.rfft(r)) ** 2 / len(r) ** 2
    spec[1:] *= 2                                    # one-sided: sum(spec[1:]) = var(r) (Parseval)
    freq = np.fft.rfftfreq(len(r))
    hf = float(spec[freq > 1.0 / hf_period].sum())
    var = float(r.var())
    return var, hf, hf / var if var > 0 else float("nan")


@experiment("snake.market")
def market(p, ctx):
    """Figs 8, 16 and Table 2's DNN rows: MLP 1-64-64-64-1 on the normalised index (first 6,300 values), SGD with
    momentum, full batch. Rows: train and test MSE (test = indices 6315..6396), the prediction's change over the
    test window, its value at the split and the minimum of the forecast to index 7,396, the forecast for the plot,
    and at `snapshots` epochs the loss, the detrended variance and the high-frequency power of the
    training-range prediction (fig 16)."""
    from repro.data.snake_series import TEST_END, TEST_START
    torch.manual_seed(ctx.seed_for("torch"))
    lab = _data_label(p)
    m, _ = _market(p, ctx)
    n = m.n_train
    N = len(m.y)
    X = torch.tensor(m.x, dtype=torch.float32)[:, None]
    Y = torch.tensor(m.y, dtype=torch.float32)[:, None]
    grid = torch.arange(1, int(p["forecast_to"]) + 1, dtype=torch.float32)[:, None] / N
    net = _series_net(p, ctx.generator("init"))
    snaps = {int(s) for s in p.get("snapshots", [])}
    rows = []

    def record(epoch, train_loss):
        rows.append({"step": epoch, "metric": "train_loss", "value": train_loss, "data": lab})
        if epoch in snaps:
            with torch.no_grad():
                pr = net(X[:n])[:, 0].double().numpy()
            var, hf, frac = _detrended_stats(pr, float(p.get("hf_period", 252)))
            rows.extend([{"step": epoch, "metric": "snap_loss", "value": train_loss, "data": lab},
                         {"step": epoch, "metric": "detrended_var", "value": var, "data": lab},
                         {"step": epoch, "metric": "hf_power", "value": hf, "data": lab},
                         {"step": epoch, "metric": "hf_fraction", "value": frac, "data": lab}])
            for i in range(0, n, int(p.get("snap_plot_every", 25))):
                rows.append({"step": epoch, "metric": "snap_pred", "value": float(pr[i]), "x": float(m.x[i]),
                             "data": lab})

    _fit(net, X[:n], Y[:n], p, ctx, record, extra_epochs=snaps)
    yield from rows
    with torch.no_grad():
        pred = net(grid)[:, 0].double().numpy()
    yield {"metric": "train_mse", "value": float(np.mean((pred[:n] - m.y[:n]) ** 2)), "data": lab}
    yield {"metric": "test_mse", "value": float(np.mean((pred[TEST_START:TEST_END] - m.y[TEST_START:TEST_END]) ** 2)),
           "data": lab}
    yield {"metric": "test_change", "value": float(pred[TEST_END - 1] - pred[TEST_START]), "data": lab}
    yield {"metric": "split_value", "value": float(pred[n]), "data": lab}
    if len(pred) > N:
        yield {"metric": "forecast_min", "value": float(pred[N:].min()), "data": lab}
        yield {"metric": "forecast_end", "value": float(pred[-1]), "data": lab}
    for i in range(0, len(pred), int(p.get("plot_every", 10))):
        yield {"metric": "pred", "value": float(pred[i]), "x": float(grid[i, 0]), "data": lab}


@experiment("snake.market_data")
def market_data(p, ctx):
    """The normalised index for the plots; fig 15's checks of the loader (counts, start, trough, last, maximum)."""
    m, n_na = _market(p, ctx)
    lab = _data_label(p)
    n = m.n_train
    yield {"metric": "n_values", "value": float(len(m.v)), "data": lab}
    yield {"metric": "n_na_lines", "value": float(n_na), "data": lab}
    yield {"metric": "max_y", "value": float(m.y.max()), "data": lab}
    train = m.y[:n]
    yield {"metric": "n_plotted", "value": float(len(train)), "data": lab}
    yield {"metric": "start", "value": float(train[0]), "data": lab}
    yield {"metric": "trough_3300_4200", "value": float(train[3300:4200].min()), "data": lab}
    yield {"metric": "last", "value": float(train[-1]), "data": lab}
    yield {"metric": "plotted_max", "value": float(train.max()), "data": lab}
    for i in range(0, int(p.get("plot_n") or len(m.y)), int(p.get("plot_every", 5))):
        yield {"metric": "data", "value": float(m.y[i]), "x": float(m.x[i]), "data": lab,
               "year": 1995 + i / 250.0}


@experiment("snake.arima")
def arima(p, ctx):
    """Fig 8 / Table 2: ARIMA(p, d, q) (repro/nn/arima.py, CSS fit) on the first 6,300 normalised values, forecast
    to index `forecast_to` with a 90 % interval; test MSE on indices 6315..6396. `order` is [p, d, q] or "p,d,q"."""
    from repro.data.snake_series import TEST_END, TEST_START
    from repro.nn.arima import fit_arima
    lab = _data_label(p)
    order = tuple(int(v) for v in (p["order"].split(",") if isinstance(p["order"], str) else p["order"]))
    method = "ARIMA({},{},{})".format(*order)
    m, _ = _market(p, ctx)
    n = m.n_train
    res = fit_arima(m.y[:n], order, drift=bool(p["drift"]))
    h = int(p["forecast_to"]) - n
    mean, lo, hi = res.forecast(h, alpha=0.10)
    test = mean[TEST_START - n:TEST_END - n]
    tag = {"data": lab, "method": method}
    yield {"metric": "test_mse", "value": float(np.mean((test - m.y[TEST_START:TEST_END]) ** 2)), **tag}
    yield {"metric": "split_value", "value": float(mean[0]), **tag}
    yield {"metric": "value_plus_1000", "value": float(mean[min(999, h - 1)]), **tag}
    yield {"metric": "sigma2", "value": res.sigma2, **tag}
    yield {"metric": "fitted", "value": float(np.isfinite(mean).all() and np.isfinite(res.sigma2)), **tag}
    N = len(m.y)
    for i in range(0, h, int(p.get("plot_every", 10))):
        x = (n + 1 + i) / N
        yield {"metric": "pred", "value": float(mean[i]), "x": x, **tag}
        yield {"metric": "pred_lo", "value": float(lo[i]), "x": x, **tag}
        yield {"metric": "pred_hi", "value": float(hi[i]), "x": x, **tag}


@experiment("snake.eurusd")
def eurusd(p, ctx):
    """Fig 14: MLP 1-256-64-1 on the weekly EUR-USD rate (X = years since 2010.0, Y = rate / training mean),
    trained on the first 262 weeks (2010.0-2015.0); SGD lr 1e-4, momentum 0.99, weight decay 1e-4, batch 16.
    Rows: loss curves (normalised scale), train / test MSE in rate units², the prediction for the plot."""
    from repro.data.snake_series import load_eurusd
    torch.manual_seed(ctx.seed_for("torch"))
    lab = _data_label(p)
    n = int(p["n_train"])
    df = load_eurusd(ctx.data_dir, p["data_source"], seed=int(p.get("data_seed", 0)), min_rows=n + 1)
    t = df["year"].to_numpy() - 2010.0
    rate = df["rate"].to_numpy()
    scale = float(rate[:n].mean())
    X = torch.tensor(t, dtype=torch.float32)[:, None]
    Y = torch.tensor(rate / scale, dtype=torch.float32)[:, None]
    net = _series_net(p, ctx.generator("init"))
    rows = []

    def record(epoch, train_loss):
        with torch.no_grad():
            rows.append({"step": epoch, "metric": "train_loss", "value": train_loss, "data": lab})
            rows.append({"step": epoch, "metric": "test_loss",
                         "value": torch.mean((net(X[n:]) - Y[n:]) ** 2).item(), "data": lab})

    _fit(net, X[:n], Y[:n], p, ctx, record)
    yield from rows
    with torch.no_grad():
        pred = net(X)[:, 0].double().numpy() * scale
    yield {"metric": "train_mse", "value": float(np.mean((pred[:n] - rate[:n]) ** 2)), "data": lab}
    yield {"metric": "test_mse", "value": float(np.mean((pred[n:] - rate[n:]) ** 2)), "data": lab}
    for i in range(0, len(t), int(p.get("plot_every", 1))):
        yield {"metric": "pred", "value": float(pred[i]), "x": float(df["year"].iloc[i]), "data": lab}


@experiment("snake.eurusd_data")
def eurusd_data(p, ctx):
    from repro.data.snake_series import load_eurusd
    df = load_eurusd(ctx.data_dir, p["data_source"], seed=int(p.get("data_seed", 0)))
    for x, v in zip(df["year"].tolist(), df["rate"].tolist()):
        yield {"metric": "data", "value": v, "x": x, "data": _data_label(p)}


# ----------------------------------------------------------------------------------------------------------------
# MNIST and CIFAR-10: figs 3, 5, 17, 18, 19, 20 (data in repro/data/snake_images.py, ResNets in
# repro/nn/snake_resnet.py)
# ----------------------------------------------------------------------------------------------------------------

def _image_model(p, generator):
    from repro.nn.snake_resnet import ResNet
    if p["model"] == "mlp":
        return mlp([784, *[int(w) for w in p["widths"]], 10], p["activation"], a=float(p.get("a", 1.0)),
                   variance_correction=p.get("variance_correction", "none"), generator=generator)
    return ResNet(p["model"], p["activation"], a=float(p.get("a", 0.5)),
                  variance_correction=p.get("variance_correction", "none"), width=int(p.get("width", 64)),
                  generator=generator)


def _image_optimizer(p, params):
    from repro.optim import make_optimizer
    if p["optimizer"] == "sgd":
        return torch.optim.SGD(params, lr=float(p["lr"]), momentum=float(p.get("momentum", 0.0)),
                               weight_decay=float(p.get("weight_decay", 0.0)))
    return make_optimizer(p["optimizer"], params, lr=float(p["lr"]), weight_decay=float(p.get("weight_decay", 0.0)))


@experiment("snake.image_classification", device="any")
def image_classification(p, ctx):
    """Figs 3, 5, 17-20: an MLP (MNIST) or a CIFAR ResNet trained with cross-entropy; per epoch the mean training
    loss over the epoch's minibatches, the test loss and the test accuracy (%). lr drops: [[epoch, lr], ...] set the
    lr from that epoch on (1-based). CIFAR augmentation: random crop (pad 4) and horizontal flip."""
    from repro.data.snake_images import augment_crop_flip, load_images
    dev = ctx.device
    lab = _data_label(p)
    cpu_data = torch.Generator().manual_seed(ctx.seed_for("data"))
    xtr, ytr, xte, yte = load_images(p["dataset"], p["data_source"], ctx.data_dir, cpu_data,
                                     int(p.get("n_train", 0)), int(p.get("n_test", 0)), device=dev)
    model = _image_model(p, torch.Generator().manual_seed(ctx.seed_for("init"))).to(dev)
    opt = _image_optimizer(p, model.parameters())
    scaler = ctx.grad_scaler()
    g = ctx.generator("shuffle")
    batch, n = int(p["batch"]), len(xtr)
    drops = {int(e): float(lr) for e, lr in p.get("lr_drops", [])}
    lossf = torch.nn.functional.cross_entropy
    for epoch in ctx.progress(range(1, int(p["epochs"]) + 1), total=int(p["epochs"]), desc=p["activation"]):
        if epoch in drops:
            for group in opt.param_groups:
                group["lr"] = drops[epoch]
        model.train()
        perm = torch.randperm(n, generator=g, device=g.device).to(dev)
        total, count = torch.zeros((), device=dev), 0
        for i in range(0, n, batch):
            idx = perm[i:i + batch]
            x, y = xtr[idx], ytr[idx]
            if p.get("augment"):
                x = augment_crop_flip(x, g)
            with ctx.autocast():
                loss = lossf(model(x).float(), y)
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            total += loss.detach() * len(idx)
            count += len(idx)
        yield {"step": epoch, "metric": "train_loss", "value": (total / count).item(), "data": lab}
        model.eval()
        correct, tl = 0, 0.0
        with torch.no_grad(), ctx.autocast():
            for i in range(0, len(xte), 1000):
                out = model(xte[i:i + 1000]).float()
                tl += lossf(out, yte[i:i + 1000], reduction="sum").item()
                correct += (out.argmax(1) == yte[i:i + 1000]).sum().item()
        yield {"step": epoch, "metric": "test_loss", "value": tl / len(xte), "data": lab}
        yield {"step": epoch, "metric": "test_acc", "value": 100.0 * correct / len(xte), "data": lab}
