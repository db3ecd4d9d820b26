"""Snake: values and gradients against closed forms, Proposition 1's variance, limits, and the module's a."""
import math

import numpy as np
import pytest
import torch

from repro.nn.snake import (A_MAX, Snake, snake, snake_grad, snake_init_, snake_mean, snake_second_moment,
                            snake_std, snake_variance, snake_variance_argmax)

DT = torch.float64


def x_grid(n=4001, lim=10.0):
    return torch.linspace(-lim, lim, n, dtype=DT)


@pytest.mark.parametrize("a", [0.05, 0.2, 0.5, 1.0, 5.0, 30.0])
def test_value_and_gradient_match_closed_forms(a):
    x = x_grid().requires_grad_()
    y = snake(x, a)
    closed = x - torch.cos(2 * a * x) / (2 * a) + 1 / (2 * a)          # Eq. 3, rewritten
    assert torch.allclose(y, closed, atol=1e-12, rtol=0)
    (g,) = torch.autograd.grad(y.sum(), x)
    assert torch.allclose(g, 1 + torch.sin(2 * a * x), atol=1e-12, rtol=0)
    assert torch.allclose(snake_grad(x.detach(), a), g, atol=1e-12, rtol=0)
    # monotone, Snake(0) = 0, Snake'(0) = 1, x <= Snake <= x + 1/a, period pi/a of the ripple
    assert g.min() >= -1e-12 and g.max() <= 2 + 1e-12
    assert snake(torch.zeros((), dtype=DT), a) == 0
    assert snake_grad(torch.zeros((), dtype=DT), a) == 1
    xd = x.detach()
    assert (y.detach() >= xd - 1e-12).all() and (y.detach() <= xd + 1 / a + 1e-12).all()
    ripple = lambda t: snake(t, a) - t  # noqa: E731
    assert torch.allclose(ripple(xd + math.pi / a), ripple(xd), atol=1e-9)


def test_figure_2_endpoint_values():
    x = torch.tensor([-2.5, 2.5], dtype=DT)
    expect = {1.0: (-2.1418, 2.8582), 0.2: (-1.3508, 3.6492), 5.0: (-2.4991, 2.5009)}
    for a, (lo, hi) in expect.items():
        y = snake(x, a)
        assert abs(y[0] - lo) < 1e-4 and abs(y[1] - hi) < 1e-4, (a, y)
    assert abs(snake(torch.tensor(2.5, dtype=DT), 0.2) - 3.65) < 1e-2   # "Snake_0.2(2.5) ~ 3.65, not 2.73"


# the catalog's table of sigma_a^2 and E[Snake_a] (Method, Proposition 1)
TABLE = [(0.2, 1.0683, 0.192), (0.25, 1.0979, 0.235), (0.3, 1.1269, 0.275), (0.35, 1.1531, 0.310),
         (0.4, 1.1746, 0.342), (0.45, 1.1902, 0.370), (0.5, 1.1998, 0.393), (0.56045, 1.2036, 0.416),
         (0.658, 1.1956, 0.440), (1, 1.1205, 0.432), (5, 1.0050, 0.100), (10, 1.0013, 0.050), (20, 1.0003, 0.025),
         (30, 1.0001, 0.017)]


@pytest.mark.parametrize("a,var,mean", TABLE)
def test_proposition_1_matches_the_catalog_table(a, var, mean):
    assert abs(float(snake_variance(a)) - var) <= 1e-4 + 1e-12
    assert abs(float(snake_mean(a)) - mean) <= 1e-3 + 1e-12


@pytest.mark.parametrize("a", [0.2, 0.5, A_MAX, 1.0, 5.0])
def test_proposition_1_against_gauss_hermite_quadrature(a):
    # E_{x~N(0,1)}[f(x)] = sum_i w_i f(x_i) / sqrt(2 pi) with probabilists' Hermite nodes (exact to rounding here)
    nodes, weights = np.polynomial.hermite_e.hermegauss(300)
    w = torch.tensor(weights / math.sqrt(2 * math.pi), dtype=DT)
    s = snake(torch.tensor(nodes, dtype=DT), a)
    m1, m2 = (w * s).sum(), (w * s * s).sum()
    assert abs(float(m1 - snake_mean(a))) < 1e-10
    assert abs(float(m2 - snake_second_moment(a))) < 1e-10
    assert abs(float(m2 - m1 ** 2 - snake_variance(a))) < 1e-10
    # the paper's un-simplified form 1 + (1 + e^-8a^2 - 2 e^-4a^2) / (8 a^2)
    paper = 1 + (1 + math.exp(-8 * a * a) - 2 * math.exp(-4 * a * a)) / (8 * a * a)
    assert abs(float(snake_variance(a)) - paper) < 1e-12


@pytest.mark.parametrize("a", [0.2, 0.5, 1.0, 5.0])
def test_variance_under_gaussian_inputs_monte_carlo(a):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2_000_000, generator=g, dtype=DT)
    s = snake(x, a)
    assert abs(float(s.var()) / float(snake_variance(a)) - 1) < 5e-3
    assert abs(float(s.mean()) - float(snake_mean(a))) < 5e-3


def test_variance_maximum():
    amax, vmax = snake_variance_argmax()
    assert 0.5600 <= amax <= 0.5610 and abs(amax - A_MAX) < 1e-8
    assert abs(vmax - 1.20363) < 1e-5
    a = torch.linspace(0.05, 10, 5000, dtype=DT)
    assert snake_variance(a).max() <= vmax + 1e-12


def test_limits_small_and_large_a():
    x = x_grid(2001, 3.0)
    # a -> 0: Snake -> identity, with the first correction a x^2
    for a in (1e-3, 1e-5, 1e-7):
        y = snake(x, a)
        assert (y - x).abs().max() <= a * 9 + 1e-15
        assert torch.allclose((y - x) / a, x * x, rtol=0, atol=10 * a * 81 + 1e-6)
    assert abs(float(snake_variance(1e-4)) - 1) < 1e-7          # Var -> 1 (2 a^2 correction)
    assert abs(float(snake_variance(1e-3)) - 1 - 2e-6) < 1e-9
    assert abs(float(snake_mean(1e-4)) - 1e-4) < 1e-10          # E -> a
    # a -> inf: Snake -> x plus a ripple of height 1/a
    for a in (1e2, 1e4, 1e6):
        y = snake(x, a)
        assert (y - x).min() >= -1e-12 and (y - x).max() <= 1 / a + 1e-12
    assert abs(float(snake_variance(1e6)) - 1) < 1e-12 and float(snake_mean(1e6)) < 1e-6


def test_constructive_identity_and_cosine_series():
    # cos(2 a u) = 1 - a [Snake_a(u) + Snake_a(-u)]  (Lemma 3: two Snake neurons make one cosine neuron)
    u = x_grid(10001, 50.0)
    for a in (0.3, 1.0, 7.0):
        assert torch.allclose(torch.cos(2 * a * u), 1 - a * (snake(u, a) + snake(-u, a)), atol=1e-12, rtol=0)
    # a hand-built width-2K Snake network reproduces a K-term phase-shifted cosine series
    g = torch.Generator().manual_seed(1)
    K, a = 6, 0.5
    c = torch.randn(K, generator=g, dtype=DT)
    phi = torch.rand(K, generator=g, dtype=DT) * 2 * math.pi
    k = torch.arange(1, K + 1, dtype=DT)
    x = torch.linspace(-20, 20, 3001, dtype=DT)
    target = (c * torch.cos(k * x[:, None] + phi)).sum(1)
    w = torch.cat([k, -k]) / (2 * a)                  # first layer: u = w x + b, 2K units
    b = torch.cat([phi, -phi]) / (2 * a)
    v = -a * torch.cat([c, c])                        # output layer, bias sum(c)
    net = snake(x[:, None] * w + b, a) @ v + c.sum()
    assert (net - target).abs().max() < 1e-10


def test_module_fixed_scalar_and_per_unit():
    m = Snake(a=0.3)
    assert "a" in dict(m.named_buffers()) and not list(m.parameters())
    assert m.a.item() == pytest.approx(0.3)                     # the initial value is honoured
    x = torch.randn(7, 5)
    assert torch.allclose(m(x), snake(x, 0.3))
    m = Snake(5, a=2.0)
    assert m.a.shape == (5,) and torch.all(m.a == 2.0)
    m.a.copy_(torch.tensor([0.1, 0.5, 1.0, 2.0, 4.0]))
    assert torch.allclose(m(x), snake(x, m.a))                  # per-unit a along the last dim
    conv = Snake(3, a=1.0, dim=1)
    conv.a.copy_(torch.tensor([0.5, 1.0, 2.0]))
    img = torch.randn(2, 3, 4, 4)
    assert torch.allclose(conv(img), snake(img, conv.a[None, :, None, None]))


def test_module_learnable_a_gets_gradients_and_stays_positive():
    m = Snake(4, a=1.5, a_mode="learnable")
    assert isinstance(m.a, torch.nn.Parameter) and torch.all(m.a.detach() == 1.5)
    x = torch.randn(32, 4)
    m(x).pow(2).sum().backward()
    # d/da [x + sin^2(ax)/a] = x sin(2ax)/a - sin^2(ax)/a^2, summed with the upstream gradient 2y
    a = torch.tensor(1.5)
    y = snake(x, a)
    expect = (2 * y * (x * torch.sin(2 * a * x) / a - torch.sin(a * x) ** 2 / a ** 2)).sum(0)
    assert torch.allclose(m.a.grad, expect, rtol=1e-4, atol=1e-4)
    opt = torch.optim.SGD(m.parameters(), lr=1.0)
    m.a.grad = torch.full((4,), 10.0)                            # a step that drives a negative
    opt.step()
    assert (m.a.detach() < 0).all()
    assert (m.effective_a() >= 1e-6).all()                       # ... is clamped in the forward
    out = m(x)
    assert torch.isfinite(out).all() and torch.allclose(out, snake(x, 1e-6), atol=1e-4)


def test_halfnormal50_init_is_seeded_positive_and_has_scale_50():
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    m1 = Snake(20000, a_init="halfnormal50", a_mode="learnable", generator=g1)
    m2 = Snake(20000, a_init="halfnormal50", generator=g2)
    assert torch.equal(m1.a.detach(), m2.a)
    assert (m2.a > 0).all()
    assert abs(m2.a.mean().item() - 50 * math.sqrt(2 / math.pi)) < 1.0       # E|N(0, 50^2)| = 39.89
    with pytest.raises(ValueError):
        Snake(a=0.0)
    with pytest.raises(ValueError):
        Snake(a=1.0, variance_correction="bogus")


@pytest.mark.parametrize("a", [0.2, 0.5, 0.658, 1.0])
def test_variance_correction_modes(a):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1_000_000, generator=g, dtype=DT)
    paper = Snake(a=a, variance_correction="paper").double()
    assert torch.allclose(paper(x), snake(x, a) / snake_std(a), atol=1e-12)
    assert abs(paper(x).var().item() - 1) < 5e-3                # unit variance, mean left in
    assert abs(paper(x).mean().item() - float(snake_mean(a) / snake_std(a))) < 5e-3
    cv = Snake(a=a, variance_correction="center_var").double()
    y = cv(x)
    assert abs(y.mean().item()) < 5e-3 and abs(y.var().item() - 1) < 5e-3


def test_paper_init_has_variance_one_over_fan_in():
    lin = torch.nn.Linear(400, 300)
    snake_init_(lin, torch.Generator().manual_seed(0))
    assert lin.weight.abs().max() <= math.sqrt(3 / 400)
    assert abs(lin.weight.var().item() * 400 - 1) < 0.02
