import math

import torch

from repro.nn.snake import Snake
from repro.nn.snake_mlp import mlp


def test_mlp_structure_init_and_seeding():
    g = lambda: torch.Generator().manual_seed(5)  # noqa: E731
    net = mlp([1, 64, 64, 1], "snake", a=20.0, bias_last=False, generator=g())
    lins = [m for m in net if isinstance(m, torch.nn.Linear)]
    acts = [m for m in net if isinstance(m, Snake)]
    assert [lin.weight.shape for lin in lins] == [(64, 1), (64, 64), (1, 64)]
    assert lins[-1].bias is None and len(acts) == 2 and acts[0] is not acts[1]
    assert all(float(a.a) == 20.0 for a in acts)
    for lin in lins:                                      # PyTorch's default bound 1/sqrt(fan_in)
        assert lin.weight.abs().max() <= 1 / math.sqrt(lin.in_features)
    twin = mlp([1, 64, 64, 1], "snake", a=20.0, bias_last=False, generator=g())
    assert all(torch.equal(p, q) for p, q in zip(net.parameters(), twin.parameters()))


def test_mlp_per_unit_learnable_halfnormal_and_paper_init():
    net = mlp([1, 100, 100, 1], "snake", per_unit=True, a_mode="learnable", a_init="halfnormal50",
              generator=torch.Generator().manual_seed(0))
    acts = [m for m in net if isinstance(m, Snake)]
    assert acts[0].a.shape == (100,) and acts[0].a.requires_grad and (acts[0].a > 0).all()
    assert not torch.equal(acts[0].a, acts[1].a)
    net = mlp([300, 300, 10], "relu", init="snake", generator=torch.Generator().manual_seed(0))
    assert net[0].weight.abs().max() <= math.sqrt(3 / 300)
    assert abs(net[0].weight.var().item() * 300 - 1) < 0.05
