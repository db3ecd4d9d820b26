"""volumization's trained experiments (repro/experiments/volumization/): the stacked sweep equals separate runs of
its cells, cached stacks are reused (fig=15 reads what another figure trained), the binarisation and attack hooks,
the grid statistics, and the failure paths."""
import math

import pytest
import torch

from repro.data.download import DataMissing
from repro.experiments.volumization import analyses, sweeps
from repro.runner.context import RunContext

BLOBS = dict(dataset="blobs", model="mlp_blobs", n_train=256, n_test=128, noise_rate=[0.6], replicas=1, epochs=3,
             lr=1e-3, batch_size=64, last_epochs=2)


def rows_by(rows, metric):
    return {(r["alpha"], r["v"], r["l2"], r["noise_rate"], r["replica"], r.get("step")): r["value"]
            for r in rows if r["metric"] == metric}


def test_a_cell_is_the_same_alone_or_stacked_with_others():
    ctx = RunContext(seed=0)
    both = list(sweeps.noise_sweep({**BLOBS, "alpha": [1.0, 0.0], "v": [0.25]}, ctx))
    alone = list(sweeps.noise_sweep({**BLOBS, "alpha": [0.0], "v": [0.25]}, RunContext(seed=0)))
    a, b = rows_by(both, "test_acc"), rows_by(alone, "test_acc")
    assert b and all(math.isclose(a[k], b[k], abs_tol=1e-4) for k in b)
    # the unregularised cell differs from the clipped one (the wall did something)
    noreg = {k[1:]: v for k, v in rows_by(both, "test_acc").items() if k[0] == 1.0}
    assert any(noreg[k[1:]] != v for k, v in b.items())


def test_grid_statistics_and_spearman():
    rows = list(sweeps.noise_sweep({**BLOBS, "alpha": [1.0, 0.5], "v": [0.0, 0.25, 1.0]}, RunContext(seed=0)))
    metrics = {r["metric"] for r in rows}
    assert {"best", "last", "train_last", "finite", "max_last", "argmax_last_v", "gap_last", "trend_last_v"} <= metrics
    last = {(r["alpha"], r["v"]): r["value"] for r in rows if r["metric"] == "last"}
    [top] = [r["value"] for r in rows if r["metric"] == "max_last"]
    assert top == pytest.approx(max(last.values()))
    gaps = {(r["alpha"], r["v"]): r["value"] for r in rows if r["metric"] == "gap_last"}
    assert gaps[(0.5, 0.25)] == pytest.approx(last[(0.5, 0.25)] - last[(1.0, 0.25)])
    assert sweeps.spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1)
    assert math.isnan(sweeps.spearman([1, 2], [2, 1]))


def test_cached_stacks_are_reused_by_another_figure(tmp_path, monkeypatch):
    p = {**BLOBS, "alpha": [1.0, 0.0], "v": [0.25], "cache_cells": True}
    first = list(sweeps.noise_sweep(p, RunContext(seed=0, cache_dir=tmp_path)))
    assert list((tmp_path / "volumization").glob("cells-*.pt"))

    def no_training(*a, **k):
        raise AssertionError("trained although the stack was cached")
    monkeypatch.setattr(sweeps, "train_grid", no_training)
    again = list(sweeps.noise_sweep(p, RunContext(seed=0, cache_dir=tmp_path)))
    assert rows_by(again, "test_acc") == rows_by(first, "test_acc")
    hist = list(analyses.weight_histograms({**p, "select": [{"alpha": 1.0, "v": 0.25}, {"alpha": 0.0, "v": 0.25}],
                                            "wall_v": 0.25, "layers": "weights", "bins": 16},
                                           RunContext(seed=0, cache_dir=tmp_path)))
    near = {(r["alpha"], r["layer"]): r["value"] for r in hist if r["metric"] == "near_wall"}
    assert set(near) == {(a, layer) for a in (1.0, 0.0) for layer in ("1.weight", "3.weight")}
    assert all(near[(0.0, layer)] > near[(1.0, layer)] for layer in ("1.weight", "3.weight"))
    # another seed is another network: not found in the cache, so it trains (and fails here)
    with pytest.raises(AssertionError, match="trained although"):
        list(sweeps.noise_sweep(p, RunContext(seed=1, cache_dir=tmp_path)))


def test_quantize_sets_every_slice_to_its_own_plus_minus_v():
    from repro.noisy.grid import init_stack
    from repro.nn.noisy_nets import make_noisy_model
    from repro.optim.volumization import StackedVolumization, kaiming_volume
    from repro.train.stacked import StackedAdam

    stack = init_stack(lambda: make_noisy_model("mlp_blobs", 10), [0, 1])
    w0 = [t.detach().clone() for t in stack.parameters()]
    opt = StackedVolumization(StackedAdam(stack.parameters()), v=[0.5, 1.0], alpha=[0.0, 1.0])
    analyses.quantize_stack_(stack, opt)
    for t, t0 in zip(stack.parameters(), w0):
        for k, v in enumerate((0.5, 1.0)):
            V = kaiming_volume(t0[k], v)
            assert all(x == 0 or x == pytest.approx(V, rel=1e-6) for x in t[k].abs().unique().tolist())
            assert torch.equal(torch.sign(t[k]), torch.sign(t0[k]))


def test_binarization_scores_before_and_after_each_quantization():
    rows = list(analyses.binarization({**BLOBS, "alpha": [0.0, 1.0], "v": [0.5], "noise_rate": 0.0, "epochs": 4,
                                       "quantize_every": 3}, RunContext(seed=0)))
    quant_epochs = sorted({r["step"] for r in rows if r["metric"] == "quant_acc"})
    assert quant_epochs == [1, 4]
    gap = {r["alpha"]: r["value"] for r in rows if r["metric"] == "gap"}
    pre = {r["alpha"]: r["value"] for r in rows if r["metric"] == "final_pre_acc"}
    post = {r["alpha"]: r["value"] for r in rows if r["metric"] == "final_quant_acc"}
    assert all(gap[a] == pytest.approx(pre[a] - post[a]) for a in gap)


def test_attacks_score_every_cell_and_eps():
    rows = list(analyses.adversarial({**BLOBS, "cells": [{"alpha": 1.0, "v": 0.25}, {"alpha": 0.5, "v": 0.25}],
                                      "noise_rate": 0.0, "attacks": ["fgsm", "pgd20"], "epsilons": [0.0, 0.5],
                                      "n_attack": 64}, RunContext(seed=0)))
    acc = {(r["alpha"], r["attack"], r["epsilon"]): r["value"] for r in rows}
    assert len(acc) == 8 and all(0 <= v <= 1 for v in acc.values())
    assert all(acc[(a, k, 0.5)] <= acc[(a, k, 0.0)] for a in (1.0, 0.5) for k in ("fgsm", "pgd20"))
    with pytest.raises(ValueError, match="unknown attack"):
        list(analyses.adversarial({**BLOBS, "cells": [{"alpha": 1.0}], "noise_rate": 0.0, "attacks": ["cw"],
                                   "epsilons": [0.1], "n_attack": 8}, RunContext(seed=0)))


def test_failure_paths(tmp_path):
    with pytest.raises(ValueError, match="unknown dataset"):
        list(sweeps.noise_sweep({**BLOBS, "dataset": "svhn", "alpha": [1.0], "v": [0.5]}, RunContext(seed=0)))
    for dataset in ("mnist", "cifar10", "imdb"):
        with pytest.raises(DataMissing) as e:
            sweeps.load_data({**BLOBS, "dataset": dataset}, RunContext(seed=0, data_dir=str(tmp_path)))
        assert "\n" not in str(e.value)
    with pytest.raises(ValueError, match="alpha must be in"):
        list(sweeps.noise_sweep({**BLOBS, "alpha": [1.5], "v": [0.5]}, RunContext(seed=0)))


def test_reference_rows_are_the_authors_tables():
    rows = list(sweeps.reference_sweep({"reference_dataset": "mnist", "noise_rate": [0.8], "swept": "alpha"}, None))
    last = {r["alpha"]: r["value"] for r in rows if r["metric"] == "last"}
    assert last[1.0] == pytest.approx(52.86, abs=0.01) and len(last) == 7
    grid = list(sweeps.reference_grid({"reference_dataset": ["cifar10"], "noise_rate": 0.4,
                                       "reference_noise_rate": "all"}, None))
    assert {r["noise_rate"] for r in grid} == {0.0, 0.4, 0.8}
