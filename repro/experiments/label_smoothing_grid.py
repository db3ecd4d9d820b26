"""Label smoothing (Chen, Ziyin, Wang & Liang, "An Investigation of how Label Smoothing Affects Generalization",
arXiv 2010.12648): our own (a, p) grids, trained. Catalog label_smoothing.md, "Setups", fig=1, 6, 7, 8, 9, T1.

`label_smoothing.train_grid` trains one model per cell (clean rate a = 1 - noise rate, target mass p) as stacked
models (repro/noisy/grid.py: the K cells of a stack share one batch order and one initialisation, as the authors'
runs with one --seed do) and yields, per cell, the per-epoch curves and the same cell / column / relaxation rows as
the authors' logs (repro/experiments/label_smoothing.py: grid_rows, curve_rows, relaxation_rows), so that a figure's
claims join ours with theirs by (clean_rate, p). The relaxation time (fig=6) is read from the same per-epoch curves.

Data sets (p["dataset"]):
    digits   the catalog's tiny harness: scikit-learn's bundled 8x8 digits, 1437 train / 360 test (digits_split)
    mnist    the idx files under data_dir/MNIST/raw; pixels / 255 only (the authors' ToTensor, no normalisation)
    cifar10  the python batches under data_dir/cifar-10-batches-py; RandomCrop(32, pad 4) + flip on the training
             images, Normalize((0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010))
Noise: the Co-teaching `noisify` (symmetric, random_state noise_seed = 0 for every seed), one rate per cell.

Deviations from the authors' code (chenblair/optimal_label_smoothing, main.py):
- every test image is scored and the divisor is the number scored (their test loader drops the last batch but
  divides by 10000: catalog open question 7; their accuracies sit up to 0.16 points low);
- the K cells of a stack share one batch order and one initialisation (the runner's seed streams "init" and "data",
  not torch.manual_seed(seed) itself), so our seed 1 is not their seed 1;
- the test loss is computed on a second forward pass over the test set in on_epoch_end (plain CE on clean labels;
  the stacked trainer's own test pass scores the cell's smoothed loss): ~5 % more compute per MNIST epoch;
- BatchNorm (ResNet-18) runs in train mode on training batches and in eval mode on the test set, switched on
  whether autograd is recording (the stacked trainer evaluates under no_grad);
- fsmoothing (FSmoothingCells) is -logaddexp(ln q, ln(p - q) + log f_y), the authors' softmax -> F -> log -> NLL
  without its underflow at p = 1 (repro/nn/label_smoothing_loss.py), with their --scale_lr s: lr x (0.9/(p - 0.1))^s;
- the tiny harness (digits) trains a narrower MLP with SGD in mini-batches (see the figure configs): the catalog's
  64-256-256 MLP with Adam full-batch does not fit the tiny budget of this CI (measured ~47 s CPU for 12 cells x
  300 steps) and Adam's normalised steps hide the slow relaxation at small p that SGD shows.
"""
from __future__ import annotations

import math
from itertools import product

import numpy as np
import pandas as pd
import torch

from repro.experiments.label_smoothing import _r2, curve_rows, grid_rows, relaxation_rows
from repro.experiments.registry import experiment
from repro.nn.label_smoothing_loss import fsmoothing_lr_scale, off_mass
from repro.nn.noisy_nets import make_noisy_model
from repro.noisy.grid import CellLoss, NoisyTask, SmoothingCells, init_stack, train_grid
from repro.train.stacked import StackedAdam, StackedModels, StackedSGD

DATASETS = ("digits", "mnist", "cifar10")
METHODS = ("smoothing", "fsmoothing")
OPTIMIZERS = ("sgd", "adam")
OUTPUTS = ("curves", "cells", "columns", "relaxation")
TEST_CHUNK = 2048


class FSmoothingCells(CellLoss):
    """The forward-corrected loss -ln[(F(p)ᵀ f)_ỹ] = -ln(q + (p - q) f_ỹ) with one p per model (K > 1 classes, p > q
    for every model: p > 1/K)."""

    def __init__(self, p, num_classes: int):
        self.p = torch.tensor([float(v) for v in p], dtype=torch.float64)
        q = torch.tensor([off_mass(float(v), num_classes) for v in p], dtype=torch.float64)
        if bool((self.p <= q).any()):
            raise ValueError(f"fsmoothing needs p > 1/K = {1 / num_classes:g} in every cell, got {list(p)}")
        self.log_q, self.log_pq = q.log().float(), (self.p - q).log().float()

    def __call__(self, logits, labels, epoch):
        k = logits.shape[0]
        logf_y = torch.log_softmax(logits.float(), -1).gather(-1, labels.unsqueeze(-1)).squeeze(-1)   # (K, B)
        log_q = self.log_q.to(logits.device).view(k, 1).expand_as(logf_y)
        return -torch.logaddexp(log_q, logf_y + self.log_pq.to(logits.device).view(k, 1))


class _EvalWithoutGrad(StackedModels):
    """Stacked models whose layers (BatchNorm) run in eval mode whenever autograd is off (the stacked trainer's and
    our test passes) and in train mode on training batches."""

    def __call__(self, x, per_model: bool = False):
        self._base.train(torch.is_grad_enabled())
        return super().__call__(x, per_model)


class AugmentedImages:
    """Training images (uint8 [N, 3, 32, 32]) that are cropped, flipped and normalised when indexed: task.x of the
    stacked trainer for CIFAR-10 (a fresh augmentation every time a batch is drawn, as the authors' loader does)."""

    def __init__(self, images: torch.Tensor, generator: torch.Generator):
        self.images, self.generator = images, generator

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, idx):
        from repro.data.cifar10 import MEAN, STD
        from repro.train.augment import random_crop_flip

        x = random_crop_flip(self.images[idx].float() / 255, self.generator)   # zero padding on raw pixels
        mean = torch.tensor(MEAN, device=x.device).view(1, 3, 1, 1)
        std = torch.tensor(STD, device=x.device).view(1, 3, 1, 1)
        return (x - mean) / std


def _subset(x, y, n):
    return (x, y) if n is None else (x[:int(n)], y[:int(n)])


def load_split(p: dict, ctx):
    """(x_train, y_train, x_test, y_test) on ctx.device for p["dataset"]; x_train of cifar10 is AugmentedImages.
    p["n_train"] / p["n_test"] keep the first images (smoke tests). data_source "generated" (mnist, cifar10): small
    files in the real on-disk format (repro/data/fixtures.py, generated_n training images) written to a temporary
    folder and read by the same loaders: the pipeline smoke test of a tiny entry (rows say data=synthetic)."""
    source = p.get("data_source", "real")
    if source == "generated" and p["dataset"] in ("mnist", "cifar10"):
        import tempfile

        from repro.data import fixtures

        n, seed = int(p["generated_n"]), ctx.seed_for("data_files") % 2**32
        with tempfile.TemporaryDirectory() as root:
            if p["dataset"] == "mnist":
                fixtures.write_mnist(root, n_train=n, n_test=max(10, n // 4), seed=seed)
            else:
                fixtures.write_cifar10(root, per_batch=-(-n // 5), n_test=max(10, n // 4), seed=seed)
            return _read_split(p, ctx, root)
    if source not in ("real", "generated"):
        raise ValueError(f"unknown data_source {source!r}; choose real or generated")
    return _read_split(p, ctx, ctx.data_dir)


def _read_split(p: dict, ctx, data_dir):
    dataset, dev = p["dataset"], ctx.device
    if dataset == "digits":
        from repro.data.digits import digits_split

        x, y, xt, yt = digits_split(int(p.get("digits_train", 1437)), device=dev)
    elif dataset == "mnist":
        from repro.data.mnist import load_idx_dataset

        (x, y), (xt, yt) = (load_idx_dataset("MNIST", data_dir, train) for train in (True, False))
        x, xt = (v.to(dev).float().div_(255).unsqueeze(1) for v in (x, xt))   # ToTensor: [N, 1, 28, 28] in [0, 1]
        y, yt = y.to(dev).long(), yt.to(dev).long()
    elif dataset == "cifar10":
        from repro.data.cifar10 import load_cifar10, normalize

        x, y = load_cifar10(data_dir, train=True, device=dev)
        xt, yt = load_cifar10(data_dir, train=False, device=dev)
        xt = normalize(xt)
    else:
        raise ValueError(f"unknown dataset {dataset!r}; choose one of {', '.join(DATASETS)}")
    x, y = _subset(x, y, p.get("n_train"))
    xt, yt = _subset(xt, yt, p.get("n_test"))
    if dataset == "cifar10" and p.get("augment", True):
        x = AugmentedImages(x, ctx.cpu_generator("augment"))
    elif dataset == "cifar10":
        x = normalize(x)
    return x, y, xt, yt


def _model_kwargs(p: dict) -> dict:
    return {"width": int(p["width"])} if p.get("width") and p["model"] == "mlp_digits" else {}


def cells_of(p: dict) -> list[tuple[float, float]]:
    """The (a, p) cells, rounded to 2 decimals, a-major: the product a_values x p_values, or with p_rule "beta" the
    table's pair per a: p = beta(a) (the code's --optimal_smoothing) and p = 1 (NLL)."""
    if p.get("p_rule") == "beta":
        from repro.theory.label_smoothing import beta

        K = int(p.get("K", 10))
        return [(_r2(a), v) for a in p["a_values"] for v in sorted({_r2(beta(float(a), K)), 1.0})]
    if p.get("p_rule"):
        raise ValueError(f"unknown p_rule {p['p_rule']!r}; choose beta (or leave it out for a_values x p_values)")
    return [(_r2(a), _r2(v)) for a, v in product(p["a_values"], p["p_values"])]


def _optimizer(p: dict, params, lrs: list[float]):
    lr = lrs[0] if len(set(lrs)) == 1 else torch.tensor(lrs)
    if p.get("optimizer", "sgd") == "sgd":
        return StackedSGD(params, lr=lr, momentum=float(p.get("momentum", 0.0)),
                          weight_decay=float(p.get("weight_decay", 0.0)))
    if p["optimizer"] == "adam":
        return StackedAdam(params, lr=lr, weight_decay=float(p.get("weight_decay", 0.0)))
    raise ValueError(f"unknown optimizer {p['optimizer']!r}; choose one of {', '.join(OPTIMIZERS)}")


@torch.no_grad()
def _test_metrics(stack, x_test, y_test):
    """(acc in %, plain CE) of every model on the clean test set, every image scored: two (K,) CPU tensors."""
    out = torch.cat([stack(x_test[i:i + TEST_CHUNK]) for i in range(0, len(x_test), TEST_CHUNK)], dim=1).float()
    yt = y_test.expand(out.shape[0], -1)
    acc = (out.argmax(-1) == yt).float().mean(1) * 100
    ce = -torch.log_softmax(out, -1).gather(-1, yt.unsqueeze(-1)).squeeze(-1).mean(1)
    return acc.cpu(), ce.cpu()


TRAIN_KEYS = ("dataset", "data_source", "generated_n", "model", "width", "method", "scale_lr", "optimizer", "lr", "momentum", "weight_decay",
              "epochs", "batch_size", "drop_last", "eval_every", "noise_seed", "n_train", "n_test", "digits_train",
              "augment", "K")
CELL_VERSION = 1   # bump when a change to the training changes a cell's curves (the cache key holds it)
LOG_KEYS = ("test_acc", "test_loss", "train_loss", "acc_clean", "acc_corrupt")


def _cell_paths(p: dict, ctx, data, cells) -> dict:
    """(a, p) -> the cache file of that cell's curves in ctx.cache_dir (named by the hash of the training settings,
    the init and batch-order seeds, a checksum of the labels and CELL_VERSION), or {} without a cache dir. A cell's
    curves depend on nothing else (a stacked model trains as it would alone), so every figure that needs a cell of
    the same grid reads it instead of training it again (fig=1 trains, fig=2-6 and 9 read)."""
    if not ctx.cache_dir:
        return {}
    import hashlib
    import json
    from pathlib import Path

    _, y, _, yt = data
    base = {k: p.get(k) for k in TRAIN_KEYS}
    base.update(seed_init=ctx.seed_for("init"), seed_order=ctx.seed_for("data"), version=CELL_VERSION,
                data=[len(y), int(y.long().sum()), len(yt), int(yt.long().sum())])
    out = {}
    for a, pv in cells:
        key = hashlib.sha256(json.dumps({**base, "a": a, "p": pv}, sort_keys=True, default=str).encode())
        out[(a, pv)] = Path(ctx.cache_dir) / f"label_smoothing_cell_{key.hexdigest()[:20]}.pt"
    return out


def train_cells(p: dict, ctx, cells: list[tuple[float, float]], data) -> dict:
    """(a, p) -> {"epoch": [...], test_acc (%), test_loss (plain CE, clean test labels), train_loss (the cell's
    objective), acc_clean, acc_corrupt (%, on the training labels): lists over the evaluated epochs}. Cells not in
    the cache are trained in stacks of at most p["cells_per_stack"] and cached one file per cell."""
    from repro.train.checkpoint import load_checkpoint, save_checkpoint

    K = int(p.get("K", 10))
    method = p.get("method", "smoothing")
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    x, y, xt, yt = data
    paths = _cell_paths(p, ctx, data, cells)
    done = {c: load_checkpoint(paths[c]) for c in cells if c in paths and paths[c].exists()}
    done = {c: v for c, v in done.items() if v is not None}
    todo = [c for c in cells if c not in done]
    per = int(p.get("cells_per_stack") or len(cells))
    init_seed, order_seed = ctx.seed_for("init"), ctx.seed_for("data")
    for start in range(0, len(todo), per):
        chunk = todo[start:start + per]
        task = NoisyTask.corrupt(torch.zeros(len(y), 1, device=y.device), y, xt, yt, K,
                                 [("symmetric", _r2(1 - a), int(p.get("noise_seed", 0))) for a, _ in chunk])
        task.x = x                        # the (possibly augmented) images; corrupt only needed the labels
        stack = init_stack(lambda: make_noisy_model(p["model"], K, **_model_kwargs(p)), [init_seed] * len(chunk),
                           device=ctx.device)
        stack.__class__ = _EvalWithoutGrad   # BatchNorm: eval mode on the test passes (see the class)
        ps = [v for _, v in chunk]
        s = float(p.get("scale_lr", 0.0)) if method == "fsmoothing" else 0.0
        lrs = [float(p["lr"]) * fsmoothing_lr_scale(v, K, s) for v in ps]
        loss = SmoothingCells(ps) if method == "smoothing" else FSmoothingCells(ps, K)
        opt = _optimizer(p, stack.parameters(), lrs)
        logs = {c: {"epoch": [], **{k: [] for k in LOG_KEYS}} for c in chunk}
        for log in train_grid(stack, opt, loss, task, epochs=int(p["epochs"]), batch_size=int(p["batch_size"]),
                              order_seeds=[order_seed] * len(chunk), drop_last=bool(p.get("drop_last", False)),
                              eval_every=int(p.get("eval_every", 1)), ctx=ctx,
                              on_epoch_end=lambda e, st: dict(zip(("test_acc", "test_loss"),
                                                                  _test_metrics(st, xt, yt)))):
            got = {"test_acc": log.extra["test_acc"], "test_loss": log.extra["test_loss"],
                   "train_loss": log.metrics["train_loss"], "acc_clean": log.metrics["acc_clean"] * 100,
                   "acc_corrupt": log.metrics["acc_corrupt"] * 100}
            for i, c in enumerate(chunk):
                logs[c]["epoch"].append(int(log.epoch))
                for k in LOG_KEYS:
                    logs[c][k].append(float(got[k][i]))
        for c in chunk:
            if c in paths:
                paths[c].parent.mkdir(parents=True, exist_ok=True)
                save_checkpoint(paths[c], logs[c])
        done.update(logs)
    return done


@experiment("label_smoothing.train_grid", version=2, device="any")   # 2: spearman_p_peak rows
def train_grid_experiment(p, ctx):
    """Our (a, p) grid, trained (module doc). Params: dataset, model (+ width for mlp_digits), method (smoothing |
    fsmoothing, + scale_lr s), a_values, p_values, optimizer (sgd | adam), lr, momentum, weight_decay, epochs,
    batch_size, drop_last, eval_every, noise_seed, cells_per_stack, n_train / n_test (smoke tests), K (10), p_rule
    (cells_of), table_epoch (metric table_acc: the test accuracy at that epoch, or the last one if not evaluated).
    p["outputs"] (default all of OUTPUTS): "curves" -> curve_rows per cell (per-epoch test_acc_epoch,
    test_loss_epoch, train_loss_epoch; plus train_acc_clean_epoch / train_acc_corrupt_epoch, the accuracy on the
    training labels split by whether the label is the true one: memorisation; peak_acc, peak_acc_epoch, final_acc,
    final_train_loss); "cells" / "columns" -> grid_rows on the last epoch (test_acc, test_loss, ... and
    column_summaries, as the authors' rows); "relaxation" -> relaxation_rows (peak_epoch, slopes) from the same
    curves."""
    outputs = set(p.get("outputs") or OUTPUTS)
    if outputs - set(OUTPUTS):
        raise ValueError(f"unknown outputs {sorted(outputs - set(OUTPUTS))}; choose from {', '.join(OUTPUTS)}")
    cells = cells_of(p)
    data = load_split(p, ctx)
    synthetic = p.get("data_source") == "generated" and p["dataset"] != "digits"
    cols = {"dataset": p["dataset"], "data": "synthetic" if synthetic else "real"}
    finals = []
    logs = train_cells(p, ctx, cells, data)
    for a, pv in cells:
        lg = logs[(a, pv)]
        epochs, acc = np.array(lg["epoch"]), np.array(lg["test_acc"])
        tl, trl = np.array(lg["test_loss"]), np.array(lg["train_loss"])
        if "curves" in outputs:
            yield from curve_rows(a, pv, epochs, acc, tl, trl, cols)
            cell = {"clean_rate": a, "p": pv, **cols}
            for key in ("acc_clean", "acc_corrupt"):
                for e, v in zip(epochs, lg[key]):
                    if not math.isnan(v):      # a = 1 has no corrupted label
                        yield {"step": int(e), "metric": f"train_{key}_epoch", "value": float(v), **cell}
        if p.get("table_epoch") is not None:   # T1: the accuracy at a fixed epoch (performance.py: index 98)
            at = epochs == int(p["table_epoch"])
            yield {"metric": "table_acc", "value": float(acc[at][0] if at.any() else acc[-1]),
                   "clean_rate": a, "p": pv, **cols}
        j = int(np.argmax(acc))
        finals.append({"clean_rate": a, "p": pv, "test_acc_last": acc[-1], "test_loss_last": tl[-1],
                       "train_loss_last": trl[-1], "test_acc_best": acc[j], "test_acc_best_epoch": epochs[j]})
    df = pd.DataFrame(finals).sort_values(["clean_rate", "p"]).reset_index(drop=True)
    grid_outputs = [o for o in ("cells", "columns") if o in outputs]
    if grid_outputs:
        yield from grid_rows(df, {**p, "outputs": grid_outputs}, cols)
    if "relaxation" in outputs:
        yield from relaxation_rows(df, p, data=cols["data"])
