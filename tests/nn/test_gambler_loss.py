"""repro.nn.gambler_loss against the catalog (gambler.md, "Outputs and loss", "Auto-scheduled o", "Test metrics"):
the formula and its equivalent form, the NLL mode, the o-heuristics and their ranges, no gradient through o, the
warm-up boundary, scoring every test image, and the plateau loss of repro.theory.gambler."""
import math

import numpy as np
import pytest
import torch

from repro.nn.gambler_loss import (
    GamblerLoss,
    abstention,
    auto_payoff,
    equivalent_form,
    gambler_active,
    gambler_loss,
    nll_payoff,
    payoff_for_epoch,
    predict,
    top1_correct,
)
from repro.theory.gambler import noisy_label_distribution, plateau_bet, plateau_loss, plateau_abstention

M = 10


def random_logits(b=64, m=M, seed=0, scale=2.0):
    g = torch.Generator().manual_seed(seed)
    return scale * torch.randn(b, m + 1, generator=g, dtype=torch.float64), torch.randint(0, m, (b,), generator=g)


def test_formula():
    z, y = random_logits()
    f = torch.softmax(z, -1)
    for o in (1.5, 5.0, 9.9):
        expected = -torch.log(f[torch.arange(len(y)), y] + f[:, -1] / o + 1e-10)
        assert torch.allclose(gambler_loss(z, y, o, reduction="none").double(), expected, rtol=1e-5)
        assert gambler_loss(z, y, o).item() == pytest.approx(expected.mean().item(), rel=1e-5)
        assert gambler_loss(z, y, o, reduction="sum").item() == pytest.approx(expected.sum().item(), rel=1e-5)


def test_equivalent_form_has_the_same_gradients():
    z, y = random_logits(seed=1)
    z1, z2 = z.clone().requires_grad_(), z.clone().requires_grad_()
    gambler_loss(z1, y, 9.9, eps=0.0).backward()
    equivalent_form(z2, y, 9.9).backward()
    assert torch.allclose(z1.grad, z2.grad, atol=1e-6)


def test_nll_mode():
    """o = 1000 + m: the loss is -ln f_y - ln(1 + f_{m+1}/((1000 + m) f_y)), within ln(1 + 1/1010) of -ln f_y
    wherever f_{m+1} <= f_y."""
    z, y = random_logits(seed=2)
    assert nll_payoff(10) == 1010 and nll_payoff(2) == 1002
    f = torch.softmax(z, -1)
    fy, fa = f[torch.arange(len(y)), y], f[:, -1]
    nll = -torch.log(fy)
    diff = nll - gambler_loss(z, y, nll_payoff(M), reduction="none", eps=0.0).double()
    assert torch.allclose(diff, torch.log1p(fa / (1010 * fy)), atol=1e-5)
    assert (diff[fa <= fy] <= math.log1p(1 / 1010) + 1e-6).all()
    assert torch.allclose(GamblerLoss("nll")(z, y), gambler_loss(z, y, 1010.0))
    ce = torch.nn.functional.cross_entropy(z[:, :M].float(), y)
    assert GamblerLoss("ce")(z, y).item() == pytest.approx(ce.item(), rel=1e-6)


def test_plateau_prediction_gives_L_star():
    """Feeding the plateau optimum (p*, 0, ..., 0, u) and averaging over the noisy-label distribution gives L*."""
    for a, o, m in [(0.8, 9.9, 10), (0.5, 9.9, 10), (0.7, 1.95, 2)]:
        f = torch.full((m + 1,), 1e-30, dtype=torch.float64)
        f[0], f[m] = plateau_bet(a, o), plateau_abstention(a, o)
        z = torch.log(f).expand(m, m + 1)
        per_label = gambler_loss(z, torch.arange(m), o, reduction="none", eps=0.0).double()
        q = torch.as_tensor(noisy_label_distribution(a, m))
        assert float((q * per_label).sum()) == pytest.approx(plateau_loss(a, o), abs=1e-5)


def test_auto_payoff_values():
    m = M
    onehot = torch.full((1, m + 1), -1e4)
    onehot[0, 3] = 0.0
    flat = torch.zeros(1, m + 1)
    flat[0, -1] = -1e4                              # uniform over the classes, no abstention
    for kind in ("euc", "exp"):
        assert auto_payoff(onehot, kind).item() == pytest.approx(1.0, abs=1e-4)
        assert auto_payoff(flat, kind).item() == pytest.approx(m, rel=1e-4)
    # mid = euc / (1 - f_{m+1}) exactly (up to the 1e-10)
    z, _ = random_logits(seed=3)
    a = abstention(z).float()
    assert torch.allclose(auto_payoff(z, "mid") * (1 - a), auto_payoff(z, "euc"), rtol=1e-4)
    # euc is the participation ratio of the class part: 1 <= o <= m whatever the abstention
    z = torch.randn(2000, m + 1) * 2
    o = auto_payoff(z, "euc")
    assert (o >= 1 - 1e-4).all() and (o <= m + 1e-4).all()
    p = torch.softmax(z, -1)[:, :m].double()
    assert torch.allclose(o.double(), p.sum(-1) ** 2 / p.pow(2).sum(-1), rtol=1e-4)
    # exp: exp(-sum c ln c / sum c) = exp(H(p/s))/s, s = 1 - f_{m+1}: the effective class number over s
    oe, s = auto_payoff(z, "exp").double(), p.sum(-1)
    ph = p / s[:, None]
    assert torch.allclose(oe * s, torch.exp(-(ph * ph.log()).sum(-1)), rtol=1e-4)
    assert (oe * s >= 1 - 1e-4).all() and (oe * s <= m + 1e-4).all()
    with pytest.raises(ValueError):
        auto_payoff(z, "l2")


@pytest.mark.parametrize("kind", ["euc", "mid", "exp"])
def test_no_gradient_through_o(kind):
    """The auto-scheduled o is a constant for the gradient: same gradient as with o detached by hand."""
    z, y = random_logits(seed=4)
    z1, z2 = z.clone().requires_grad_(), z.clone().requires_grad_()
    GamblerLoss(kind)(z1, y).backward()
    o = auto_payoff(z, kind)
    assert not o.requires_grad
    gambler_loss(z2, y, o.clone()).backward()
    assert torch.allclose(z1.grad, z2.grad)
    # a per-sample o with grad attached is detached inside
    z3 = z.clone().requires_grad_()
    o3 = torch.softmax(z3, -1)[:, 0] + 5.0
    gambler_loss(z3, y, o3).backward()
    z4 = z.clone().requires_grad_()
    gambler_loss(z4, y, o3.detach()).backward()
    assert torch.allclose(z3.grad, z4.grad)


def test_warm_up_boundary():
    """icml_submission.py: epoch >= s (s = 10 -> epochs 1-9 NLL); final main.py: epoch > s (epochs 1-10)."""
    icml = [e for e in range(1, 21) if not gambler_active(e, 10)]
    final = [e for e in range(1, 21) if not gambler_active(e, 10, "final")]
    assert icml == list(range(1, 10)) and final == list(range(1, 11))
    assert all(gambler_active(e, 0) and gambler_active(e, 0, "final") for e in range(1, 5))   # MNIST: s = 0
    assert payoff_for_epoch(9, 9.9, 10, start_gamblers=10) == 1010
    assert payoff_for_epoch(10, 9.9, 10, start_gamblers=10) == 9.9
    assert payoff_for_epoch(3, "euc", 2, start_gamblers=10, nll_o=3) == 3.0
    assert payoff_for_epoch(11, "euc", 2, start_gamblers=10) == "euc"
    z, y = random_logits(seed=5)
    assert torch.allclose(GamblerLoss(9.9)(z, y, o=payoff_for_epoch(1, 9.9, M, 10)), GamblerLoss("nll")(z, y))


def test_scores_every_test_image():
    """10000 test images in batches of 128: all 10000 are scored (the authors score 9984 and divide by 10000)."""
    g = torch.Generator().manual_seed(6)
    y = torch.randint(0, M, (10000,), generator=g)
    z = torch.randn(10000, M + 1, generator=g)
    z[:, -1] = 100.0                                    # abstention dominates: ignored at test time
    correct = scored = 0
    for i in range(0, 10000, 128):
        c, n = top1_correct(z[i:i + 128], y[i:i + 128])
        correct, scored = correct + c, scored + n
    assert scored == 10000
    assert correct == int((z[:, :M].argmax(1) == y).sum())
    assert (predict(z) < M).all()


def test_module_checks():
    with pytest.raises(ValueError):
        GamblerLoss("sqrt")
    with pytest.raises(ValueError):
        GamblerLoss(1.0)
    assert "9.9" in repr(GamblerLoss(9.9))
    z, y = random_logits(seed=7)
    assert GamblerLoss(9.9, reduction="none")(z.float(), y).shape == (len(y),)
    assert np.isfinite(GamblerLoss("euc")(torch.full((4, 11), -50.0), torch.zeros(4, dtype=torch.long)).item())
