"""The gambler's full-scale entries start on the CPU: each full-size model of the paper (CNN_basic on MNIST idx files,
its 3-channel variant, CNN_small and ResNet-18 on CIFAR-10 pickles, LSTM-GloVe on an aclImdb folder + a GloVe text
file, Co-teaching pairs) runs through the figure's own full-scale config, resolved by the runner, and the experiment
function, on small files generated in the real formats (repro/data/fixtures.py). Only the data (the generated files),
the epochs (1), the training set (one batch) and, where a figure stacks many cells, the noise-rate grid are cut: the
models, batch sizes and optimizers are the full ones. With REPRO_TEST_TIMING_STEPS=1 each also prints its time per
step (a 3-batch run minus a 1-batch run, after the first run warmed up), which the configs' full `cost` lines quote.
Without the data every full entry stops with one DataMissing line.
"""
import math
import os
import time

import pytest
import torch

from repro.data import fixtures
from repro.data.download import DataMissing
from repro.experiments import registry
from repro.runner.compose import load_spec
from repro.runner.context import RunContext
from repro.runner.figures import index
from repro.runner.sweep import expand

TIMING = bool(int(os.environ.get("REPRO_TEST_TIMING_STEPS", "0")))


def full_run(fig: str, series: str):
    [entry] = [e for e in index()["gambler"] if e.fig == fig]
    runs = [r for r in expand(load_spec(entry, ["scale=full"])) if r.series == series]
    assert runs, (fig, series)
    return runs[0]


def write_all(root):
    fixtures.write_mnist(root, n_train=600, n_test=50)
    fixtures.write_cifar10(root, per_batch=80, n_test=20)        # 400 training images: 3 full batches of 128
    fixtures.write_imdb(root, n_per_class=80)                    # 160 reviews: 112 train (70 %), 3 batches of 32
    words = fixtures.POSITIVE + fixtures.NEGATIVE + fixtures.FILLER
    words += [w.capitalize() for w in words] + [w + "." for w in words]
    fixtures.write_glove(root, [w.lower() for w in words], dim=300)


# (fig, series, expected model, dataset, batch size, param cuts)
CASES = [
    ("1", "nll", "cnn_basic", "mnist", 128, {}),
    ("4", "cifar_r05", "cnn_basic_cifar", "cifar10", 128, {}),
    ("8", "cifar10", "cnn_small", "cifar10", 128, {}),
    ("5", "cifar10", "resnet18", "cifar10", 128, {"cell_grid": {"noise_rate": [0.85]}}),
    ("T2", "ct_mnist", "cnn_basic", "mnist", 128, {"cell_grid": {"noise_rate": [0.8]}}),
    ("T3", "train", "lstm_glove", "imdb", 32, {"cell_grid": {"noise_rate": [0.4]}}),
]


def _run(run, data_dir, **cut):
    fn = registry.get(run.experiment)
    t = time.perf_counter()
    rows = list(fn({**run.params, **cut}, RunContext(seed=run.seed, scale="full", data_dir=str(data_dir))))
    return rows, time.perf_counter() - t


@pytest.mark.slow
@pytest.mark.parametrize("fig,series,model,dataset,batch,cut", CASES, ids=[f"fig{c[0]}-{c[1]}" for c in CASES])
def test_full_size_model_runs_on_generated_real_format_files(fig, series, model, dataset, batch, cut, tmp_path,
                                                              capsys):
    write_all(tmp_path)
    run = full_run(fig, series)
    p = run.params
    assert (p["model"], p["dataset"], p["batch_size"]) == (model, dataset, batch) and run.data == "real"
    assert p["epochs"] >= 50
    one = {"epochs": 1, "n_train": batch, "n_test": 16, **cut}        # one full-size step and a small evaluation
    rows, _ = _run(run, tmp_path, **one)
    assert rows and all(math.isfinite(r["value"]) for r in rows if r["metric"] in ("train_loss", "test_acc"))
    assert {"train_loss", "test_acc", "final_acc", "tes_stop_epoch"} <= {r["metric"] for r in rows}
    assert max(r["step"] for r in rows if r["metric"] == "train_loss") == 1
    if TIMING:   # the step time the full `cost` lines quote: 3 steps minus 1 step, same evaluation
        _, t1 = _run(run, tmp_path, **one)
        _, t3 = _run(run, tmp_path, **{**one, "n_train": 3 * batch})
        cells = {r["cell"] for r in rows if "cell" in r}
        with capsys.disabled():
            print(f"\n  TIMING gambler fig{fig} {series} ({model}, batch {batch}, {len(cells)} cells stacked): "
                  f"{(t3 - t1) / 2 * 1e3:.0f} ms per step on this CPU ({torch.get_num_threads()} threads)")


FULL_ENTRIES = [("1", "nll"), ("2", "train"), ("3", "train"), ("4", "mnist_r05"), ("4", "cifar_r05"),
                ("5", "mnist"), ("5", "cifar10"), ("6", "train"), ("7", "train"), ("8", "mnist"), ("8", "cifar10"),
                ("8", "imdb"), ("9", "train"), ("10", "train"), ("T1", "train"), ("T2", "ct_mnist"),
                ("T2", "gbl_cifar"), ("T3", "train")]


@pytest.mark.parametrize("fig,series", FULL_ENTRIES)
def test_full_entry_without_its_data_stops_with_one_line(fig, series, tmp_path):
    run = full_run(fig, series)
    with pytest.raises(DataMissing) as e:
        _run(run, tmp_path, epochs=1)
    assert "\n" not in str(e.value) and str(tmp_path) in str(e.value)
