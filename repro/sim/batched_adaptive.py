"""Adam, AMSGrad and LaProp as batched recursions with per-element hyperparameters.

torch optimizers take one (beta1, beta2) per parameter group, so a whole (mu, nu) grid x seeds would need one group
per cell and a Python loop over groups every step. Here mu, nu, lr and eps are tensors broadcast against the
state, and a grid of independent problems advances as one tensor. The recursions are those of repro/optim/adam.py
(its default eps placement, torch >= 1.3's: lr (m/c_m) / (sqrt(n/c_n) + eps)) and repro/optim/laprop.py (lr-weighted momentum,
c_n as an EMA of ones, eps after bias correction), for a constant learning rate and no weight decay; tests check
both against the optimizer classes.
"""
from __future__ import annotations

import torch

OPTIMIZERS = ("adam", "amsgrad", "laprop")


class BatchedAdaptive:
    """`update(g)` returns the step dx (x_{t+1} = x_t + dx) for gradient g; mu, nu, lr, eps broadcast with g."""

    def __init__(self, name: str, mu, nu, lr, eps, like: torch.Tensor):
        if name not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {name!r}; choose one of: {', '.join(OPTIMIZERS)}")
        as_t = lambda v: torch.as_tensor(v, dtype=like.dtype, device=like.device)  # noqa: E731
        self.name, self.mu, self.nu, self.lr, self.eps = name, as_t(mu), as_t(nu), as_t(lr), as_t(eps)
        self.t = 0
        self.exp_avg = torch.zeros_like(like)
        self.exp_avg_sq = torch.zeros_like(like)
        self.max_exp_avg_sq = torch.zeros_like(like) if name == "amsgrad" else None
        self.bias_correction2 = torch.zeros_like(self.nu)   # LaProp keeps c_n as an EMA of ones
        self.exp_avg_lr = torch.zeros_like(self.mu)          # LaProp's L_t

    def update(self, g: torch.Tensor) -> torch.Tensor:
        self.t += 1
        mu, nu, lr = self.mu, self.nu, self.lr
        self.exp_avg_sq.mul_(nu).add_((1 - nu) * g * g)
        if self.name == "laprop":
            self.bias_correction2 = nu * self.bias_correction2 + (1 - nu)
            self.exp_avg_lr = mu * self.exp_avg_lr + (1 - mu) * lr
            normalised = g / ((self.exp_avg_sq / self.bias_correction2).sqrt() + self.eps)
            self.exp_avg.mul_(mu).add_((1 - mu) * lr * normalised)
            return -(lr / self.exp_avg_lr) * self.exp_avg
        self.exp_avg.mul_(mu).add_((1 - mu) * g)
        second = self.exp_avg_sq
        if self.max_exp_avg_sq is not None:
            torch.maximum(self.max_exp_avg_sq, self.exp_avg_sq, out=self.max_exp_avg_sq)
            second = self.max_exp_avg_sq
        denom = second.sqrt() / (1 - nu**self.t).sqrt() + self.eps
        return -(lr / (1 - mu**self.t)) * self.exp_avg / denom
