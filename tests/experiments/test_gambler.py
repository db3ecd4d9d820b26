"""The gambler experiments (repro/experiments/gambler/): cells, summaries and stopping rules, the co-teaching cell loss,
the looped stack, the catalog bands, and a small digits run through the registered function."""
import math

import numpy as np
import pytest
import torch
from torch import nn

from repro.experiments import registry
from repro.experiments.gambler.common import LoopedModels, expand_cells
from repro.experiments.gambler.coteaching import PairCells, forget_rate, pair_cells
from repro.experiments.gambler.noisy_training import _summaries, roc_auc
from repro.noisy.baselines import cogambler_step, coteaching_plus_step, coteaching_step
from repro.runner.context import RunContext
from repro.theory.gambler import plateau_loss
from repro.train.stacked import StackedModels


def test_cells_are_the_product_of_named_cells_and_the_grid():
    cells = expand_cells({"o": 9.9, "noise_rate": 0.5,
                          "cells": {"nll": {"o": "nll"}, "g": {}, "dropped": None},
                          "cell_grid": {"noise_rate": [0.2, 0.8]}})
    assert [(c["cell"], c["o"], c["noise_rate"]) for c in cells] == [
        ("nll", "nll", 0.2), ("nll", "nll", 0.8), ("g", 9.9, 0.2), ("g", 9.9, 0.8)]
    with pytest.raises(ValueError, match="unknown keys"):
        expand_cells({"cells": {"x": {"payof": 3}}})


def test_roc_auc_matches_the_pairwise_definition_with_ties():
    g = torch.Generator().manual_seed(0)
    score = torch.randint(0, 5, (200,), generator=g).float()
    positive = torch.rand(200, generator=g) < 0.4
    pos, neg = score[positive], score[~positive]
    pairs = (pos[:, None] > neg[None, :]).double() + 0.5 * (pos[:, None] == neg[None, :]).double()
    assert roc_auc(score, positive) == pytest.approx(float(pairs.mean()), abs=1e-12)
    assert math.isnan(roc_auc(score, torch.zeros(200, dtype=torch.bool)))


def _history(losses, accs, train_accs=None):
    e = len(losses)
    return {"train_loss": dict(enumerate(losses, 1)), "test_acc": dict(enumerate(accs)),
            "train_acc": dict(enumerate(train_accs or [0.1] * e, 1)), "loss_clean": dict(enumerate([0.5] * e, 1)),
            "loss_corrupt": dict(enumerate([2.5] * e, 1)), "abstention": dict(enumerate([0.3] * e, 1))}


def test_summaries_report_the_stopping_epoch_and_the_one_before():
    lstar = plateau_loss(0.5, 9.9)
    losses = [2.3, 2.0, lstar + 0.01, lstar - 0.01, 1.0]
    accs = [0.1, 0.5, 0.8, 0.9, 0.85, 0.7]            # epoch 0 .. 5
    s = _summaries({"o": 9.9, "noise_rate": 0.5}, _history(losses, accs, [0.2, 0.3, 0.4, 0.6, 0.7]), 5,
                   torch.tensor([2, 7]), {})
    assert s["aes_stop_epoch"] == 4 and s["aes_fired"] == 1
    assert s["acc_at_aes"] == 0.85 and s["acc_before_aes"] == 0.9
    assert s["batch_stop_epoch"] == 2 and s["batch_stop_step"] == 7 and s["acc_before_batch_stop"] == 0.5
    assert s["tes_stop_epoch"] == 4                     # first train acc > 1 - r = 0.5
    assert s["peak_acc"] == 0.9 and s["peak_epoch"] == 3 and s["final_acc"] == 0.7
    assert s["plateau_width"] == 1                      # only epoch 3 is within 0.02 of the peak 0.9
    s = _summaries({"o": 9.9, "noise_rate": 0.5, "start_gamblers": 6}, _history(losses, accs), 5, None, {})
    assert s["aes_fired"] == 0 and s["aes_stop_epoch"] == 6 and s["acc_at_aes"] == 0.7   # censored: the final model
    assert "l_star" not in _summaries({"o": "nll", "noise_rate": 0.5}, _history(losses, accs), 5, None, {})


def test_summaries_plateau_width_counts_epochs_near_the_peak():
    s = _summaries({"o": "nll", "noise_rate": 0.5}, _history([1.0] * 4, [0.0, 0.90, 0.89, 0.95, 0.94]), 4, None,
                   {"plateau_tol": 0.02})
    assert s["plateau_width"] == 2


def test_pair_cells_train_on_the_peer_small_loss_rows_and_evaluate_plainly():
    torch.manual_seed(0)
    logits = torch.randn(4, 16, 5, requires_grad=True)
    labels = torch.randint(0, 4, (4, 16))
    labels[1], labels[3] = labels[0], labels[2]
    loss = PairCells(["ct", "cogambler"], [None, 3.5], [0.5, 0.25], epochs=20)
    per = loss(logits, labels, 15)                      # past the 10-epoch ramp: forget rate 0.5
    ref = coteaching_step(logits[0][:, :-1], logits[1][:, :-1], labels[0], 0.5)
    assert per[0].mean().item() == pytest.approx(ref.loss1.item(), rel=1e-6)
    assert per[1].mean().item() == pytest.approx(ref.loss2.item(), rel=1e-6)
    assert int((per[0] != 0).sum()) == 8
    ref = cogambler_step(logits[2], logits[3], labels[2], 3.5, 0.25)
    assert per[2].mean().item() == pytest.approx(ref.loss1.item(), rel=1e-6)
    plain = loss(logits.detach(), labels, 15)           # no gradient: the evaluation path, every row
    assert bool((plain > 0).all())
    with pytest.raises(ValueError, match="method"):
        PairCells(["ctt"], [None], [0.5], 3)


def test_pair_cells_coteaching_plus_after_its_init_epoch():
    torch.manual_seed(1)
    logits = torch.randn(2, 32, 5, requires_grad=True)
    labels = torch.randint(0, 4, (2, 32))
    labels[1] = labels[0]
    loss = PairCells(["ctplus"], [None], [0.5], epochs=30, ctplus_init_epoch=20)
    early = loss(logits, labels, 19)                     # before init_epoch: plain Co-teaching
    ref = coteaching_step(logits[0][:, :-1], logits[1][:, :-1], labels[0], float(loss.schedules[0][19]))
    assert early[0].mean().item() == pytest.approx(ref.loss1.item(), rel=1e-6)
    late = loss(logits, labels, 20)
    ref = coteaching_plus_step(logits[0][:, :-1], logits[1][:, :-1], labels[0], 0.5, step=2)
    assert late[0].mean().item() == pytest.approx(ref.loss1.item(), rel=1e-6)
    assert late[1].mean().item() == pytest.approx(ref.loss2.item(), rel=1e-6)


def test_pair_cells_and_forget_rate_readings():
    cells = pair_cells(expand_cells({"noise_rate": 0.8, "cells": {"c": {"method": "ct"}}}))
    assert [(c["cell"], c["net"], c.get("init_offset", 0)) for c in cells] == [("c", 1, 0), ("c_peer", 2, 1)]
    assert forget_rate({"noise_rate": 0.8}) == 0.8
    assert forget_rate({"noise_rate": 0.8, "forget_rate": "clean_rate"}) == pytest.approx(0.2)
    assert forget_rate({"noise_rate": 0.8, "forget_rate": 0.3}) == 0.3
    with pytest.raises(ValueError, match="method"):
        pair_cells(expand_cells({"cells": {"c": {}}}))


def test_looped_models_equal_the_vmapped_stack():
    models = []
    for s in range(3):
        torch.manual_seed(s)
        models.append(nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3)))
    looped, stacked = LoopedModels(models), StackedModels(models)
    x = torch.randn(5, 4)
    assert torch.allclose(looped(x), stacked(x), atol=1e-6)
    xs = torch.randn(3, 5, 4)
    assert torch.allclose(looped(xs, per_model=True), stacked(xs, per_model=True), atol=1e-6)
    looped(x).square().sum().backward()
    stacked(x).square().sum().backward()
    for a, b in zip(looped.parameters(), stacked.parameters()):
        assert torch.allclose(a.grad, b.grad, atol=1e-5)


def test_catalog_bands_are_max_of_the_floor_and_two_sigma():
    rows = list(registry.get("gambler.catalog")({"table": {
        "key": "noise_rate", "scale": 0.01, "tol_min": {"a": 2}, "columns": ["a", "b"],
        "rows": {0.2: [90.0, None], 0.5: None}, "std": {0.2: [1.5, None]}}}, RunContext(seed=None)))
    got = {r["metric"]: r["value"] for r in rows}
    assert got == pytest.approx({"a": 0.9, "a_std": 0.015, "a_lo": 0.87, "a_hi": 0.93})


def test_plateau_theory_rows_match_the_closed_form():
    rows = list(registry.get("gambler.plateau_theory")(
        {"table": {"o": [9.9], "noise_rate": [0.5]}, "simplex": [[0.5, 9.9, 10], [0.5, 1.5, 10]], "steps": 3000},
        RunContext(seed=None)))
    by = {(r["metric"], r["o"]): r["value"] for r in rows}
    assert by[("l_star", 9.9)] == pytest.approx(1.7862, abs=1e-4)
    assert by[("simplex_gap", 9.9)] < 1e-3 and by[("simplex_gap", 1.5)] < 1e-6      # below the window: ln o
    assert by[("closed_abstention", 1.5)] == 1.0


def test_a_small_digits_run_yields_tidy_rows():
    p = {"dataset": "digits", "epochs": 2, "noise_rate": 0.5, "cells": {"nll": {"o": "nll"}, "g": {"o": 9.9}},
         "abst_hist_epochs": [1], "hist_bins": 4, "transition_epochs": [2], "n_train": 256}
    rows = list(registry.get("gambler.noisy_training")(p, RunContext(seed=1)))
    assert all(r["data"] == "real" and r["dataset"] == "digits" for r in rows)
    metrics = {r["metric"] for r in rows}
    assert {"train_loss", "test_acc", "abstention", "aes_stop_epoch", "abst_hist", "abst_auc"} <= metrics
    assert "transition_jump" not in metrics             # one fixed-o cell: no neighbours
    assert [r["step"] for r in rows if r["metric"] == "test_acc" and r["cell"] == "g"] == [0, 1, 2]
    hist = [r["value"] for r in rows if r["metric"] == "abst_hist" and r["cell"] == "g" and r["label"] == "clean"]
    assert np.sum(hist) / 4 == pytest.approx(1.0, abs=1e-5)       # a density over 4 bins of width 1/4


def test_unknown_dataset_and_optimizer_are_refused():
    fn = registry.get("gambler.noisy_training")
    with pytest.raises(ValueError, match="dataset must be one of"):
        list(fn({"dataset": "svhn", "epochs": 1}, RunContext(seed=1)))
    with pytest.raises(ValueError, match="optimizer must be"):
        list(fn({"dataset": "digits", "epochs": 1, "optimizer": "rmsprop", "n_train": 64}, RunContext(seed=1)))
