"""label_smoothing.train_grid (repro/experiments/label_smoothing_grid.py): the forward-corrected cell loss against
the per-model loss, a tiny digits grid (rows, cache reuse), the full-size models (CNN_basic on MNIST, ResNet-18 on
CIFAR-10) for a few steps through the real loaders on generated real-format files, and a missing data set."""
import math

import pandas as pd
import pytest
import torch

from repro.data import fixtures
from repro.data.download import DataMissing
from repro.experiments.label_smoothing_grid import FSmoothingCells, cells_of, train_grid_experiment
from repro.nn.label_smoothing_loss import fsmoothing_loss
from repro.runner.context import RunContext

TINY = dict(dataset="digits", model="mlp_digits", width=16, a_values=[0.5], p_values=[0.3, 1.0], optimizer="sgd",
            lr=0.3, epochs=3, batch_size=256, eval_every=1)


def test_fsmoothing_cells_equal_the_per_model_loss():
    g = torch.Generator().manual_seed(0)
    logits, labels = torch.randn(3, 7, 10, generator=g) * 3, torch.randint(0, 10, (3, 7), generator=g)
    ps = [0.15, 0.5, 1.0]
    got = FSmoothingCells(ps, 10)(logits, labels, 1)
    for k, p in enumerate(ps):
        torch.testing.assert_close(got[k], fsmoothing_loss(logits[k], labels[k], p, reduction="none"))
    with pytest.raises(ValueError, match="p > 1/K"):
        FSmoothingCells([0.1], 10)


def test_cells_beta_rule_and_bad_rule():
    assert cells_of({"p_rule": "beta", "a_values": [0.2, 0.5, 0.8]}) == [
        (0.2, 0.11), (0.2, 1.0), (0.5, 0.28), (0.5, 1.0), (0.8, 0.64), (0.8, 1.0)]
    with pytest.raises(ValueError, match="p_rule"):
        cells_of({"p_rule": "gamma", "a_values": [0.5]})


def test_digits_grid_rows_and_cache_reuse(tmp_path):
    ctx = RunContext(seed=1, scale="tiny", cache_dir=str(tmp_path))
    rows = pd.DataFrame(list(train_grid_experiment(dict(TINY), ctx)))
    curve = rows[rows.metric == "test_acc_epoch"]
    assert sorted(curve.step.unique()) == [1, 2, 3] and len(curve) == 6
    cells = rows[rows.metric == "test_acc"].set_index("p")["value"]
    assert set(cells.index) == {0.3, 1.0} and ((cells >= 0) & (cells <= 100)).all()
    assert {"argmax_p_acc", "argmin_p_loss", "peak_epoch", "peak_acc", "final_acc"} <= set(rows.metric)
    assert (rows.data == "real").all() and len(list(tmp_path.glob("label_smoothing_cell_*.pt"))) == 2
    # a second figure asking for one of the cells reads it from the cache: the same numbers, no training
    again = pd.DataFrame(list(train_grid_experiment({**TINY, "p_values": [1.0]},
                                                    RunContext(seed=1, scale="tiny", cache_dir=str(tmp_path)))))
    a = again[again.metric == "test_acc_epoch"]["value"].to_numpy()
    b = curve[curve.p == 1.0]["value"].to_numpy()
    assert (a == b).all()


def test_missing_mnist_is_one_line(tmp_path):
    with pytest.raises(DataMissing):
        list(train_grid_experiment({**TINY, "dataset": "mnist", "model": "cnn_basic"},
                                   RunContext(seed=1, scale="full", data_dir=str(tmp_path))))


def test_unknown_dataset_and_method():
    with pytest.raises(ValueError, match="dataset"):
        list(train_grid_experiment({**TINY, "dataset": "svhn"}, RunContext(seed=1)))
    with pytest.raises(ValueError, match="method"):
        list(train_grid_experiment({**TINY, "method": "nll"}, RunContext(seed=1)))


@pytest.mark.slow
def test_full_size_models_through_the_real_loaders(tmp_path):
    """fig=1's CNN_basic on MNIST idx files and fig=8's ResNet-18 on CIFAR-10 pickles (augmented), at full model size
    and batch 128, for one epoch of a few steps; fsmoothing with scale_lr on the CNN."""
    fixtures.write_mnist(tmp_path, n_train=300, n_test=20)
    fixtures.write_cifar10(tmp_path, per_batch=30, n_test=10)
    ctx = RunContext(seed=1, scale="full", data_dir=str(tmp_path))
    mnist = dict(dataset="mnist", model="cnn_basic", a_values=[0.5], p_values=[0.2, 1.0], optimizer="sgd", lr=0.01,
                 momentum=0.9, epochs=1, batch_size=128, drop_last=True, eval_every=1)
    for extra in ({}, {"method": "fsmoothing", "scale_lr": 1.0}):
        rows = pd.DataFrame(list(train_grid_experiment({**mnist, **extra}, ctx)))
        assert rows.value.map(math.isfinite).all() and len(rows[rows.metric == "test_loss"]) == 2
    cifar = dict(dataset="cifar10", model="resnet18", a_values=[0.5], p_values=[0.3], optimizer="sgd", lr=0.01,
                 momentum=0.9, epochs=1, batch_size=128, drop_last=True, cells_per_stack=1)
    rows = pd.DataFrame(list(train_grid_experiment(cifar, ctx)))
    loss = rows[rows.metric == "test_loss"]["value"]
    assert len(loss) == 1 and math.isfinite(loss.iloc[0])
