"""Pieces of the Snake experiments (repro/experiments/snake/, repro/data/snake_toy.py, repro/analysis/series.py)
that the figure claims rely on, and the real-data paths of its experiments on files generated in the real formats
(the figures' tiny runs use the stand-ins)."""
import copy
import math

import numpy as np
import pytest
import torch

from repro.data.download import DataMissing
from repro.data.snake_series import market_standin_text, temperature_standin_text
from repro.analysis.extrapolation import thm1_residual, thm2_residual
from repro.analysis.series import detrended_stats, dominant_period, spearman
from repro.data.snake_toy import TARGETS, toy_data
from repro.experiments.snake import activation, images, series
from repro.nn.snake_mlp import mlp
from repro.runner.context import RunContext


def rows_of(fn, p, seed=0, data_dir="data"):
    return list(fn(dict(p), RunContext(seed=seed, data_dir=str(data_dir))))


def test_toy_data_follows_the_figure_or_the_text():
    g = torch.Generator().manual_seed(0)
    x, y, s, gap = toy_data({"a1": 8, "a2": 4, "target": "sin"}, g)
    assert x.shape == (64, 1) and s == 12 and gap == pytest.approx(2 / 3)
    ax = x.abs()
    assert ax.min() >= 2 / 3 and ax.max() <= 1 and (x > 0).sum() == 32
    assert torch.allclose(y, torch.sin(x * 12))
    x, _, s, gap = toy_data({"a1": 8, "a2": 4, "target": "x", "data_range": "text"}, g)
    assert s == 5 and gap == pytest.approx(0.2) and x.abs().min() >= 0.2
    rect = TARGETS["rect"](torch.tensor([0.5, 4.0, -math.pi / 2]))
    assert rect.tolist() == [1.0, 0.0, -1.0]


def test_theorem_residuals_on_untrained_networks():
    g = torch.Generator().manual_seed(1)
    relu = copy.deepcopy(mlp([1, 64, 64, 1], "relu", generator=g)).double()
    tanh = copy.deepcopy(mlp([1, 64, 64, 1], "tanh", generator=g)).double()
    snake = copy.deepcopy(mlp([1, 64, 1], "snake", a=3.0, generator=g)).double()
    assert thm1_residual(relu) < 1e-13              # piecewise linear: linear far out (Thm 1)
    assert thm2_residual(tanh) < 1e-12              # saturates: constant far out (Thm 2)
    assert thm1_residual(snake) > 1e-10             # Snake keeps oscillating (a ripple ~1/a on ~1e8)


def test_dominant_period_and_detrended_spectrum():
    t = np.arange(157) * 7 / 365 + 6.0
    rng = np.random.default_rng(0)
    y = 25 + 0.06 * t + 3.4 * np.sin(2 * np.pi * t / 1.0 + 0.3) + rng.normal(0, 0.5, size=len(t))
    assert abs(dominant_period(t, y, np.arange(0.3, 3.0, 0.005)) - 1.0) < 0.03
    n = 6300
    i = np.arange(n)
    slow = np.cos(2 * np.pi * i / 2100) + 1e-3 * i      # 3 whole cycles, orthogonal to the trend: no leakage
    fast = 0.1 * np.sin(2 * np.pi * i / 50)
    var, hf, frac = detrended_stats(slow + fast, 252)
    r = (slow + fast) - np.polyval(np.polyfit(i, slow + fast, 1), i)
    assert var == pytest.approx(r.var())
    assert hf == pytest.approx(0.1 ** 2 / 2, rel=0.1)    # the power of the fast sine
    assert detrended_stats(slow, 252)[2] < 1e-3


def test_spearman():
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1)
    assert spearman([1, 2, 3, 4, 5], [1, 3, 2, 5, 4]) == pytest.approx(0.8)


def test_forward_variance_paper_correction_halves_the_drift():
    p = {"width": 64, "depth": 10, "samples": 300, "a_values": [0.5], "modes": ["none", "paper", "center_var"]}
    ratio = {r["mode"]: r["value"] for r in rows_of(activation.forward_variance, p) if r["metric"] == "std_ratio"}
    assert ratio["paper"] < ratio["none"] and 0.8 < ratio["center_var"] < 1.25 and ratio["none"] > 1.5


def test_market_and_arima_read_a_real_format_file(tmp_path):
    (tmp_path / "snake").mkdir()
    (tmp_path / "snake" / "market.txt").write_bytes(market_standin_text(3).encode())
    p = {"data_source": "real", "n_train": 6300, "widths": [8, 8], "activation": "snake", "a": 30.0, "lr": 2e-2,
         "momentum": 0.9, "epochs": 3, "forecast_to": 6500, "plot_every": 50}
    rows = rows_of(series.market, p, data_dir=tmp_path)
    got = {r["metric"]: r["value"] for r in rows if "x" not in r and "step" not in r}
    assert {r["data"] for r in rows} == {"real"}
    assert set(got) >= {"train_mse", "test_mse", "test_change", "split_value", "forecast_min"}
    assert all(np.isfinite(v) for v in got.values())
    ar = rows_of(series.arima, {"data_source": "real", "n_train": 6300, "order": "2,1,1", "drift": True,
                           "forecast_to": 7396}, data_dir=tmp_path)
    ar_m = {r["metric"]: r["value"] for r in ar if "x" not in r}
    assert ar_m["fitted"] == 1 and ar_m["value_plus_1000"] > ar_m["split_value"]     # drift: rising forecast
    assert {r["method"] for r in ar} == {"ARIMA(2,1,1)"}
    with pytest.raises(DataMissing):
        rows_of(series.market, p, data_dir=tmp_path / "empty")


def test_temperature_reads_the_authors_csv_format(tmp_path):
    (tmp_path / "snake").mkdir()
    (tmp_path / "snake" / "day_temp_atmospheric.csv").write_text(temperature_standin_text(5))
    p = {"data_source": "real", "widths": [8, 8], "activation": "snake", "a_init": "halfnormal50", "per_unit": True,
         "lr": 3e-4, "momentum": 0.99, "weight_decay": 3e-3, "batch": 32, "epochs": 2, "record_every": 1,
         "plot_every": 50}
    rows = rows_of(series.temperature, p, data_dir=tmp_path)
    m = {r["metric"]: r["value"] for r in rows if "step" not in r and "x" not in r}
    assert {r["data"] for r in rows} == {"real"}
    assert set(m) == {"train_mse_c2", "heldout_mse_c2", "whole_loss", "period"}
    assert sum(1 for r in rows if r["metric"] == "pred") == len(range(0, 469, 50))


@pytest.mark.parametrize("dataset", ["mnist", "cifar10"])
def test_image_classification_reads_torchvision_format_files(tmp_path, dataset):
    from repro.data.fixtures import write_cifar10, write_mnist
    if dataset == "mnist":
        write_mnist(tmp_path, n_train=64, n_test=32)
        p = {"model": "mlp", "widths": [16], "activation": "snake", "a": 1.0, "optimizer": "sgd", "lr": 1e-2,
             "batch": 32, "epochs": 1}
    else:
        write_cifar10(tmp_path, per_batch=16, n_test=16)
        p = {"model": "resnet18", "width": 4, "activation": "snake", "a": 0.5, "optimizer": "laprop", "lr": 4e-4,
             "batch": 32, "epochs": 1, "augment": True}
    p.update(dataset=dataset, data_source="real")
    rows = rows_of(images.image_classification, p, data_dir=tmp_path)
    assert [r["metric"] for r in rows] == ["train_loss", "test_loss", "test_acc"]
    assert {r["data"] for r in rows} == {"real"} and all(np.isfinite(r["value"]) for r in rows)
    with pytest.raises(DataMissing):
        rows_of(images.image_classification, p, data_dir=tmp_path / "nothing")
