"""repro/nn/label_smoothing_loss.py against direct formulas and PyTorch's label_smoothing."""
import math

import pytest
import torch
import torch.nn.functional as F

from repro.nn.label_smoothing_loss import (LabelSmoothingLoss, eps_from_p, forward_matrix, fsmoothing_logits_loss,
                                           fsmoothing_loss, fsmoothing_lr_scale, p_from_eps, smoothed_targets,
                                           smoothing_loss)


def _batch(n=16, k=10, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, k, generator=g, dtype=torch.float64) * 3, torch.randint(0, k, (n,), generator=g)


@pytest.mark.parametrize("p", [0.1, 0.2, 0.5, 0.9, 1.0])
def test_smoothing_equals_torch_label_smoothing_at_the_converted_eps(p):
    z, y = _batch()
    ours = smoothing_loss(z, y, p)
    ref = F.cross_entropy(z.float(), y, label_smoothing=eps_from_p(p, 10))
    assert torch.allclose(ours, ref, rtol=1e-6, atol=1e-6)
    assert abs(p_from_eps(eps_from_p(p, 10), 10) - p) < 1e-12


def test_smoothing_is_the_definition_and_p1_is_ce():
    z, y = _batch(k=5)
    p, q = 0.7, 0.3 / 4
    logf = torch.log_softmax(z, 1)
    direct = torch.stack([-p * logf[i, y[i]] - q * (logf[i].sum() - logf[i, y[i]]) for i in range(len(y))])
    assert torch.allclose(smoothing_loss(z, y, p, reduction="none").double(), direct, atol=1e-5)
    assert torch.allclose(smoothing_loss(z, y, 1.0), F.cross_entropy(z.float(), y), atol=1e-6)
    t = smoothed_targets(y, p, 5)
    assert torch.allclose(t.sum(1), torch.ones(len(y))) and torch.all(t.gather(1, y[:, None]) == p)


@pytest.mark.parametrize("p", [0.05, 0.1, 0.15, 0.5, 1.0])
def test_fsmoothing_is_minus_log_of_F_transpose_f(p):
    z, y = _batch()
    f = torch.softmax(z, 1)
    direct = -torch.log((f @ forward_matrix(p, 10).T)[torch.arange(len(y)), y])   # (Fᵀ f)_y, row-vector form
    assert torch.allclose(fsmoothing_loss(z, y, p, reduction="none").double(), direct, rtol=1e-5, atol=1e-6)


def test_fsmoothing_stays_finite_where_the_naive_form_underflows():
    z = torch.tensor([[200.0, -200.0, 0.0]])
    y = torch.tensor([1])
    naive = -torch.log((torch.softmax(z, 1) @ forward_matrix(1.0, 3, torch.float32))[0, 1])
    assert math.isinf(naive.item())
    ours = fsmoothing_loss(z, y, 1.0)
    assert torch.isfinite(ours) and abs(ours.item() - 400.0) < 1e-3
    z.requires_grad_(True)
    fsmoothing_loss(z, y, 0.9).backward()
    assert torch.isfinite(z.grad).all()


def test_early_logit_variant_is_a_different_loss():
    z, y = _batch()
    direct = torch.nn.functional.cross_entropy(z @ forward_matrix(0.6, 10), y)
    assert torch.allclose(fsmoothing_logits_loss(z, y, 0.6).double(), direct, atol=1e-5)
    assert not torch.allclose(fsmoothing_logits_loss(z, y, 0.6), fsmoothing_loss(z, y, 0.6), atol=1e-3)
    assert torch.allclose(fsmoothing_logits_loss(z, y, 1.0), fsmoothing_loss(z, y, 1.0), atol=1e-5)   # F = I


def test_module_and_lr_scale():
    z, y = _batch()
    assert torch.allclose(LabelSmoothingLoss(0.4)(z, y), smoothing_loss(z, y, 0.4))
    assert torch.allclose(LabelSmoothingLoss(0.4, "fsmoothing", "sum")(z, y), fsmoothing_loss(z, y, 0.4, "sum"))
    with pytest.raises(ValueError, match="smoothing"):
        LabelSmoothingLoss(0.4, "gambler")
    with pytest.raises(ValueError, match="mean, sum or none"):
        LabelSmoothingLoss(0.4, reduction="avg")(z, y)
    assert fsmoothing_lr_scale(0.55, 10) == pytest.approx(0.9 / 0.45)       # the authors' 0.9/(p - 0.1) at K = 10
    assert fsmoothing_lr_scale(0.1, 10, s=0) == 1.0
    with pytest.raises(ValueError, match="diverges"):
        fsmoothing_lr_scale(0.1, 10)
