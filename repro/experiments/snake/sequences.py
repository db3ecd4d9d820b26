"""Snake figs 9 and 13: a noisy sine and a periodic signal learnt by a Snake MLP or a recurrent network
(snake.noisy_sine, snake.update_time, snake.rnn_periodic, snake.signal_truth). Data: repro/data/snake_toy.py."""
from __future__ import annotations

import math
import time

import numpy as np
import torch

from repro.analysis.series import spearman
from repro.data.snake_toy import noisy_sine_split, periodic_signal
from repro.experiments.registry import experiment
from repro.nn.elman import ElmanRNN
from repro.nn.snake_mlp import mlp
from repro.train import fit, train_step
from repro.train.losses import mean_squared_error


def _snake_sine_model(p, generator):
    w = int(p["snake_width"])
    return mlp([1, w, w, 1], "snake", a=float(p["a"]), generator=generator)


def _relu_rnn(p):
    rnn = torch.nn.RNN(1, int(p["rnn_hidden"]), nonlinearity="relu")
    return rnn, torch.nn.Linear(int(p["rnn_hidden"]), 1)


def _next_step_loss(rnn, head, seq):
    """Teacher forcing: the mean squared error of the one-step predictions of seq[1:] from seq[:-1]."""
    hs, _ = rnn(seq[:-1])
    return mean_squared_error(head(hs), seq[1:])


@experiment("snake.noisy_sine")
def noisy_sine(p, ctx):
    """Fig 9(a, b): y = sin(0.1 t) + N(0, sigma^2) on the training range; hold-out against the clean sine.
    model=snake: MLP 1-54-54-1 on t/T, Adam, full batch. model=rnn: nn.RNN (ReLU, hidden 53) + linear readout,
    teacher-forced one-step prediction, then free-running over the hold-out. `reps` repetitions per sigma^2 (the
    Spearman statistic needs the medians over repetitions, so they live in one run); rows carry sigma2 and rep."""
    torch.manual_seed(ctx.seed_for("torch"))
    T, t_tr, t_val = noisy_sine_split(p)
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
                yield from fit(opt, lambda batch: mean_squared_error(net(xin), yin), epochs=int(p["snake_steps"]))
                with torch.no_grad():
                    pred = net((t_val / T)[:, None])[:, 0]
            else:
                rnn, head = _relu_rnn(p)
                params = list(rnn.parameters()) + list(head.parameters())
                opt = torch.optim.Adam(params, lr=float(p["rnn_lr"]))
                seq = y[:, None, None]
                yield from fit(opt, lambda batch: _next_step_loss(rnn, head, seq), epochs=int(p["rnn_epochs"]))
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
        yield {"metric": "spearman_noise", "value": spearman(p["sigma2"], medians)}


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
            net = _snake_sine_model(p, ctx.cpu_generator("init")).to(dev)
            opt = torch.optim.Adam(net.parameters(), lr=1e-3)
            xin, yin = (t / T)[:, None], y[:, None]

            def loss_fn(batch):
                return mean_squared_error(net(xin), yin)
        else:
            rnn, head = _relu_rnn(p)
            rnn, head = rnn.to(dev), head.to(dev)
            opt = torch.optim.Adam(list(rnn.parameters()) + list(head.parameters()), lr=1e-3)
            seq = y[:, None, None]

            def loss_fn(batch):
                return _next_step_loss(rnn, head, seq)
        for _ in range(int(p["warmup"])):
            train_step(opt, loss_fn)
        sync()
        times = []
        for _ in range(int(p["updates"])):
            t0 = time.perf_counter()
            train_step(opt, loss_fn)
            sync()
            times.append(time.perf_counter() - t0)
        yield {"metric": "time_per_update", "value": float(np.median(times)), "T": T, "device": dev.type}
        yield {"metric": "time_per_update_mean", "value": float(np.mean(times)), "T": T, "device": dev.type}


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

    def loss_curve(state, batch):
        if state.step % int(p["record_every"]) == 0 or state.step == 1:
            yield {"step": state.step, "metric": "train_loss", "value": state.loss.item()}

    yield from fit(opt, lambda batch: mean_squared_error(net(seq[:-1])[0], seq[1:]), epochs=int(p["epochs"]),
                   on_step=loss_curve)   # teacher forcing over the whole sequence, one step per epoch
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
