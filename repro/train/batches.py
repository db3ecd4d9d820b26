"""Minibatches: a random permutation of the training indices cut into batches, epoch after epoch."""
from __future__ import annotations

import torch


def shuffled_batches(n: int, batch_size: int, generator: torch.Generator, device=None, *,
                     drop_last: bool = False) -> list[torch.Tensor]:
    """Index batches of one epoch in a random order drawn from `generator` (one randperm on the generator's own
    device, so a CPU generator gives the same order on any machine), moved to `device`. The last batch may be
    smaller, as a DataLoader's, unless drop_last."""
    order = torch.randperm(n, generator=generator, device=generator.device)
    if device is not None:
        order = order.to(device)
    end = n - batch_size + 1 if drop_last else n
    return [order[i:i + batch_size] for i in range(0, end, batch_size)]


def endless_batches(n: int, batch_size: int, generator: torch.Generator, device=None, *, drop_last: bool = False):
    """Epoch after epoch of shuffled_batches, for training counted in updates rather than epochs (each epoch's
    order is drawn when the previous one is used up)."""
    while True:
        yield from shuffled_batches(n, batch_size, generator, device, drop_last=drop_last)
