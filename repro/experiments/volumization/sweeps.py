"""Volumization (Liu Ziyin, Zihao Wang, Makoto Yamada, Masahito Ueda; arXiv 2003.11243), the label-noise sweeps:
fig=3-5 (MNIST DNN), fig=6-10 (CIFAR-10 ResNet-18), fig=11-14 (IMDB LSTMATT), fig=T1 (the (alpha, v) grids),
fig=T2 (vol against coupled-L2 weight decay), and the trained cells that fig=15-17 analyse. Catalog
../shared/catalog/volumization.md ("Shared experimental protocol", "Tiny harness").

All cells of a sweep (alpha x v, or explicit cells with an L2, times noise rates and replicas) train as ONE stacked
model (repro/noisy/grid.py train_grid, StackedAdam + StackedVolumization: cell k takes exactly the steps of its own
Volumization(Adam) run). The authors' protocol [code: eval_vol.py, ioutils.py]: Adam lr 1e-4, eps 1e-15, batch 128,
100 epochs, no schedule, cross-entropy; 80/20 train/val split of the official train set (the val part is not
trained on); noise: each training label replaced with probability rate*10/9 by a uniform class (MNIST, CIFAR), or
exactly rate*N binary labels flipped (IMDB); clean test set. Best = max test accuracy over epochs, Last = mean over
the last 10 epochs (tiny: `last_epochs`), in %.

Deviations from the authors' code:
  - seeded runs (the authors set no seeds); `replicas` independent (init, batch order, noise draw) per cell; cells
    of one replica share the init, the batch order and the noisy labels (paired comparisons);
  - test accuracy counted exactly (theirs: the mean of per-batch accuracies);
  - the per-run "Best" is the max of that run's curve (the notebook's sweep tables: max of the run-averaged curve,
    2-epoch moving average for single runs; its heat-maps: the mean of per-run maxima, which is ours);
  - LSTMATT's LSTM runs as repro/nn/unrolled_lstm.py (the same parameters and numbers as nn.LSTM, stackable);
  - IMDB: the torchtext-legacy pipeline reimplemented (repro/data/imdb.py load_imdb_fixed), random trainable N(0,1)
    embeddings (their from_pretrained bug); noise flips exactly rate*N of the 25k official labels before the 70/30
    split (their order: noisify the dataset, then split).
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from repro.data.noisy_labels import flip_exact, replace_uniform
from repro.experiments.registry import experiment
from repro.nn.noisy_nets import make_noisy_model
from repro.noisy.grid import CrossEntropyCells, NoisyTask, init_stack, train_grid
from repro.optim.volumization import StackedVolumization
from repro.train.stacked import StackedAdam

DATASETS = ("blobs", "mnist", "cifar10", "imdb", "tokens")


@dataclass
class Data:
    """A training set with clean labels, a clean test set, and how its labels are corrupted."""
    x: torch.Tensor
    y: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int
    real: bool
    augment_with: Callable | None = None   # generator -> augment(batch): one draw stream per stacked run
    model_kwargs: dict = field(default_factory=dict)

    def noisy(self, rate: float, seed: int):
        """(labels, clean mask) of the training set at this noise rate (the authors' noise, seeded)."""
        if self.num_classes == 2:
            out = flip_exact(self.y.cpu(), rate, seed)
        else:
            out = replace_uniform(self.y.cpu(), rate, self.num_classes, seed)
        return torch.as_tensor(out.labels).to(self.y.device), torch.as_tensor(out.clean).to(self.y.device)


def _split(n: int, fraction: float, seed: int) -> torch.Tensor:
    """The first round(fraction n) rows of a seeded permutation: the authors' random 80/20 train/val split."""
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return perm[: int(round(fraction * n))]


def load_data(p: dict, ctx) -> Data:
    """The data set named by p["dataset"] on ctx.device (DATASETS; a real one absent raises DataMissing)."""
    name, dev = p["dataset"], ctx.device
    frac = float(p.get("train_fraction", 0.8))
    if name == "blobs":
        from repro.data.blobs import gaussian_blobs

        x, y, xt, yt = gaussian_blobs(int(p.get("n_train", 2000)), int(p.get("n_test", 1000)),
                                      generator=ctx.cpu_generator("data"))
        return Data(x.to(dev), y.to(dev), xt.to(dev), yt.to(dev), 10, real=False)
    if name == "mnist":
        from repro.data.mnist import load_idx_dataset

        (xtr, ytr), (xte, yte) = (load_idx_dataset("MNIST", ctx.data_dir, train) for train in (True, False))
        keep = _split(len(ytr), frac, ctx.seed_for("split"))
        flat = lambda a: a.reshape(len(a), -1).float().div_(255).to(dev)   # noqa: E731  pixels in [0, 1], no norm
        return Data(flat(xtr[keep]), ytr[keep].long().to(dev), flat(xte), yte.long().to(dev), 10, real=True)
    if name == "cifar10":
        from repro.data.cifar10 import load_cifar10, normalize
        from repro.train.augment import random_crop_flip

        xtr, ytr = load_cifar10(ctx.data_dir, train=True)
        xte, yte = load_cifar10(ctx.data_dir, train=False)
        keep = _split(len(ytr), frac, ctx.seed_for("split"))

        def augment_with(gen):
            def augment(xb):   # crop with pad 4 and flip on uint8 images, then the authors' normalisation
                lead = xb.shape[:-3]
                out = random_crop_flip(xb.reshape(-1, *xb.shape[-3:]).float(), gen)
                return normalize(out).reshape(*lead, *xb.shape[-3:])
            return augment
        return Data(xtr[keep].to(dev), ytr[keep].to(dev), normalize(xte.to(dev)), yte.to(dev), 10, real=True,
                    augment_with=augment_with)
    if name == "imdb":
        from repro.data.imdb import load_imdb_fixed

        d = load_imdb_fixed(ctx.data_dir, fix_length=int(p.get("fix_length", 200)))
        data = Data(d.train[0].to(dev), d.train[1].to(dev), d.test[0].to(dev), d.test[1].to(dev), 2, real=True,
                    model_kwargs={"vocab_size": len(d.itos)})
        # noise over the 25k official labels, then the 70/30 split (the authors' order)
        data.noisy = lambda rate, seed: tuple(t.to(dev) for t in d.noisy_labels(
            flip_exact(d.all_train_labels, rate, seed))[:2])
        return data
    if name == "tokens":
        from repro.data.imdb import synthetic_tokens

        g = ctx.cpu_generator("data")
        n, nt, length, vocab = (int(p.get(k, d)) for k, d in
                                (("n_train", 512), ("n_test", 256), ("seq_len", 24), ("vocab_size", 64)))
        ids, _, y = synthetic_tokens(n + nt, length, vocab, g, signal=float(p.get("signal", 0.3)))
        return Data(ids[:n].to(dev), y[:n].to(dev), ids[n:].to(dev), y[n:].to(dev), 2, real=False,
                    model_kwargs={"vocab_size": vocab})
    raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")


def cells_of(p: dict) -> list[dict]:
    """The sweep's cells: p["cells"] (a list of {alpha, v, l2}) or the product alpha x v, each at every noise
    rate and replica. Columns of every row: alpha, v, l2, noise_rate, replica."""
    base = p.get("cells") or [{"alpha": a, "v": v} for a, v in itertools.product(p["alpha"], p["v"])]
    rates = p["noise_rate"] if isinstance(p["noise_rate"], list) else [p["noise_rate"]]
    out = []
    for r, c, rate in itertools.product(range(int(p.get("replicas", 1))), base, rates):
        out.append({"alpha": float(c["alpha"]), "v": float(c.get("v", 0.0)), "l2": float(c.get("l2", 0.0)),
                    "noise_rate": float(rate), "replica": r})
    return out


def _model_factory(p: dict, data: Data):
    """The network maker; every nn.LSTM in it is replaced by its UnrolledLSTM copy (same init, same numbers), which
    vmap can stack (aten::lstm has no batching rule)."""
    from torch import nn

    from repro.nn.unrolled_lstm import UnrolledLSTM

    kw = {**data.model_kwargs, **(p.get("model_kwargs") or {})}

    def make():
        net = make_noisy_model(p["model"], data.num_classes, **kw)
        for name, child in list(net.named_children()):
            if isinstance(child, nn.LSTM):
                setattr(net, name, UnrolledLSTM.from_lstm(child))
        return net
    return make


CACHE_VERSION = 1   # bump when a change alters what a cached stacked run holds or computes


def chunk_path(p: dict, ctx, chunk: list[dict]):
    """Where a finished stacked run of these cells is kept (ctx.cache_dir, shared by the paper's runs: fig=15 and
    17 analyse the networks that fig=T1 and the sweeps trained), keyed by everything that shapes it; None without
    a cache directory or without p["cache_cells"]."""
    import hashlib
    import json
    from pathlib import Path

    if not p.get("cache_cells") or ctx.cache_dir is None:
        return None
    keys = ("dataset", "model", "model_kwargs", "lr", "eps", "batch_size", "epochs", "momentum_discount",
            "train_fraction", "n_train", "n_test", "seq_len", "vocab_size", "signal", "fix_length", "quantize_every")
    ident = {"version": CACHE_VERSION, "seed": ctx.seed, "cells": chunk, **{k: p.get(k) for k in keys}}
    blob = json.dumps(ident, sort_keys=True, default=str)
    return Path(ctx.cache_dir) / "volumization" / f"cells-{hashlib.blake2b(blob.encode(), digest_size=8).hexdigest()}.pt"


def chunks_of(p: dict, cells: list[dict]) -> list[list[dict]]:
    size = int(p.get("stack_size") or len(cells))
    return [cells[i:i + size] for i in range(0, len(cells), size)]


def train_cells(p: dict, ctx, data: Data | None = None, on_epoch_end=None, on_stack_end=None, wanted=None):
    """Train every cell (cells_of) on `data` (default load_data), `stack_size` cells per stacked model (all by
    default), and yield (cells, EpochLog) per epoch per stack. on_stack_end(cells, stack, optimizer) after each
    stack may yield rows (attacks, histograms). Replica r has its init seed, batch order and noise seed from ctx's
    streams, each stack its own augmentation stream (so a stack's result does not depend on the stacks before it).
    wanted(cell) -> bool: train only the stacks holding a wanted cell. With p["cache_cells"] a finished stack is
    saved to chunk_path and, found there, is loaded (its logs replayed) instead of trained."""
    from repro.train.checkpoint import load_checkpoint, save_checkpoint
    from repro.noisy.grid import EpochLog

    data = data or load_data(p, ctx)
    cells = cells_of(p)
    seeds = {r: ctx.seed_for(f"init{r}") % 2**31 for r in {c["replica"] for c in cells}}
    noise_seeds = {r: ctx.seed_for(f"label_noise{r}") % 2**31 for r in seeds}
    make = _model_factory(p, data)
    for index, chunk in enumerate(chunks_of(p, cells)):
        if wanted is not None and not any(wanted(c) for c in chunk):
            continue
        path = chunk_path(p, ctx, chunk)
        stack = init_stack(make, [seeds[c["replica"]] for c in chunk], device=ctx.device)
        l2 = [c["l2"] for c in chunk]
        base = StackedAdam(stack.parameters(), lr=float(p.get("lr", 1e-4)), eps=float(p.get("eps", 1e-15)),
                           weight_decay=l2 if any(l2) else 0.0)
        opt = StackedVolumization(base, v=[c["v"] for c in chunk], alpha=[c["alpha"] for c in chunk],
                                  momentum_discount=bool(p.get("momentum_discount", False)))
        saved = load_checkpoint(path) if path is not None else None
        if saved is not None:
            for name, t in {**stack.params, **stack.buffers}.items():
                t.data.copy_(saved["tensors"][name].to(t.device))
            for t, V in zip(stack.parameters(), saved["volumes"]):
                opt.state[t]["V"] = V.to(t.device)
            logs = [EpochLog(e, m, None, x) for e, m, x in saved["logs"]]
            for log in logs:
                yield chunk, log
        else:
            made = {}
            for c in chunk:
                key = (c["noise_rate"], c["replica"])
                if key not in made:
                    made[key] = data.noisy(c["noise_rate"], noise_seeds[c["replica"]])
            labels = torch.stack([made[(c["noise_rate"], c["replica"])][0] for c in chunk])
            clean = torch.stack([made[(c["noise_rate"], c["replica"])][1] for c in chunk])
            task = NoisyTask(data.x, labels, clean, data.x_test, data.y_test, data.num_classes)
            augment = (data.augment_with(torch.Generator(device=ctx.device).manual_seed(
                ctx.seed_for(f"augment{index}"))) if data.augment_with is not None else None)
            hook = (lambda e, st, chunk=chunk, opt=opt: on_epoch_end(e, st, chunk, opt)) if on_epoch_end else None
            logs = []
            for log in train_grid(stack, opt, CrossEntropyCells(), task, epochs=int(p["epochs"]),
                                  batch_size=int(p.get("batch_size", 128)),
                                  order_seeds=[seeds[c["replica"]] for c in chunk], augment=augment,
                                  on_epoch_end=hook, ctx=ctx):
                logs.append(log)
                yield chunk, log
            if path is not None:
                save_checkpoint(path, {
                    "tensors": {n: t.detach().cpu() for n, t in {**stack.params, **stack.buffers}.items()},
                    "volumes": [opt.state[t]["V"].cpu() if "V" in opt.state[t] else opt.volume(t, opt.param_groups[0]).cpu()
                                for t in stack.parameters()],
                    "logs": [(log.epoch, log.metrics, log.extra) for log in logs]})
        if on_stack_end is not None:
            yield from on_stack_end(chunk, stack, opt) or ()


def summary_rows(curves: dict, last_epochs: int, epochs: int, data_kind: str):
    """Best (max), Last (mean of the last `last_epochs` epochs) of each cell's test accuracy, and the mean train
    accuracy (noisy labels) over the same epochs, at step = epochs; `finite`: 1 if every logged loss is finite."""
    for key, c in curves.items():
        test, train = np.asarray(c["test_acc"]), np.asarray(c["train_acc"])
        cell = dict(zip(("alpha", "v", "l2", "noise_rate", "replica"), key))
        base = {"step": epochs, "data": data_kind, **cell}
        yield {**base, "metric": "best", "value": float(np.nanmax(test)) if len(test) else float("nan")}
        yield {**base, "metric": "last", "value": float(np.mean(test[-last_epochs:]))}
        yield {**base, "metric": "train_last", "value": float(np.mean(train[-last_epochs:]))}
        yield {**base, "metric": "finite", "value": float(np.isfinite(c["train_loss"]).all())}


def cell_key(c: dict) -> tuple:
    return (c["alpha"], c["v"], c["l2"], c["noise_rate"], c["replica"])


@experiment("volumization.noise_sweep", device="any")
def noise_sweep(p, ctx):
    """One stacked run of a sweep: per epoch and cell, test_acc and train_acc (%, train against the noisy labels);
    then best, last, train_last, finite per cell (summary_rows). Columns alpha, v, l2, noise_rate, replica."""
    data = load_data(p, ctx)
    kind = "real" if data.real else "synthetic"
    curves: dict = {}
    for chunk, log in train_cells(p, ctx, data):
        for i, c in enumerate(chunk):
            cur = curves.setdefault(cell_key(c), {"test_acc": [], "train_acc": [], "train_loss": []})
            for m in ("test_acc", "train_acc"):
                value = 100 * float(log.metrics[m][i])
                cur[m].append(value)
                yield {"step": log.epoch, "metric": m, "value": value, "data": kind, **c}
            cur["train_loss"].append(float(log.metrics["train_loss"][i]))
    last_epochs, epochs = int(p.get("last_epochs", 10)), int(p["epochs"])
    yield from summary_rows(curves, last_epochs, epochs, kind)
    yield from trend_rows(curves, last_epochs, epochs, kind, float(p.get("trend_v_min", 0.0)))
    yield from grid_rows(curves, last_epochs, epochs, kind)


def grid_rows(curves: dict, last_epochs: int, epochs: int, data_kind: str):
    """Statistics across the cells of one noise rate, on the replica means of Last and Best (fig=T1, T2):
    max_last with its cell (argmax_last_alpha, argmax_last_v) over the cells without L2 (the (alpha, v) grid);
    gap_last and gap_best of each such cell against alpha = 1 (l2 = 0) at the same v; best_vol_last and
    best_wd_last, the best Last of the volumized cells and of the weight-decay cells (alpha = 1, l2 > 0)."""
    import pandas as pd

    rows = [{"alpha": k[0], "v": k[1], "l2": k[2], "noise_rate": k[3], "replica": k[4],
             "last": float(np.mean(c["test_acc"][-last_epochs:])), "best": float(np.max(c["test_acc"]))}
            for k, c in curves.items() if len(c["test_acc"])]
    if not rows:
        return
    df = pd.DataFrame(rows).groupby(["noise_rate", "alpha", "v", "l2"], as_index=False)[["last", "best"]].mean()
    base = {"step": epochs, "data": data_kind}
    for rate, g in df.groupby("noise_rate"):
        vol = g[(g["alpha"] < 1) & (g["l2"] == 0)]
        noreg = g[(g["alpha"] == 1) & (g["l2"] == 0)].set_index("v")
        wd = g[(g["alpha"] == 1) & (g["l2"] > 0)]
        plain = g[g["l2"] == 0]
        if len(plain):
            top = plain.loc[plain["last"].idxmax()]
            for metric, value in (("max_last", top["last"]), ("argmax_last_alpha", top["alpha"]),
                                  ("argmax_last_v", top["v"])):
                yield {**base, "metric": metric, "value": float(value), "noise_rate": rate}
        if len(vol):
            yield {**base, "metric": "best_vol_last", "value": float(vol["last"].max()), "noise_rate": rate}
        if len(wd):
            yield {**base, "metric": "best_wd_last", "value": float(wd["last"].max()), "noise_rate": rate}
        for r in vol.itertuples():
            if r.v in noreg.index:
                for metric in ("last", "best"):
                    yield {**base, "metric": f"gap_{metric}", "value": float(getattr(r, metric) - noreg.loc[r.v, metric]),
                           "noise_rate": rate, "alpha": r.alpha, "v": r.v, "l2": r.l2}


@experiment("volumization.settings_sweep", device="any")
def settings_sweep(p, ctx):
    """Several sweeps (p["settings"]: a list of parameter dicts, each merged over p) run one after the other through
    noise_sweep, every row labelled with its setting's dataset (fig=T1: the CIFAR, MNIST and IMDB grids; fig=T2:
    weight decay against volumization on the three data sets)."""
    base = {k: v for k, v in p.items() if k != "settings"}
    for setting in p["settings"]:
        q = {**base, **setting}
        for row in noise_sweep(q, ctx):
            yield {**row, "dataset": q["dataset"]}


def spearman(x, y) -> float:
    """Spearman's rank correlation (average ranks for ties); nan for fewer than 3 points or a constant side."""
    import pandas as pd

    if len(x) < 3:
        return float("nan")
    rx, ry = pd.Series(x).rank().to_numpy(), pd.Series(y).rank().to_numpy()
    if rx.std() == 0 or ry.std() == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


def trend_rows(curves: dict, last_epochs: int, epochs: int, data_kind: str, v_min: float):
    """Metric trend_last_v: Spearman's rho of Last against v over the cells with v >= v_min that share alpha, l2,
    noise rate and replica (the catalog's "Last is non-increasing in v" test), where there are >= 3 such v."""
    groups: dict = {}
    for (alpha, v, l2, rate, rep), c in curves.items():
        if v >= v_min:
            groups.setdefault((alpha, l2, rate, rep), []).append((v, float(np.mean(c["test_acc"][-last_epochs:]))))
    for (alpha, l2, rate, rep), pts in groups.items():
        if len(pts) >= 3:
            v, last = zip(*sorted(pts))
            yield {"step": epochs, "metric": "trend_last_v", "value": spearman(v, last), "data": data_kind,
                   "alpha": alpha, "l2": l2, "noise_rate": rate, "replica": rep}


@experiment("volumization.reference_sweep")
def reference_sweep(p, ctx):
    """The authors' sweep tables (noisy_label_sweeps.csv, notebook cells; Best = best_acc, Last = last10_acc, %)
    for one dataset, noise rates (reference_noise_rate, default noise_rate) and swept hyperparameter: metric best and last, columns alpha, v, noise_rate, l2."""
    from repro.data.reference import load_volumization_reference

    df = load_volumization_reference("noisy_label_sweeps")
    rates = p.get("reference_noise_rate", p["noise_rate"])   # the figure's full-scale rates (tiny runs others)
    rates = rates if isinstance(rates, list) else [rates]
    df = df[(df["dataset"] == p["reference_dataset"]) & df["noise_rate"].round(4).isin([round(float(r), 4)
                                                                                      for r in rates])]
    if p.get("swept"):
        df = df[df["swept"] == p["swept"]]
    for r in df.itertuples():
        for metric, col in (("best", "best_acc"), ("last", "last10_acc")):
            yield {"metric": metric, "value": float(getattr(r, col)), "alpha": float(r.alpha), "v": float(r.v),
                   "l2": 0.0, "noise_rate": float(r.noise_rate), "n_runs": int(r.n_runs)}


@experiment("volumization.reference_grid")
def reference_grid(p, ctx):
    """The authors' (alpha, v) heat-map cells (grid_heatmaps.csv) for one data set or several (reference_dataset:
    a name or a list) at the noise rates reference_noise_rate (default noise_rate; "all": every rate in the file):
    metric best and last (%), columns dataset, alpha, v, noise_rate, l2."""
    from repro.data.reference import load_volumization_reference

    df = load_volumization_reference("grid_heatmaps")
    names = p["reference_dataset"] if isinstance(p["reference_dataset"], list) else [p["reference_dataset"]]
    df = df[df["dataset"].isin(names)]
    rates = p.get("reference_noise_rate", p["noise_rate"])
    if rates != "all":
        rates = rates if isinstance(rates, list) else [rates]
        df = df[df["noise_rate"].round(4).isin([round(float(r), 4) for r in rates])]
    for r in df.itertuples():
        for metric, col in (("best", "best_acc"), ("last", "last10_acc")):
            yield {"metric": metric, "value": float(getattr(r, col)), "dataset": r.dataset, "alpha": float(r.alpha),
                   "v": float(r.v), "l2": 0.0, "noise_rate": float(r.noise_rate)}
