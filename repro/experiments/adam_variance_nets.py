"""adam_variance on real networks (catalog adam_variance.md, figs 2, 3, 4, S1-S9): the update of one layer during the
first m = 1..29 (30) steps of training, against Theorem 1 (repro/theory/adaptive.py).

Optimizer (catalog Method and Open question 1, reconstructed): the paper's "Adam" at mu = beta1 = 0, i.e. RMSProp
with a bias-corrected second moment, Delta = g / (sqrt(n_t / (1 - beta2^t)) + eps) (repro Adam with betas (0, beta2):
m_t = g_t and c_m = 1), eps 1e-8, no weight decay, constant lr. At step m the update of the recorded layer is
Delta = (theta_{m-1} - theta_m) / lr (differences taken in float64), and over its parameters we record:

    var, var_abs, second_moment, mean      Var(Delta), Var|Delta|, E[Delta^2], E[Delta] over the layer (Cor. 1, 2)
    bound_excess                           max |Delta| - sqrt((1 - beta2^m)/(1 - beta2)) (<= 0 exactly, eps > 0)
    frac_nonzero                           fraction of nonzero gradients at step m
    eps_dev (m = 1)                        max over all entries of ||Delta| - |g|/(|g| + eps)|: Theorem 1 assumes
                                           eps = 0 (|Delta| = 1 wherever g != 0); with eps > 0 an m = 1 update is
                                           exactly g/(|g| + eps), which eps shrinks below 1 - 1e-4 when |g| < ~1e4 eps
    var_abs_eps (m = 1)                    Var(|g|/(|g| + eps)) over the layer: what Var|Delta| is at m = 1 with eps
    frac_unit (m = 1)                      fraction of the nonzero-gradient entries with ||Delta| - 1| <= 1e-4
    ks (m >= 2)                            KS distance of the layer's Delta to Theorem 1's law at m
    mass_edge, mass_center                 fractions within 0.1 of +-sqrt(m) and within 0.1 of 0
    frac_near_one                          fraction of ||Delta| - 1| < 0.02 (fig=4)
    density (column u), at hist_ms         100-bin density histogram on [-hist_range, hist_range]
    ecdf (column u), at hist_ms            empirical CDF on a grid (step 0.05): pairwise KS between seeds (fig=S1)
    train_loss                             the minibatch loss of step m

Rows carry `m` (no step), the model, the layer's name and size, and data=real|synthetic. The layer is `layer`: a
parameter name, or an index into the conv/linear weights with more than `min_params` entries (catalog: "> 10^4",
"chosen by a fixed index").
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from repro.experiments.registry import experiment
from repro.optim import Adam
from repro.theory import adaptive as theory
from repro.train import fit, random_crop_flip


def pick_layer(model: torch.nn.Module, layer, min_params: int = 10_000) -> tuple[str, torch.nn.Parameter]:
    """(name, parameter) of the recorded layer: `layer` a name, or an index into the conv/linear weights (dim >= 2)
    with more than `min_params` entries, in the model's parameter order."""
    named = dict(model.named_parameters())
    if isinstance(layer, str):
        if layer not in named:
            raise ValueError(f"no parameter {layer!r}; weights: {', '.join(k for k, v in named.items() if v.dim() >= 2)}")
        return layer, named[layer]
    big = [(k, v) for k, v in named.items() if v.dim() >= 2 and v.numel() > min_params]
    if not big:
        raise ValueError(f"no conv/linear weight with more than {min_params} parameters")
    if not -len(big) <= int(layer) < len(big):
        raise ValueError(f"layer index {layer} out of range: {len(big)} weights have more than {min_params} parameters")
    return big[int(layer)]


def update_stats(delta: np.ndarray, grad: np.ndarray, m: int, beta2: float, eps: float) -> dict:
    """The per-step statistics of one layer's update Delta (float64 array) and its gradient (see the module doc)."""
    a = np.abs(delta)
    bound = math.sqrt((1 - beta2**m) / (1 - beta2))
    nonzero = grad != 0
    out = {"var": float(delta.var()), "var_abs": float(a.var()), "second_moment": float(np.mean(delta**2)),
           "mean": float(delta.mean()), "bound_excess": float(a.max() - bound), "max_abs": float(a.max()),
           "frac_nonzero": float(nonzero.mean()),
           "mass_edge": float(np.mean(np.abs(a - math.sqrt(m)) < 0.1)), "mass_center": float(np.mean(a < 0.1)),
           "frac_near_one": float(np.mean(np.abs(a - 1) < 0.02))}
    if m == 1:
        g = np.abs(grad.astype(np.float64))
        unit = g / (g + eps) if eps > 0 else nonzero.astype(np.float64)   # |g|/(|g| + eps); 0 where g = 0
        out["eps_dev"] = float(np.abs(a - unit).max())
        out["var_abs_eps"] = float(unit.var())
        out["frac_unit"] = float(np.mean(np.abs(a[nonzero] - 1) <= 1e-4)) if nonzero.any() else float("nan")
    else:
        x = np.sort(delta)
        n = len(x)
        c = theory.cdf(x, m)
        out["ks"] = float(max(np.max(np.arange(1, n + 1) / n - c), np.max(c - np.arange(0, n) / n)))
    return out


def _hist_rows(delta: np.ndarray, m: int, p) -> list[dict]:
    lim, bins = float(p.get("hist_range", 3.5)), int(p.get("bins", 100))
    counts, edges = np.histogram(delta, bins=bins, range=(-lim, lim))
    width = edges[1] - edges[0]
    rows = [{"m": m, "u": float(x), "metric": "density", "value": float(k / (len(delta) * width))}
            for x, k in zip((edges[1:] + edges[:-1]) / 2, counts)]
    grid = np.round(np.arange(-lim, lim + 1e-9, float(p.get("ecdf_step", 0.05))), 6)
    x = np.sort(delta)
    rows += [{"m": m, "u": float(u), "metric": "ecdf", "value": float(v)}
             for u, v in zip(grid, np.searchsorted(x, grid, side="right") / len(x))]
    return rows


def _optimizer(p, params):
    return Adam(params, lr=float(p["lr"]), betas=(float(p.get("beta1", 0.0)), float(p["beta2"])),
                eps=float(p["eps"]), weight_decay=0.0)


def record_updates(p, ctx, model, weight_name, weight, loss_fn, cols):
    """Train `model` for m = 1..steps with loss_fn(m) (a 0-d loss, not yet backpropagated) and yield the rows of
    the recorded layer's update at every m."""
    opt = _optimizer(p, model.parameters())
    steps = int(p["steps"])
    if p.get("max_steps"):
        steps = min(steps, int(p["max_steps"]))
    beta2, eps, lr = float(p["beta2"]), float(p["eps"]), float(p["lr"])
    hist_ms = set(int(m) for m in p.get("hist_ms", []))
    cols = {**cols, "layer": weight_name, "layer_size": weight.numel()}
    before = None

    def loss_at(m):
        nonlocal before
        before = weight.detach().double().clone()   # the step's starting point (backward leaves it unchanged)
        return loss_fn(m)

    def on_step(state, m):
        delta = ((before - weight.detach().double()) / lr).cpu().numpy().ravel()
        grad = weight.grad.detach().cpu().numpy().ravel()
        loss = float(state.loss.item())
        yield {"m": m, "metric": "train_loss", "value": loss, **cols}
        for k, v in update_stats(delta, grad, m, beta2, eps).items():
            yield {"m": m, "metric": k, "value": v, **cols}
        if m in hist_ms:
            for row in _hist_rows(delta, m, p):
                yield {**row, **cols}
        state.stop = not math.isfinite(loss)

    yield from fit(opt, loss_at, lambda epoch: ctx.progress(range(1, steps + 1), total=steps, desc="steps"),
                   on_step=on_step)


@experiment("adam_variance.cnn_updates", version=2, device="any")   # 2: eps_dev, var_abs_eps. CPU generators, tensors on ctx.device; not yet run on CUDA
def cnn_updates(p, ctx):
    """figs 2, 3, S1-S9: a CIFAR-10 CNN (repro/nn/cifar_cnns.py) trained from initialisation with batch_size,
    crop + flip (`augment`), on CIFAR-10 from data_dir (dataset=cifar10, torchvision's loader) or on synthetic
    32x32 CIFAR-format images (dataset=synthetic, n_train of them); one epoch's random order, `steps` steps."""
    from repro.data.cifar10 import load_cifar10, normalize, synthetic_cifar10
    from repro.nn.cifar_cnns import build

    device = ctx.device
    if p["dataset"] == "cifar10":
        x, y = load_cifar10(ctx.data_dir, train=True, device=device)
        data = "real"
    elif p["dataset"] == "synthetic":
        x, y = synthetic_cifar10(int(p["n_train"]), ctx.cpu_generator("data_set"), size=32)
        x, y, data = x.to(device), y.to(device), "synthetic"
    else:
        raise ValueError(f"unknown dataset {p['dataset']!r}; choose cifar10 or synthetic")
    model = build(p["model"], ctx.seed_for("init")).to(device)
    model.train()
    name, weight = pick_layer(model, p.get("layer", 0), int(p.get("min_params", 10_000)))
    order = torch.randperm(len(y), generator=ctx.cpu_generator("data")).to(device)
    aug_gen = ctx.cpu_generator("augment")
    bs = int(p["batch_size"])
    torch.manual_seed(ctx.seed_for("dropout"))   # EfficientNet's dropout and stochastic depth

    def loss_fn(m):
        idx = order[((m - 1) * bs) % len(y):][:bs]
        xb = x[idx]
        xb = normalize(random_crop_flip(xb, aug_gen) if p.get("augment", True) else xb)
        with ctx.autocast():
            logits = model(xb)
        return F.cross_entropy(logits.float(), y[idx])

    yield from record_updates(p, ctx, model, name, weight, loss_fn, {"model": p["model"], "data": data})


@experiment("adam_variance.transformer_updates", version=2, device="any")   # as above
def transformer_updates(p, ctx):
    """figs 3 (right) and 4: the encoder-decoder transformer (repro/nn/transformer.py, fairseq
    transformer_iwslt_de_en sizes at full scale) on IWSLT14 de-en from data_dir (dataset=iwslt14) or on the
    synthetic reverse task (dataset=reverse); label-smoothed cross-entropy over target tokens, batches of at most
    max_tokens tokens (fairseq's bucketing), constant lr, no warm-up."""
    from repro.data.iwslt import PAD, collate, token_batches, translation_task
    from repro.nn.transformer import Seq2Seq, TransformerConfig

    device = ctx.device
    src, tgt, src_vocab, tgt_vocab, data = translation_task(p, ctx.data_dir, ctx.cpu_generator("data_set"))
    cfg = TransformerConfig(layers=int(p["layers"]), d_model=int(p["d_model"]), heads=int(p["heads"]),
                            ffn=int(p["ffn"]), dropout=float(p["dropout"]), activation="relu")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(ctx.seed_for("init"))   # nn.Linear / nn.Embedding init draw from the global generator
        model = Seq2Seq(src_vocab, tgt_vocab, cfg, pad=PAD)
    model = model.to(device)
    model.train()
    name, weight = pick_layer(model, p.get("layer", "encoder.0.fc1.weight"), int(p.get("min_params", 10_000)))
    batches = token_batches([len(s) for s in src], [len(t) for t in tgt], int(p["max_tokens"]),
                            ctx.cpu_generator("data"))
    torch.manual_seed(ctx.seed_for("dropout"))

    def loss_fn(m):
        idx = batches[(m - 1) % len(batches)].tolist()
        s, prev, t = (z.to(device) for z in collate([src[i] for i in idx], [tgt[i] for i in idx]))
        with ctx.autocast():
            logits = model(s, prev)
        return F.cross_entropy(logits.float().flatten(0, 1), t.flatten(), ignore_index=PAD,
                               label_smoothing=float(p["label_smoothing"]))

    yield from record_updates(p, ctx, model, name, weight, loss_fn, {"model": "transformer", "data": data})
