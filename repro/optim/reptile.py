"""The Reptile outer update (Nichol, Achiam & Schulman 2018), as CroMA uses it (meta_alignment, arXiv 2012.02813,
Algorithm 1; catalog meta_alignment.md, "CroMA algorithm as published" and Open question 3).

After an inner loop turned the meta-parameters theta into phi (a copy adapted to one task):

- impl=paper: meta optimiser SGD with meta learning rate eps (0.1): theta <- theta + eps (phi - theta), the classic
  Reptile step. It is written as SGD on the pseudo-gradient theta - phi, so momentum/Adam variants are one switch.
- impl=code (xmodal main.py): grad := theta - phi, then a step of a persistent meta Adam (lr 1e-4).

`ReptileMeta(params, optimizer="sgd"|"adam", lr=...)`; `step(adapted)` takes the adapted tensors in the same order.
"""
from __future__ import annotations

from typing import Iterable

import torch

META_OPTIMIZERS = ("sgd", "adam")


class ReptileMeta:
    def __init__(self, params: Iterable[torch.Tensor], optimizer: str = "sgd", lr: float = 0.1,
                 betas: tuple[float, float] = (0.9, 0.999)):
        self.params = list(params)
        if optimizer == "sgd":
            self.opt = torch.optim.SGD(self.params, lr=lr)
        elif optimizer == "adam":
            self.opt = torch.optim.Adam(self.params, lr=lr, betas=betas)
        else:
            raise ValueError(f"meta optimizer must be one of {', '.join(META_OPTIMIZERS)}, not {optimizer!r}")

    @torch.no_grad()
    def step(self, adapted: Iterable[torch.Tensor]) -> None:
        """One outer step towards the adapted parameters (pseudo-gradient theta - phi)."""
        adapted = list(adapted)
        if len(adapted) != len(self.params):
            raise ValueError(f"Reptile step: {len(adapted)} adapted tensors for {len(self.params)} parameters")
        for p, q in zip(self.params, adapted):
            p.grad = p.detach() - q.detach()
        self.opt.step()
        for p in self.params:
            p.grad = None


def reptile_interpolate(theta: torch.Tensor, phi: torch.Tensor, eps: float) -> torch.Tensor:
    """theta + eps (phi - theta): what ReptileMeta("sgd", lr=eps) computes, written out (for tests and docs)."""
    return theta + eps * (phi - theta)
