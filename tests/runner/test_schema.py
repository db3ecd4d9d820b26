"""The tidy CSV's schema, divergence as data, and provenance contents."""
import json

import numpy as np
import pandas as pd

from repro.cli import main
from repro.runner.collect import FIXED


def test_csv_schema_and_provenance(toy_root):
    assert main(["run", "paper=toy", "fig=1"]) == 0
    df = pd.read_csv(toy_root / "results/toy/fig1_tiny.csv")
    assert list(df.columns[: len(FIXED)]) == FIXED and "lr" in df.columns
    assert set(df["kind"]) == {"experiment", "theory"}
    assert (df["scale"] == "tiny").all() and (df["data"] == "synthetic").all() and (df["precision"] == "fp32").all()
    theory = df[df["kind"] == "theory"]
    assert theory["seed"].isna().all() and theory["run_key"].isna().all()
    exp = df[(df["kind"] == "experiment") & (df["metric"] == "var")]
    assert set(exp["seed"]) == {0, 1} and exp["run_key"].str.len().eq(16).all()
    assert exp.groupby(["lr", "seed"]).size().eq(50).all()   # one row per run x step x metric
    run_key = exp["run_key"].iloc[0]
    prov = json.loads((toy_root / "runs/toy/fig1" / run_key / "provenance.json").read_text())
    for key in ("git_sha", "git_dirty", "python", "torch", "cuda", "device", "device_name", "precision",
                "tf32_matmul", "seed_streams", "wall_time_s"):
        assert key in prov, key
    assert set(prov["seed_streams"]) == {"noise"}
    cfg = json.loads((toy_root / "runs/toy/fig1" / run_key / "config.json").read_text())
    assert cfg["params"]["T"] == 50 and cfg["run_key"] == run_key
    assert (toy_root / "results/toy/fig1_tiny.png").exists() and (toy_root / "results/toy/fig1_tiny.pdf").exists()


def test_divergence_is_data_not_a_crash(toy_root):
    # the runs finish and their CSV is written; the claim against theory fails on the NaNs, so exit 1 (issue 15)
    assert main(["run", "paper=toy", "fig=1", "panels.quad.params.blow_up_at=30"]) == 1
    df = pd.read_csv(toy_root / "results/toy/fig1_tiny.csv")
    exp = df[(df["kind"] == "experiment") & (df["metric"] == "var")]
    for _, curve in exp.groupby(["lr", "seed"]):
        curve = curve.sort_values("step")
        assert not curve.loc[curve["step"] < 30, "diverged"].any()
        assert curve.loc[curve["step"] >= 30, "diverged"].all()
        assert not np.isfinite(curve.loc[curve["step"] >= 30, "value"]).any()   # never imputed


def test_seed_streams_are_shared_across_series_and_distinct_across_names():
    from repro.runner.context import RunContext
    a, b = RunContext(seed=3), RunContext(seed=3)
    assert a.seed_for("data") == b.seed_for("data") != a.seed_for("init")
    assert RunContext(seed=4).seed_for("data") != a.seed_for("data")


def test_downsample_keeps_summary_rows_and_curves_with_missing_labels():
    """Curves whose label columns are partly missing (theory rows have no seed) survive downsampling."""
    from repro.runner.collect import _downsample
    rows = [{"series": "exp", "seed": 0, "metric": "loss", "step": t, "value": 1.0 / t} for t in range(1, 401)]
    rows += [{"series": "theory", "seed": np.nan, "metric": "loss", "step": t, "value": 1.0 / t} for t in range(1, 401)]
    rows += [{"series": "theory", "seed": np.nan, "metric": "total", "step": np.nan, "value": 6.0}]
    df = pd.DataFrame(rows)
    df["diverged"] = False
    out = _downsample(df, ["series", "seed", "metric"], 50)
    for series in ("exp", "theory"):
        steps = out[(out["series"] == series) & (out["metric"] == "loss")]["step"]
        assert 40 <= len(steps) <= 50 and steps.min() == 1 and steps.max() == 400
    assert len(out[out["metric"] == "total"]) == 1


def test_precision_is_fp32_on_cpu_and_autocast_follows_precision():
    import torch

    from repro.runner.context import RunContext
    cpu = RunContext(seed=0, precision="bf16", device="cpu")
    assert cpu.precision == "fp32" and cpu.autocast_dtype is None and not cpu.grad_scaler().is_enabled()
    with cpu.autocast():
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.float32
    ctx = RunContext(seed=0, precision="fp32")
    ctx.precision = "bf16"   # what a CUDA worker gets: autocast to bf16, no scaler (fp16 only)
    assert ctx.autocast_dtype is torch.bfloat16 and not ctx.grad_scaler().is_enabled()
