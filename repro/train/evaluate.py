"""Evaluation of a classifier on a fixed set, in batches, without gradients."""
from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F


@torch.no_grad()
def evaluate_classifier(model, x, y, batch_size: int = 1000, forward=None, autocast=None) -> tuple[float, float]:
    """(mean cross-entropy, accuracy in %) of `model` over (x, y), in eval mode (its mode is restored after).
    x may be a tuple of tensors sliced together; `forward(model, xb)` defaults to model(xb); `autocast` is a
    context-manager factory (ctx.autocast) for the forward passes, none by default."""
    was_training = model.training
    model.eval()
    total_loss, correct = 0.0, 0
    with (autocast or contextlib.nullcontext)():
        for i in range(0, len(y), batch_size):
            xb = tuple(t[i:i + batch_size] for t in x) if isinstance(x, tuple) else x[i:i + batch_size]
            out = (forward or (lambda m, xb: m(xb)))(model, xb).float()
            total_loss += F.cross_entropy(out, y[i:i + batch_size], reduction="sum").item()
            correct += (out.argmax(1) == y[i:i + batch_size]).sum().item()
    model.train(was_training)
    return total_loss / len(y), 100.0 * correct / len(y)
