"""Slot planning and per-worker CUDA_VISIBLE_DEVICES, without a GPU; the submitit local path."""
import json
import os

import pandas as pd
import pytest

from repro.runner.dispatch import Slot, _Worker, plan_slots


def test_plan_slots():
    assert [s.name for s in plan_slots("auto", 1, cuda_count=0, cpu_count=2)] == ["cpu:0"]
    s = plan_slots("auto", 2, cuda_count=2, cpu_count=16)
    assert [(x.device, x.cuda_visible) for x in s] == [("cuda", "0"), ("cuda", "0"), ("cuda", "1"), ("cuda", "1")]
    assert all(x.threads == 4 for x in s)
    assert [x.cuda_visible for x in plan_slots([1], 3, cuda_count=2)] == ["1", "1", "1"]
    assert all(x.cuda_visible == "" and x.threads == 1 for x in plan_slots("cpu", 2, cuda_count=4, cpu_count=2))
    assert all(x.threads == 1 for x in plan_slots("cpu", 1, cuda_count=0, cpu_count=8, threads=1))
    tiny = plan_slots("auto", None, cuda_count=0, cpu_count=2, tiny=True)
    assert [(x.name, x.threads) for x in tiny] == [("cpu:0", 1), ("cpu:1", 1)]
    assert [(x.name, x.threads) for x in plan_slots("auto", None, cuda_count=0, cpu_count=2)] == [("cpu:0", 2)]
    assert len(plan_slots("auto", None, cuda_count=2, tiny=True)) == 2     # GPUs: one slot each
    with pytest.raises(ValueError, match="not available"):
        plan_slots([2], 1, cuda_count=2)


def test_each_worker_sees_its_own_device(toy_root, tmp_path):
    """A worker started for the slot of GPU 1 sees CUDA_VISIBLE_DEVICES=1 (the toy experiment reports it)."""
    task = {"run": {"paper": "toy", "fig": "1", "panel": "quad", "series": "sgd", "kind": "experiment",
                    "experiment": "toy.noisy_quadratic", "params": {"T": 2, "chains": 4, "lr": 0.5},
                    "swept": {}, "seed": 0, "data": "synthetic", "run_key": "k", "cost": 1},
            "run_dir": str(tmp_path / "k"), "scale": "tiny", "device": "cpu", "git": {}}
    for visible in ("1", "0"):
        w = _Worker(Slot(f"cuda{visible}:0", "cpu", visible, 1))
        w.send(task)
        res = json.loads(w.proc.stdout.readline())
        w.close()
        assert res["status"] == "done", res
        df = pd.read_csv(tmp_path / "k" / "metrics.csv")
        assert df.loc[df["metric"] == "cuda_visible_devices", "value"].item() == float(visible)
        prov = json.loads((tmp_path / "k" / "provenance.json").read_text())
        assert prov["cuda_visible_devices"] == visible and prov["torch_threads"] == 1


def test_submitit_local_launcher(toy_root):
    pytest.importorskip("submitit")
    from repro.cli import main
    assert main(["run", "paper=toy", "fig=1", "launcher=submitit_local"]) == 0
    df = pd.read_csv(toy_root / "results/toy/fig1_tiny.csv")
    assert len(df[df["kind"] == "experiment"]["run_key"].unique()) == 4
    assert len(list((toy_root / "runs/toy/fig1").glob("*/DONE"))) == 6
    assert os.path.isdir(toy_root / "runs/_submitit")


def test_multirun_through_hydra_submitit_launcher(toy_root):
    """`-m hydra/launcher=submitit_local`: Hydra's own submitit launcher runs each job (as on Slurm)."""
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    from repro.cli import main
    assert main(["run", "paper=toy", "fig=1", "-m", "hydra/launcher=submitit_local", "panels.quad.params.T=10,20"]) == 0
    for t in (10, 20):
        df = pd.read_csv(toy_root / f"runs/_multirun/panels.quad.params.T={t}/toy/fig1_tiny.csv")
        assert df["step"].max() == t


def test_experiments_pinned_to_the_cpu_get_the_cpu_on_a_gpu_slot(toy_root, tmp_path):
    """A GPU box hands runs CUDA slots; a CPU-pinned experiment (the default) still gets ctx.device == cpu, so its
    tensors and generators agree and its numbers are those committed from a CPU."""
    from repro.experiments import registry
    from repro.runner.worker import run_one

    assert registry.runs_on_cpu("toy.where_am_i") and not registry.runs_on_cpu("toy.where_am_i_any")
    assert not registry.runs_on_cpu("toy.no_such_experiment")   # its run fails with the registry's message
    task = {"run": {"paper": "toy", "fig": "1", "panel": "quad", "series": "s", "kind": "experiment",
                    "experiment": "toy.where_am_i", "params": {}, "swept": {}, "seed": 0, "data": "synthetic",
                    "run_key": "k", "cost": 1},
            "run_dir": str(tmp_path / "k"), "scale": "tiny", "device": "cuda", "precision": "bf16", "git": {}}
    assert run_one(task)["status"] == "done"
    df = pd.read_csv(tmp_path / "k" / "metrics.csv")
    assert df["value"].tolist() == [0.0]
    assert json.loads((tmp_path / "k" / "provenance.json").read_text())["device"] == "cpu"


def test_experiment_device_must_be_cpu_or_any():
    from repro.experiments.registry import experiment

    with pytest.raises(ValueError, match="device must be one of"):
        experiment("toy.bad_device", device="cuda")


def test_a_figure_of_cpu_pinned_runs_gets_cpu_slots_on_a_gpu_box(toy_root, monkeypatch):
    """With a GPU visible (faked) and devices=auto, a figure whose runs are all pinned to the CPU is planned on
    CPU slots (one per core at tiny scale), not on one slot per GPU."""
    from repro.runner import dispatch, pipeline
    from repro.runner.compose import load_spec
    from repro.runner.figures import index

    seen = []
    monkeypatch.setattr(pipeline, "_cuda_count", lambda: 1)
    monkeypatch.setattr(dispatch, "run_local", lambda runs, rt, scale, git, slots, progress=True:
                        seen.append(slots) or [{"status": "done", "run_key": r.run_key} for r in runs])
    [entry] = [e for e in index()["toy"] if e.fig == "1"]
    pipeline.run_figure(load_spec(entry, ["scale=tiny"]), progress=False)
    assert seen and {s.device for s in seen[0]} == {"cpu"}


def test_figures_with_the_same_settings_share_one_pool(toy_root, monkeypatch):
    """`repro run paper=P` sends the pending runs of all its figures through one pool (no slot idles at a figure's
    end). fig 2 is a copy of fig 1, so every run_key is shared: each figure still stores, collects and checks its
    own runs."""
    from repro.runner import dispatch, pipeline
    from repro.runner.compose import load_spec
    from repro.runner.figures import _index, index

    fig1 = (toy_root / "conf" / "toy" / "fig1.yaml").read_text()
    (toy_root / "conf" / "toy" / "fig2.yaml").write_text(fig1.replace("fig: 1", "fig: 2"))
    _index.cache_clear()   # the index of conf/ is cached per process
    calls = []
    real = dispatch.run_local
    monkeypatch.setattr(dispatch, "run_local", lambda runs, *a, **k: calls.append(runs) or real(runs, *a, **k))
    specs = [load_spec(e, ["scale=tiny"]) for e in index()["toy"]]
    assert [s.fig for s in specs] == ["1", "2"]
    out = pipeline.run_figures(specs, progress=False)
    assert len(calls) == 1 and {(r.paper, r.fig) for r in calls[0]} == {("toy", "1"), ("toy", "2")}
    assert len(calls[0]) == 2 * len({r.run_key for r in calls[0]})          # each shared run once per figure
    for (results, claim_results), fig in zip(out, "12"):
        assert results and all(r["status"] == "done" for r in results)
        assert (toy_root / "results" / "toy" / f"fig{fig}_tiny.csv").exists()
        assert any(c.passed for c in claim_results)
    # a second run finds everything done and starts no worker
    calls.clear()
    assert all(results == [] for results, _ in pipeline.run_figures(specs, progress=False)) and not calls


def test_a_panel_level_kind_reaches_every_series_that_does_not_override_it():
    """`kind: theory` on a panel makes its series theory runs (no seed), unless a series says otherwise."""
    from repro.runner.compose import FigureSpec
    from repro.runner.sweep import expand

    panel = {"experiment": "toy.x", "kind": "theory", "params": {"a": 1}, "seeds": 3,
             "series": {"curve": {}, "sim": {"kind": "experiment"}}}
    spec = FigureSpec(paper="p", fig="1", title="", scale="tiny", panels={"main": panel}, runtime={}, spec_hash="")
    runs = expand(spec)
    curve = [r for r in runs if r.series == "curve"]
    sim = [r for r in runs if r.series == "sim"]
    assert [(r.kind, r.seed) for r in curve] == [("theory", None)]
    assert [(r.kind, r.seed) for r in sim] == [("experiment", 0), ("experiment", 1), ("experiment", 2)]


def test_the_runner_gives_each_run_the_stores_checkpoint_directory(toy_root, tmp_path):
    """ctx.checkpoint_dir comes from the task (runs_dir/_checkpoints), not from the environment."""
    from types import SimpleNamespace

    from repro.runner.dispatch import make_task
    from repro.runner.worker import run_one

    spec = {"paper": "toy", "fig": "1", "panel": "quad", "series": "s", "kind": "experiment",
            "experiment": "toy.checkpoint_dir", "params": {}, "swept": {}, "seed": 0, "data": "synthetic",
            "run_key": "k", "cost": 1}
    run = SimpleNamespace(paper="toy", fig="1", run_key="k", to_json=lambda: spec)
    task = make_task(run, {"runs_dir": str(tmp_path / "store")}, "tiny", "cpu", {})
    assert run_one(task)["status"] == "done"
    row = pd.read_csv(tmp_path / "store" / "toy" / "fig1" / "k" / "metrics.csv").iloc[0]
    assert row["value"] == 1.0 and row["where"] == str((tmp_path / "store" / "_checkpoints").resolve())
