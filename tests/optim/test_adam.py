"""repro.optim.Adam against torch.optim.Adam / AdamW, and the optimizer registry."""
import math

import pytest
import torch

from repro.optim import OPTIMIZERS, Adam, LaProp, make_optimizer

F64 = torch.float64
SHAPES = [(), (5,), (3, 4), (2, 3, 2)]


def run_pair(ours, reference, steps=50, dtype=F64, lr_schedule=None, after_step=None, seed=0):
    """Drive two optimizer factories with the same random gradients; return both parameter lists."""
    gen = torch.Generator().manual_seed(seed)
    x0 = [torch.randn(s, generator=gen, dtype=dtype) for s in SHAPES]
    a, b = [x.clone().requires_grad_() for x in x0], [x.clone().requires_grad_() for x in x0]
    opt_a, opt_b = ours(a), reference(b)
    for t in range(steps):
        if lr_schedule is not None:
            opt_a.param_groups[0]["lr"] = opt_b.param_groups[0]["lr"] = lr_schedule(t)
        for p, q in zip(a, b):
            g = torch.randn(p.shape, generator=gen, dtype=dtype) * 10 ** (2 * torch.rand((), generator=gen) - 1)
            p.grad, q.grad = g.clone(), g.clone()
        opt_a.step()
        opt_b.step()
        if after_step is not None:
            after_step(b)
    return a, b


def assert_params_close(a, b, rtol, atol):
    for p, q in zip(a, b):
        torch.testing.assert_close(p, q, rtol=rtol, atol=atol)


@pytest.mark.parametrize("foreach", [False, True])
@pytest.mark.parametrize("amsgrad", [False, True])
def test_equals_torch_adam(amsgrad, foreach):
    kw = dict(lr=1e-2, betas=(0.8, 0.99), eps=1e-8, amsgrad=amsgrad)
    a, b = run_pair(lambda p: Adam(p, foreach=foreach, **kw), lambda p: torch.optim.Adam(p, foreach=False, **kw))
    assert_params_close(a, b, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("amsgrad", [False, True])
def test_equals_torch_adam_in_float32_with_lr_schedule(amsgrad):
    kw = dict(lr=1e-2, amsgrad=amsgrad)
    a, b = run_pair(lambda p: Adam(p, **kw), lambda p: torch.optim.Adam(p, **kw), dtype=torch.float32,
                    lr_schedule=lambda t: 1e-2 * (1.5 + math.cos(t)))
    assert_params_close(a, b, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("foreach", [False, True])
@pytest.mark.parametrize("amsgrad", [False, True])
def test_decoupled_lr_decay_equals_torch_adamw(amsgrad, foreach):
    kw = dict(lr=1e-2, eps=1e-8, weight_decay=0.3, amsgrad=amsgrad)
    a, b = run_pair(lambda p: Adam(p, weight_decay_mode="decoupled_lr", foreach=foreach, **kw),
                    lambda p: torch.optim.AdamW(p, foreach=False, **kw))
    assert_params_close(a, b, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("foreach", [False, True])
def test_decoupled_no_lr_decay_is_applied_after_the_step_without_lr(foreach):
    # The LaProp authors' AdamW: an undecayed Adam step, then x <- (1 - wd) x.
    wd = 0.05

    def decay(params):
        with torch.no_grad():
            for p in params:
                p.mul_(1 - wd)

    a, b = run_pair(lambda p: Adam(p, lr=1e-2, weight_decay=wd, foreach=foreach),
                    lambda p: torch.optim.Adam(p, lr=1e-2), after_step=decay)
    assert_params_close(a, b, rtol=1e-12, atol=1e-14)
    untouched, _ = run_pair(lambda p: Adam(p, lr=1e-2), lambda p: torch.optim.Adam(p, lr=1e-2))
    assert (a[1] - untouched[1]).abs().max() > 1e-2  # the decay did act


def test_eps_before_bias_correction_is_the_old_pytorch_form():
    # Step 1, g = 1e-3 with eps = 1e-3 and nu = 0.99: torch >= 1.3 steps lr g / (|g| + eps); the old form
    # lr sqrt(c_n) / c_m m / (sqrt(n) + eps) steps lr g / (|g| + eps / sqrt(1 - nu)).
    lr, g, eps, nu = 0.1, 1e-3, 1e-3, 0.99
    steps = {}
    for placement in ("after_bias_correction", "before_bias_correction"):
        x = torch.zeros(1, dtype=F64, requires_grad=True)
        opt = Adam([x], lr=lr, betas=(0.9, nu), eps=eps, eps_placement=placement)
        x.grad = torch.full_like(x, g)
        opt.step()
        steps[placement] = -x.item()
    assert steps["after_bias_correction"] == pytest.approx(lr * g / (g + eps), rel=1e-14)
    assert steps["before_bias_correction"] == pytest.approx(lr * g / (g + eps / math.sqrt(1 - nu)), rel=1e-14)


@pytest.mark.parametrize("foreach", [False, True])
def test_eps_before_bias_correction_over_many_steps(foreach):
    mu, nu, eps, lr = 0.9, 0.999, 1e-2, 1e-2
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(6, generator=gen, dtype=F64)
    ours = x.clone().requires_grad_()
    opt = Adam([ours], lr=lr, betas=(mu, nu), eps=eps, eps_placement="before_bias_correction", foreach=foreach)
    m, n = torch.zeros_like(x), torch.zeros_like(x)
    for t in range(1, 31):
        g = torch.randn(6, generator=gen, dtype=F64) * 0.05
        ours.grad = g.clone()
        opt.step()
        m, n = mu * m + (1 - mu) * g, nu * n + (1 - nu) * g * g
        x = x - lr * math.sqrt(1 - nu**t) / (1 - mu**t) * m / (n.sqrt() + eps)
    torch.testing.assert_close(ours.detach(), x, rtol=1e-12, atol=1e-14)


def test_sparse_gradients_raise():
    x = torch.zeros(3, requires_grad=True)
    x.grad = torch.zeros(3).to_sparse()
    with pytest.raises(RuntimeError, match="sparse"):
        Adam([x]).step()


@pytest.mark.parametrize("kw", [dict(weight_decay_mode="l2"), dict(eps_placement="inside"), dict(betas=(1.0, 0.9))])
def test_invalid_arguments_raise(kw):
    with pytest.raises(ValueError):
        Adam([torch.zeros(1, requires_grad=True)], **kw)


def test_make_optimizer_builds_each_registered_optimizer():
    x = [torch.zeros(2, requires_grad=True)]
    assert set(OPTIMIZERS) == {"adam", "amsgrad", "laprop", "sgd"}
    adam, amsgrad = make_optimizer("adam", x, lr=0.1), make_optimizer("amsgrad", x, lr=0.1)
    assert type(adam) is Adam and not adam.defaults["amsgrad"]
    assert type(amsgrad) is Adam and amsgrad.defaults["amsgrad"]
    assert type(make_optimizer("laprop", x)) is LaProp
    sgd = make_optimizer("sgd", x, lr=0.1, momentum=0.9)
    assert type(sgd) is torch.optim.SGD and sgd.defaults["momentum"] == 0.9


def test_make_optimizer_rejects_unknown_names_listing_the_choices():
    with pytest.raises(ValueError, match="adam, amsgrad, laprop, sgd"):
        make_optimizer("adamw", [torch.zeros(1, requires_grad=True)])
