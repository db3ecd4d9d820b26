"""Hyperparameter checks shared by repro's Adam and LaProp (the same ranges torch.optim enforces)."""
from __future__ import annotations

# x <- x - wd x after the step (the authors' laprop.py and cifar AdamW), or x <- x - lr wd x before it (fairseq)
WEIGHT_DECAY_MODES = ("decoupled_no_lr", "decoupled_lr")


def check_adaptive_hyperparameters(lr, eps, betas, weight_decay, weight_decay_mode) -> None:
    if not 0.0 <= lr:
        raise ValueError(f"invalid learning rate: {lr}")
    if not 0.0 <= eps:
        raise ValueError(f"invalid epsilon: {eps}")
    if not (0.0 <= betas[0] < 1.0 and 0.0 <= betas[1] < 1.0):
        raise ValueError(f"invalid betas: {betas}")
    if not 0.0 <= weight_decay:
        raise ValueError(f"invalid weight_decay: {weight_decay}")
    if weight_decay_mode not in WEIGHT_DECAY_MODES:
        raise ValueError(f"weight_decay_mode must be one of {WEIGHT_DECAY_MODES}, got {weight_decay_mode!r}")
