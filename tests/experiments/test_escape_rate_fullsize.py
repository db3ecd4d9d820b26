"""The GPU entries of escape_rate (fig=1, 2, 6) start on the CPU: each full-scale config, resolved by the runner,
runs a few SGD steps and its measurements at full model size through the real loaders, on small files generated in
the real formats (MNIST idx, Fashion-MNIST idx, CIFAR-10 pickles); and a missing data set stops it with one line.
Only the number of steps is cut (and the data sets are the small generated files)."""
import math
import time

import pytest

from repro.data import fixtures
from repro.data.download import DataMissing
from repro.data.fashion_mnist import write_fashion_mnist
from repro.experiments import registry
from repro.runner.compose import load_spec
from repro.runner.context import RunContext
from repro.runner.figures import index
from repro.runner.sweep import expand


def full_runs(fig: str):
    """One full-scale RunSpec per series."""
    [entry] = [e for e in index()["escape_rate"] if e.fig == fig]
    runs = {}
    for run in expand(load_spec(entry, ["scale=full"])):
        runs.setdefault(run.series, run)
    return list(runs.values())


def run_a_few_steps(run, data_dir, **cut):
    fn = registry.get(run.experiment)
    return list(fn({**run.params, **cut}, RunContext(seed=run.seed, scale="full", data_dir=data_dir)))


def write_all(root):
    fixtures.write_mnist(root, n_train=300, n_test=20)
    write_fashion_mnist(root, n_train=200, n_test=20)
    fixtures.write_cifar10(root, per_batch=4, n_test=4)


EXPECT = {"1": {"experiment": (784, 100, 100, 1)},
          "2": {"fc": (784, 2000, 2000, 2000, 10), "cnn": (64, 128, 256)},
          "6": {"fc": (784, 2000, 2000, 2000, 10), "cnn": (64, 128, 256)}}


@pytest.mark.slow
@pytest.mark.parametrize("fig", ["1", "2", "6"])
def test_full_scale_entry_runs_a_few_steps_on_generated_real_format_files(fig, tmp_path, capsys, full_size_run):
    write_all(tmp_path)
    for run in full_runs(fig):
        assert run.data == "real" and run.params["data_source"] == "real"
        p = run.params
        if fig == "1":
            assert (784, *p["hidden"], 1) == EXPECT[fig][run.series] and p["n_train"] == 10_000
        elif run.series == "fc":
            assert (784, *p["hidden"], 10) == EXPECT[fig]["fc"] and p["grad_method"] == "dense"
        else:
            assert tuple(p["widths"]) == EXPECT[fig]["cnn"] and p["convs_per_block"] == 3 and p["grad_method"] == "vmap"
        t = time.time()
        rows = full_size_run(f"escape_rate fig{fig} {run.series}", registry.get(run.experiment),
                             {**run.params, "max_steps": 1}, run.seed, tmp_path)
        with capsys.disabled():
            print(f"\n  escape_rate fig{fig} {run.series}: 1 full-size step + measurements in {time.time() - t:.1f} s")
        values = [r["value"] for r in rows]
        assert rows and all(math.isfinite(v) for v in values), (run.series, rows[:5])
        metrics = {r["metric"] for r in rows}
        assert ({"log10_eig_q", "top_ratio", "eig_hist"} if fig == "1" else {"loss", "noise", "ratio"}) <= metrics


@pytest.mark.parametrize("fig", ["1", "2", "6"])
def test_full_scale_entry_without_its_data_stops_with_one_line(fig, tmp_path):
    for run in full_runs(fig):
        with pytest.raises(DataMissing) as e:
            run_a_few_steps(run, tmp_path, max_steps=1)
        assert "\n" not in str(e.value) and str(tmp_path) in str(e.value)
