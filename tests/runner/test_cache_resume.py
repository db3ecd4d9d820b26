"""Run store: finished runs are skipped, a killed sweep resumes to the same CSV, semantic keys rerun, devices don't."""
import os
import signal
import subprocess
import time
from pathlib import Path

import pandas as pd

from repro.cli import main


def _csv(root, runs="runs", results="results"):
    return pd.read_csv(Path(root) / results / "toy" / "fig1_tiny.csv")


def _done(root, runs="runs"):
    return sorted(p.parent.name for p in (Path(root) / runs / "toy" / "fig1").glob("*/DONE"))


def test_finished_runs_are_skipped_and_semantic_keys_rerun(toy_root, capsys):
    assert main(["run", "paper=toy", "fig=1"]) == 0
    first = _done(toy_root)
    assert len(first) == 6                       # 2 lr x 2 seeds + 2 theory
    mtimes = {k: (toy_root / "runs/toy/fig1" / k / "DONE").stat().st_mtime for k in first}
    capsys.readouterr()
    assert main(["run", "paper=toy", "fig=1", "devices=cpu", "slots_per_device=2"]) == 0
    assert "6 runs, 0 ran" in capsys.readouterr().out        # devices are not semantic
    assert {k: (toy_root / "runs/toy/fig1" / k / "DONE").stat().st_mtime for k in first} == mtimes
    assert main(["run", "paper=toy", "fig=1", "panels.quad.params.T=20"]) == 0
    assert "6 runs, 6 ran" in capsys.readouterr().out        # T is semantic: every run is new
    assert len(_done(toy_root)) == 12
    assert main(["run", "paper=toy", "fig=1", "panels.quad.params.T=20", "--force"]) == 0
    assert "6 runs, 6 ran" in capsys.readouterr().out


def test_killed_sweep_resumes_to_the_same_csv(toy_root, repro_cmd):
    slow = ["panels.quad.params.delay_s=0.02", "panels.quad.params.T=40"]
    # uninterrupted reference in its own run store and results folder
    ref = ["runs_dir=ref_runs", "results_dir=ref_results"]
    assert subprocess.run(repro_cmd("run", "paper=toy", "fig=1", *slow, *ref), capture_output=True).returncode == 0
    proc = subprocess.Popen(repro_cmd("run", "paper=toy", "fig=1", *slow), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 60
    while len(_done(toy_root)) < 2 and time.time() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)   # the whole sweep: the CLI and its worker, mid-run
    proc.wait()
    n_done = len(_done(toy_root))
    assert 2 <= n_done < 6, n_done
    out = subprocess.run(repro_cmd("run", "paper=toy", "fig=1", *slow), capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert f"6 runs, {6 - n_done} ran" in out.stdout
    a, b = _csv(toy_root), _csv(toy_root, results="ref_results")
    cols = [c for c in a.columns if c != "precision"]
    key = ["series", "seed", "lr", "metric", "step"]
    pd.testing.assert_frame_equal(a[cols].sort_values(key).reset_index(drop=True),
                                  b[cols].sort_values(key).reset_index(drop=True))


def test_failed_run_is_recorded_and_sweep_goes_on(toy_root, capsys):
    code = main(["run", "paper=toy", "fig=1", "panels.quad.params.fail=true"])
    assert code == 1
    err = capsys.readouterr().err
    assert err.count("FAILED run") == 1 and "and 3 more run(s): RuntimeError: asked to fail" in err
    failed = list((toy_root / "runs/toy/fig1").glob("*/FAILED"))
    assert len(failed) == 4 and "RuntimeError: asked to fail" in failed[0].read_text()
    assert len(_done(toy_root)) == 2   # the theory runs finished anyway


def test_two_concurrent_runs_of_one_figure_do_not_corrupt_anything(toy_root, repro_cmd):
    args = repro_cmd("run", "paper=toy", "fig=1", "panels.quad.params.delay_s=0.005")
    procs = [subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    ran = sorted(int(o.split("runs, ")[1].split(" ran")[0]) for o, _ in outs)
    assert ran == [0, 6]                 # the second waited for the lock, then found everything done
    assert len(_done(toy_root)) == 6
    df = _csv(toy_root)
    assert df.groupby(["series", "lr", "seed"], dropna=False).size().loc["sgd"].eq(51).all()
