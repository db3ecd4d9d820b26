"""Snake figs 6, 7, 8, 14, 15, 16 and Table 2: real time series (temperature, body temperature, a market index,
EUR-USD) fitted by Snake MLPs, against ARIMA (snake.temperature[_data], snake.body_temperature, snake.body_data,
snake.market[_data], snake.arima, snake.eurusd[_data]). Data: repro/data/snake_series.py."""
from __future__ import annotations

import numpy as np
import torch

from repro.analysis.series import detrended_stats, dominant_period
from repro.experiments.registry import experiment
from repro.nn.snake_mlp import mlp
from repro.train import fit, shuffled_batches
from repro.train.losses import mean_squared_error


def data_label(p) -> str:
    return "real" if p.get("data_source", "synthetic") in ("real", "embedded") else "synthetic"


def _series_net(p, generator):
    """MLP 1-w_1-...-1 with the run's activation; Snake options (a, per-unit, init, fixed/learnable) from p."""
    return mlp([1, *[int(w) for w in p["widths"]], 1], p["activation"], a=float(p.get("a", 1.0)),
               a_mode=p.get("a_mode", "fixed"), a_init=p.get("a_init", "const"), per_unit=bool(p.get("per_unit")),
               bias_last=bool(p.get("bias_last", True)), generator=generator)


def _fit(net, x, y, p, ctx, record=None, extra_epochs=()):
    """SGD with momentum (and weight decay) on the mean squared error; full batch when batch is 0/None, else
    shuffled minibatches from the `data` stream. lr may be a schedule [[lr, epochs], ...]. Calls
    record(epoch, train_loss) every `record_every` epochs, at the first and last epoch and at `extra_epochs`."""
    schedule = p["lr"] if isinstance(p["lr"], list) else [[p["lr"], p["epochs"]]]
    lr_of_epoch = [float(lr) for lr, epochs in schedule for _ in range(int(epochs))]
    opt = torch.optim.SGD(net.parameters(), lr=lr_of_epoch[0], momentum=float(p.get("momentum", 0.0)),
                          weight_decay=float(p.get("weight_decay", 0.0)))
    batch = int(p.get("batch") or 0)
    g = ctx.generator("data")
    total = len(lr_of_epoch)
    every = int(p.get("record_every", 0) or 0)

    def on_epoch_start(state):
        for group in opt.param_groups:
            group["lr"] = lr_of_epoch[state.epoch - 1]

    def on_epoch_end(state):
        epoch = state.epoch
        if record is not None and (epoch == 1 or epoch == total or (every and epoch % every == 0)
                                   or epoch in extra_epochs):
            with torch.no_grad():
                record(epoch, mean_squared_error(net(x), y).item())

    yield from fit(opt, lambda idx: mean_squared_error(net(x), y) if idx is None else
                   mean_squared_error(net(x[idx]), y[idx]),
                   (lambda epoch: shuffled_batches(len(x), batch, g)) if batch else None, epochs=total,
                   on_epoch_start=on_epoch_start, on_epoch_end=on_epoch_end)


@experiment("snake.temperature_data")
def temperature_data(p, ctx):
    """The weekly series of fig 6 (°C against years), for the plot."""
    from repro.data.snake_series import load_temperature, weekly_pipeline
    w = weekly_pipeline(load_temperature(ctx.data_dir, p["data_source"], p.get("variant", "authors_csv"),
                                         seed=int(p.get("data_seed", 0))))
    for xi, v in zip(w.x.tolist(), w.temp.tolist()):
        yield {"metric": "data", "value": v, "x": xi, "data": data_label(p)}


@experiment("snake.temperature")
def temperature(p, ctx):
    """Fig 6: MLP 1-100-100-1 on the weekly Minamitorishima temperature (Y = T/mean T), trained on the first 312
    weeks (SGD, momentum 0.99, weight decay, batch 32). Rows: loss curves (train; "test" = all 469 weeks, as the
    code), MSE in °C² on the training and held-out weeks, the normalised whole-range loss, the dominant period of
    the detrended held-out prediction, and the prediction (°C) for the plot."""
    from repro.data.snake_series import load_temperature, weekly_pipeline
    torch.manual_seed(ctx.seed_for("torch"))
    lab = data_label(p)
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

    yield from _fit(net, X[:n], Y[:n], p, ctx, record)
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
    lab = data_label(p)
    df = load_body_temperature(ctx.data_dir, p["data_source"], seed=int(p.get("data_seed", 0)))
    x = torch.tensor(df["hour"].to_numpy() / 108 - 1, dtype=torch.float32)[:, None]
    y = torch.tensor(df["celsius"].to_numpy() - 36.6, dtype=torch.float32)[:, None]
    net = _series_net(p, ctx.generator("init"))
    yield from _fit(net, x, y, p, ctx)
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
        yield {"metric": "data", "value": c, "x": h, "data": data_label(p)}
        yield {"metric": "data_clock", "value": c, "x": float(h % 24), "data": data_label(p)}


def _market(p, ctx):
    from repro.data.snake_series import load_market, market_pipeline
    v, n_na = load_market(ctx.data_dir, p["data_source"], p.get("variant", "authors_txt"),
                          seed=int(p.get("data_seed", 0)))
    return market_pipeline(v, int(p.get("n_train", 6300))), n_na


@experiment("snake.market")
def market(p, ctx):
    """Figs 8, 16 and Table 2's DNN rows: MLP 1-64-64-64-1 on the normalised index (first 6,300 values), SGD with
    momentum, full batch. Rows: train and test MSE (test = indices 6315..6396), the prediction's change over the
    test window, its value at the split and the minimum of the forecast to index 7,396, the forecast for the plot,
    and at `snapshots` epochs the loss, the detrended variance and the high-frequency power of the
    training-range prediction (fig 16)."""
    from repro.data.snake_series import TEST_END, TEST_START
    torch.manual_seed(ctx.seed_for("torch"))
    lab = data_label(p)
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
            var, hf, frac = detrended_stats(pr, float(p.get("hf_period", 252)))
            rows.extend([{"step": epoch, "metric": "snap_loss", "value": train_loss, "data": lab},
                         {"step": epoch, "metric": "detrended_var", "value": var, "data": lab},
                         {"step": epoch, "metric": "hf_power", "value": hf, "data": lab},
                         {"step": epoch, "metric": "hf_fraction", "value": frac, "data": lab}])
            for i in range(0, n, int(p.get("snap_plot_every", 25))):
                rows.append({"step": epoch, "metric": "snap_pred", "value": float(pr[i]), "x": float(m.x[i]),
                             "data": lab})

    yield from _fit(net, X[:n], Y[:n], p, ctx, record, extra_epochs=snaps)
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
    lab = data_label(p)
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
    lab = data_label(p)
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
    lab = data_label(p)
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

    yield from _fit(net, X[:n], Y[:n], p, ctx, record)
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
        yield {"metric": "data", "value": v, "x": x, "data": data_label(p)}
