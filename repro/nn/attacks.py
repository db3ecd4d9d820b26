"""L-infinity adversarial attacks for volumization's fig=17 (catalog ../shared/catalog/volumization.md; the authors'
`eval_adversarial_attack.py`): FGSM, one signed-gradient step of size eps, and PGD-k, k signed-gradient steps of
size `step` (2/255 for PGD-20), each projected back onto the L-infinity ball of radius eps around the clean input,
no random start unless asked. Inputs are clamped to `clamp` (MNIST: (0, 1)) when given; for CIFAR the authors
measure eps in normalised-input units and do not clamp (clamp=None). The model's mode (train/eval) is the
caller's; its parameters get no gradient from the attack.

`robust_accuracy` counts an example as correct only when the clean and the attacked predictions are both right,
as the authors do.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def _input_grad_sign(model, x, y, loss_fn):
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        (grad,) = torch.autograd.grad(loss_fn(model(x), y), x)
    return grad.sign()


def _clamp(x, clamp):
    return x if clamp is None else x.clamp(*clamp)


def fgsm(model, x, y, eps: float, loss_fn=F.cross_entropy, clamp: tuple[float, float] | None = None):
    """x + eps sign(grad_x loss), clamped to `clamp` if given."""
    return _clamp(x.detach() + eps * _input_grad_sign(model, x, y, loss_fn), clamp).detach()


def pgd(model, x, y, eps: float, step: float = 2 / 255, steps: int = 20, loss_fn=F.cross_entropy,
        clamp: tuple[float, float] | None = None, random_start: bool = False, generator=None):
    """PGD-`steps`: x_{k+1} = Proj_{|x' - x|_inf <= eps}(x_k + step sign(grad loss(x_k))), clamped to `clamp`."""
    x0 = x.detach()
    adv = x0.clone()
    if random_start:
        adv = adv + (torch.rand(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype) * 2 - 1) * eps
        adv = _clamp(adv, clamp)
    for _ in range(int(steps)):
        adv = adv + step * _input_grad_sign(model, adv, y, loss_fn)
        adv = _clamp(torch.max(torch.min(adv, x0 + eps), x0 - eps), clamp).detach()
    return adv


@torch.no_grad()
def robust_accuracy(model, x, y, x_adv) -> float:
    """Fraction of examples classified correctly both clean and attacked."""
    ok = (model(x).argmax(-1) == y) & (model(x_adv).argmax(-1) == y)
    return float(ok.float().mean())
