"""Throughput of the stacked grid trainer (repro/noisy/grid.py) against sequential runs, same process, same thread
count: K models of the gambler tiny harness (digits, 1200 training points, MLP 64-256-256-11, batch 128, Adam 1e-3,
one payoff o per model) trained as one stacked model, against the same K models trained one after another with a
plain module and torch.optim.Adam (the way a per-run script trains them). Two stacked cases: every model on one
batch order (cells that share a seed: one input batch for all) and every model on its own order (K seeds).

The goal of the gambler issue on this 2-core CPU: >= 5x at K = 64. Measured here (2026-12-06, one thread, the
machine shared with other jobs, interleaved): NOT met. mlp_digits 3 epochs: sequential 3.7 s, stacked 6.3 s (0.6x);
one epoch in a quiet moment 1.9 s vs 2.1 s (0.9x); cnn_basic at 28x28, 1 epoch: 84 s vs 113 s (0.7x). On a CPU a
single 64-256-256 MLP or CNN_basic at batch 128 already keeps the core busy with large matrix products (34-72
GFLOP/s either way): stacking removes per-step Python and launch overhead, of which a CPU has little, and vmap's
batched products (bmm, grouped convolutions) run no faster than K separate ones. With two threads on a loaded
machine the sequential runs slowed far more than the stacked one (2.8x at K = 16 for cnn_basic, 6-16x for the MLP
at load 10): thread contention, not a property of the trainer. The gain is on a GPU, where a step of one small
model is launch-bound: gpu_check.sh step 7 measures it there.

    python benchmarks/bench_grid.py [--k 64] [--epochs 3] [--model mlp_digits|cnn_basic] [--device cuda]
"""
from __future__ import annotations

import argparse
import time

import torch
from torch import nn

from repro.data.digits import load_digits
from repro.nn.gambler_loss import gambler_loss
from repro.noisy.grid import GamblerCells, NoisyTask, init_stack, train_grid
from repro.train.stacked import StackedAdam

BATCH, N_TRAIN = 128, 1200


def mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 11))


def cnn() -> nn.Module:
    """CNN_basic's layers at 28x28 (MNIST size): conv5x5 1->20, pool, conv5x5 20->50, pool, 800->500->11."""
    return nn.Sequential(nn.Unflatten(1, (1, 28, 28)), nn.Conv2d(1, 20, 5), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(20, 50, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(800, 500), nn.ReLU(), nn.Linear(500, 11))


DEVICE = torch.device("cpu")


def data(model: str):
    x, y = load_digits(DEVICE)
    if model == "cnn_basic":   # digits upsampled to MNIST's 28x28: the cost of an MNIST-size CNN
        x = torch.nn.functional.interpolate(x.view(-1, 1, 8, 8), size=28, mode="bilinear").flatten(1)
    return x[:N_TRAIN], y[:N_TRAIN], x[N_TRAIN:], y[N_TRAIN:]


def stacked(make, k, epochs, seeds, model):
    x, y, xt, yt = data(model)
    payoffs = torch.linspace(8.0, 9.9, k).tolist()
    task = NoisyTask.corrupt(x, y, xt, yt, 10, [("symmetric", 0.5)] * k)
    stack = init_stack(make, seeds, device=DEVICE)
    opt = StackedAdam(stack.parameters(), lr=1e-3)
    for _ in train_grid(stack, opt, GamblerCells(payoffs, 10), task, epochs=epochs, batch_size=BATCH,
                        order_seeds=seeds):
        pass


def sequential(make, k, epochs, model):
    x, y, xt, yt = data(model)
    task = NoisyTask.corrupt(x, y, xt, yt, 10, [("symmetric", 0.5)])
    labels = task.labels[0]
    for i, o in enumerate(torch.linspace(8.0, 9.9, k).tolist()):
        torch.manual_seed(i)
        net = make().to(DEVICE)
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        gen = torch.Generator().manual_seed(i)
        for _ in range(epochs):
            perm = torch.randperm(len(x), generator=gen).to(DEVICE)
            for j in range(0, len(x), BATCH):
                idx = perm[j:j + BATCH]
                opt.zero_grad()
                gambler_loss(net(x[idx]), labels[idx], o).backward()
                opt.step()
            with torch.no_grad():   # the per-epoch test evaluation the stacked trainer also does
                (net(xt)[:, :-1].argmax(1) == yt).float().mean()


def timed(fn) -> float:
    if DEVICE.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    fn()
    if DEVICE.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--k", type=int, default=64)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--model", choices=["mlp_digits", "cnn_basic"], default="mlp_digits")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--device", default="cpu", help="cpu | cuda")
    ap.add_argument("--repeats", type=int, default=2, help="interleaved repeats; the fastest of each is kept")
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    global DEVICE
    DEVICE = torch.device(a.device)
    make = mlp if a.model == "mlp_digits" else cnn
    torch.manual_seed(0)
    stacked(make, 2, 1, [0, 1], a.model)   # warm-up (first-call costs of vmap and the allocator)
    t_seq = t_one = t_own = float("inf")
    for _ in range(a.repeats):   # interleaved, fastest kept: a shared machine's load hits both sides alike
        t_seq = min(t_seq, timed(lambda: sequential(make, a.k, a.epochs, a.model)))
        t_one = min(t_one, timed(lambda: stacked(make, a.k, a.epochs, [0] * a.k, a.model)))
        t_own = min(t_own, timed(lambda: stacked(make, a.k, a.epochs, list(range(a.k)), a.model)))
    steps = a.k * a.epochs * -(-N_TRAIN // BATCH)
    print(f"{a.model}, K = {a.k}, {a.epochs} epochs, {a.device}, {torch.get_num_threads()} threads "
          f"({steps} model-steps each way)")
    print(f"  sequential (torch.optim.Adam, one model at a time): {t_seq:7.2f} s")
    print(f"  stacked, one batch order:                          {t_one:7.2f} s   speed-up {t_seq / t_one:5.1f}x")
    print(f"  stacked, one order per model:                      {t_own:7.2f} s   speed-up {t_seq / t_own:5.1f}x")


if __name__ == "__main__":
    main()
