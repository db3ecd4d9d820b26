"""Snake figs 3, 5, 17, 18, 19, 20: MLPs on MNIST and ResNets on CIFAR-10 with Snake and other activations
(snake.image_classification). Data: repro/data/snake_images.py; ResNets: repro/nn/snake_resnet.py."""
from __future__ import annotations

import torch

from repro.experiments.registry import experiment
from repro.experiments.snake.series import data_label
from repro.nn.snake_mlp import mlp
from repro.train import RunningMean, evaluate_classifier, fit, random_crop_flip, shuffled_batches


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
    from repro.data.snake_images import load_images
    dev = ctx.device
    lab = data_label(p)
    xtr, ytr, xte, yte = load_images(p["dataset"], p["data_source"], ctx.data_dir, ctx.cpu_generator("data"),
                                     int(p.get("n_train", 0)), int(p.get("n_test", 0)), device=dev)
    model = _image_model(p, ctx.cpu_generator("init")).to(dev)
    opt = _image_optimizer(p, model.parameters())
    g = ctx.generator("shuffle")   # batch order and augmentation, on the device
    drops = {int(e): float(lr) for e, lr in p.get("lr_drops", [])}
    train_loss = RunningMean()

    def loss_fn(idx):
        x = random_crop_flip(xtr[idx], g) if p.get("augment") else xtr[idx]
        return torch.nn.functional.cross_entropy(model(x).float(), ytr[idx])

    def on_epoch_start(state):
        if state.epoch in drops:
            for group in opt.param_groups:
                group["lr"] = drops[state.epoch]
        model.train()

    def on_epoch_end(state):
        yield {"step": state.epoch, "metric": "train_loss", "value": train_loss.flush(), "data": lab}
        test_loss, test_acc = evaluate_classifier(model, xte, yte, batch_size=1000, autocast=ctx.autocast)
        yield {"step": state.epoch, "metric": "test_loss", "value": test_loss, "data": lab}
        yield {"step": state.epoch, "metric": "test_acc", "value": test_acc, "data": lab}

    yield from fit(opt, loss_fn, lambda epoch: shuffled_batches(len(xtr), int(p["batch"]), g, dev),
                   epochs=int(p["epochs"]), ctx=ctx, desc=p["activation"], on_epoch_start=on_epoch_start,
                   on_step=lambda state, idx: train_loss.add(state.loss, len(idx)), on_epoch_end=on_epoch_end)
