"""Label smoothing in the target-mass parametrization p, and its forward-corrected variant "fsmoothing" (Chen, Ziyin,
Wang & Liang, "An Investigation of how Label Smoothing Affects Generalization", arXiv 2010.12648), as coded in the
authors' `chenblair/optimal_label_smoothing` (`loss.py`: `smoothing_loss`, `fsmoothing_loss`; `main.py`'s
`--scale_lr`); catalog label_smoothing.md, "Label-smoothing parametrization", "Forward-correction variant".

p is the target mass on the given label ỹ; each of the K-1 other classes gets q = (1-p)/(K-1). With f = softmax(logits):

    smoothing:   ℓ_p(x, ỹ) = -p ln f_ỹ(x) - q Σ_{j≠ỹ} ln f_j(x)           (p = 1: plain CE; p = 1/K: uniform target)
    fsmoothing:  ℓ_p(x, ỹ) = -ln[(F(p)ᵀ f(x))_ỹ] = -ln(q + (p - q) f_ỹ(x)),   F(p) = p I + q (11ᵀ - I)

(F is symmetric with rows summing to 1, so (Fᵀ f)_ỹ = p f_ỹ + q (1 - f_ỹ)). The usual ε of PyTorch's
`label_smoothing=ε` (target (1-ε) onehot + ε/K) is ε = K(1-p)/(K-1), p = 1 - ε(K-1)/K (`eps_from_p`, `p_from_eps`).
The test loss of the paper is the plain CE on clean labels (`smoothing_loss(logits, y, 1.0)`); the fsmoothing model
predicts with f itself. `fsmoothing_lr_scale` is `--scale_lr`: lr x ((1 - 1/K)/(p - 1/K))^s.

Deviations from the authors' code:
- fsmoothing is computed as -logaddexp(ln q, ln(p - q) + log_softmax_ỹ) (for p >= q; the direct log for p < q), the
  same function as their softmax -> matmul with F -> log -> nll_loss, without its underflow to -inf when f_ỹ -> 0 at
  p = 1. Their first fsmoothing (commit 84424b9, 2020-05-19) multiplied the *logits* by F before the cross-entropy,
  -ln softmax(z F)_ỹ, a different loss; "modify loss to reflect fsmoothing" (c1e233a, 2020-05-25 09:14 +0900) moved F
  onto the probabilities, as here and in the catalog. Their fsmoothing plots of 2020-05-23 (30560ef) and 2020-05-25
  05:11 (3a25e2c, incl. `fsmoothing/relaxation.png`) predate the fix, those of 2020-05-30/31 (361737c, 407b2c1:
  `smoothing_heatmap_test_{acc,loss}.png`) follow it; `fsmoothing_logits_loss` (method "fsmoothing_logits") is the
  early variant, kept only to compare with the early plots;
- `--scale_lr` hard-codes 0.9/(p - 0.1), which is (1 - 1/K)/(p - 1/K) for K = 10 only; here K is a parameter, and
  p <= 1/K with s != 0 raises (their lr scale diverges at p = 0.1; the grid starts at p = 0.15);
- the losses are computed in float32 from the logits whatever the autocast dtype (the authors train in fp32 only);
- `reduction` is "mean" (their `cal_loss` default), "sum" or "none"; their fsmoothing applied `nll_loss`'s mean before
  `cal_loss`'s, which is the same number;
- the authors' test loaders drop the last incomplete batch but divide by the full test-set size (catalog open
  question 7): not a loss matter, but callers here divide by the images scored.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from repro.nn.reduction import reduce_loss

METHODS = ("smoothing", "fsmoothing", "fsmoothing_logits")


def off_mass(p: float, num_classes: int) -> float:
    """q = (1 - p)/(K - 1), the target mass of each class other than the given label."""
    if num_classes < 2:
        raise ValueError(f"num_classes must be >= 2, not {num_classes}")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p (the target mass on the given label) must lie in [0, 1], not {p}")
    return (1.0 - p) / (num_classes - 1)


def eps_from_p(p: float, num_classes: int) -> float:
    """PyTorch's label_smoothing ε for target mass p: ε = K(1 - p)/(K - 1)."""
    return num_classes * (1.0 - p) / (num_classes - 1)


def p_from_eps(eps: float, num_classes: int) -> float:
    """Target mass p for PyTorch's label_smoothing ε: p = 1 - ε(K - 1)/K."""
    return 1.0 - eps * (num_classes - 1) / num_classes


def smoothed_targets(labels: torch.Tensor, p: float, num_classes: int, dtype=torch.float32) -> torch.Tensor:
    """[N, K] soft targets: p on the label, q elsewhere."""
    q = off_mass(p, num_classes)
    t = torch.full((labels.numel(), num_classes), q, dtype=dtype, device=labels.device)
    return t.scatter_(1, labels.reshape(-1, 1).long(), p)


def forward_matrix(p: float, num_classes: int, dtype=torch.float64, device=None) -> torch.Tensor:
    """F(p) = p I + q (11ᵀ - I)."""
    q = off_mass(p, num_classes)
    eye = torch.eye(num_classes, dtype=dtype, device=device)
    return eye * p + (1 - eye) * q


def smoothing_loss(logits: torch.Tensor, labels: torch.Tensor, p: float = 1.0, reduction: str = "mean") -> torch.Tensor:
    """-p ln f_ỹ - q Σ_{j≠ỹ} ln f_j, the cross-entropy of softmax(logits) against the smoothed target."""
    logp = F.log_softmax(logits.float(), dim=1)
    target = smoothed_targets(labels, p, logits.shape[1], dtype=logp.dtype)
    return reduce_loss(-(target * logp).sum(dim=1), reduction)


def fsmoothing_loss(logits: torch.Tensor, labels: torch.Tensor, p: float = 1.0,
                    reduction: str = "mean") -> torch.Tensor:
    """-ln[(F(p)ᵀ softmax(logits))_ỹ] = -ln(q + (p - q) f_ỹ)."""
    q = off_mass(p, logits.shape[1])
    logf_y = F.log_softmax(logits.float(), dim=1).gather(1, labels.reshape(-1, 1).long()).squeeze(1)
    if p >= q:
        log_q = torch.full_like(logf_y, math.log(q) if q > 0 else -math.inf)
        log_mix = torch.logaddexp(log_q, logf_y + math.log(p - q)) if p > q else log_q
    else:
        log_mix = torch.log(q + (p - q) * logf_y.exp())
    return reduce_loss(-log_mix, reduction)


def fsmoothing_logits_loss(logits: torch.Tensor, labels: torch.Tensor, p: float = 1.0,
                           reduction: str = "mean") -> torch.Tensor:
    """The authors' first fsmoothing (84424b9): -ln softmax(z F(p))_ỹ, F applied to the logits z (module docstring)."""
    mixed = logits.float() @ forward_matrix(p, logits.shape[1], dtype=torch.float32, device=logits.device)
    return reduce_loss(F.cross_entropy(mixed, labels.reshape(-1).long(), reduction="none"), reduction)


def fsmoothing_lr_scale(p: float, num_classes: int, s: float = 1.0) -> float:
    """`--scale_lr`: the factor ((1 - 1/K)/(p - 1/K))^s on the learning rate (the authors' 0.9/(p - 0.1) at K = 10)."""
    if s == 0:
        return 1.0
    u = 1.0 / num_classes
    if p <= u:
        raise ValueError(f"fsmoothing lr scale diverges at p <= 1/K = {u:g} (p = {p}); use p > 1/K or s = 0")
    return ((1.0 - u) / (p - u)) ** s


LOSSES = {"smoothing": smoothing_loss, "fsmoothing": fsmoothing_loss, "fsmoothing_logits": fsmoothing_logits_loss}


class LabelSmoothingLoss(nn.Module):
    """loss(logits, labels) with method "smoothing", "fsmoothing" (or "fsmoothing_logits") at target mass p."""

    def __init__(self, p: float = 1.0, method: str = "smoothing", reduction: str = "mean"):
        super().__init__()
        if method not in METHODS:
            raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"p must lie in [0, 1], not {p}")
        self.p, self.method, self.reduction = float(p), method, reduction

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return LOSSES[self.method](logits, labels, self.p, self.reduction)

    def extra_repr(self) -> str:
        return f"p={self.p}, method={self.method}, reduction={self.reduction}"
