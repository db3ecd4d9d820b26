"""Each optimizer's code paths agree over a few hundred steps of a real (random) training problem, with an lr
schedule, weight decay and a state_dict round trip halfway: per-tensor vs foreach for Adam and LaProp (the fused
LaProp path against foreach is in test_fused.py)."""
import io
import math

import pytest
import torch

from repro.optim import Adam, LaProp

F64 = torch.float64


def problem(seed=0, dtype=F64):
    """A 2-layer tanh regression on random data: gradients depend on the iterate, so a discrepancy between two
    paths is fed back, not just summed."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(64, 6, generator=gen, dtype=dtype)
    y = torch.randn(64, 2, generator=gen, dtype=dtype)
    params = [torch.randn(6, 8, generator=gen, dtype=dtype) * 0.5, torch.zeros(8, dtype=dtype),
              torch.randn(8, 2, generator=gen, dtype=dtype) * 0.5, torch.zeros(2, dtype=dtype)]
    return x, y, params


def loss_fn(params, x, y, t):
    w1, b1, w2, b2 = params
    i = (t * 16) % 64   # minibatches of 16, cycling
    xb, yb = x[i:i + 16], y[i:i + 16]
    return ((torch.tanh(xb @ w1 + b1) @ w2 + b2 - yb) ** 2).mean()


def lr_at(t, steps, base=3e-2):
    """Linear warmup over 20 steps, then cosine decay to 0: every step has a different lr."""
    return base * min(1.0, (t + 1) / 20) * 0.5 * (1 + math.cos(math.pi * t / steps))


def train(make_optimizer, steps=300, round_trip_at=150, dtype=F64, seed=0):
    """Train from the same start; at `round_trip_at` the optimizer is rebuilt from a serialized state_dict."""
    x, y, init = problem(seed, dtype)
    params = [p.clone().requires_grad_() for p in init]
    opt = make_optimizer(params)
    for t in range(steps):
        if t == round_trip_at:
            buf = io.BytesIO()
            torch.save(opt.state_dict(), buf)
            buf.seek(0)
            opt = make_optimizer(params)
            opt.load_state_dict(torch.load(buf, weights_only=True))
        for group in opt.param_groups:
            group["lr"] = lr_at(t, steps)
        opt.zero_grad()
        loss_fn(params, x, y, t).backward()
        opt.step()
    return params, opt


def assert_same_run(a, b, rtol, atol):
    (pa, oa), (pb, ob) = a, b
    for p, q in zip(pa, pb, strict=True):
        torch.testing.assert_close(p, q, rtol=rtol, atol=atol)
        assert set(oa.state[p]) == set(ob.state[q])
        for key, value in oa.state[p].items():
            torch.testing.assert_close(torch.as_tensor(value), torch.as_tensor(ob.state[q][key]), rtol=rtol,
                                       atol=atol, msg=f"state {key}")


LAPROP_CONFIGS = [
    dict(),
    dict(weight_decay=0.01, weight_decay_mode="decoupled_no_lr"),
    dict(weight_decay=0.1, weight_decay_mode="decoupled_lr", amsgrad=True),
    dict(weight_decay=0.01, centered=True, amsgrad=True),
]
ADAM_CONFIGS = [
    dict(weight_decay=0.01),
    dict(weight_decay=0.1, weight_decay_mode="decoupled_lr", amsgrad=True),
    dict(weight_decay=0.01, eps=1e-3, eps_placement="before_bias_correction"),
]


def ids(c):
    return ",".join(f"{k}={v}" for k, v in c.items()) or "plain"


@pytest.mark.parametrize("config", LAPROP_CONFIGS, ids=ids)
def test_laprop_foreach_equals_single_tensor_over_training(config):
    runs = [train(lambda p, f=f: LaProp(p, betas=(0.9, 0.99), eps=1e-8, foreach=f, **config)) for f in (False, True)]
    assert_same_run(*runs, rtol=1e-10, atol=1e-12)
    (params, opt), _ = runs
    assert opt.state[params[0]]["step"] == 300
    # The run trained (so that agreement is not agreement on nothing) and moved far from its start.
    x, y, init = problem()
    assert loss_fn(params, x, y, 0) < 0.8 * loss_fn(init, x, y, 0)


@pytest.mark.parametrize("config", ADAM_CONFIGS, ids=ids)
def test_adam_foreach_equals_single_tensor_over_training(config):
    runs = [train(lambda p, f=f: Adam(p, betas=(0.9, 0.99), foreach=f, **config)) for f in (False, True)]
    assert_same_run(*runs, rtol=1e-10, atol=1e-12)


def test_state_dict_round_trip_is_exact():
    # A round trip at step 150 gives bit-identical results to an uninterrupted run, on both paths.
    for foreach in (False, True):
        make = lambda p: LaProp(p, weight_decay=0.01, foreach=foreach)  # noqa: E731
        (a, _), (b, _) = train(make, round_trip_at=150), train(make, round_trip_at=-1)
        assert all(torch.equal(p, q) for p, q in zip(a, b))
