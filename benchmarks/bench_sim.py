"""Throughput of the batched simulators (repro.sim.linear) against per-chain python loops, Fig 2 settings of
arXiv 2012.03636 (1-D, λk = 1): unit weight-space white noise, and minibatch regression with N = 1000,
S = 100 and subset sampling (repro.sim.subset: the compiled kernel, and its torch path as used where no C++
compiler is available).

The per-chain loops are timed on a few chains and extrapolated per chain-step (their cost is linear in the
number of chains). Two loop baselines per setting: the same simulator called with runs=1 (isolates the
gain from batching) and a plain loop written the obvious way (python floats and random.gauss for white
noise; torch.randperm(N)[:S] per step for minibatches).

    python benchmarks/bench_sim.py [--runs 10000] [--steps 1000]
"""
from __future__ import annotations

import argparse
import random
import time

import torch

from repro.sim import subset
from repro.sim.linear import Optimizer, simulate_minibatch_regression, simulate_quadratic
from repro.sim.regression import make_regression_data

N_DATA, BATCH = 1000, 100


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def white_batched(runs, steps):
    simulate_quadratic(1.0, Optimizer(1.0), steps, runs, 1.0, generator=torch.Generator().manual_seed(0),
                       noise_space="weight")


def white_loop_simulator(chains, steps):
    gen = torch.Generator().manual_seed(0)
    for _ in range(chains):
        simulate_quadratic(1.0, Optimizer(1.0), steps, 1, 1.0, generator=gen, noise_space="weight")


def white_loop_python(chains, steps):
    rng = random.Random(0)
    lr, k = 1.0, 1.0
    for _ in range(chains):
        w, sq = 0.0, 0.0
        for _ in range(steps):
            w -= lr * (k * w + rng.gauss(0.0, 1.0) / lr)
            sq += w * w


def minibatch_batched(data, runs, steps, method="auto"):
    simulate_minibatch_regression(data, Optimizer(1.0), BATCH, steps, runs,
                                  generator=torch.Generator().manual_seed(0), sampling="subset",
                                  subset_method=method)


def minibatch_loop_simulator(data, chains, steps):
    gen = torch.Generator().manual_seed(0)
    for _ in range(chains):
        simulate_minibatch_regression(data, Optimizer(1.0), BATCH, steps, 1, generator=gen, sampling="subset")


def minibatch_loop_torch(data, chains, steps):
    gen = torch.Generator().manual_seed(0)
    X, y = data.X[:, 0].float(), data.y.float()
    for _ in range(chains):
        w, sq = torch.zeros(()), torch.zeros(())
        for _ in range(steps):
            idx = torch.randperm(N_DATA, generator=gen)[:BATCH]
            xb = X[idx]
            w = w - 1.0 * (xb * (xb * w - y[idx])).mean()
            sq = sq + w * w


def report(name, runs, steps, t_batched, loops):
    rate = runs * steps / t_batched
    print(f"{name}: batched {runs} chains x {steps} steps in {t_batched:.2f} s = {rate:.3g} chain-steps/s")
    for label, chains, loop_steps, t_loop in loops:
        loop_rate = chains * loop_steps / t_loop
        print(f"    per-chain loop ({label}, {chains} chains x {loop_steps} steps): {loop_rate:.3g} chain-steps/s"
              f" -> batched/loop = {rate / loop_rate:.0f}x")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (1, as the sgd_fluctuation figures run: these are many small ops)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    runs, steps = args.runs, args.steps
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, float32")

    white_batched(100, 10)                      # warm-up: first-call allocations and library loading
    report("white noise", runs, steps, timed(lambda: white_batched(runs, steps)), [
        ("simulator, runs=1", 10, steps, timed(lambda: white_loop_simulator(10, steps))),
        ("python floats", 100, steps, timed(lambda: white_loop_python(100, steps))),
    ])

    data = make_regression_data(N_DATA, [1.0], 1.0, 1.0, torch.Generator().manual_seed(0))
    minibatch_batched(data, 100, 10)            # warm-up; builds the C++ subset kernel on first use (~20 s)
    loops = [
        ("simulator, runs=1", 5, steps, timed(lambda: minibatch_loop_simulator(data, 5, steps))),
        ("torch.randperm per step", 5, steps, timed(lambda: minibatch_loop_torch(data, 5, steps))),
    ]
    method = "kernel" if subset.kernel() is not None else "torch"
    report(f"minibatch subset ({method} path)", runs, steps,
           timed(lambda: minibatch_batched(data, runs, steps)), loops)
    if method == "kernel":                      # the path of machines without a compiler, on a tenth of the steps
        minibatch_batched(data, 100, 10, "torch")
        report("minibatch subset (torch path)", runs, steps // 10,
               timed(lambda: minibatch_batched(data, runs, steps // 10, "torch")), loops)


if __name__ == "__main__":
    main()
