"""LaProp vs Adam (arXiv 2002.04839): the figures' experiment functions. Spec: catalog laprop.md."""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from repro.experiments.registry import experiment
from repro.optim import make_optimizer
from repro.optim.fused import fused_pays_on
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


# --- fig=3, 4, 8, T1: networks trained with Adam / AMSGrad / LaProp -------------------------------------------------


def _optimizer(p, params):
    """The run's optimizer from its params: optimizer (adam | amsgrad | laprop), lr, mu, nu, eps, weight_decay,
    weight_decay_mode; eps_placement (Adam only); fused (LaProp only: the torch.compile'd step, on at full scale)."""
    name = p["optimizer"]
    kw = dict(lr=p["lr"], betas=(p["mu"], p["nu"]), eps=p["eps"], weight_decay=p.get("weight_decay", 0.0))
    if p.get("weight_decay_mode"):
        kw["weight_decay_mode"] = p["weight_decay_mode"]
    if name == "laprop":
        params = list(params)
        kw["fused"] = bool(p.get("fused", False)) and fused_pays_on(params)   # eager foreach on CUDA (faster)
    elif p.get("eps_placement"):
        kw["eps_placement"] = p["eps_placement"]
    return make_optimizer(name, params, **kw)


def _cpu_generator(ctx, name: str) -> torch.Generator:
    """A CPU generator of the named stream: initialisations and data drawn on the CPU are the same on any device."""
    return torch.Generator().manual_seed(ctx.seed_for(name))


def _batches(n: int, batch_size: int, generator: torch.Generator, device):
    """Index batches of one epoch in a random order (the last batch may be smaller, as a DataLoader's)."""
    order = torch.randperm(n, generator=generator).to(device)
    return [order[i:i + batch_size] for i in range(0, n, batch_size)]


class _Window:
    """Mean of the minibatch losses since the last flush, kept on the device (no sync per step)."""

    def __init__(self):
        self.total, self.count = None, 0

    def add(self, loss: torch.Tensor) -> None:
        loss = loss.detach().float()
        self.total = loss if self.total is None else self.total + loss
        self.count += 1

    def flush(self) -> float:
        value = (self.total / self.count).item() if self.count else float("nan")
        self.total, self.count = None, 0
        return value


@torch.no_grad()
def _evaluate(model, x, y, batch_size: int = 1000, forward=None) -> tuple[float, float]:
    """(mean cross-entropy, accuracy in %) over (x, y); x may be a tuple of tensors sliced together;
    `forward(model, xb)` defaults to model(xb)."""
    was_training = model.training
    model.eval()
    total_loss, correct = 0.0, 0
    for i in range(0, len(y), batch_size):
        xb = tuple(t[i:i + batch_size] for t in x) if isinstance(x, tuple) else x[i:i + batch_size]
        out = (forward or (lambda m, xb: m(xb)))(model, xb).float()
        total_loss += F.cross_entropy(out, y[i:i + batch_size], reduction="sum").item()
        correct += (out.argmax(1) == y[i:i + batch_size]).sum().item()
    model.train(was_training)
    return total_loss / len(y), 100.0 * correct / len(y)


def _train_epochs(model, opt, n: int, batch, p, ctx, order_gen, cols: dict):
    """The minibatch cross-entropy loop of fig=4 and fig=8: `batch(idx)` gives (model inputs, labels). Yields
    `train_loss` rows (mean minibatch loss over the last `record_every` steps) and, at the end of each epoch (or
    of the run), the marker ("epoch_end", step, epoch). Stops at the first non-finite loss (the curve says
    diverged). `clip_norm` in p clips the gradient norm."""
    steps_per_epoch = math.ceil(n / p["batch_size"])
    total = p.get("steps") or p["epochs"] * steps_per_epoch
    total = min(total, p.get("max_steps") or total)
    window, step, epoch = _Window(), 0, 0
    while step < total:
        epoch += 1
        for idx in _batches(n, p["batch_size"], order_gen, ctx.device):
            inputs, labels = batch(idx)
            with ctx.autocast():
                loss = F.cross_entropy(model(*inputs), labels)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if p.get("clip_norm"):
                torch.nn.utils.clip_grad_norm_(model.parameters(), p["clip_norm"])
            opt.step()
            step += 1
            window.add(loss)
            if step % p["record_every"] == 0 or step == total:
                value = window.flush()
                yield {"step": step, "metric": "train_loss", "value": value, **cols}
                if not math.isfinite(value):
                    return
            if step == total:
                break
        if step % steps_per_epoch == 0 or step == total:
            yield ("epoch_end", step, epoch)


@experiment("laprop.deep_fc", device="any")
def deep_fc(p, ctx):
    """fig=4: a plain deep ReLU MLP (repro/nn/mlp.py) on MNIST (dataset=mnist: torchvision's loader from data_dir)
    or on a fixed synthetic 10-class Gaussian mixture (dataset=synthetic, tiny runs). Cross-entropy, minibatches
    in a random order per epoch. Rows: `train_loss` (mean minibatch loss over the last `record_every` steps),
    and at the end of each epoch (column epoch) `epoch_train_loss` (the whole training set, eval pass) and
    `test_acc` when there is a test set. Stops at the first non-finite loss (the curve says diverged)."""
    from repro.data.mnist import load_mnist, synthetic_mnist
    from repro.nn.mlp import deep_mlp

    device = ctx.device
    if p["dataset"] == "mnist":
        x, y = load_mnist(ctx.data_dir, train=True, device=device)
        x_test, y_test = load_mnist(ctx.data_dir, train=False, device=device)
        data = "real"
    elif p["dataset"] == "synthetic":
        x, y = synthetic_mnist(p["n_train"], _cpu_generator(ctx, "data_set"))
        x, y, x_test, y_test, data = x.to(device), y.to(device), None, None, "synthetic"
    else:
        raise ValueError(f"unknown dataset {p['dataset']!r}; choose mnist or synthetic")
    model = deep_mlp(x.shape[1], p["width"], p["depth"], 10, generator=_cpu_generator(ctx, "init")).to(device)
    opt = _optimizer(p, model.parameters())
    cols = {"optimizer": p["optimizer"], "data": data, "depth": p["depth"], "lr": p["lr"]}
    for row in _train_epochs(model, opt, len(y), lambda idx: ((x[idx],), y[idx]), p, ctx,
                             _cpu_generator(ctx, "data"), cols):
        if isinstance(row, dict):
            yield row
            continue
        _, step, epoch = row
        train_loss, train_acc = _evaluate(model, x, y)
        yield {"step": step, "metric": "epoch_train_loss", "value": train_loss, "epoch": epoch, **cols}
        yield {"step": step, "metric": "train_acc", "value": train_acc, "epoch": epoch, **cols}
        if x_test is not None:
            yield {"step": step, "metric": "test_acc", "value": _evaluate(model, x_test, y_test)[1],
                   "epoch": epoch, **cols}


def _augment(x_uint8: torch.Tensor, generator: torch.Generator, pad: int = 4) -> torch.Tensor:
    """bearpaw's CIFAR augmentation on a batch, on its device: random crop with `pad` zero padding, then a
    horizontal flip with probability 1/2 (random numbers from the CPU generator)."""
    n, c, h, w = x_uint8.shape
    padded = F.pad(x_uint8, (pad, pad, pad, pad))
    dy = torch.randint(0, 2 * pad + 1, (n,), generator=generator).to(x_uint8.device)
    dx = torch.randint(0, 2 * pad + 1, (n,), generator=generator).to(x_uint8.device)
    flip = (torch.rand(n, generator=generator) < 0.5).to(x_uint8.device)
    rows = (dy[:, None] + torch.arange(h, device=x_uint8.device))[:, None, :, None]
    cols = dx[:, None] + torch.arange(w, device=x_uint8.device)
    cols = torch.where(flip[:, None], cols.flip(1), cols)[:, None, None, :]
    return padded[torch.arange(n, device=x_uint8.device)[:, None, None, None],
                  torch.arange(c, device=x_uint8.device)[None, :, None, None], rows, cols]


@experiment("laprop.cifar10", device="any")
def cifar10(p, ctx):
    """fig=T1: ResNet-(6n+2) for CIFAR (repro/nn/resnet_cifar.py, bearpaw's) on CIFAR-10 (dataset=cifar10:
    torchvision's loader from data_dir) or on synthetic images with class-dependent means (dataset=synthetic).
    bearpaw's recipe: batch 128, random crop (pad 4) + flip, normalisation, lr x gamma at the `schedule` epochs,
    and, as the LaProp authors' readme says, weight decay x gamma together with lr. Rows per epoch (step = epoch):
    train_loss (mean minibatch loss), test_loss, test_acc (%), lr; at the end final_test_acc (no step)."""
    from repro.data.cifar10 import load_cifar10, normalize, synthetic_cifar10
    from repro.nn.resnet_cifar import ResNetCifar

    device = ctx.device
    if p["dataset"] == "cifar10":
        x, y = load_cifar10(ctx.data_dir, train=True, device=device)
        x_test, y_test = load_cifar10(ctx.data_dir, train=False, device=device)
        data = "real"
    elif p["dataset"] == "synthetic":
        gen = _cpu_generator(ctx, "data_set")
        x_all, y_all = synthetic_cifar10(p["n_train"] + p["n_test"], gen, size=p["image_size"])
        x, y = x_all[: p["n_train"]].to(device), y_all[: p["n_train"]].to(device)
        x_test, y_test = x_all[p["n_train"]:].to(device), y_all[p["n_train"]:].to(device)
        data = "synthetic"
    else:
        raise ValueError(f"unknown dataset {p['dataset']!r}; choose cifar10 or synthetic")
    model = ResNetCifar(p["depth"], generator=_cpu_generator(ctx, "init")).to(device)
    opt = _optimizer(p, model.parameters())
    order_gen, aug_gen = _cpu_generator(ctx, "data"), _cpu_generator(ctx, "augment")
    x_test_n = normalize(x_test)
    cols = {"optimizer": p["optimizer"], "data": data}
    max_steps, step, test_acc = p.get("max_steps"), 0, float("nan")
    for epoch in ctx.progress(range(1, p["epochs"] + 1), total=p["epochs"], desc="epochs"):
        if epoch in p.get("schedule", []):
            for group in opt.param_groups:
                group["lr"] *= p["gamma"]
                group["weight_decay"] *= p["gamma"]
        model.train()
        window = _Window()
        for idx in _batches(len(y), p["batch_size"], order_gen, device):
            xb = normalize(_augment(x[idx], aug_gen) if p.get("augment", True) else x[idx])
            with ctx.autocast():
                loss = F.cross_entropy(model(xb), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            window.add(loss)
            step += 1
            if max_steps and step >= max_steps:
                break
        train_loss = window.flush()
        test_loss, test_acc = _evaluate(model, x_test_n, y_test, batch_size=500)
        for metric, value in (("train_loss", train_loss), ("test_loss", test_loss), ("test_acc", test_acc),
                              ("lr", opt.param_groups[0]["lr"])):
            yield {"step": epoch, "metric": metric, "value": value, **cols}
        if not math.isfinite(train_loss) or (max_steps and step >= max_steps):
            break
    yield {"metric": "final_test_acc", "value": test_acc, **cols}


@experiment("laprop.imdb", device="any")
def imdb(p, ctx):
    """fig=8 (placeholder, setup unknown): an LSTM classifier (repro/nn/lstm_classifier.py) on IMDB reviews
    (dataset=imdb: aclImdb from data_dir, repro/data/imdb.py) or on synthetic token sequences (dataset=synthetic).
    Rows: train_loss (mean minibatch loss over `record_every` steps); per epoch (column epoch) test_loss and
    test_acc (%) when there is a test set. Stops at the first non-finite loss."""
    from repro.data.imdb import load_imdb, synthetic_tokens
    from repro.nn.lstm_classifier import LSTMClassifier

    device = ctx.device
    if p["dataset"] == "imdb":
        splits = load_imdb(ctx.data_dir, p["vocab_size"], p["max_len"], device=device)
        (ids, lengths, labels), test, data = splits["train"], splits["test"], "real"
    elif p["dataset"] == "synthetic":
        n_test = p.get("n_test", 0)
        ids, lengths, labels = (t.to(device) for t in synthetic_tokens(
            p["n_train"] + n_test, p["max_len"], p["vocab_size"], _cpu_generator(ctx, "data_set")))
        test = (ids[p["n_train"]:], lengths[p["n_train"]:], labels[p["n_train"]:]) if n_test else None
        ids, lengths, labels, data = ids[: p["n_train"]], lengths[: p["n_train"]], labels[: p["n_train"]], "synthetic"
    else:
        raise ValueError(f"unknown dataset {p['dataset']!r}; choose imdb or synthetic")
    torch.manual_seed(ctx.seed_for("init"))   # nn.LSTM / nn.Embedding draw their init from the global generator
    model = LSTMClassifier(p["vocab_size"], p["embed_dim"], p["hidden"], p["layers"],
                           dropout=p.get("dropout", 0.0)).to(device)
    opt = _optimizer(p, model.parameters())
    cols = {"optimizer": p["optimizer"], "data": data}
    for row in _train_epochs(model, opt, len(labels), lambda idx: ((ids[idx], lengths[idx]), labels[idx]), p, ctx,
                             _cpu_generator(ctx, "data"), cols):
        if isinstance(row, dict):
            yield row
            continue
        if test is not None:
            _, step, epoch = row
            t_ids, t_len, t_lab = test
            test_loss, test_acc = _evaluate(model, (t_ids, t_len), t_lab, batch_size=500,
                                            forward=lambda m, xb: m(*xb))
            yield {"step": step, "metric": "test_loss", "value": test_loss, "epoch": epoch, **cols}
            yield {"step": step, "metric": "test_acc", "value": test_acc, "epoch": epoch, **cols}


def _procedural_images(size: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A licence-free content image (smooth coloured blobs on a gradient: shapes to preserve) and style image
    (coloured diagonal stripes and a checker texture), [1, 3, size, size] in [0, 1], fixed by `seed`."""
    gen = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.linspace(0, 1, size), torch.linspace(0, 1, size), indexing="ij")
    content = torch.stack([0.3 + 0.4 * xx, 0.3 + 0.4 * yy, 0.5 - 0.2 * xx * yy])
    for _ in range(5):
        cy, cx, r = torch.rand(3, generator=gen) * torch.tensor([1.0, 1.0, 0.2]) + torch.tensor([0, 0, 0.1])
        colour = torch.rand(3, 1, 1, generator=gen)
        mask = torch.sigmoid((r - ((yy - cy) ** 2 + (xx - cx) ** 2).sqrt()) * 60)
        content = content * (1 - mask) + colour * mask
    c1, c2 = torch.rand(3, 1, 1, generator=gen), torch.rand(3, 1, 1, generator=gen)
    stripes = 0.5 + 0.5 * torch.sin(2 * math.pi * 6 * (xx + yy))
    checker = ((torch.floor(xx * 8) + torch.floor(yy * 8)) % 2)
    style = c1 * stripes + c2 * (1 - stripes) * (0.6 + 0.4 * checker)
    return content.clamp(0, 1)[None], style.clamp(0, 1)[None]


def _load_image(data_dir, relpath: str, size: int, device) -> torch.Tensor:
    from PIL import Image

    from repro.data.download import require

    img = Image.open(require(data_dir, relpath)).convert("RGB").resize((size, size), Image.BICUBIC)
    x = torch.frombuffer(bytearray(img.tobytes()), dtype=torch.uint8).view(size, size, 3)
    return x.permute(2, 0, 1)[None].float().div(255).to(device)


def _gram(f: torch.Tensor) -> torch.Tensor:
    """The PyTorch tutorial's normalised Gram matrix: F F^T / (b c h w)."""
    b, c, h, w = f.shape
    f = f.reshape(b * c, h * w)
    return f @ f.T / (b * c * h * w)


@experiment("laprop.style_transfer", device="any")
def style_transfer(p, ctx):
    """fig=3: Gatys et al.'s neural style transfer (PyTorch tutorial): optimise the pixels of one image, started
    from the content image plus seeded noise (std init_noise) and clamped to [0, 1] after each step, to minimise
    content_weight * MSE(content features) + style_weight * sum of MSE(Gram matrices) over the style layers.
    extractor=vgg19: ImageNet-pretrained VGG-19 (repro/nn/vgg_features.py; weights from data_dir or the torch hub
    cache, never downloaded); extractor=random: a fixed random 3-layer conv net (tiny). Images: content_image /
    style_image under data_dir if given, else procedurally generated ones. Rows: loss (the total loss of the
    iterate, before its step) every `record_every` iterations; final_loss (after the last step), and
    content_loss / style_loss at the end."""
    from repro.nn.vgg_features import random_conv_features, vgg19_features

    device, size = ctx.device, p["size"]
    wanted = [p["content_layer"], *p["style_layers"]]
    if p["extractor"] == "vgg19":
        net, data = vgg19_features(ctx.data_dir, wanted), "real"
    elif p["extractor"] == "random":
        net, data = random_conv_features(wanted, seed=p.get("extractor_seed", 0)), "synthetic"
    else:
        raise ValueError(f"unknown extractor {p['extractor']!r}; choose vgg19 or random")
    net = net.to(device)
    if p.get("content_image") and p.get("style_image"):
        content = _load_image(ctx.data_dir, p["content_image"], size, device)
        style = _load_image(ctx.data_dir, p["style_image"], size, device)
    else:
        content, style = (t.to(device) for t in _procedural_images(size, p.get("image_seed", 0)))
    with torch.no_grad():
        content_target = net(content)[p["content_layer"]]
        style_targets = {k: _gram(v) for k, v in net(style).items() if k in p["style_layers"]}
    noise = torch.randn(content.shape, generator=_cpu_generator(ctx, "init")).to(device)
    x = (content + p["init_noise"] * noise).clamp(0, 1).requires_grad_()
    opt = _optimizer(p, [x])
    cols = {"optimizer": p["optimizer"], "data": data}

    def losses():
        with ctx.autocast():
            feats = net(x)
        c = F.mse_loss(feats[p["content_layer"]].float(), content_target.float())
        s = sum(F.mse_loss(_gram(feats[k].float()), style_targets[k].float()) for k in p["style_layers"])
        return p["content_weight"] * c, p["style_weight"] * s

    iterations = min(p["iterations"], p.get("max_steps") or p["iterations"])
    for it in ctx.progress(range(1, iterations + 1), total=iterations, desc="iterations"):
        c, s = losses()
        loss = c + s
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            x.clamp_(0, 1)
        if it % p["record_every"] == 0 or it == 1:
            value = loss.item()
            yield {"step": it, "metric": "loss", "value": value, **cols}
            if not math.isfinite(value):
                break
    with torch.no_grad():
        c, s = losses()
    yield {"metric": "final_loss", "value": (c + s).item(), **cols}
    yield {"metric": "content_loss", "value": c.item(), **cols}
    yield {"metric": "style_loss", "value": s.item(), **cols}
