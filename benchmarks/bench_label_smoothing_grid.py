"""Measured cost of label_smoothing's full grids (fig=1, 7, 8, 9, T1) on this machine: a few stacked training steps
of the full-size models at the full batch size (CNN_basic on MNIST-size input, K cells in one stack; ResNet-18 on
CIFAR-size input, one cell per stack), timed after one warm-up step, extrapolated to the full grids:

    MNIST grid (fig=1, 7): 324 cells x 100 epochs x 468 steps (60000 / 128, drop_last)
    CIFAR-10 grid (fig=8): 60 cells x 100 epochs x 390 steps (50000 / 128, drop_last)

    python benchmarks/bench_label_smoothing_grid.py [--k 8] [--steps 3] [--device cpu]
"""
from __future__ import annotations

import argparse
import time

import torch

from repro.noisy.grid import SmoothingCells, init_stack
from repro.nn.noisy_nets import make_noisy_model
from repro.train.stacked import StackedSGD

GRIDS = {"cnn_basic": (324, 100, 60000 // 128, (1, 28, 28)), "resnet18": (60, 100, 50000 // 128, (3, 32, 32))}


def time_steps(model: str, k: int, steps: int, device: str) -> float:
    """Seconds per stacked step of k cells (batch 128, smoothed CE, SGD momentum 0.9)."""
    stack = init_stack(lambda: make_noisy_model(model, 10), [0] * k, device=device)
    opt = StackedSGD(stack.parameters(), lr=0.01, momentum=0.9)
    loss = SmoothingCells([0.5] * k)
    x = torch.rand(128, *GRIDS[model][3], device=device)
    y = torch.randint(0, 10, (k, 128), device=device)

    def step():
        opt.zero_grad()
        loss(stack(x), y, 1).mean(1).sum().backward()
        opt.step()
    step()   # warm-up
    if device == "cuda":
        torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(steps):
        step()
    if device == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - t) / steps


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--k", type=int, default=8)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    for model, k in (("cnn_basic", args.k), ("resnet18", 1)):
        cells, epochs, per_epoch, _ = GRIDS[model]
        t = time_steps(model, k, args.steps, args.device)
        total = t / k * cells * epochs * per_epoch
        print(f"{model}: {k} cells/stack {t * 1e3:.0f} ms/step ({t / k * 1e3:.1f} ms per cell-step) on "
              f"{args.device} ({torch.get_num_threads()} threads) -> full grid {cells} cells x {epochs} epochs x "
              f"{per_epoch} steps = {total / 3600:.0f} h")


if __name__ == "__main__":
    main()
