"""Time per optimizer step of every network of repro.nn.noisy_nets in its paper setting (repro/noisy/model_setups.py:
real loader, label noise, loss, optimizer), at full model size, so that figure configs can quote costs.

    python benchmarks/bench_noisy_models.py [--data-dir DIR] [--device cpu|cuda] [--steps N] [--only a,b]

Without --data-dir the files are generated in the real formats (repro/data/fixtures.py) in a temporary folder; step
time does not depend on the pixel or token values, only on the shapes, which are the real ones (the fixture
vocabulary is small, so LSTMATT, whose trainable embedding scales with the vocabulary, is also timed with
--vocab words, default 200,000 [an estimate of the whitespace vocabulary of 17,500 IMDB reviews; the real one is
printed by load_imdb_fixed on the real data]). Reports the median over `steps` steps after one warm-up step of the
wall time and of this process's CPU time (user + sys; less disturbed by other work on a shared machine), in ms,
with one torch thread by default (on a loaded 2-core machine two threads contend and run several times slower).
Prints a markdown table (copied into benchmarks/NOISY_MODELS.md).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from repro.data import fixtures  # noqa: E402
from repro.nn.noisy_nets import make_noisy_model  # noqa: E402
from repro.noisy.model_setups import build_setup  # noqa: E402
from repro.train.loop import train_step  # noqa: E402

# (model, batch on the CPU): the papers' batches, smaller for the EfficientNets (CPU ms scale ~linearly with batch)
CPU_BATCHES = [("mlp_digits", 128), ("mlp_blobs", 128), ("mlp_mnist", 128), ("cnn_basic", 128),
               ("cnn_basic_cifar", 128), ("cnn_small", 128), ("resnet18", 128), ("lstm_glove", 32), ("lstmatt", 128),
               ("efficientnet_b0", 8), ("efficientnet_b1", 8)]


def write_fixtures(root: Path) -> None:
    fixtures.write_mnist(root, n_train=300, n_test=10)
    fixtures.write_cifar10(root, per_batch=40, n_test=10)
    fixtures.write_imdb(root, n_per_class=100, length=(120, 300))
    fixtures.write_glove(root, fixtures.POSITIVE + fixtures.NEGATIVE + fixtures.FILLER)
    fixtures.write_tiny_imagenet(root, n_classes=4, per_class=4, n_val=4)
    for v in ("b0", "b1"):
        fixtures.write_efficientnet_weights(root, v)


def time_steps(optimizer, loss_fn, batch, steps: int, cuda: bool, budget_s: float = 2.0) -> tuple[float, float]:
    """(median wall ms, median CPU ms) per step after one warm-up step: `steps` steps, more (up to 20) while they
    take less than budget_s in all."""
    wall, cpu = [], []
    start = time.perf_counter()
    i = 0
    while i <= steps or (i <= 20 and time.perf_counter() - start < budget_s):
        t0, c0 = time.perf_counter(), time.process_time()
        train_step(optimizer, loss_fn, batch)
        if cuda:
            torch.cuda.synchronize()
        c1 = time.process_time()
        if i:
            wall.append(1e3 * (time.perf_counter() - t0))
            cpu.append(1e3 * (c1 - c0))
        i += 1
    return statistics.median(wall), statistics.median(cpu)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--vocab", type=int, default=200_000)
    ap.add_argument("--only", default="")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1: stable numbers on a shared machine)")
    ap.add_argument("--batch", type=int, default=0, help="one batch for every model (default: the table's)")
    args = ap.parse_args()
    only = set(filter(None, args.only.split(",")))
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(args.data_dir) if args.data_dir else Path(tmp)
        if not args.data_dir:
            write_fixtures(data_dir)
        print(f"device {args.device}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
              f"data {'generated' if not args.data_dir else data_dir}\n")
        print("| model | batch | params | wall ms/step | CPU ms/step | data |\n|---|---|---|---|---|---|")
        for name, batch in CPU_BATCHES:
            if only and name not in only:
                continue
            batch = args.batch or batch
            setup = build_setup(name, data_dir, batch_size=batch, device=args.device)
            n = len(setup.batch[0])
            rows = [(name, setup.model, setup.optimizer, setup.loss_fn, setup.data)]
            if name == "lstmatt":
                from repro.optim import Adam, Volumization

                big = make_noisy_model("lstmatt", 2, vocab_size=args.vocab, seed=0).to(args.device)
                opt = Volumization(Adam(big.parameters(), lr=1e-4, eps=1e-15), v=0.5, alpha=0.5)
                loss = lambda b, m=big: torch.nn.functional.cross_entropy(m(b[0]), b[1])  # noqa: E731
                rows.append((f"lstmatt (vocab {args.vocab:,})", big, opt, loss, setup.data))
            for label, model, opt, loss_fn, data in rows:
                model.train()
                wall, cpu = time_steps(opt, loss_fn, setup.batch, args.steps, args.device != "cpu")
                params = sum(p.numel() for p in model.parameters())
                print(f"| {label} | {n} | {params:,} | {wall:.0f} | {cpu:.0f} | {data} |", flush=True)


if __name__ == "__main__":
    main()
