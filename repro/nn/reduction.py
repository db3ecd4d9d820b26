"""The per-sample loss reductions shared by the losses of repro.nn ("mean" | "sum" | "none", as torch's)."""
from __future__ import annotations

import torch

REDUCTIONS = ("mean", "sum", "none")


def reduce_loss(loss: torch.Tensor, reduction: str) -> torch.Tensor:
    """loss.mean(), loss.sum() or loss itself; any other name raises ValueError."""
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"reduction must be mean, sum or none, got {reduction!r}")
