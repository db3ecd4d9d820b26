"""Every full-scale GPU entry of LaProp (fig=3, 4, 8, T1) starts on the CPU: its full-scale config, resolved by
the runner, runs a few steps through the real data path, on small files generated in the real formats
(repro/data/fixtures.py), with the fused LaProp step the full scale uses; and a missing data set stops it with
one line. Only the number of steps (and fig=3's image size) is cut."""
import math
import warnings

import pytest
import torch

from repro.data import fixtures
from repro.data.download import DataMissing
from repro.experiments import registry
from repro.runner.compose import load_spec
from repro.runner.context import RunContext
from repro.runner.figures import index
from repro.runner.sweep import expand


def full_runs(fig: str):
    """One full-scale RunSpec per series (the cheapest grid point, the first seed)."""
    [entry] = [e for e in index()["laprop"] if e.fig == fig]
    spec = load_spec(entry, ["scale=full"])
    runs = {}
    for run in sorted(expand(spec), key=lambda r: r.cost):
        runs.setdefault(run.series, run)
    return list(runs.values())


def run_a_few_steps(run, data_dir, **cut):
    fn = registry.get(run.experiment)
    return list(fn({**run.params, **cut}, RunContext(seed=run.seed, scale="full", data_dir=data_dir)))


def run_timed(full_size_run, label, run, data_dir, **cut):
    """run_a_few_steps on the test device (conftest.py), timed there when asked."""
    return full_size_run(label, registry.get(run.experiment), {**run.params, **cut}, run.seed, data_dir)


def write_vgg19_features(data_dir):
    """A file in the format of torchvision's vgg19-dcbb9e9d.pth (a state_dict), holding random conv weights (the
    classifier's keys are absent: the loader uses the features only)."""
    import torchvision

    state = {f"features.{k}": v for k, v in torchvision.models.vgg19(weights=None).features.state_dict().items()}
    torch.save(state, data_dir / "vgg19-dcbb9e9d.pth")


FIGS = {
    "4": (lambda d: fixtures.write_mnist(d, n_train=300, n_test=50), dict(max_steps=3, record_every=1)),
    "T1": (lambda d: fixtures.write_cifar10(d, per_batch=40, n_test=40), dict(max_steps=3, epochs=2)),
    "8": (lambda d: fixtures.write_imdb(d, n_per_class=40), dict(max_steps=3, record_every=1)),
    "3": (write_vgg19_features, dict(max_steps=3, record_every=1, size=64)),
}


@pytest.mark.slow
@pytest.mark.parametrize("fig", list(FIGS))
def test_full_scale_entry_runs_a_few_steps_on_generated_real_format_files(fig, tmp_path, full_size_run):
    write, cut = FIGS[fig]
    write(tmp_path)
    runs = full_runs(fig)
    assert {r.data for r in runs} == {"real"} and any(r.params["optimizer"] == "laprop" for r in runs)
    for run in runs:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            rows = run_timed(full_size_run, f"laprop fig{fig} {run.series}", run, tmp_path, **cut)
        assert not [w for w in caught if "fused (torch.compile) step unavailable" in str(w.message)]
        assert rows and all(r["data"] == "real" for r in rows), run.series
        values = [r["value"] for r in rows]
        assert all(math.isfinite(v) for v in values), (run.series, rows)
        if run.params["optimizer"] == "laprop":
            assert run.params["fused"] is True   # full scale uses the compiled step


@pytest.mark.parametrize("fig", list(FIGS))
def test_full_scale_entry_without_its_data_stops_with_one_line(fig, tmp_path):
    run = full_runs(fig)[0]
    with pytest.raises(DataMissing) as e:
        run_a_few_steps(run, tmp_path, max_steps=1)
    assert "\n" not in str(e.value) and str(tmp_path) in str(e.value)
