import torch

from repro.nn.snake import Snake
from repro.nn.snake_resnet import ResNet


def n_params(m):
    return sum(p.numel() for p in m.parameters())


def test_resnet18_and_101_shapes_and_parameter_counts():
    r18 = ResNet("resnet18", "relu")
    assert 11.1e6 < n_params(r18) < 11.2e6          # kuangliu ResNet18: 11,173,962 ("roughly 10M")
    assert n_params(r18) == 11173962
    r101 = ResNet("resnet101", "relu", width=4)
    convs = [m for m in r101.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 1 + 3 * (3 + 4 + 23 + 3) + 4          # stem, 3 per bottleneck, 4 projections
    x = torch.randn(2, 3, 32, 32)
    assert r101(x).shape == (2, 10)


def test_every_relu_is_replaced_by_a_fresh_snake():
    m = ResNet("resnet18", "snake", a=0.5, variance_correction="paper", width=4,
               generator=torch.Generator().manual_seed(0))
    snakes = [s for s in m.modules() if isinstance(s, Snake)]
    assert len(snakes) == 1 + 2 * 8 and len({id(s) for s in snakes}) == len(snakes)
    assert all(float(s.a) == 0.5 and s.variance_correction == "paper" for s in snakes)
    assert not any(isinstance(s, torch.nn.ReLU) for s in m.modules())
    twin = ResNet("resnet18", "snake", a=0.5, variance_correction="paper", width=4,
                  generator=torch.Generator().manual_seed(0))
    assert all(torch.equal(p, q) for p, q in zip(m.parameters(), twin.parameters()))
    out = m(torch.randn(4, 3, 32, 32))
    out.sum().backward()
    assert torch.isfinite(out).all() and m.conv1.weight.grad is not None
