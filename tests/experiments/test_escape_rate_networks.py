"""escape_rate's pre-trained-network entries (fig=3(c) nn_first_passage, fig=4 minima_stability, fig=7
hessian_spectrum): each full-scale config, resolved by the runner, runs at full model size through the real MNIST
loader on small generated files in the real idx format (only the numbers of steps are cut); a missing MNIST stops it
with one line; the tiny entries run on scikit-learn's digits and say so; fig=3(c) and fig=7 study the same
pre-trained network, computed once per setting."""
import math
import time

import pytest
import torch

from repro.data import fixtures
from repro.data.download import DataMissing
from repro.experiments import escape_rate as er
from repro.experiments import registry
from repro.runner.compose import load_spec
from repro.runner.context import RunContext
from repro.runner.figures import index
from repro.runner.sweep import expand

PANELS = {"nn_first_passage": "3", "minima_stability": "4", "hessian_spectrum": "7"}
# full model sizes: 784-10-1 (the paper's P = 7861) and 784-100-100-100-1
P_FULL = {"nn_first_passage": 7861, "hessian_spectrum": 7861, "minima_stability": 98_801}
CUT = {"nn_first_passage": {"pre_steps": 3, "max_steps": 4},
       "minima_stability": {"pre_steps": 3, "steps_per_lr": 1, "lr_max": 0.05},
       "hessian_spectrum": {"pre_steps": 3}}
MAY_BE_NAN = {"eta_jump", "stable_ratio_max", "slope_fit"}


def runs_of(alias: str, scale: str):
    [entry] = [e for e in index()["escape_rate"] if e.fig == PANELS[alias]]
    return [r for r in expand(load_spec(entry, [f"scale={scale}"], alias)) if r.panel == alias]


@pytest.mark.slow
@pytest.mark.parametrize("alias", list(PANELS))
def test_full_scale_entry_runs_at_full_size_on_generated_mnist_idx_files(alias, tmp_path, capsys, full_size_run):
    fixtures.write_mnist(tmp_path, n_train=300, n_test=20)
    runs = runs_of(alias, "full")
    assert runs
    for run in runs[:2]:   # fig=3(c): two of its three learning rates; fig=4: both minima
        p = run.params
        assert run.data == "real" and p["dataset"] == "mnist" and p["data_source"] == "real"
        assert p["n_train"] == (5000 if alias == "minima_stability" else 10_000)
        t = time.time()
        rows = full_size_run(f"escape_rate {alias} {run.series}", registry.get(run.experiment), {**p, **CUT[alias]},
                             run.seed, tmp_path)
        with capsys.disabled():
            print(f"\n  escape_rate {alias} {run.series}: full-size model, cut steps, in {time.time() - t:.1f} s")
        values = {r["metric"]: r["value"] for r in rows}
        assert values["n_params"] == P_FULL[alias]
        assert all(math.isfinite(r["value"]) for r in rows if r["metric"] not in MAY_BE_NAN), rows[:5]
        assert all(r.get("dataset") == "mnist" for r in rows)
        assert values["h_max"] > 0 and values["participation_ratio"] >= 1
        if alias == "nn_first_passage":
            assert {"t_p", "censored", "slope_theory"} <= set(values)
        elif alias == "minima_stability":
            assert {"loss_avg", "eta_c", "eta_jump"} <= set(values)
        else:
            top = [r for r in rows if r["metric"] == "top_eig"]
            assert len(top) == 30 and values["n_eigenvalues"] == 7861


@pytest.mark.parametrize("alias", list(PANELS))
def test_full_scale_entry_without_mnist_stops_with_one_line(alias, tmp_path):
    run = runs_of(alias, "full")[0]
    with pytest.raises(DataMissing) as e:
        list(registry.get(run.experiment)({**run.params, **CUT[alias]}, RunContext(seed=run.seed, scale="full",
                                                                                    data_dir=tmp_path)))
    assert "\n" not in str(e.value) and str(tmp_path) in str(e.value)


@pytest.mark.parametrize("alias", list(PANELS))
def test_tiny_entry_is_real_digits_with_the_same_code_path(alias):
    full, tiny = runs_of(alias, "full"), runs_of(alias, "tiny")
    assert [r.experiment for r in tiny] == [r.experiment for r in full]
    for r in tiny:
        assert r.data == "real" and r.params["dataset"] == "digits"
        assert len(r.params["hidden"]) == len(full[0].params["hidden"])


@pytest.mark.parametrize("scale", ["tiny", "full"])
def test_fig3c_and_fig7_share_the_pre_trained_network(scale):
    [c] = runs_of("nn_first_passage", scale)[:1]
    [h] = runs_of("hessian_spectrum", scale)
    assert {k: c.params.get(k) for k in er.PRETRAIN_KEYS} == {k: h.params.get(k) for k in er.PRETRAIN_KEYS}
    assert c.seed == h.seed


def test_pretraining_is_computed_once_per_setting_and_cached(tmp_path, monkeypatch):
    p = {"dataset": "digits", "data_source": "real", "n_train": 200, "hidden": [4], "pre_lr": 0.01,
         "pre_batch": 20, "pre_steps": 30}
    calls = []
    real = er._pretrain

    def counted(*a, **k):
        calls.append(1)
        return real(*a, **k)

    monkeypatch.setattr(er, "_pretrain", counted)
    monkeypatch.setattr(er, "_PRETRAINED", {})
    ctx = RunContext(seed=0, cache_dir=str(tmp_path))
    m1, _, _, info1 = er._pretrained(p, ctx)
    monkeypatch.setattr(er, "_PRETRAINED", {})            # a new process: only the file is left
    m2, _, _, info2 = er._pretrained(p, RunContext(seed=0, cache_dir=str(tmp_path)))
    assert len(calls) == 1 and len(list(tmp_path.glob("*.pt"))) == 1
    for a, b in zip(m1.parameters(), m2.parameters()):
        assert torch.equal(a, b)
    assert info1["loss_star"] == info2["loss_star"]
    er._pretrained({**p, "pre_steps": 31}, ctx)            # another setting: trained anew
    assert len(calls) == 2
    # the cached θ* is the network pre-training gives
    monkeypatch.setattr(er, "_PRETRAINED", {})
    m3, x, t, info3 = er._pretrained(p, RunContext(seed=0))
    with torch.no_grad():
        assert float(0.5 * (m3(x)[:, 0] - t).double().pow(2).mean()) == pytest.approx(info1["loss_star"])
    assert len(info3["eigenvalues"]) == 64 * 4 + 4 + 4 + 1


def test_digits_loader():
    from repro.data.digits import load_digits

    x, y = load_digits()
    assert x.shape == (1797, 64) and float(x.min()) == 0.0 and float(x.max()) == 1.0
    assert set(y.tolist()) == set(range(10))
