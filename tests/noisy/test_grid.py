"""The stacked grid trainer (repro/noisy/grid.py) gives every cell what a run of its own gives: K cells that differ
in payoff, warm-up, smoothing, noise rate and seed, against K separate torch.optim runs, step for step."""
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from repro.data.noisy_labels import noisify
from repro.nn.gambler_loss import auto_payoff, gambler_loss, nll_payoff, payoff_for_epoch
from repro.noisy.grid import (CrossEntropyCells, GamblerCells, NoisyTask, SmoothingCells, cell_rows, init_stack,
                              train_grid)
from repro.train.stacked import StackedAdam, StackedSGD

M = 4


def _data(n=150, n_test=60, d=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    means = torch.randn(M, d, generator=g) * 2
    y = torch.randint(0, M, (n + n_test,), generator=g)
    x = means[y] + torch.randn(n + n_test, d, generator=g)
    return x[:n], y[:n], x[n:], y[n:]


def _mlp(d=6, out=M + 1):
    return nn.Sequential(nn.Linear(d, 16), nn.ReLU(), nn.Linear(16, out))


def _separate(loss_of, seed, noise, opt_cls, opt_kw, epochs=3, batch=32, out=M + 1):
    """One cell alone: plain module, torch.optim, its own batch order; returns (epoch-mean losses, final state)."""
    x, y, _, _ = _data()
    labels = noisify(y, noise[0], noise[1], M, random_state=0).labels
    torch.manual_seed(seed)
    model = _mlp(out=out)
    opt = opt_cls(model.parameters(), **opt_kw)
    gen = torch.Generator().manual_seed(seed)
    means = []
    for epoch in range(1, epochs + 1):
        perm = torch.randperm(len(x), generator=gen)
        losses = []
        for i in range(0, len(x), batch):
            idx = perm[i:i + batch]
            opt.zero_grad()
            loss = loss_of(model(x[idx]), labels[idx], epoch)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        means.append(sum(losses) / len(losses))
    return means, model.state_dict()


def _stacked(loss, seeds, noise, opt_cls, opt_kw, epochs=3, batch=32, out=M + 1, **kw):
    x, y, xt, yt = _data()
    task = NoisyTask.corrupt(x, y, xt, yt, M, noise)
    stack = init_stack(lambda: _mlp(out=out), seeds)
    opt = opt_cls(stack.parameters(), **opt_kw)
    logs = list(train_grid(stack, opt, loss, task, epochs=epochs, batch_size=batch, order_seeds=seeds, **kw))
    return logs, stack


def _gambler(o, start=0):
    def loss(logits, labels, epoch):
        pay = payoff_for_epoch(epoch, o, M, start_gamblers=start)
        pay = nll_payoff(M) if pay == "nll" else pay
        pay = auto_payoff(logits, pay) if isinstance(pay, str) else pay
        return gambler_loss(logits, labels, pay)
    return loss


@pytest.mark.parametrize("opt", ["adam", "sgd"])
def test_gambler_cells_match_separate_runs(opt):
    payoffs, starts = [3.5, "nll", "euc", 2.5], [0, 0, 2, 3]
    seeds, noise = [1, 2, 1, 3], [("symmetric", 0.5), ("symmetric", 0.2), ("symmetric", 0.5), ("pairflip", 0.3)]
    cls_s, kw_s = (StackedAdam, {"lr": 3e-3}) if opt == "adam" else (StackedSGD, {"lr": 0.05, "momentum": 0.9})
    cls_1, kw_1 = (torch.optim.Adam, {"lr": 3e-3}) if opt == "adam" else (torch.optim.SGD,
                                                                          {"lr": 0.05, "momentum": 0.9})
    logs, stack = _stacked(GamblerCells(payoffs, M, starts), seeds, noise, cls_s, kw_s)
    for k in range(4):
        means, state = _separate(_gambler(payoffs[k], starts[k]), seeds[k], noise[k], cls_1, kw_1)
        torch.testing.assert_close(torch.tensor([log.metrics["train_loss"][k] for log in logs]),
                                   torch.tensor(means), rtol=1e-4, atol=1e-5)
        for name, value in state.items():
            torch.testing.assert_close(stack.params[name][k], value, rtol=1e-4, atol=1e-5)


def test_smoothing_and_cross_entropy_cells_match_separate_runs():
    ps, seeds, noise = [1.0, 0.6, 0.3], [0, 0, 5], [("symmetric", 0.4)] * 3
    logs, stack = _stacked(SmoothingCells(ps), seeds, noise, StackedAdam, {"lr": 3e-3}, out=M)
    for k, p in enumerate(ps):
        def loss(logits, labels, epoch, p=p):
            off = (1 - p) / (M - 1)
            target = torch.full_like(logits, off).scatter_(1, labels[:, None], p)
            return -(target * logits.log_softmax(-1)).sum(-1).mean()
        means, state = _separate(loss, seeds[k], noise[k], torch.optim.Adam, {"lr": 3e-3}, out=M)
        torch.testing.assert_close(torch.tensor([log.metrics["train_loss"][k] for log in logs]),
                                   torch.tensor(means), rtol=1e-4, atol=1e-5)
    # p = 1 is plain cross-entropy
    logs_ce, _ = _stacked(CrossEntropyCells(), [0], [("symmetric", 0.4)], StackedAdam, {"lr": 3e-3}, out=M)
    assert logs_ce[-1].metrics["train_loss"][0] == pytest.approx(float(logs[-1].metrics["train_loss"][0]), rel=1e-5)


def test_logged_splits_are_consistent_with_the_mask():
    seeds, noise = [0, 1], [("symmetric", 0.5), ("symmetric", 0.0)]
    logs, _ = _stacked(GamblerCells([3.0, 3.0], M), seeds, noise, StackedAdam, {"lr": 3e-3})
    x, y, xt, yt = _data()
    task = NoisyTask.corrupt(x, y, xt, yt, M, noise)
    frac_clean = task.clean.float().mean(1)
    for log in logs:
        m = log.metrics
        # the epoch's accuracy is the clean/corrupt accuracies weighted by the share of clean points
        mixed = frac_clean * m["acc_clean"] + (1 - frac_clean) * torch.nan_to_num(m["acc_corrupt"])
        torch.testing.assert_close(m["train_acc"], mixed, rtol=1e-5, atol=1e-6)
        assert math.isnan(m["loss_corrupt"][1])          # no corrupted label at rate 0
        assert ((m["test_acc"] >= 0) & (m["test_acc"] <= 1)).all()
        assert ((m["abst_clean"] > 0) & (m["abst_clean"] < 1)).all()
    assert task.clean[1].all() and 0.4 < 1 - frac_clean[0] < 0.6


def test_per_batch_rule_records_the_first_batch_below_threshold():
    seeds, noise = [0, 0], [("symmetric", 0.2)] * 2
    logs, _ = _stacked(CrossEntropyCells(), seeds, noise, StackedAdam, {"lr": 1e-2}, out=M,
                       batch_threshold=torch.tensor([10.0, -1.0]), epochs=2)
    first = logs[-1].first_below
    assert first[0].tolist() == [1, 1]          # every loss is below 10: the first batch of epoch 1
    assert first[1].tolist() == [-1, -1]        # no loss is negative: never


def test_validation_split_and_rows():
    x, y, xt, yt = _data()
    task = NoisyTask.corrupt(x, y, xt, yt, M, [("symmetric", 0.5)] * 2, val=30)
    assert len(task.x) == 120 and task.y_val.shape == (2, 30)
    stack = init_stack(lambda: _mlp(out=M), [0, 1])
    logs = list(train_grid(stack, StackedAdam(stack.parameters()), CrossEntropyCells(), task, epochs=4,
                           batch_size=50, order_seeds=[0, 1], eval_every=3))
    assert [log.epoch for log in logs] == [3, 4]           # every third epoch and the last
    rows = list(cell_rows(logs[0], [{"o": 1}, {"o": 2}], metrics=["val_acc", "test_acc"]))
    assert len(rows) == 4 and {r["metric"] for r in rows} == {"val_acc", "test_acc"}
    assert {r["o"] for r in rows} == {1, 2} and all(r["step"] == 3 for r in rows)


def test_full_batch_is_one_step_per_epoch():
    logs, _ = _stacked(CrossEntropyCells(), [0], [("symmetric", 0.2)], StackedAdam, {"lr": 1e-2}, out=M,
                       batch=10_000, epochs=2)
    assert len(logs) == 2


def test_an_unknown_payoff_name_is_refused():
    with pytest.raises(ValueError, match="nll"):
        GamblerCells([9.9, "eu"], M)
