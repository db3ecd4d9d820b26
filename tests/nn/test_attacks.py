"""FGSM and PGD-k (repro/nn/attacks.py): their defining properties on a small trained-free classifier."""
import torch
import torch.nn.functional as F

from repro.nn.attacks import fgsm, pgd, robust_accuracy


def setup(seed=0):
    gen = torch.Generator().manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(20, 32), torch.nn.Tanh(), torch.nn.Linear(32, 5)).double()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=p.dtype))
    x = torch.rand(64, 20, generator=gen, dtype=torch.float64)
    y = model(x).argmax(-1)    # every clean prediction is right: robust accuracy starts at 1
    return model, x, y


def test_fgsm_moves_every_pixel_by_eps():
    model, x, y = setup()
    adv = fgsm(model, x, y, eps=0.03)
    torch.testing.assert_close((adv - x).abs(), torch.full_like(x, 0.03), rtol=0, atol=1e-15)
    assert not any(p.grad is not None for p in model.parameters())


def test_fgsm_is_the_signed_gradient_direction_and_raises_the_loss():
    model, x, y = setup()
    xg = x.clone().requires_grad_()
    F.cross_entropy(model(xg), y).backward()
    adv = fgsm(model, x, y, eps=0.05)
    assert torch.equal(torch.sign(adv - x), torch.sign(xg.grad))
    assert F.cross_entropy(model(adv), y) > F.cross_entropy(model(x), y)


def test_clamped_fgsm_stays_in_the_box_and_within_eps():
    model, x, y = setup()
    adv = fgsm(model, x, y, eps=0.3, clamp=(0.0, 1.0))
    assert adv.min() >= 0 and adv.max() <= 1 and (adv - x).abs().max() <= 0.3 + 1e-15
    assert ((adv - x).abs() < 0.3 - 1e-12).any()   # the clamp acted somewhere


def test_pgd_stays_inside_the_ball_at_every_step_count():
    model, x, y = setup()
    for steps in (1, 2, 5, 20):
        for clamp in (None, (0.0, 1.0)):
            adv = pgd(model, x, y, eps=0.03, step=2 / 255, steps=steps, clamp=clamp)
            assert (adv - x).abs().max() <= 0.03 + 1e-15
            if clamp:
                assert adv.min() >= 0 and adv.max() <= 1
    adv = pgd(model, x, y, eps=0.03, steps=20, random_start=True, generator=torch.Generator().manual_seed(1))
    assert (adv - x).abs().max() <= 0.03 + 1e-15


def test_pgd_is_stronger_than_fgsm_and_both_lower_robust_accuracy():
    model, x, y = setup()
    eps = 0.1
    a_f, a_p = fgsm(model, x, y, eps), pgd(model, x, y, eps, step=eps / 8, steps=20)
    loss = lambda a: F.cross_entropy(model(a), y, reduction="sum")  # noqa: E731
    assert loss(a_p) >= loss(a_f) > loss(x)
    assert robust_accuracy(model, x, y, x) == 1.0
    assert robust_accuracy(model, x, y, a_p) <= robust_accuracy(model, x, y, a_f) < 1.0


def test_zero_radius_changes_nothing():
    model, x, y = setup()
    assert torch.equal(fgsm(model, x, y, 0.0), x) and torch.equal(pgd(model, x, y, 0.0, steps=3), x)
