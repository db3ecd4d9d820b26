"""repro.optim.LaProp against hand-written references of the catalog's formulas (laprop.md, "Method")."""
import math

import pytest
import torch

from repro.optim import LaProp

F64 = torch.float64
SHAPES = [(), (1,), (7,), (3, 4), (2, 3, 5)]


def random_grads(shape, steps, seed):
    gen = torch.Generator().manual_seed(seed)
    # Magnitudes over six decades so that normalisation, not the raw scale, decides the step.
    return [torch.randn(shape, generator=gen, dtype=F64) * 10 ** (3 * torch.rand((), generator=gen) - 3)
            for _ in range(steps)]


def run_laprop(x0, grads, lrs, **kw):
    """Apply LaProp to a copy of x0 with grads[t] and lr lrs[t]; return the iterates x_1..x_T."""
    x = x0.clone().requires_grad_()
    opt = LaProp([x], lr=lrs[0], **kw)
    iterates = []
    for g, lr in zip(grads, lrs):
        opt.param_groups[0]["lr"] = lr
        x.grad = g.clone()
        opt.step()
        iterates.append(x.detach().clone())
    return iterates


def textbook_laprop(x0, grads, lr, mu, nu, eps):
    """Algorithm 1 for constant lr: c_n = 1 - nu^t by power, momentum of normalised gradients, lr m_t / c_m."""
    x, m, n, iterates = x0.clone(), torch.zeros_like(x0), torch.zeros_like(x0), []
    for t, g in enumerate(grads, start=1):
        n = nu * n + (1 - nu) * g * g
        m = mu * m + (1 - mu) * g / ((n / (1 - nu**t)).sqrt() + eps)
        x = x - lr * m / (1 - mu**t)
        iterates.append(x)
    return iterates


def assert_iterates_close(actual, expected, rtol=1e-12, atol=1e-14):
    for a, e in zip(actual, expected, strict=True):
        torch.testing.assert_close(a, e, rtol=rtol, atol=atol)


CONFIGS = [
    dict(),
    dict(amsgrad=True),
    dict(centered=True),
    dict(centered=True, amsgrad=True),
    dict(weight_decay=0.05, weight_decay_mode="decoupled_no_lr"),
    dict(weight_decay=0.5, weight_decay_mode="decoupled_lr"),
    dict(weight_decay=0.05, amsgrad=True, centered=True, weight_decay_mode="decoupled_lr"),
]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()) or "plain")
def test_foreach_equals_single_tensor(config):
    torch.manual_seed(0)
    x0 = [torch.randn(s, dtype=F64) for s in SHAPES]
    paths = {}
    for foreach in (False, True):
        params = [x.clone().requires_grad_() for x in x0]
        opt = LaProp(params, lr=1e-2, betas=(0.8, 0.95), eps=1e-8, foreach=foreach, **config)
        gen = torch.Generator().manual_seed(1)
        for t in range(30):
            opt.param_groups[0]["lr"] = 1e-2 * (1.5 + math.sin(t))  # schedule changes every step
            for i, p in enumerate(params):
                # Tensor 2 misses steps 3-5, so its step count (and centred/amsgrad phase) lags the others'.
                p.grad = None if (i == 2 and 3 <= t <= 5) else torch.randn(p.shape, generator=gen, dtype=F64)
            opt.step()
        paths[foreach] = (params, opt)
    (single, single_opt), (multi, multi_opt) = paths[False], paths[True]
    for p, q in zip(single, multi):
        torch.testing.assert_close(p, q, rtol=1e-13, atol=1e-15)
        for key, value in single_opt.state[p].items():
            torch.testing.assert_close(torch.as_tensor(value), torch.as_tensor(multi_opt.state[q][key]),
                                       rtol=1e-13, atol=1e-15)
    assert single_opt.state[single[2]]["step"] == 27 and single_opt.state[single[0]]["step"] == 30


def test_defaults_are_the_authors():
    group = LaProp([torch.zeros(1, requires_grad=True)]).param_groups[0]
    assert (group["lr"], group["betas"], group["eps"], group["weight_decay"]) == (4e-4, (0.9, 0.999), 1e-15, 0)
    assert (group["amsgrad"], group["centered"], group["weight_decay_mode"]) == (False, False, "decoupled_no_lr")


@pytest.mark.parametrize("foreach", [False, True])
@pytest.mark.parametrize("mu,nu,eps", [(0.9, 0.999, 1e-15), (0.5, 0.9, 1e-3), (0.99, 0.3, 1e-8)])
def test_constant_lr_equals_textbook_form(mu, nu, eps, foreach):
    x0 = torch.randn(3, 4, dtype=F64)
    grads = random_grads((3, 4), 40, seed=2)
    actual = run_laprop(x0, grads, [0.01] * 40, betas=(mu, nu), eps=eps, foreach=foreach)
    assert_iterates_close(actual, textbook_laprop(x0, grads, 0.01, mu, nu, eps))


def test_lr_schedule_keeps_the_lr_each_momentum_term_was_accumulated_with():
    mu, nu, eps = 0.9, 0.99, 1e-8
    x0 = torch.randn(5, dtype=F64)
    grads = random_grads((5,), 30, seed=3)
    lrs = [0.1 * 0.8**t for t in range(30)]
    x, M, L, n, expected, naive = x0.clone(), torch.zeros(5, dtype=F64), 0.0, torch.zeros(5, dtype=F64), [], []
    x_naive, m = x0.clone(), torch.zeros(5, dtype=F64)
    for t, (g, lr) in enumerate(zip(grads, lrs), start=1):
        n = nu * n + (1 - nu) * g * g
        g_hat = g / ((n / (1 - nu**t)).sqrt() + eps)
        M, L = mu * M + (1 - mu) * lr * g_hat, mu * L + (1 - mu) * lr
        x = x - lr / L * M
        expected.append(x)
        m = mu * m + (1 - mu) * g_hat
        x_naive = x_naive - lr * m / (1 - mu**t)
        naive.append(x_naive)
    actual = run_laprop(x0, grads, lrs, betas=(mu, nu), eps=eps)
    assert_iterates_close(actual, expected)
    # The convention is visible: lr_t m_t / c_m would have moved x differently.
    assert (actual[-1] - naive[-1]).abs().max() > 1e-3


@pytest.mark.parametrize("mu", [0.0, 0.5, 0.9])
def test_nu_zero_is_bias_corrected_momentum_on_signs(mu):
    x0 = torch.randn(20, dtype=F64)
    grads = random_grads((20,), 25, seed=4)
    x, m, expected = x0.clone(), torch.zeros(20, dtype=F64), []
    for t, g in enumerate(grads, start=1):
        m = mu * m + (1 - mu) * g.sign()
        x = x - 0.01 * m / (1 - mu**t)
        expected.append(x)
    # Exact at eps = 0; with eps > 0 the normalised gradient is g / (|g| + eps).
    assert_iterates_close(run_laprop(x0, grads, [0.01] * 25, betas=(mu, 0.0), eps=0.0), expected)


@pytest.mark.parametrize("nu", [0.5, 0.99])
def test_mu_zero_is_bias_corrected_rmsprop(nu):
    eps = 1e-2  # not negligible: checks that eps sits outside the sqrt, after bias correction
    x0 = torch.randn(20, dtype=F64)
    grads = random_grads((20,), 25, seed=5)
    x, n, expected = x0.clone(), torch.zeros(20, dtype=F64), []
    for t, g in enumerate(grads, start=1):
        n = nu * n + (1 - nu) * g * g
        x = x - 0.01 * g / ((n / (1 - nu**t)).sqrt() + eps)
        expected.append(x)
    assert_iterates_close(run_laprop(x0, grads, [0.01] * 25, betas=(0.0, nu), eps=eps), expected)


@pytest.mark.parametrize("mu,nu", [(0.9, 0.999), (0.0, 0.1), (0.99, 0.5)])
def test_first_step_has_size_lr(mu, nu):
    # n_1 / c_n = g^2, so |dx_1| = lr |g| / (|g| + eps): lr up to eps / |g| (< 1e-9 here at the default eps).
    x0 = torch.randn(100, dtype=F64)
    (g,) = random_grads((100,), 1, seed=6)
    (x1,) = run_laprop(x0, [g], [0.3], betas=(mu, nu))
    torch.testing.assert_close((x1 - x0).abs(), 0.3 * g.abs() / (g.abs() + 1e-15), rtol=1e-14, atol=0)
    torch.testing.assert_close((x1 - x0).abs(), torch.full_like(x0, 0.3), rtol=1e-9, atol=0)


def test_zero_lr_does_not_move_the_parameter():
    x0 = torch.randn(6, dtype=F64)
    iterates = run_laprop(x0, random_grads((6,), 8, seed=7), [0.1] * 5 + [0.0] * 3)
    assert not torch.equal(iterates[4], x0)
    assert torch.equal(iterates[5], iterates[4]) and torch.equal(iterates[7], iterates[4])


@pytest.mark.parametrize("foreach", [False, True])
def test_centered_uses_uncorrected_mean_after_step_10(foreach):
    # Constant g = 1, mu = 0, eps = 0: n_t = s_t = c_n, so D_t / c_n = 1 - c_n = nu^t once centring is on.
    nu, lr = 0.9, 0.1
    x = torch.zeros(2, dtype=F64, requires_grad=True)
    opt = LaProp([x, torch.zeros(1, dtype=F64, requires_grad=True)], lr=lr, betas=(0.0, nu), eps=0.0,
                 centered=True, foreach=foreach)
    for t in range(1, 16):
        before = x.detach().clone()
        for p in opt.param_groups[0]["params"]:
            p.grad = torch.ones_like(p)
        opt.step()
        expected = lr if t <= 10 else lr / nu ** (t / 2)
        torch.testing.assert_close((before - x.detach()), torch.full((2,), expected, dtype=F64), rtol=1e-10, atol=0)


@pytest.mark.parametrize("foreach", [False, True])
def test_centered_amsgrad_tracks_the_max_from_step_11(foreach):
    # As above; D_t = c_n (1 - c_n) decreases after t = 11 at nu = 0.9, so the max stays at D_11.
    nu, lr = 0.9, 0.1
    x = torch.zeros(2, dtype=F64, requires_grad=True)
    opt = LaProp([x, torch.zeros(1, dtype=F64, requires_grad=True)], lr=lr, betas=(0.0, nu), eps=0.0,
                 centered=True, amsgrad=True, foreach=foreach)
    c_n = [1 - nu**t for t in range(16)]
    d_11 = c_n[11] * (1 - c_n[11])
    for t in range(1, 16):
        before = x.detach().clone()
        for p in opt.param_groups[0]["params"]:
            p.grad = torch.ones_like(p)
        opt.step()
        expected = lr if t <= 10 else lr / math.sqrt(d_11 / c_n[t])
        torch.testing.assert_close((before - x.detach()), torch.full((2,), expected, dtype=F64), rtol=1e-10, atol=0)


@pytest.mark.parametrize("foreach", [False, True])
def test_amsgrad_takes_max_of_uncorrected_second_moment(foreach):
    mu, nu, eps = 0.7, 0.5, 1e-8
    x0 = torch.randn(10, dtype=F64)
    # Shrinking gradients, so that the max differs from n_t, and max(n_t) differs from max(n_t / c_n).
    grads = [g * 0.5**t for t, g in enumerate(random_grads((10,), 20, seed=8))]
    x, m, n, n_max, expected = x0.clone(), torch.zeros(10, dtype=F64), torch.zeros(10, dtype=F64), None, []
    for t, g in enumerate(grads, start=1):
        n = nu * n + (1 - nu) * g * g
        n_max = n if n_max is None else torch.maximum(n_max, n)
        m = mu * m + (1 - mu) * g / ((n_max / (1 - nu**t)).sqrt() + eps)
        x = x - 0.01 * m / (1 - mu**t)
        expected.append(x)
    actual = run_laprop(x0, grads, [0.01] * 20, betas=(mu, nu), eps=eps, amsgrad=True, foreach=foreach)
    assert_iterates_close(actual, expected)
    assert (actual[-1] - textbook_laprop(x0, grads, 0.01, mu, nu, eps)[-1]).abs().max() > 1e-4


@pytest.mark.parametrize("foreach", [False, True])
def test_weight_decay_modes(foreach):
    lr, wd = 0.1, 0.2
    x0 = torch.randn(4, dtype=F64)
    zero = [torch.zeros(4, dtype=F64)] * 5  # g = 0 normalises to 0: only the decay moves x
    for mode, factor in (("decoupled_no_lr", 1 - wd), ("decoupled_lr", 1 - wd * lr)):
        decayed = run_laprop(x0, zero, [lr] * 5, weight_decay=wd, weight_decay_mode=mode, foreach=foreach)
        torch.testing.assert_close(decayed[-1], x0 * factor**5, rtol=1e-14, atol=0)
    # Order: no_lr decays after the step, lr decays before it.
    g = random_grads((4,), 1, seed=9)
    step = dict(weight_decay=wd, eps=0.0, foreach=foreach)  # eps = 0: the first step is exactly lr sign(g)
    (after,) = run_laprop(x0, g, [lr], weight_decay_mode="decoupled_no_lr", **step)
    (before,) = run_laprop(x0, g, [lr], weight_decay_mode="decoupled_lr", **step)
    torch.testing.assert_close(after, (1 - wd) * (x0 - lr * g[0].sign()), rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(before, (1 - wd * lr) * x0 - lr * g[0].sign(), rtol=1e-12, atol=1e-14)


def test_sparse_gradients_raise():
    x = torch.zeros(3, requires_grad=True)
    x.grad = torch.zeros(3).to_sparse()
    with pytest.raises(RuntimeError, match="sparse"):
        LaProp([x]).step()


@pytest.mark.parametrize("kw", [dict(weight_decay_mode="l2"), dict(betas=(0.9, 1.0)), dict(lr=-1.0), dict(eps=-1.0)])
def test_invalid_arguments_raise(kw):
    with pytest.raises(ValueError):
        LaProp([torch.zeros(1, requires_grad=True)], **kw)
