"""The gambler's loss on m+1 outputs (Ziyin, Chen, Wang, Liang, Salakhutdinov, Morency & Ueda, "Learning Not to Learn
in the Presence of Noisy Labels", arXiv 2002.06541; Deep Gamblers form, arXiv 1907.00208), as coded in the authors'
`chenblair/noisy-label-gamblers` (final `main.py` and the first commit's `icml_submission.py`); catalog gambler.md,
"Outputs and loss", "Auto-scheduled o", "Test metrics".

The network has m+1 logits; f = softmax over all m+1 of them, f_1..f_m the classes, f_{m+1} the abstention. With
payoff o (a float, or one value per sample):

    loss(x, y) = -ln( f_y(x) + f_{m+1}(x)/o + 1e-10 )           batch mean by default

(equivalently -ln(o f_y + f_{m+1}) + ln o: the same gradients). Modes:
- fixed o: the window of robustness is 1/a <= o < m (repro.theory.gambler); the authors use o = 9.9 (m = 10) and
  1.95 (m = 2);
- NLL mode: o = 1000 + m (`nll_payoff`), where abstaining never pays, with the (m+1)-way softmax kept (the NLL
  baseline uses the same network as the gambler, catalog open question 5); `payoff="ce"` in `GamblerLoss` is the
  plain m-way cross-entropy on the first m logits (an option);
- auto-scheduled o (`auto_payoff`, no gradient through o), per sample from the class part p_j = f_j, j <= m:
      euc: o = ((1 - f_{m+1})^2 + 1e-10) / sum_j p_j^2      the squared ratio (participation ratio, 1 <= o <= m)
      mid: o = ((1 - f_{m+1}) + 1e-10) / sum_j p_j^2
      exp: o = exp(-(sum_j c_j ln c_j + 1e-10) / sum_j c_j),  c_j = p_j + 1e-10
           = exp(H(p/s))/s with s = 1 - f_{m+1}: the exponentiated entropy of the class part, over s
  The names are the final `main.py`'s; in `icml_submission.py` the flags `exp` and `euc` were swapped (its default
  `exp` was the squared ratio), so both versions use the squared ratio as the main heuristic. We name formulas;
- warm-up: with start_gamblers = s, the first epochs train in NLL mode (`payoff_for_epoch`).

Prediction is the argmax over the first m logits (abstention ignored); `top1_correct` counts it.

Deviations from the authors' code:
- test-set divisor bug: their test loader drops the last incomplete batch (drop_last=True, batch 128), scoring 9984
  of 10000 MNIST/CIFAR test images but dividing by 10000 (at most 99.84 %). Here every test image is scored:
  `top1_correct` returns (correct, scored) and the caller divides by the images scored;
- NLL mode: the catalog's o = 1000 + m (the final code's default payoff). The final `main.py` computes its warm-up
  epochs and `--lambda_type nll` as plain -ln f_y (no 1e-10, no abstention term), and `icml_submission.py` its
  warm-up as the gambler's loss with o = m + 1. Per sample, o = 1000 + m is -ln f_y - ln(1 + f_{m+1}/((1000+m) f_y)):
  within ln(1 + 1/(1000+m)) of -ln f_y wherever f_{m+1} <= f_y. `payoff_for_epoch(..., nll_o=m + 1)` gives the
  first commit's;
- warm-up boundary: the catalog keeps `icml_submission.py`'s `epoch >= start_gamblers` (1-based; s = 10 means epochs
  1-9 in NLL mode), convention="icml"; the final `main.py` uses `epoch > start_gamblers` (epochs 1-10),
  convention="final". s = 0 trains every epoch with the gambler's loss under both;
- the loss is computed in float32 from the logits whatever the autocast dtype (the authors train in fp32 only);
- the L_q (generalised CE) branch of their `main.py` is not here (catalog: an arXiv-only guess of a baseline).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from repro.nn.reduction import reduce_loss

NLL_OFFSET = 1000.0
LOG_EPS = 1e-10            # added inside the log, and to the o-heuristics, as in the authors' code
AUTO_PAYOFFS = ("euc", "mid", "exp")
WARMUP_CONVENTIONS = ("icml", "final")


def nll_payoff(num_classes: int) -> float:
    """o = 1000 + m: abstention never pays, the gambler's loss acts as NLL on the (m+1)-way softmax."""
    return NLL_OFFSET + num_classes


def gambler_loss(logits: torch.Tensor, target: torch.Tensor, o, reduction: str = "mean",
                 eps: float = LOG_EPS) -> torch.Tensor:
    """-ln(f_y + f_{m+1}/o + eps), f = softmax(logits) over all m+1 logits [B, m+1]; o a float or a tensor [B]
    (detached here: no gradient flows through o); reduction "mean" | "sum" | "none"."""
    f = torch.softmax(logits.float(), dim=-1)
    abst = f[..., -1]
    if isinstance(o, torch.Tensor):
        o = o.detach().to(f.dtype)
    wealth = f.gather(-1, target.long().unsqueeze(-1)).squeeze(-1) + abst / o
    return reduce_loss(-torch.log(wealth + eps), reduction)


@torch.no_grad()
def auto_payoff(logits: torch.Tensor, kind: str = "euc") -> torch.Tensor:
    """Per-sample o [B] from the prediction (no gradient): `euc` (squared ratio), `mid`, `exp` (module docstring)."""
    f = torch.softmax(logits.detach().float(), dim=-1)
    p, abst = f[..., :-1], f[..., -1]
    if kind == "euc":
        return ((1 - abst) ** 2 + LOG_EPS) / p.pow(2).sum(-1)
    if kind == "mid":
        return ((1 - abst) + LOG_EPS) / p.pow(2).sum(-1)
    if kind == "exp":
        c = p + LOG_EPS
        return torch.exp(-((c * c.log()).sum(-1) + LOG_EPS) / c.sum(-1))
    raise ValueError(f"auto payoff must be one of {AUTO_PAYOFFS}, got {kind!r}")


def gambler_active(epoch: int, start_gamblers: int, convention: str = "icml") -> bool:
    """Whether 1-based `epoch` trains with the gambler's loss after a warm-up of start_gamblers (module docstring)."""
    if convention == "icml":
        return epoch >= start_gamblers
    if convention == "final":
        return epoch > start_gamblers
    raise ValueError(f"convention must be one of {WARMUP_CONVENTIONS}, got {convention!r}")


def payoff_for_epoch(epoch: int, o, num_classes: int, start_gamblers: int = 0, convention: str = "icml",
                     nll_o: float | None = None):
    """The payoff of 1-based `epoch`: `o` (a float or an auto kind) once the gambler's loss is active, else the NLL
    payoff (1000 + m, or nll_o)."""
    if gambler_active(epoch, start_gamblers, convention):
        return o
    return nll_payoff(num_classes) if nll_o is None else float(nll_o)


def abstention(logits: torch.Tensor) -> torch.Tensor:
    """f_{m+1}: the abstention probability per sample."""
    return torch.softmax(logits.float(), dim=-1)[..., -1]


def predict(logits: torch.Tensor) -> torch.Tensor:
    """Top-1 class over the first m logits (abstention ignored at test time)."""
    return logits[..., :-1].argmax(-1)


def top1_correct(logits: torch.Tensor, target: torch.Tensor) -> tuple[int, int]:
    """(correct, scored) over every row of the batch; accuracy = sum(correct)/sum(scored) over all test images."""
    return int((predict(logits) == target).sum()), int(target.numel())


class GamblerLoss(nn.Module):
    """nn.Module around `gambler_loss`. payoff: a float o, "nll" (o = 1000 + m), one of AUTO_PAYOFFS (per-sample o
    from the detached prediction), or "ce" (plain m-way cross-entropy on the first m logits). forward(logits,
    target, o=None) takes an explicit o (e.g. from `payoff_for_epoch`) that overrides the module's payoff."""

    def __init__(self, payoff="nll", reduction: str = "mean", eps: float = LOG_EPS):
        super().__init__()
        if isinstance(payoff, str) and payoff not in ("nll", "ce", *AUTO_PAYOFFS):
            raise ValueError(f"payoff must be a float, 'nll', 'ce' or one of {AUTO_PAYOFFS}, got {payoff!r}")
        if not isinstance(payoff, str) and not float(payoff) > 1.0:
            raise ValueError(f"a fixed payoff must be > 1, got {payoff}")
        self.payoff, self.reduction, self.eps = payoff, reduction, eps

    def resolve(self, logits: torch.Tensor, o=None):
        """The o used for this batch: a float or a detached tensor [B]."""
        o = self.payoff if o is None else o
        if isinstance(o, str):
            return nll_payoff(logits.shape[-1] - 1) if o == "nll" else auto_payoff(logits, o)
        return o

    def forward(self, logits: torch.Tensor, target: torch.Tensor, o=None) -> torch.Tensor:
        chosen = self.payoff if o is None else o
        if isinstance(chosen, str) and chosen == "ce":
            return F.cross_entropy(logits[..., :-1].float(), target.long(), reduction=self.reduction)
        return gambler_loss(logits, target, self.resolve(logits, o), self.reduction, self.eps)

    def extra_repr(self) -> str:
        return f"payoff={self.payoff!r}, reduction={self.reduction!r}"


def equivalent_form(logits: torch.Tensor, target: torch.Tensor, o: float) -> torch.Tensor:
    """-ln(o f_y + f_{m+1}) + ln o (no eps), the form with the same gradients; batch mean."""
    f = torch.softmax(logits.float(), dim=-1)
    fy = f.gather(-1, target.long().unsqueeze(-1)).squeeze(-1)
    return (-torch.log(o * fy + f[..., -1]) + math.log(o)).mean()
