"""One worker process: runs RunSpecs one after another on the single device it was given.

The dispatcher starts `python -m repro.runner.worker` once per device slot, with CUDA_VISIBLE_DEVICES naming that
slot's GPU, and feeds it tasks as JSON lines on stdin; results go back as JSON lines on the original stdout (the
experiment's own prints are sent to stderr so they cannot corrupt the protocol). `run_one` is also what the
submitit launcher calls on a cluster node.
"""
from __future__ import annotations

import ctypes
import json
import math
import os
import platform
import signal
import sys
import threading
import time
import traceback
from pathlib import Path

FLUSH_EVERY = 2000  # rows


def _provenance(task: dict, ctx, wall: float) -> dict:
    import torch

    dev = ctx.device
    return {
        **task.get("git", {}),
        "python": platform.python_version(), "torch": torch.__version__, "cuda": torch.version.cuda,
        "device": str(dev), "device_name": torch.cuda.get_device_name(dev) if dev.type == "cuda" else platform.processor() or "cpu",
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "precision": ctx.precision,
        "tf32_matmul": torch.backends.cuda.matmul.allow_tf32, "tf32_cudnn": torch.backends.cudnn.allow_tf32,
        "float32_matmul_precision": torch.get_float32_matmul_precision(),
        "torch_threads": torch.get_num_threads(),
        "seed": ctx.seed, "seed_streams": dict(ctx.streams),
        "wall_time_s": round(wall, 3), "hostname": platform.node(),
    }


def run_one(task: dict) -> dict:
    """Run one RunSpec (as a dict) into its run directory. Never raises for an experiment error."""
    import torch

    from repro.experiments import registry
    from repro.runner.context import RunContext
    from repro.runner.store import MetricsWriter, atomic_write, done_text, write_json

    run = task["run"]
    rdir = Path(task["run_dir"])
    rdir.mkdir(parents=True, exist_ok=True)
    for stale in ("DONE", "FAILED"):
        (rdir / stale).unlink(missing_ok=True)
    write_json(rdir / "config.json", {**run, "scale": task["scale"]})
    device = task.get("device") or ("cuda" if torch.cuda.is_available() else "cpu")
    if registry.runs_on_cpu(run["experiment"]):
        device = "cpu"   # pinned (see repro/experiments/registry.py): same numbers on every machine
    ctx = RunContext(seed=run["seed"], device=device, precision=task.get("precision", "fp32"),
                     scale=task["scale"], data_dir=task.get("data_dir", "data"),
                     show_progress=task.get("progress"), cache_dir=str(rdir.parents[1] / "_cache"),
                     checkpoint_dir=task.get("checkpoint_dir"))
    writer = MetricsWriter(rdir / "metrics.csv")
    t0 = time.time()
    n_rows = 0
    try:
        fn = registry.get(run["experiment"])
        buf = []
        for row in fn(dict(run["params"]), ctx) or ():
            if "metric" not in row or "value" not in row:
                raise ValueError(f"experiment {run['experiment']} yielded a row without metric/value: {row}")
            v = row["value"]
            row["value"] = float(v.item() if hasattr(v, "item") else v)
            buf.append(row)
            if len(buf) >= FLUSH_EVERY:
                writer.write(buf)
                n_rows += len(buf)
                buf = []
        writer.write(buf)
        n_rows += len(buf)
        writer.close()
        wall = time.time() - t0
        write_json(rdir / "provenance.json", _provenance(task, ctx, wall))
        atomic_write(rdir / "DONE", done_text(rdir / "metrics.csv", wall))   # what verifies the run
        return {"run_key": run["run_key"], "status": "done", "rows": n_rows, "wall": wall}
    except Exception as e:  # fail-soft: the sweep goes on, the status table reports it
        writer.close()
        atomic_write(rdir / "FAILED", traceback.format_exc())
        return {"run_key": run["run_key"], "status": "failed", "error": f"{type(e).__name__}: {e}",
                "wall": time.time() - t0}


PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int | None = None, poll_s: float = 0.5) -> None:
    """End this worker when the process that started it dies, even by kill -9 (which runs no cleanup there):
    on Linux the kernel sends SIGKILL on the parent's death (prctl PR_SET_PDEATHSIG); elsewhere, and as a
    fallback, a watchdog thread notices that the parent pid changed (the worker was re-parented)."""
    parent_pid = parent_pid or os.getppid()
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent_pid:   # the parent died before prctl took effect
        os._exit(1)

    def watch():
        while True:
            time.sleep(poll_s)
            if os.getppid() != parent_pid:
                os._exit(1)

    threading.Thread(target=watch, name="repro-parent-watchdog", daemon=True).start()


def main() -> None:
    parent = os.environ.get("REPRO_PARENT_PID")
    die_with_parent(int(parent) if parent else None)
    protocol = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())   # stray prints go to stderr
    sys.stdout = sys.stderr
    threads = os.environ.get("REPRO_THREADS")
    if threads:
        import torch
        torch.set_num_threads(int(threads))
    for line in sys.stdin:
        if not line.strip():
            continue
        result = run_one(json.loads(line))
        protocol.write(json.dumps(result, default=lambda x: None if isinstance(x, float) and math.isnan(x) else str(x)) + "\n")


if __name__ == "__main__":
    main()
