"""repro.noisy.baselines: the defining step of each Table 2 baseline (catalog gambler.md, fig=T2): the corrected loss
and its anchor-point transition estimate (F-correction), the forget-rate schedule and the small-loss cross selection
(Co-teaching), the disagreement filter (Co-teaching+), and Co-Gambler's NLL ranking with a gambler update."""
import numpy as np
import pytest
import torch

from repro.data.noisy_labels import noisify, transition_matrix
from repro.nn.gambler_loss import gambler_loss
from repro.noisy.baselines import (
    coteaching_plus_step,
    coteaching_step,
    cogambler_step,
    disagreement,
    estimate_transition,
    forget_rate_schedule,
    forward_corrected_loss,
    label_precision,
    num_remember,
    small_loss_indices,
)


# ------------------------------------------------------------------------------------------------ F-correction
def test_forward_correction_with_identity_is_cross_entropy():
    g = torch.Generator().manual_seed(0)
    z, y = torch.randn(32, 10, generator=g), torch.randint(0, 10, (32,), generator=g)
    ce = torch.nn.functional.cross_entropy(z, y)
    assert forward_corrected_loss(z, y, np.eye(10)).item() == pytest.approx(ce.item(), rel=1e-5)
    T = transition_matrix("symmetric", 0.5, 10)
    manual = -torch.log((torch.softmax(z, -1) @ torch.as_tensor(T, dtype=torch.float32))[torch.arange(32), y])
    assert torch.allclose(forward_corrected_loss(z, y, T, reduction="none"), manual, atol=1e-6)


@pytest.mark.parametrize("noise_type,rate", [("symmetric", 0.5), ("pairflip", 0.3)])
def test_forward_correction_recovers_the_clean_posterior(noise_type, rate):
    """Under noisy labels drawn from T^T c, the expected corrected loss is stationary at f = c (zero gradient in the
    logits) and lower there than at any perturbed prediction (it is convex in f), including the noisy distribution
    T^T c that the uncorrected cross-entropy would fit."""
    K = 4
    T = transition_matrix(noise_type, rate, K)
    c = torch.tensor([0.6, 0.25, 0.1, 0.05], dtype=torch.float64)
    noisy = torch.as_tensor(T, dtype=torch.float64).T @ c
    labels = torch.arange(K)

    def expected(z):
        return (noisy * forward_corrected_loss(z.expand(K, K), labels, T, reduction="none").double()).sum()

    z = torch.log(c).float().unsqueeze(0).requires_grad_()
    best = expected(z)
    best.backward()
    assert z.grad.abs().max() < 1e-5
    g = torch.Generator().manual_seed(0)
    for _ in range(50):
        other = torch.log(c).float().unsqueeze(0) + 0.3 * torch.randn(1, K, generator=g)
        assert expected(other) > best
    assert expected(torch.log(noisy).float().unsqueeze(0)) > best + 1e-3


def test_anchor_point_estimate():
    """Predictions that equal T^T c(x) exactly, with perfect anchors (one-hot c) for every class, give T back; with
    the 97th-percentile filter it is recovered from near-anchors just below the top 3 %."""
    K, rng = 5, np.random.default_rng(0)
    T = transition_matrix("symmetric", 0.4, K)
    c = rng.dirichlet(np.ones(K) * 0.5, size=2000)
    c[:K] = np.eye(K)                                   # perfect anchors
    probs = c @ T
    assert torch.allclose(estimate_transition(probs, filter_outlier=False), torch.as_tensor(T), atol=1e-12)
    # many points with c = (1 - d) e_i + d u: the filter skips the top 3 % of each column, so the estimate is the
    # prediction at a point slightly below the anchor: T up to O(d)
    d = rng.uniform(0.0, 0.02, size=(400, 1))
    near = np.concatenate([(1 - d) * np.eye(K)[i] + d / K for i in range(K)])
    est = estimate_transition(np.concatenate([c, near]) @ T, filter_outlier=True)
    assert torch.allclose(est, torch.as_tensor(T), atol=0.02)
    assert np.allclose(probs, c @ T)                    # the input is not modified


# ------------------------------------------------------------------------------------------------ Co-teaching
def test_forget_rate_schedule():
    s = forget_rate_schedule(200, 0.5)
    assert len(s) == 200 and s[0] == 0.0 and s[9] == pytest.approx(0.5) and (s[9:] == 0.5).all()
    assert np.allclose(s[:10], np.linspace(0, 0.5, 10)) and np.all(np.diff(s[:10]) > 0)
    assert s[1] == pytest.approx(0.5 / 9)               # the authors' first trained epoch reads entry 1
    e = forget_rate_schedule(20, 0.8, num_gradual=5, exponent=2)
    assert e[4] == pytest.approx(0.64) and e[5] == pytest.approx(0.8)
    assert np.allclose(forget_rate_schedule(5, 0.5), np.linspace(0, 0.5, 10)[:5])


def test_small_loss_cross_selection():
    B, fr = 10, 0.3
    assert num_remember(B, fr) == 7 and num_remember(128, 0.8) == 25 and num_remember(128, 0.0) == 128
    y = torch.zeros(B, dtype=torch.long)
    # logits whose per-sample CE is increasing in a known order: network 1 ranks rows 0..9, network 2 reversed
    margin1 = torch.linspace(5, -5, B)
    margin2 = torch.linspace(-5, 5, B)
    z1 = torch.stack([margin1, torch.zeros(B)], 1).requires_grad_()
    z2 = torch.stack([margin2, torch.zeros(B)], 1).requires_grad_()
    out = coteaching_step(z1, z2, y, fr)
    assert sorted(out.keep2.tolist()) == list(range(7))          # network 1's small-loss rows train network 2
    assert sorted(out.keep1.tolist()) == list(range(3, 10))      # network 2's small-loss rows train network 1
    ce1 = torch.nn.functional.cross_entropy(z1, y, reduction="none")
    assert out.loss1.item() == pytest.approx(ce1[3:].mean().item(), rel=1e-6)
    out.loss1.backward()
    assert (z1.grad[:3] == 0).all() and (z1.grad[3:] != 0).any() and z2.grad is None
    theirs = coteaching_step(z1.detach(), z2.detach(), y, fr, divide_by_remember=True)
    assert theirs.loss1.item() == pytest.approx(out.loss1.item() / 7, rel=1e-6)


def test_small_loss_selection_keeps_clean_samples():
    """On a batch where corrupted labels have the larger losses, the kept share (1 - r) is all clean."""
    g = torch.Generator().manual_seed(1)
    y = torch.randint(0, 10, (128,), generator=g)
    noisy = noisify(y, "symmetric", 0.5, 10)
    loss = torch.where(noisy.clean, torch.rand(128, generator=g), 2 + torch.rand(128, generator=g))
    kept = small_loss_indices(loss, forget_rate=1 - noisy.clean.float().mean().item())
    assert noisy.clean[kept].all() and len(kept) == int(noisy.clean.sum())
    assert label_precision(kept, noisy.clean) == 1.0
    assert label_precision(torch.arange(128), noisy.clean) == pytest.approx(1 - noisy.rate)


def test_coteaching_plus_disagreement_filter():
    y = torch.tensor([0, 1, 0, 1, 0, 1])
    z1 = torch.tensor([[2., 0], [0, 2], [2, 0], [0, 2], [2, 0], [0, 2]], requires_grad=True)
    z2 = torch.tensor([[2., 0], [2, 0], [2, 0], [0, 2], [0, 2], [0, 1]], requires_grad=True)
    mask = disagreement(z1, z2)
    assert mask.tolist() == [False, True, False, False, True, False]
    out = coteaching_plus_step(z1, z2, y, forget_rate=0.5, step=10000)
    rows = {1, 4}
    assert set(out.keep1.tolist()) <= rows and set(out.keep2.tolist()) <= rows
    assert len(out.keep1) == len(out.keep2) == 1                 # int(0.5 * 2) of the two disagreeing rows
    out.loss1.backward()
    assert (z1.grad[[0, 2, 3, 5]] == 0).all()                    # agreeing rows never train
    # no disagreement: the whole batch during the 5000-step warm-up, nothing afterwards
    same = torch.tensor([[2., 0], [0, 2]], requires_grad=True)
    warm = coteaching_plus_step(same, same, torch.tensor([0, 0]), 0.5, step=10)
    assert warm.loss1.item() == pytest.approx(torch.nn.functional.cross_entropy(same, torch.tensor([0, 0])).item())
    late = coteaching_plus_step(same, same, torch.tensor([0, 0]), 0.5, step=5000)
    assert late.loss1.item() == 0.0 and len(late.keep1) == 0 and late.loss1.requires_grad


def test_double_softmax_option():
    g = torch.Generator().manual_seed(2)
    z1, z2 = torch.randn(16, 3, generator=g), torch.randn(16, 3, generator=g)
    y = torch.randint(0, 3, (16,), generator=g)
    theirs = coteaching_step(z1, z2, y, 0.25, double_softmax=True)
    p1 = torch.softmax(z1, -1)
    expected = torch.nn.functional.cross_entropy(p1[theirs.keep1], y[theirs.keep1])
    assert theirs.loss1.item() == pytest.approx(expected.item(), rel=1e-6)


# ------------------------------------------------------------------------------------------------ Co-Gambler
def test_cogambler_ranks_by_nll_and_updates_with_the_gambler_loss():
    g = torch.Generator().manual_seed(3)
    B, m = 64, 10
    z1 = torch.randn(B, m + 1, generator=g, requires_grad=True)
    z2 = torch.randn(B, m + 1, generator=g, requires_grad=True)
    y = torch.randint(0, m, (B,), generator=g)
    out = cogambler_step(z1, z2, y, o=9.9, forget_rate=0.25)
    nll2 = -torch.log_softmax(z2.detach(), -1)[torch.arange(B), y]
    assert sorted(out.keep1.tolist()) == sorted(torch.argsort(nll2)[:48].tolist())
    assert out.loss1.item() == pytest.approx(gambler_loss(z1[out.keep1], y[out.keep1], 9.9).item(), rel=1e-6)
    # a per-sample o of the whole batch is indexed with the rows
    o = torch.linspace(2, 9, B)
    per = cogambler_step(z1, z2, y, o=o, forget_rate=0.25)
    assert per.loss2.item() == pytest.approx(gambler_loss(z2[per.keep2], y[per.keep2], o[per.keep2]).item(), rel=1e-6)
    (out.loss1 + out.loss2).backward()
    dropped = torch.ones(B, dtype=torch.bool)
    dropped[out.keep1] = False
    assert (z1.grad[dropped] == 0).all()
