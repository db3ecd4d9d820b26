"""Stacked training (repro/train/stacked.py): K models with per-model hyperparameters, trained as one through
fit, take step for step the steps of K separate torch.optim runs."""
import pytest
import torch

from repro.train import fit, shuffled_batches
from repro.train.stacked import StackedAdam, StackedModels, StackedSGD, stacked_cross_entropy


def _models(k):
    out = []
    for seed in range(k):
        torch.manual_seed(seed)
        out.append(torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3)))
    return out


def _data():
    g = torch.Generator().manual_seed(0)
    return torch.randn(40, 5, generator=g), torch.randint(0, 3, (40,), generator=g)


@pytest.mark.parametrize("kind", ["sgd", "adam"])
def test_k_stacked_models_match_k_separate_runs_step_for_step(kind):
    x, y = _data()
    lrs, second, wds = [0.05, 0.1, 0.3], [0.0, 0.5, 0.9], [0.0, 1e-3, 1e-2]
    separate = _models(3)
    stack = StackedModels(_models(3))
    if kind == "sgd":
        opts = [torch.optim.SGD(m.parameters(), lr=lr, momentum=mom, weight_decay=wd)
                for m, lr, mom, wd in zip(separate, lrs, second, wds)]
        stacked_opt = StackedSGD(stack.parameters(), lr=torch.tensor(lrs), momentum=torch.tensor(second),
                                 weight_decay=torch.tensor(wds))
    else:
        b2 = [0.99, 0.999, 0.9]
        opts = [torch.optim.Adam(m.parameters(), lr=lr / 10, betas=(beta1, beta2), weight_decay=wd)
                for m, lr, beta1, beta2, wd in zip(separate, lrs, second, b2, wds)]
        stacked_opt = StackedAdam(stack.parameters(), lr=torch.tensor(lrs) / 10,
                                  betas=(torch.tensor(second), torch.tensor(b2)), weight_decay=torch.tensor(wds))
    g_sep, g_stack = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    order = [idx for _ in range(3) for idx in shuffled_batches(40, 16, g_sep)]
    losses = []
    steps = iter(range(len(order)))

    def check(state, idx):   # after each stacked step, take the same step in each separate model and compare
        t = next(steps)
        sep_losses = []
        for m, opt in zip(separate, opts):
            loss = torch.nn.functional.cross_entropy(m(x[order[t]]), y[order[t]])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sep_losses.append(loss.detach())
        torch.testing.assert_close(state.loss, torch.stack(sep_losses))
        for k, m in enumerate(separate):
            for name, q in m.named_parameters():
                torch.testing.assert_close(stack.params[name][k], q.detach())
        losses.append(state.loss)

    list(fit(stacked_opt, lambda idx: stacked_cross_entropy(stack(x[idx]), y[idx]),
             lambda epoch: shuffled_batches(40, 16, g_stack), epochs=3, on_step=check))
    assert len(losses) == 9
    assert not torch.allclose(losses[-1][0], losses[-1][2])   # the hyperparameters made the models differ
    plain = stack.model(2, _models(1)[0])
    torch.testing.assert_close(plain(x), separate[2](x))


def test_per_model_inputs_and_labels():
    x, y = _data()
    stack = StackedModels(_models(2))
    xs, ys = torch.stack([x[:10], x[10:20]]), torch.stack([y[:10], y[10:20]])
    out = stack(xs, per_model=True)
    assert out.shape == (2, 10, 3)
    loss = stacked_cross_entropy(out, ys)
    ref = torch.nn.functional.cross_entropy(_models(2)[1](x[10:20]), y[10:20])
    torch.testing.assert_close(loss[1], ref)
