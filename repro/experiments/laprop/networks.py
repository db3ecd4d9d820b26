"""LaProp figs 3, 4, 8 and Table 1: networks trained with Adam / AMSGrad / LaProp through the training layer
(laprop.style_transfer, laprop.deep_fc, laprop.imdb, laprop.cifar10). Spec: catalog laprop.md."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from repro.experiments.registry import experiment
from repro.optim import make_optimizer
from repro.optim.fused import fused_pays_on
from repro.train import (Resume, RunningMean, checkpoint_path, evaluate_classifier, fit, random_crop_flip,
                         shuffled_batches, steps_for)


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


def _train_test(load, ctx):
    """(x, y, x_test, y_test) of a real data set from its loader(data_dir, train=..., device=...)."""
    return (*load(ctx.data_dir, train=True, device=ctx.device), *load(ctx.data_dir, train=False, device=ctx.device))


def _minibatch_rows(model, opt, n: int, batch, p, ctx, cols: dict, on_epoch_end=None):
    """The minibatch cross-entropy training of fig=4 and fig=8: `batch(idx)` gives (model inputs, labels); batches
    in a random order per epoch from the `data` stream. Yields `train_loss` rows (mean minibatch loss over the last
    `record_every` steps) and the rows of on_epoch_end(state). Stops at the first non-finite window (the curve
    says diverged). `clip_norm` in p clips the gradient norm."""
    epochs, total = steps_for(n, p["batch_size"], p["epochs"], steps=p.get("steps"), max_steps=p.get("max_steps"))
    order_gen, window = ctx.cpu_generator("data"), RunningMean()

    def loss_fn(idx):
        inputs, labels = batch(idx)
        return F.cross_entropy(model(*inputs), labels)

    def on_step(state, idx):
        window.add(state.loss)
        if state.step % p["record_every"] == 0 or state.step == total:
            value = window.flush()
            yield {"step": state.step, "metric": "train_loss", "value": value, **cols}
            state.stop = not math.isfinite(value)

    yield from fit(opt, loss_fn, lambda epoch: shuffled_batches(n, p["batch_size"], order_gen, ctx.device),
                   epochs=epochs, max_steps=total, ctx=ctx, clip_norm=p.get("clip_norm") or None, on_step=on_step,
                   on_epoch_end=on_epoch_end)


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
        x, y, x_test, y_test = _train_test(load_mnist, ctx)
        data = "real"
    elif p["dataset"] == "synthetic":
        x, y = synthetic_mnist(p["n_train"], ctx.cpu_generator("data_set"))
        x, y, x_test, y_test, data = x.to(device), y.to(device), None, None, "synthetic"
    else:
        raise ValueError(f"unknown dataset {p['dataset']!r}; choose mnist or synthetic")
    model = deep_mlp(x.shape[1], p["width"], p["depth"], 10, generator=ctx.cpu_generator("init")).to(device)
    opt = _optimizer(p, model.parameters())
    cols = {"optimizer": p["optimizer"], "data": data, "depth": p["depth"], "lr": p["lr"]}

    def on_epoch_end(state):
        train_loss, train_acc = evaluate_classifier(model, x, y)
        at = {"step": state.step, "epoch": state.epoch, **cols}
        yield {"metric": "epoch_train_loss", "value": train_loss, **at}
        yield {"metric": "train_acc", "value": train_acc, **at}
        if x_test is not None:
            yield {"metric": "test_acc", "value": evaluate_classifier(model, x_test, y_test)[1], **at}

    yield from _minibatch_rows(model, opt, len(y), lambda idx: ((x[idx],), y[idx]), p, ctx, cols, on_epoch_end)


@experiment("laprop.cifar10", device="any")
def cifar10(p, ctx):
    """fig=T1: ResNet-(6n+2) for CIFAR (repro/nn/resnet_cifar.py, bearpaw's) on CIFAR-10 (dataset=cifar10:
    torchvision's loader from data_dir) or on synthetic images with class-dependent means (dataset=synthetic).
    bearpaw's recipe: batch 128, random crop (pad 4) + flip, normalisation, lr x gamma at the `schedule` epochs,
    and, as the LaProp authors' readme says, weight decay x gamma together with lr. Rows per epoch (step = epoch):
    train_loss (mean minibatch loss), test_loss, test_acc (%), lr; at the end final_test_acc (no step). A run
    checkpoints every epoch under ctx.checkpoint_dir and a rerun after a kill resumes with the same rows."""
    from repro.data.cifar10 import load_cifar10, normalize, synthetic_cifar10
    from repro.nn.resnet_cifar import ResNetCifar

    device = ctx.device
    if p["dataset"] == "cifar10":
        x, y, x_test, y_test = _train_test(load_cifar10, ctx)
        data = "real"
    elif p["dataset"] == "synthetic":
        gen = ctx.cpu_generator("data_set")
        x_all, y_all = synthetic_cifar10(p["n_train"] + p["n_test"], gen, size=p["image_size"])
        x, y = x_all[: p["n_train"]].to(device), y_all[: p["n_train"]].to(device)
        x_test, y_test = x_all[p["n_train"]:].to(device), y_all[p["n_train"]:].to(device)
        data = "synthetic"
    else:
        raise ValueError(f"unknown dataset {p['dataset']!r}; choose cifar10 or synthetic")
    model = ResNetCifar(p["depth"], generator=ctx.cpu_generator("init")).to(device)
    opt = _optimizer(p, model.parameters())
    order_gen, aug_gen = ctx.cpu_generator("data"), ctx.cpu_generator("augment")
    x_test_n = normalize(x_test)
    cols = {"optimizer": p["optimizer"], "data": data}
    window = RunningMean()

    def loss_fn(idx):
        xb = normalize(random_crop_flip(x[idx], aug_gen) if p.get("augment", True) else x[idx])
        return F.cross_entropy(model(xb), y[idx])

    def on_epoch_start(state):
        if state.epoch in p.get("schedule", []):
            for group in opt.param_groups:
                group["lr"] *= p["gamma"]
                group["weight_decay"] *= p["gamma"]
        model.train()

    def on_epoch_end(state):
        train_loss = window.flush()
        test_loss, test_acc = evaluate_classifier(model, x_test_n, y_test, batch_size=500)
        for metric, value in (("train_loss", train_loss), ("test_loss", test_loss), ("test_acc", test_acc),
                              ("lr", opt.param_groups[0]["lr"])):
            yield {"step": state.epoch, "metric": metric, "value": value, **cols}
        state.stop = not math.isfinite(train_loss)

    # long runs (164 epochs at full scale) checkpoint every epoch under ctx.checkpoint_dir and resume after a kill
    resume = Resume(checkpoint_path(ctx, "laprop.cifar10", {"version": cifar10.code_version, "seed": ctx.seed,
                                                            "params": p}),
                    modules=[model], generators=[order_gen, aug_gen])
    test_acc = float("nan")
    for row in fit(opt, loss_fn, lambda epoch: shuffled_batches(len(y), p["batch_size"], order_gen, device),
                   epochs=p["epochs"], max_steps=p.get("max_steps") or None, ctx=ctx, desc="epochs",
                   on_epoch_start=on_epoch_start, on_step=lambda state, idx: window.add(state.loss),
                   on_epoch_end=on_epoch_end, resume=resume):
        test_acc = row["value"] if row["metric"] == "test_acc" else test_acc
        yield row
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
            p["n_train"] + n_test, p["max_len"], p["vocab_size"], ctx.cpu_generator("data_set")))
        test = (ids[p["n_train"]:], lengths[p["n_train"]:], labels[p["n_train"]:]) if n_test else None
        ids, lengths, labels, data = ids[: p["n_train"]], lengths[: p["n_train"]], labels[: p["n_train"]], "synthetic"
    else:
        raise ValueError(f"unknown dataset {p['dataset']!r}; choose imdb or synthetic")
    torch.manual_seed(ctx.seed_for("init"))   # nn.LSTM / nn.Embedding draw their init from the global generator
    model = LSTMClassifier(p["vocab_size"], p["embed_dim"], p["hidden"], p["layers"],
                           dropout=p.get("dropout", 0.0)).to(device)
    opt = _optimizer(p, model.parameters())
    cols = {"optimizer": p["optimizer"], "data": data}

    def on_epoch_end(state):
        if test is not None:
            t_ids, t_len, t_lab = test
            test_loss, test_acc = evaluate_classifier(model, (t_ids, t_len), t_lab, batch_size=500,
                                                      forward=lambda m, xb: m(*xb))
            at = {"step": state.step, "epoch": state.epoch, **cols}
            yield {"metric": "test_loss", "value": test_loss, **at}
            yield {"metric": "test_acc", "value": test_acc, **at}

    yield from _minibatch_rows(model, opt, len(labels), lambda idx: ((ids[idx], lengths[idx]), labels[idx]), p, ctx,
                               cols, on_epoch_end)


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
    noise = torch.randn(content.shape, generator=ctx.cpu_generator("init")).to(device)
    x = (content + p["init_noise"] * noise).clamp(0, 1).requires_grad_()
    opt = _optimizer(p, [x])
    cols = {"optimizer": p["optimizer"], "data": data}

    def losses():
        with ctx.autocast():   # the features only: the Gram matrices and losses stay in float32
            feats = net(x)
        c = F.mse_loss(feats[p["content_layer"]].float(), content_target.float())
        s = sum(F.mse_loss(_gram(feats[k].float()), style_targets[k].float()) for k in p["style_layers"])
        return p["content_weight"] * c, p["style_weight"] * s

    def on_step(state, it):
        with torch.no_grad():
            x.clamp_(0, 1)
        if it % p["record_every"] == 0 or it == 1:
            value = state.loss.item()
            yield {"step": it, "metric": "loss", "value": value, **cols}
            state.stop = not math.isfinite(value)

    iterations = min(p["iterations"], p.get("max_steps") or p["iterations"])
    yield from fit(opt, lambda it: sum(losses()),
                   lambda epoch: ctx.progress(range(1, iterations + 1), total=iterations, desc="iterations"),
                   on_step=on_step)
    with torch.no_grad():
        c, s = losses()
    yield {"metric": "final_loss", "value": (c + s).item(), **cols}
    yield {"metric": "content_loss", "value": c.item(), **cols}
    yield {"metric": "style_loss", "value": s.item(), **cols}
