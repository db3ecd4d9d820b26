"""Data augmentation applied to a whole batch on its device."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def random_crop_flip(x: torch.Tensor, generator: torch.Generator, pad: int = 4) -> torch.Tensor:
    """The standard CIFAR augmentation (bearpaw's, kuangliu's): a random crop of the image padded with `pad` zeros
    on each side, then a horizontal flip with probability 1/2. The offsets (rows, then columns) and the flips are
    drawn from `generator` on its device, in that order, one number per image; the batch stays on its device."""
    n, c, h, w = x.shape
    dev = x.device
    padded = F.pad(x, (pad, pad, pad, pad))
    dy = torch.randint(0, 2 * pad + 1, (n,), generator=generator, device=generator.device).to(dev)
    dx = torch.randint(0, 2 * pad + 1, (n,), generator=generator, device=generator.device).to(dev)
    flip = (torch.rand(n, generator=generator, device=generator.device) < 0.5).to(dev)
    rows = (dy[:, None] + torch.arange(h, device=dev))[:, None, :, None]
    cols = dx[:, None] + torch.arange(w, device=dev)
    cols = torch.where(flip[:, None], cols.flip(1), cols)[:, None, None, :]   # a flip reads the columns backwards
    return padded[torch.arange(n, device=dev)[:, None, None, None], torch.arange(c, device=dev)[None, :, None, None],
                  rows, cols]
