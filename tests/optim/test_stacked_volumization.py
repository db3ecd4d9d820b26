"""StackedVolumization (repro/optim/volumization.py): K models stacked with their own (alpha, v, L2) take, step for
step, the steps of K separate Volumization(torch.optim.Adam) runs (Kaiming-V from each model's own init); the
special cases survive stacking; bad hyperparameters fail."""
import pytest
import torch
from torch import nn

from repro.noisy.grid import init_stack
from repro.optim import Volumization
from repro.optim.volumization import StackedVolumization
from repro.train.stacked import StackedAdam

CELLS = [  # (alpha, v, l2): no regularisation, soft wall, clipping, elastic wall, multiplicative decay, WD baseline
    (1.0, 0.5, 0.0), (0.5, 0.5, 0.0), (0.0, 0.25, 0.0), (-1.0, 0.5, 0.0), (0.9, 0.0, 0.0), (1.0, 0.0, 5e-3)]


def make():
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))


def data(steps=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [(torch.randn(32, 8, generator=g), torch.randint(0, 3, (32,), generator=g)) for _ in range(steps)]


def separate(alpha, v, l2, seed, batches, **kw):
    torch.manual_seed(seed)
    net = make()
    opt = Volumization(torch.optim.Adam(net.parameters(), lr=1e-2, eps=1e-15), v=v, alpha=alpha, l2=l2, **kw)
    out = []
    for x, y in batches:
        opt.zero_grad()
        nn.functional.cross_entropy(net(x), y).backward()
        opt.step()
        out.append([p.detach().clone() for p in net.parameters()])
    return out


def stacked(cells, seeds, batches, **kw):
    stack = init_stack(make, seeds)
    base = StackedAdam(stack.parameters(), lr=1e-2, eps=1e-15, weight_decay=[c[2] for c in cells])
    opt = StackedVolumization(base, v=[c[1] for c in cells], alpha=[c[0] for c in cells], **kw)
    out = []
    for x, y in batches:
        opt.zero_grad()
        logits = stack(x)
        nn.functional.cross_entropy(logits.flatten(0, 1), y.repeat(len(cells)), reduction="none") \
            .view(len(cells), -1).mean(1).sum().backward()
        opt.step()
        out.append([p.detach().clone() for p in stack.parameters()])
    return out, opt


@pytest.mark.parametrize("kw", [{}, {"momentum_discount": True}, {"kaiming_v": False}])
def test_stacked_cells_equal_separate_runs_step_for_step(kw):
    batches = data()
    seeds = list(range(len(CELLS)))
    got, opt = stacked(CELLS, seeds, batches, **kw)
    for k, (alpha, v, l2) in enumerate(CELLS):
        ref = separate(alpha, v, l2, seeds[k], batches, **kw)
        for t, (a, b) in enumerate(zip(got, ref)):
            for pa, pb in zip(a, b):
                torch.testing.assert_close(pa[k], pb, rtol=1e-5, atol=1e-6, msg=f"cell {k} step {t}")
    # the walls moved the weights: the volumized cells differ from the unregularised one
    assert not torch.allclose(got[-1][0][1], got[-1][0][0])


def test_kaiming_volume_per_model_and_special_cases():
    batches = data(steps=5)
    got, opt = stacked(CELLS, [7] * len(CELLS), batches)   # one init for all: the volumes differ only by v
    w = opt.param_groups[0]["params"][0]
    V = opt.state[w]["V"].flatten()
    torch.testing.assert_close(V, torch.tensor([c[1] for c in CELLS]) * V[0] / 0.5)
    last = got[-1][0]
    assert last[2].abs().max() <= 0.25 * V[0] / 0.5 * (1 + 1e-6)   # alpha = 0: clipped to +-V
    assert V[4] == 0   # v = 0: multiplicative decay, every step


def test_alpha_one_leaves_the_base_step_bit_for_bit():
    batches = data(steps=5)
    stack_a = init_stack(make, [0, 1])
    stack_b = init_stack(make, [0, 1])
    opt_a = StackedVolumization(StackedAdam(stack_a.parameters(), lr=1e-2), v=[0.01, 0.01], alpha=[1.0, 1.0])
    opt_b = StackedAdam(stack_b.parameters(), lr=1e-2)
    for x, y in batches:
        for st, opt in ((stack_a, opt_a), (stack_b, opt_b)):
            opt.zero_grad()
            nn.functional.cross_entropy(st(x).flatten(0, 1), y.repeat(2)).backward()
            opt.step()
    for p, q in zip(stack_a.parameters(), stack_b.parameters()):
        assert torch.equal(p, q)


def test_bad_hyperparameters_fail():
    stack = init_stack(make, [0, 1])
    with pytest.raises(ValueError, match="alpha"):
        StackedVolumization(StackedAdam(stack.parameters()), v=[0.5, 0.5], alpha=[1.5, 0.5])
    with pytest.raises(ValueError, match="v must"):
        StackedVolumization(StackedAdam(stack.parameters()), v=[-1, 0.5], alpha=[0.5, 0.5])
    opt = StackedVolumization(StackedAdam(stack.parameters()), v=[0.5, 0.5, 0.5], alpha=0.5)
    stack(torch.randn(2, 8)).sum().backward()
    with pytest.raises(ValueError, match="3 values for 2"):
        opt.step()
