"""The dispatcher: runs pending RunSpecs on the configured devices, longest first, fail-soft.

Placement: `devices` (auto | cpu | [0, 1, ...]) x `slots_per_device` gives the slots; each slot is one long-lived
worker subprocess (repro/runner/worker.py) that sees exactly one GPU through CUDA_VISIBLE_DEVICES, so an experiment
always uses device "cuda" (or "cpu") and never picks a GPU itself. A worker that dies takes only its current run
with it: that run is marked failed and the slot gets a fresh worker.

Beyond one machine: launcher=slurm submits every pending run as one Slurm job through submitit (the library behind
hydra-submitit-launcher); launcher=submitit_local does the same with submitit's local executor (used by the tests).
"""
from __future__ import annotations

import atexit
import json
import os
import selectors
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from repro.runner.store import run_dir
from repro.runner.sweep import RunSpec


DATA_ERRORS = ("DataMissing:", "DataInvalid:")   # a figure's data is missing or bad: stop that figure


@dataclass
class Slot:
    name: str                 # "cpu:0", "cuda0:1" ...
    device: str               # what the experiment sees: "cpu" or "cuda"
    cuda_visible: str | None  # CUDA_VISIBLE_DEVICES for the worker ("" hides every GPU)
    threads: int


def plan_slots(devices, slots_per_device: int | None, cuda_count: int, cpu_count: int | None = None,
               threads: int | None = None, tiny: bool = False) -> list[Slot]:
    """Slots for the devices; each worker gets `threads` torch threads. Defaults: one slot per GPU; on the CPU
    at tiny scale one single-threaded worker per core (tiny runs are many small tensor ops, which a second
    thread slows down, most of all on a busy machine), else one worker with every core."""
    cpu_count = cpu_count or os.cpu_count() or 1
    if devices == "auto":
        devices = list(range(cuda_count)) if cuda_count else "cpu"
    if isinstance(devices, int):
        devices = [devices]
    if tiny and devices == "cpu":
        threads = threads or 1
        slots_per_device = slots_per_device or max(1, cpu_count // threads)
    slots_per_device = max(1, int(slots_per_device or 1))
    if devices == "cpu":
        threads = threads or max(1, cpu_count // slots_per_device)
        return [Slot(f"cpu:{i}", "cpu", "", threads) for i in range(slots_per_device)]
    bad = [d for d in devices if not 0 <= d < cuda_count]
    if bad:
        raise ValueError(f"devices {bad} not available: this machine has {cuda_count} CUDA device(s)")
    n = len(devices) * slots_per_device
    threads = threads or max(1, cpu_count // n)
    return [Slot(f"cuda{d}:{i}", "cuda", str(d), threads) for d in devices for i in range(slots_per_device)]


def make_task(run: RunSpec, runtime: dict, scale: str, slot_device: str | None, git: dict) -> dict:
    return {"run": run.to_json(), "run_dir": str(run_dir(runtime["runs_dir"], run)), "scale": scale,
            "device": slot_device, "precision": runtime.get("precision", "fp32"),
            "data_dir": runtime.get("data_dir", "data"), "git": git, "progress": None,
            "checkpoint_dir": str(Path(runtime["runs_dir"]).resolve() / "_checkpoints")}


# Workers kept for the next run_local call of this process when REPRO_REUSE_WORKERS=1 (the test suite: ~140 figures
# at tiny scale, each of which would otherwise start its workers and import torch again), keyed by everything a
# worker inherits at its start: its slot, the working directory and the environment.
_IDLE: dict[tuple, list] = {}


def _reuse_key(slot: Slot) -> tuple:
    return (slot.name, slot.device, slot.cuda_visible, slot.threads), os.getcwd(), tuple(sorted(os.environ.items()))


def _take_worker(slot: Slot) -> "_Worker":
    idle = _IDLE.get(_reuse_key(slot), [])
    while idle:
        w = idle.pop()
        if w.proc.poll() is None:
            return w
    return _Worker(slot)


def _release_worker(w: "_Worker", idle: bool) -> None:
    """Close a worker, or keep it for reuse when asked to and it is alive and idle (not inside a task)."""
    if idle and os.environ.get("REPRO_REUSE_WORKERS") == "1" and w.proc.poll() is None and w.key == _reuse_key(w.slot):
        for key in [k for k in _IDLE if k[1:] != w.key[1:]]:   # only the latest environment's workers are kept
            for old in _IDLE.pop(key):
                old.close()
        _IDLE.setdefault(w.key, []).append(w)
    else:
        w.close()


@atexit.register
def _close_idle() -> None:
    for idle in _IDLE.values():
        for w in idle:
            w.close()
    _IDLE.clear()


class _Worker:
    def __init__(self, slot: Slot):
        self.key = _reuse_key(slot)
        env = dict(os.environ, CUDA_VISIBLE_DEVICES=slot.cuda_visible, REPRO_THREADS=str(slot.threads),
                   PYTHONUNBUFFERED="1", REPRO_PARENT_PID=str(os.getpid()))   # the worker dies with us
        self.slot = slot
        self.proc = subprocess.Popen([sys.executable, "-m", "repro.runner.worker"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, env=env, text=True, bufsize=1)
        self.task: dict | None = None

    def send(self, task: dict) -> None:
        self.task = task
        self.proc.stdin.write(json.dumps(task) + "\n")
        self.proc.stdin.flush()

    def close(self) -> None:
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        self.proc.wait(timeout=30)


def run_local(runs: list[RunSpec], runtime: dict, scale: str, git: dict, slots: list[Slot], progress=True) -> list[dict]:
    """Run `runs` on worker subprocesses, one per slot, longest first. Returns one result dict per run."""
    from tqdm.auto import tqdm

    queue = sorted(runs, key=lambda r: -r.cost)
    by_key = {r.run_key: r for r in runs}
    results: list[dict] = []
    sel = selectors.DefaultSelector()
    workers = [_take_worker(s) for s in slots[: max(1, min(len(slots), len(queue)))]]
    figs = list(dict.fromkeys((r.paper, r.fig) for r in runs))
    desc = f"{figs[0][0]} fig{figs[0][1]}" + (f" +{len(figs) - 1} figures" if len(figs) > 1 else "")
    bar = tqdm(total=len(queue), desc=desc, unit="run", disable=not progress,
               file=sys.stderr, leave=False) if queue else None

    stopped: dict[tuple, str] = {}   # (paper, fig) -> the data error that stopped it

    def feed(w: _Worker) -> None:
        while queue:
            r = queue.pop(0)
            if (r.paper, r.fig) in stopped:   # its data is missing or bad: the figure writes nothing, run no more
                results.append({"run_key": r.run_key, "status": "failed", "error": stopped[(r.paper, r.fig)],
                                "slot": None, "series": r.series, "not_run": True})
                if bar:
                    bar.update(1)
                continue
            w.send(make_task(r, runtime, scale, w.slot.device, git))
            sel.register(w.proc.stdout, selectors.EVENT_READ, w)
            return

    finished = False
    try:
        for w in workers:
            feed(w)
        while len(results) < len(runs):
            for key, _ in sel.select():
                w: _Worker = key.data
                sel.unregister(key.fileobj)
                line = w.proc.stdout.readline()
                if line:
                    res = json.loads(line)
                else:  # the worker died (OOM, segfault, kill): its run failed, the slot gets a new worker
                    res = {"run_key": w.task["run"]["run_key"], "status": "failed",
                           "error": f"worker exited with {w.proc.wait()}"}
                    workers[workers.index(w)] = w = _Worker(w.slot)
                res["slot"] = w.slot.name
                res["series"] = by_key[res["run_key"]].series
                if res["status"] != "done" and str(res.get("error", "")).startswith(DATA_ERRORS):
                    run = by_key[res["run_key"]]
                    stopped.setdefault((run.paper, run.fig), res["error"])
                results.append(res)
                if bar:
                    bar.update(1)
                feed(w)
        finished = True
    finally:
        for w in workers:
            _release_worker(w, idle=finished)
        if bar:
            bar.close()
    return results


def run_submitit(runs: list[RunSpec], runtime: dict, scale: str, git: dict, local: bool) -> list[dict]:
    """Submit each run as a submitit job (Slurm, or the local executor) and wait for all of them."""
    try:
        import submitit
    except ImportError:
        raise RuntimeError("launcher=slurm needs the slurm extra: pip install -e '.[slurm]'") from None
    from repro.runner.worker import run_one

    folder = Path(runtime["runs_dir"]) / "_submitit"
    if local:
        ex = submitit.LocalExecutor(folder=folder)
        ex.update_parameters(timeout_min=int(runtime["slurm"]["timeout_min"]))
        device = "cpu"
    else:
        s = runtime["slurm"]
        ex = submitit.AutoExecutor(folder=folder)
        ex.update_parameters(timeout_min=int(s["timeout_min"]), gpus_per_node=int(s["gpus_per_node"]),
                             cpus_per_task=int(s["cpus_per_task"]), mem_gb=int(s["mem_gb"]),
                             **({"slurm_partition": s["partition"]} if s.get("partition") else {}))
        device = None   # the node decides: cuda if it has one
    tasks = [make_task(r, runtime, scale, device, git) for r in sorted(runs, key=lambda r: -r.cost)]
    jobs = [ex.submit(run_one, t) for t in tasks]
    results = []
    for job, t in zip(jobs, tasks):
        try:
            res = job.result()
        except Exception as e:  # the job itself failed (preempted, timed out)
            res = {"run_key": t["run"]["run_key"], "status": "failed", "error": str(e).splitlines()[0]}
        res.update(slot=f"submitit:{job.job_id}", series=t["run"]["series"])
        results.append(res)
    return results
