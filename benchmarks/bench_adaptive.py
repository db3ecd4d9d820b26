"""Throughput of the adam_variance Monte Carlo: chains x steps per second, batched (all chains as one tensor,
repro.sim.adaptive.simulate_updates) vs a per-chain Python loop (simulate_updates_loop). Prints the ratio.

    python benchmarks/bench_adaptive.py [--chains 200000] [--loop-chains 2000] [--steps 30]
"""
from __future__ import annotations

import argparse
import time

import torch

from repro.sim.adaptive import simulate_updates, simulate_updates_loop


def rate(fn, chains: int, steps: int, repeats: int = 3) -> float:
    best = float("inf")
    for r in range(repeats):
        g = torch.Generator().manual_seed(r)
        t0 = time.perf_counter()
        fn(chains, steps, g)
        best = min(best, time.perf_counter() - t0)
    return chains * steps / best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--chains", type=int, default=200_000)
    ap.add_argument("--loop-chains", type=int, default=2_000)
    ap.add_argument("--steps", type=int, default=30)
    a = ap.parse_args()
    batched = rate(lambda c, s, g: simulate_updates(c, s, "rmsprop_avg", generator=g), a.chains, a.steps)
    loop = rate(lambda c, s, g: simulate_updates_loop(c, s, generator=g), a.loop_chains, a.steps, repeats=1)
    print(f"batched: {batched:.3e} chain-steps/s ({a.chains} chains x {a.steps} steps, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads)")
    print(f"loop:    {loop:.3e} chain-steps/s ({a.loop_chains} chains x {a.steps} steps, per-chain Python loop)")
    print(f"ratio batched / loop: {batched / loop:.0f}x")


if __name__ == "__main__":
    main()
