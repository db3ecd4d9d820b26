"""Workers die with their parent (issue 15, item 8): kill -9 of the `repro` process, mid-run, leaves no worker."""
import os
import signal
import subprocess
import sys
import time

PARENT = r"""
import json, sys, time
from repro.runner.dispatch import Slot, _Worker
w = _Worker(Slot("cpu:0", "cpu", "", 1))
task = {"run": {"paper": "toy", "fig": "1", "panel": "quad", "series": "sgd", "kind": "experiment",
                "experiment": "toy.noisy_quadratic", "params": {"T": 2000, "chains": 4, "lr": 0.5, "delay_s": 0.05},
                "swept": {}, "seed": 0, "data": "synthetic", "run_key": "k", "cost": 1},
        "run_dir": sys.argv[1], "scale": "tiny", "device": "cpu", "git": {}}
w.send(task)
print(w.proc.pid, flush=True)
time.sleep(600)
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")   # a zombie is dead
    except FileNotFoundError:
        return False


def _kill_parent_and_expect_child_gone(parent, child: int) -> None:
    """kill -9 `parent`; `child` must be gone within 5 s (whatever happens, both end)."""
    try:
        assert _alive(child)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
        deadline = time.time() + 5
        while _alive(child) and time.time() < deadline:
            time.sleep(0.05)
        assert not _alive(child), "the worker outlived its parent"
    finally:
        parent.kill()
        try:
            os.kill(child, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_kill_9_of_the_parent_ends_its_workers(toy_root, tmp_path):
    parent = subprocess.Popen([sys.executable, "-c", PARENT, str(tmp_path / "k")], stdout=subprocess.PIPE, text=True)
    try:
        worker = int(parent.stdout.readline())
    except ValueError:
        parent.kill()
        raise
    deadline = time.time() + 60
    while not (tmp_path / "k" / "metrics.csv").exists() and time.time() < deadline:
        time.sleep(0.1)                          # the worker is mid-run (100 s of work left)
    _kill_parent_and_expect_child_gone(parent, worker)


def test_watchdog_fallback_ends_a_worker_whose_parent_died(toy_root):
    """Without prctl (other systems), the watchdog notices the re-parenting within its poll interval."""
    child = ("import time\nfrom repro.runner import worker\nworker.PR_SET_PDEATHSIG = 0\n"   # prctl(0): a no-op
             "worker.die_with_parent(poll_s=0.05)\ntime.sleep(120)\n")
    code = (f"import subprocess, sys, time\np = subprocess.Popen([sys.executable, '-c', {child!r}])\n"
            "print(p.pid, flush=True)\ntime.sleep(120)\n")
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        pid = int(parent.stdout.readline())
    except ValueError:
        parent.kill()
        raise
    time.sleep(3)   # the child has imported and armed its watchdog
    _kill_parent_and_expect_child_gone(parent, pid)
