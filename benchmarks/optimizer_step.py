"""Step time of repro's optimizers against torch.optim.Adam(foreach=True), same process: LaProp eager foreach and
fused (torch.compile'd) and repro's Adam on ResNet-18's parameter list (62 tensors, 11.7M parameters); with
--variants also the per-tensor paths and LaProp with amsgrad + centered; --params mixed uses 200 small tensors of
mixed sizes (~0.8M parameters, a small network's list) instead.

Each candidate owns a copy of the parameters and gradients; after a warm-up the candidates step in turn, round
after round (alternating, in rotated order, so that a slow phase of a shared machine hits all of them), and the
median over rounds of each candidate's step time divided by torch's in the same round is its ratio. The fused
optimizer's compile time (its first step) is reported separately.

    python benchmarks/optimizer_step.py [--rounds 40] [--device cpu|cuda] [--params resnet18|mixed] [--variants]

(from the repository root, with repro installed: `make install`, or PYTHONPATH=.)

Targets on a 2-core CPU: ratio eager/adam <= 1.05, ratio fused/adam <= 0.5, ratio repro-adam/adam ~ 1.0.
On a shared, busy machine use --threads 1: with more threads than free cores every step waits for descheduled
threads and the timings become noise (seen: single steps of 2 s instead of 25 ms).
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

import torch

from repro.optim import Adam, LaProp

TARGETS = {"eager": 1.05, "fused": 0.5}


def resnet18_shapes() -> list[torch.Size]:
    import torchvision

    return [p.shape for p in torchvision.models.resnet18(weights=None).parameters()]


def mixed_shapes(n: int = 200) -> list[torch.Size]:
    """A cycle of bias-, small-matrix- and layer-sized tensors: ~0.8M parameters in all."""
    cycle = [(64,), (32, 32), (256,), (128, 64), (3, 3, 16, 16), (512, 16), (10,), (64, 64, 3)]
    return [torch.Size(cycle[i % len(cycle)]) for i in range(n)]


def make_params(shapes, device, seed: int = 0) -> list[torch.Tensor]:
    gen = torch.Generator(device=device).manual_seed(seed)
    params = []
    for shape in shapes:
        p = torch.randn(shape, generator=gen, device=device).requires_grad_()
        p.grad = 1e-2 * torch.randn(shape, generator=gen, device=device)
        params.append(p)
    return params


def sync(device) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=40)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    ap.add_argument("--params", choices=("resnet18", "mixed"), default="resnet18")
    ap.add_argument("--variants", action="store_true", help="also the per-tensor paths and amsgrad + centered")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    shapes = resnet18_shapes() if args.params == "resnet18" else mixed_shapes()
    candidates = {
        "adam": lambda p: torch.optim.Adam(p, lr=1e-3, foreach=True),
        "repro-adam": lambda p: Adam(p, lr=1e-3, foreach=True),
        "eager": lambda p: LaProp(p, lr=1e-3, foreach=True),
        "fused": lambda p: LaProp(p, lr=1e-3, fused=True),
    }
    if args.variants:
        candidates.update({
            "adam-per-tensor": lambda p: torch.optim.Adam(p, lr=1e-3, foreach=False),
            "repro-adam-per-tensor": lambda p: Adam(p, lr=1e-3, foreach=False),
            "eager-per-tensor": lambda p: LaProp(p, lr=1e-3, foreach=False),
            "eager-amsgrad-centered": lambda p: LaProp(p, lr=1e-3, amsgrad=True, centered=True, foreach=True),
        })
    print(f"{args.params} parameter list: {len(shapes)} tensors, {sum(s.numel() for s in shapes):,} parameters; "
          f"device {args.device}, {torch.get_num_threads()} threads, torch {torch.__version__}, "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    if os.getloadavg()[0] > (os.cpu_count() or 1) and torch.get_num_threads() > 1:
        print("  (the machine is busy: multi-threaded steps then wait on descheduled threads; --threads 1 measures "
              "the same memory-bound work with less noise)")
    optimizers = {name: make(make_params(shapes, args.device)) for name, make in candidates.items()}
    sync(args.device)
    t0 = time.perf_counter()
    optimizers["fused"].step()   # the first fused step compiles
    sync(args.device)
    compile_s = time.perf_counter() - t0
    if optimizers["fused"]._fused_kernel.failed:
        print("fused step could not be compiled: it fell back to the eager path (see the warning)")
    print(f"fused LaProp: first step (torch.compile) {compile_s:.1f} s")
    for opt in optimizers.values():
        for _ in range(args.warmup):
            opt.step()
    times = {name: [] for name in optimizers}
    names = list(optimizers)
    for r in range(args.rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:   # rotate: no candidate always goes first
            sync(args.device)
            t = time.perf_counter()
            optimizers[name].step()
            sync(args.device)
            times[name].append(time.perf_counter() - t)
    med = {name: 1e3 * statistics.median(ts) for name, ts in times.items()}
    for name, ms in med.items():
        print(f"  {name:11s} median {ms:8.2f} ms/step  (min {1e3 * min(times[name]):.2f}, "
              f"max {1e3 * max(times[name]):.2f}, {args.rounds} rounds)")
    # The ratio is the median over rounds of the within-round ratio: a slow phase of a shared machine (other
    # jobs on the same cores) slows a whole round, and cancels in the ratio.
    ratios = {name: statistics.median(a / b for a, b in zip(times[name], times["adam"]))
              for name in optimizers if name != "adam"}
    for name, r in ratios.items():
        target = TARGETS.get(name)
        verdict = "" if target is None else f"   target <= {target}: {'met' if r <= target else 'MISSED'}"
        print(f"ratio {name}/adam {r:.3f}   (ratio of medians {med[name] / med['adam']:.3f}){verdict}")
    print(f"compile time (fused, first step) {compile_s:.1f} s")
    return {"ratios": ratios, "ms": med, "compile_s": compile_s}


if __name__ == "__main__":
    main()
