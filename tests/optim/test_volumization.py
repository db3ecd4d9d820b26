"""The volumization step (repro/optim/volumization.py): the special cases of the catalog's table, the equivalent
regulariser, Kaiming-V, the momentum-discount flag (and the authors' no-op), and per-tensor vs foreach paths over
a training run with a schedule and a state_dict round trip (the harness of test_paths.py)."""
import pytest
import torch

from repro.optim import Adam, LaProp, Volumization, kaiming_volume, volumize_
from tests.optim.test_paths import assert_same_run, loss_fn, problem, train

F64 = torch.float64


def one_step(w0, grad, lr=0.1, **vol):
    """One SGD step of size lr with the given gradient, then volumization (absolute V unless kaiming_v)."""
    w = w0.clone().requires_grad_()
    opt = Volumization(torch.optim.SGD([w], lr=lr), **{"kaiming_v": False, **vol})
    w.grad = grad.clone()
    opt.step()
    return w.detach()


def sample(n=2000, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, generator=gen, dtype=F64) * 2, torch.randn(n, generator=gen, dtype=F64)


def test_alpha_one_is_the_base_optimizer():
    for base in (lambda p: Adam(p, eps=1e-15), lambda p: LaProp(p), lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9)):
        plain = train(base)
        vol = train(lambda p, b=base: Volumization(b(p), v=0.01, alpha=1.0, kaiming_v=False), round_trip_at=-1)
        for p, q in zip(plain[0], vol[0]):
            assert torch.equal(p, q)


def test_alpha_zero_is_the_projection_onto_the_linf_ball():
    w0, g = sample()
    V = 0.7
    w = one_step(w0, g, v=V, alpha=0.0)
    torch.testing.assert_close(w, (w0 - 0.1 * g).clamp(-V, V), rtol=0, atol=1e-15)
    assert w.abs().max() == pytest.approx(V) and ((w0 - 0.1 * g).abs() > V).sum() > 100   # the wall was hit


def test_zero_volume_is_multiplicative_weight_decay():
    w0, g = sample()
    for alpha in (0.9, 0.5, 0.1):
        torch.testing.assert_close(one_step(w0, g, v=0.0, alpha=alpha), alpha * (w0 - 0.1 * g), rtol=1e-14, atol=1e-15)


def test_alpha_minus_one_is_the_elastic_reflection():
    w0, g = sample()
    V = 0.7
    w_hat = w0 - 0.1 * g
    w = one_step(w0, g, v=V, alpha=-1.0)
    out = w_hat.abs() > V
    # mirrored at the wall: sign(w_hat) w = 2V - |w_hat| (beyond 2V it lands on the other side); inside untouched
    torch.testing.assert_close((torch.sign(w_hat) * w)[out], 2 * V - w_hat.abs()[out], rtol=0, atol=1e-14)
    torch.testing.assert_close(w[~out], w_hat[~out], rtol=0, atol=1e-15)
    assert (w_hat.abs() > 2 * V).any() and (~out).any()
    assert one_step(torch.tensor([1.3]), torch.zeros(1), v=1.0, alpha=-1.0).item() == pytest.approx(0.7)


def test_catalog_unit_values():
    x = torch.tensor([1.3, -1.3, 0.4], dtype=F64)
    for alpha, want in ((0.0, [1.0, -1.0, 0.4]), (-1.0, [0.7, -0.7, 0.4]), (0.5, [1.15, -1.15, 0.4]),
                        (1.0, [1.3, -1.3, 0.4])):
        w = x.clone()
        volumize_(w, 1.0, alpha)
        torch.testing.assert_close(w, torch.tensor(want, dtype=F64))


@pytest.mark.parametrize("alpha", [0.9, 0.5, 0.0, -0.5, -1.0])
def test_step_is_one_gradient_step_on_the_equivalent_regulariser(alpha):
    """w <- w - lr grad R(w), R = (lam/2) sum (|w| - V)_+^2, lam = (1 - alpha)/lr: by autograd, not by the formula."""
    w_hat, _ = sample(seed=1)
    lr, V = 0.05, 0.8
    w = w_hat.clone().requires_grad_()
    R = (1 - alpha) / lr / 2 * ((w.abs() - V).clamp_min(0) ** 2).sum()
    (grad,) = torch.autograd.grad(R, w)
    vol = w_hat.clone()
    volumize_(vol, V, alpha)
    torch.testing.assert_close(vol, w_hat - lr * grad, rtol=0, atol=1e-13)
    assert not torch.equal(vol, w_hat)


def test_kaiming_v_is_v_times_the_signed_max_of_the_initial_tensor():
    torch.manual_seed(0)
    lin = torch.nn.Linear(784, 1024).double()
    w0 = lin.weight.detach().clone()
    opt = Volumization(torch.optim.SGD(lin.parameters(), lr=0.5), v=0.5, alpha=0.0)
    lin(torch.randn(8, 784, dtype=F64)).pow(2).sum().backward()
    opt.step()
    V = opt.state[lin.weight]["V"]
    assert V == pytest.approx(0.5 * w0.max().item())                       # signed max at the first step
    assert V == pytest.approx(0.5 / 784 ** 0.5, rel=0.01)                   # ~ v / sqrt(fan_in)
    assert lin.weight.abs().max().item() == pytest.approx(V)                # clipped there (alpha = 0)
    assert kaiming_volume(-torch.rand(5) - 0.1, 0.5) == 0.0                 # negative max: clamped at 0
    assert kaiming_volume(torch.tensor([-3.0, 0.2]), 2.0) == pytest.approx(0.4)   # signed, not abs, max


def test_authors_momentum_discount_is_a_no_op():
    """`state['exp_avg'][mask].mul_(alpha)` (their code) changes a copy: the buffer is unchanged."""
    m = torch.ones(6)
    mask = torch.tensor([True, False, True, False, False, True])
    m[mask].mul_(0.5)
    assert torch.equal(m, torch.ones(6))


@pytest.mark.parametrize("base", ["adam", "laprop", "sgd"])
def test_momentum_discount_flag_scales_the_crossing_elements(base):
    make = {"adam": lambda p: Adam(p, lr=0.1), "laprop": lambda p: LaProp(p, lr=0.1),
            "sgd": lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9)}[base]
    key = {"adam": "exp_avg", "laprop": "lr_weighted_exp_avg", "sgd": "momentum_buffer"}[base]
    w0, g = sample(50)
    runs = {}
    for flag in (None, False, True):   # None: the base optimizer alone
        w = w0.clone().requires_grad_()
        opt = make([w]) if flag is None else Volumization(make([w]), v=1.0, alpha=0.5, kaiming_v=False,
                                                          momentum_discount=flag)
        w.grad = g.clone()
        opt.step()
        state = opt.state[w] if flag is None else opt.base.state[w]
        runs[flag] = (w.detach().clone(), state[key].clone())
    (w_hat, m), (w_off, m_off), (w_on, m_on) = runs[None], runs[False], runs[True]
    out = w_hat.abs() > 1.0
    assert out.any() and (~out).any()
    assert torch.equal(w_off, w_on) and torch.equal(m_off, m)           # default: the authors' effective step
    torch.testing.assert_close(m_on[out], 0.5 * m[out], rtol=0, atol=0)  # flag: the stated algorithm
    assert torch.equal(m_on[~out], m[~out])


CONFIGS = [
    ("adam", dict(v=0.8, alpha=0.5, l2=1e-3)),
    ("adam", dict(v=0.5, alpha=-1.0, momentum_discount=True)),
    ("laprop", dict(v=0.5, alpha=0.0, momentum_discount=True)),
    ("sgd", dict(v=0.0, alpha=0.9)),
    ("sgd", dict(v=0.6, alpha=-0.5, momentum_discount=True)),
]
# Not alpha in (0, 1) with the discount under a schedule to lr -> 0: elements then converge onto the wall from
# outside (|w| - V shrinks by alpha per step) until one ulp decides whether their momentum is discounted, and the
# two paths' rounding differs there (a tie, not a bug: 2.7e-9 after 300 steps at alpha=0.3).


@pytest.mark.parametrize("base,config", CONFIGS, ids=[f"{b}-{i}" for i, (b, _) in enumerate(CONFIGS)])
def test_foreach_equals_single_tensor_over_training(base, config):
    make = {"adam": lambda p: Adam(p, betas=(0.9, 0.99), eps=1e-15, foreach=False),
            "laprop": lambda p: LaProp(p, betas=(0.9, 0.99), foreach=False),
            "sgd": lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, foreach=False)}[base]
    runs = [train(lambda p, f=f: Volumization(make(p), foreach=f, **config)) for f in (False, True)]
    assert_same_run(*runs, rtol=1e-10, atol=1e-12)
    (pa, oa), (pb, ob) = runs
    for p, q in zip(pa, pb):   # the base optimizer's state too
        for key, value in oa.base.state[p].items():
            torch.testing.assert_close(torch.as_tensor(value), torch.as_tensor(ob.base.state[q][key]), rtol=1e-10,
                                       atol=1e-12, msg=f"base state {key}")
    # the wall acted: some weight of the first layer sits at or inside its volume's reach
    x, y, init = problem()
    assert not torch.equal(pa[0], train(make)[0][0])
    assert torch.isfinite(loss_fn(pa, x, y, 0))


def test_state_dict_round_trip_is_exact():
    make = lambda p: Volumization(Adam(p), v=0.5, alpha=0.5)  # noqa: E731
    (a, _), (b, _) = train(make, round_trip_at=150), train(make, round_trip_at=-1)
    assert all(torch.equal(p, q) for p, q in zip(a, b))


def test_lr_set_on_the_wrapper_reaches_the_base():
    w = torch.zeros(3, requires_grad=True)
    opt = Volumization(torch.optim.SGD([w], lr=0.1), v=1.0, alpha=0.5)
    opt.param_groups[0]["lr"] = 0.01
    assert opt.base.param_groups[0]["lr"] == 0.01


def test_alpha_out_of_range_raises():
    with pytest.raises(ValueError, match="alpha"):
        Volumization(torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1), alpha=1.5)


def test_step_with_a_closure_returns_its_loss():
    w = torch.tensor([2.0], requires_grad=True)
    opt = Volumization(torch.optim.SGD([w], lr=0.1), v=1.0, alpha=0.0, kaiming_v=False)

    def closure():
        opt.zero_grad()
        loss = (w ** 2).sum()
        loss.backward()
        return loss

    assert opt.step(closure).item() == 4.0 and w.item() == 1.0   # 2 - 0.1 * 4 = 1.6, clipped to V = 1
