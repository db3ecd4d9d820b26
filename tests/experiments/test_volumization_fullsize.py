"""Every full-scale GPU entry of volumization starts on the CPU at full model size: its full-scale config, resolved
by the runner, runs through the real data path on small files generated in the real on-disk formats
(repro/data/fixtures.py): the MNIST DNN on MNIST idx files (fig=3, 16, 17), the ResNet-18 on CIFAR-10 pickles
(fig=6), LSTMATT on an aclImdb folder (fig=11), EfficientNet-B0 with a weights file on a Tiny-ImageNet folder
(fig=T3). Only the data size, epochs, batch and the number of cells are cut (a step or two per stack); a missing
data set stops each with one line."""
import math

import pytest

from repro.data import fixtures
from repro.data.download import DataMissing
from repro.experiments import registry
from repro.runner.compose import load_spec
from repro.runner.context import RunContext
from repro.runner.figures import index
from repro.runner.sweep import expand


def full_runs(fig: str, panel: str | None = None):
    """The full-scale experiment runs of a figure (one per series), as the runner resolves them."""
    [entry] = [e for e in index()["volumization"] if e.fig == fig]
    spec = load_spec(entry, ["scale=full"])
    return [r for r in expand(spec) if r.kind == "experiment" and (panel is None or r.panel == panel)]


def mnist(d):
    fixtures.write_mnist(d, n_train=300, n_test=50)


def efficientnet(d):
    fixtures.write_tiny_imagenet(d, n_classes=4, per_class=3, n_val=6)
    fixtures.write_efficientnet_weights(d, "b0")


ONE = dict(epochs=1, replicas=1, stack_size=None)
FIGS = {   # fig: (panel or None for all, write the files, the cut)
    "3": (None, mnist, dict(ONE, noise_rate=[0.8])),
    "16": (None, mnist, dict(ONE, alpha=[0.0, 1.0], v=[0.5], epochs=2, quantize_every=1)),
    "17": ("mnist_pgd", mnist, dict(ONE, n_attack=20, epsilons=[0.0, 0.06])),
    "6": (None, lambda d: fixtures.write_cifar10(d, per_batch=40, n_test=40),
          dict(ONE, alpha=[1.0, 0.5], batch_size=32, train_fraction=0.2)),
    "11": (None, lambda d: fixtures.write_imdb(d, n_per_class=40), dict(ONE, alpha=[1.0, 0.5], batch_size=32)),
}


def check_rows(rows, label):
    assert rows, label
    assert all(r.get("data") == "real" for r in rows), label
    assert all(math.isfinite(r["value"]) for r in rows if r["metric"] not in ("trend_last_v",)), label


@pytest.mark.slow
@pytest.mark.parametrize("fig", list(FIGS))
def test_full_scale_sweep_runs_on_generated_real_format_files(fig, tmp_path):
    panel, write, cut = FIGS[fig]
    write(tmp_path)
    for run in full_runs(fig, panel):
        fn = registry.get(run.experiment)
        rows = list(fn({**run.params, **cut}, RunContext(seed=run.seed, scale="full", data_dir=str(tmp_path))))
        check_rows(rows, (fig, run.series))


@pytest.mark.slow
def test_full_scale_efficientnet_finetune_runs_on_a_generated_tiny_imagenet_folder(tmp_path):
    efficientnet(tmp_path)
    [run] = full_runs("T3")
    assert run.params["weights"] == "imagenet" and run.params["resolution"] is None   # 224 px, pretrained file
    p = {**run.params, "epochs": 1, "cells": run.params["cells"][:1]}
    rows = list(registry.get(run.experiment)(p, RunContext(seed=0, scale="full", data_dir=str(tmp_path))))
    check_rows(rows, "T3")
    assert {r["metric"] for r in rows} >= {"test_acc1", "test_acc5", "final_top1", "best_top5"}


@pytest.mark.parametrize("fig", ["3", "6", "11", "16", "17", "T1", "T2", "T3"])
def test_full_scale_entry_without_its_data_stops_with_one_line(fig, tmp_path):
    run = full_runs(fig)[0]
    with pytest.raises(DataMissing) as e:
        list(registry.get(run.experiment)(run.params, RunContext(seed=0, scale="full", data_dir=str(tmp_path))))
    assert "\n" not in str(e.value) and str(tmp_path) in str(e.value)
