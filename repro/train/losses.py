"""Losses written once for the experiments that share them."""
from __future__ import annotations

import torch


def mean_squared_error(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """mean((pred - target)^2) over every entry, written out (as the Snake code does) rather than F.mse_loss, so the
    committed Snake results keep their last bits."""
    return torch.mean((pred - target) ** 2)
