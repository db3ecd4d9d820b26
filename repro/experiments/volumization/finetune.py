"""Volumization (Liu Ziyin, Zihao Wang, Makoto Yamada, Masahito Ueda; arXiv 2003.11243), fig=T3: fine-tuning
ImageNet-pretrained EfficientNet-B0/B1 on Tiny-ImageNet with volumization against weight decay (the authors'
eval_EfficientNet.py and results/*.csv; catalog ../shared/catalog/volumization.md, fig=T3).

Per cell (network, alpha, v, coupled L2): Volumization(Adam(lr * batch / 128, eps 1e-15)) over every parameter
(Kaiming-V from the pretrained weights and the fresh head), batch 128, 20 epochs, no schedule, cross-entropy; the
Tiny-ImageNet val set is the test set (no train/val split); 64x64 images normalised with ImageNet's statistics and
upsampled inside the model to 224 (B0) / 240 (B1). Top-1 and top-5 test accuracy after every epoch.

EfficientNet's stochastic depth and dropout draw random numbers inside the forward pass, which vmap refuses, so the
cells train one after another as plain modules (not stacked).

Deviations from the authors' code: torchvision's EfficientNet and weights (repro/nn/efficientnet_tiny.py); seeded;
no data augmentation (the catalog names none); accuracies counted exactly. The WD cells are plain coupled-L2 Adam
(alpha = 1), which the reference README (oddity 8) finds the authors' WD runs most likely were.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from repro.experiments.registry import experiment
from repro.nn.noisy_nets import make_noisy_model
from repro.optim import Volumization
from repro.train.loop import fit

DATASETS = ("tiny_imagenet", "synthetic_images")


def load_images(p: dict, ctx):
    """(x_train, y_train, x_test, y_test, num_classes): uint8 images [N, 3, H, W] on ctx.device."""
    if p["dataset"] == "tiny_imagenet":
        from repro.data.tiny_imagenet import load_tiny_imagenet, read_wnids

        x, y = load_tiny_imagenet(ctx.data_dir, "train")
        xt, yt = load_tiny_imagenet(ctx.data_dir, "val")
        return x.to(ctx.device), y.to(ctx.device), xt.to(ctx.device), yt.to(ctx.device), len(read_wnids(ctx.data_dir))
    if p["dataset"] == "synthetic_images":
        from repro.data.cifar10 import synthetic_cifar10

        g = ctx.cpu_generator("data")
        k, n, nt = int(p["num_classes"]), int(p["n_train"]), int(p["n_test"])
        x, y = synthetic_cifar10(n + nt, g, size=int(p.get("image_size", 16)), classes=k)
        return x[:n].to(ctx.device), y[:n].to(ctx.device), x[n:].to(ctx.device), y[n:].to(ctx.device), k
    raise ValueError(f"unknown dataset {p['dataset']!r}; choose one of {', '.join(DATASETS)}")


@torch.no_grad()
def topk_accuracy(model, x, y, normalize, chunk: int, ks=(1, 5)) -> dict[int, float]:
    """% of test images whose label is among the k highest logits, every image counted once."""
    model.eval()
    hits = {k: 0 for k in ks}
    for i in range(0, len(y), chunk):
        out = model(normalize(x[i:i + chunk]))
        top = out.topk(min(max(ks), out.shape[-1]), dim=-1).indices
        for k in ks:
            hits[k] += int((top[:, :k] == y[i:i + chunk, None]).any(-1).sum())
    model.train()
    return {k: 100.0 * h / len(y) for k, h in hits.items()}


@experiment("volumization.efficientnet_finetune", device="any")
def efficientnet_finetune(p, ctx):
    """fig=T3. Per cell of p["cells"] ({model, alpha, v, l2, method}) and epoch: train_loss, test_acc1, test_acc5
    (%); then best_top1, final_top1 (last epoch), best_top5. Columns model, method, alpha, v, l2."""
    from repro.data.tiny_imagenet import normalize

    x, y, xt, yt, classes = load_images(p, ctx)
    kind = "real" if p["dataset"] == "tiny_imagenet" else "synthetic"
    batch = int(p.get("batch_size", 128))
    lr = float(p.get("lr", 1e-4)) * batch / 128
    epochs, chunk = int(p["epochs"]), int(p.get("eval_batch", 256))
    for cell in p["cells"]:
        cols = {"model": cell["model"], "method": cell["method"], "alpha": float(cell["alpha"]),
                "v": float(cell.get("v", 0.0)), "l2": float(cell.get("l2", 0.0)), "data": kind}
        net = make_noisy_model(cell["model"], classes, weights=p.get("weights"), data_dir=ctx.data_dir,
                               resolution=p.get("resolution"), seed=ctx.seed_for("init") % 2**31).to(ctx.device)
        opt = Volumization(torch.optim.Adam(net.parameters(), lr=lr, eps=float(p.get("eps", 1e-15))),
                           v=cols["v"], alpha=cols["alpha"], l2=cols["l2"])
        order = ctx.cpu_generator("data")

        def batches(epoch):
            perm = torch.randperm(len(y), generator=order).to(ctx.device)
            return [perm[i:i + batch] for i in range(0, len(y), batch)]

        def loss_fn(idx):
            return F.cross_entropy(net(normalize(x[idx])), y[idx])

        losses, top1, top5 = [], [], []

        def epoch_start(state):
            losses.clear()

        def on_step(state, batch_idx):
            losses.append(state.loss)

        def epoch_end(state):
            acc = topk_accuracy(net, xt, yt, normalize, chunk)
            top1.append(acc[1])
            top5.append(acc[5])
            train_loss = float(torch.stack(losses).mean())
            return [{"step": state.epoch, "metric": "train_loss", "value": train_loss, **cols},
                    {"step": state.epoch, "metric": "test_acc1", "value": acc[1], **cols},
                    {"step": state.epoch, "metric": "test_acc5", "value": acc[5], **cols}]

        net.train()
        yield from fit(opt, loss_fn, batches, epochs=epochs, ctx=ctx, on_epoch_start=epoch_start, on_step=on_step,
                       on_epoch_end=epoch_end)
        for metric, value in (("best_top1", max(top1)), ("final_top1", top1[-1]), ("best_top5", max(top5))):
            yield {"step": epochs, "metric": metric, "value": float(value), **cols}
        yield {"step": epochs, "metric": "finite", "value": float(bool(losses) and bool(torch.isfinite(
            torch.stack(losses)).all())), **cols}


@experiment("volumization.reference_efficientnet")
def reference_efficientnet(p, ctx):
    """The authors' EfficientNet curves (efficientnet_tiny_imagenet_curves.csv, results/*.csv): per epoch
    test_acc1, test_acc5 (%), and best_top1, final_top1 (epoch 20), best_top5. Columns model (efficientnet_b0/b1),
    method, alpha (WD runs: 1), v, l2."""
    from repro.data.reference import load_volumization_reference

    df = load_volumization_reference("efficientnet_tiny_imagenet_curves")
    df["model"] = df["model"].str.replace("-", "_")
    df["alpha"] = df["alpha"].fillna(1.0)
    for (model, method, alpha), g in df.groupby(["model", "method", "alpha"]):
        g = g.sort_values("epoch")
        cols = {"model": model, "method": method, "alpha": float(alpha),
                "v": float(g["v"].iloc[0]) if g["v"].notna().any() else float("nan"),
                "l2": float(g["weight_decay"].fillna(0).iloc[0])}
        for r in g.itertuples():
            yield {"step": int(r.epoch), "metric": "test_acc1", "value": float(r.test_acc1), **cols}
            yield {"step": int(r.epoch), "metric": "test_acc5", "value": float(r.test_acc5), **cols}
        last = int(g["epoch"].max())
        yield {"step": last, "metric": "best_top1", "value": float(g["test_acc1"].max()), **cols}
        yield {"step": last, "metric": "final_top1", "value": float(g["test_acc1"].iloc[-1]), **cols}
        yield {"step": last, "metric": "best_top5", "value": float(g["test_acc5"].max()), **cols}
