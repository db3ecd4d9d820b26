"""The defining steps of the gambler paper's Table 2 baselines (Ziyin et al., "Learning Not to Learn in the Presence
of Noisy Labels", arXiv 2002.06541, ICLR-2020 submission §3, §4.3; catalog gambler.md, fig=T2 and open question 22),
as pure functions of one batch's outputs; the training loop (two networks, optimizers, epochs) calls them.

- F-correction (Patrini et al., "Making Deep Neural Networks Robust to Label Noise: a Loss Correction Approach",
  CVPR 2017): the forward-corrected loss -ln (T^T f(x))_y~ with T[i, j] = P(noisy j | clean i) and f = softmax of the
  m logits (`forward_corrected_loss`); T estimated from anchor points (`estimate_transition`, Patrini's estimator):
  train a network on the noisy labels, take for every class i the training point x_i with the highest predicted
  probability of class i (with `filter_outlier`, the highest below that column's 97th percentile), and set row i of
  T to the network's prediction at x_i. Its minimiser over f is the clean posterior wherever T is invertible.
- Co-teaching (Han et al., NeurIPS 2018): two networks; in each batch each network ranks the samples by its own
  per-sample cross-entropy, keeps the int((1 - forget_rate) B) smallest, and its *peer* is updated on them
  (`coteaching_step`); the forget rate rises linearly from 0 to forget_rate (default r) over the first num_gradual =
  10 entries of the schedule, then stays (`forget_rate_schedule`).
- Co-teaching+ (Yu et al., ICML 2019): the same exchange restricted to the samples on which the two networks' argmax
  predictions disagree (`disagreement`, `coteaching_plus_step`); with no disagreement in a batch, the whole batch's
  mean cross-entropy while step < 5000 (a warm-up) and a zero loss afterwards. Co-teaching+ starts after init_epoch
  epochs of Co-teaching (0 for MNIST, 20 for CIFAR-10 in `chenblair/coteaching_plus`).
- Co-Gambler [reconstructed; the submission's §4.3, details in its unread appendix]: Co-teaching with the gambler's
  loss as the update loss; samples are ranked by the original (NLL) loss -ln f_y on the (m+1)-way softmax and the
  largest are rejected at a constant forget rate (no drop-rate schedule; the submission's "fewer than or equal to
  eps" is ambiguous, so the rate is a parameter; default in the experiments: r) (`cogambler_step`).

Deviations from the authors' code (Co-teaching and Co-teaching+ as in the code lines shared by Han et al.'s and Yu
et al.'s repositories and the `chenblair/coteaching_plus` fork; Patrini's `est_t_matrix`):
- Co-teaching returns mean(selected loss) / num_remember, a second division by the kept count (a constant factor
  per run, which Adam mostly absorbs); here the plain mean over the kept samples (`divide_by_remember=True` gives
  theirs);
- Co-teaching+ passes softmax *probabilities* into F.cross_entropy, i.e. a softmax applied twice, both for the
  ranking and the update; here the cross-entropy of the logits (`double_softmax=True` gives theirs);
- Co-teaching+ builds its disagreement list through dataset indices multiplied by a 0/1 mask and drops the zeros,
  which silently loses the sample with dataset index 0 (and then truncates the list); here the mask is used
  directly;
- Co-teaching+'s fork passes epoch * batch_index as the "step" of the 5000-step warm-up; here the caller passes the
  global step;
- F-correction: the estimate is computed on a copy of the predictions (Patrini's outlier filter zeroes the column in
  place, which later rows then read); the percentile uses the "higher" interpolation, as theirs.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from repro.nn.gambler_loss import gambler_loss

CTPLUS_WARMUP_STEPS = 5000


# ------------------------------------------------------------------------------------------------ F-correction
def forward_corrected_loss(logits: torch.Tensor, target: torch.Tensor, T, reduction: str = "mean") -> torch.Tensor:
    """-ln (T^T softmax(logits))_target: the forward-corrected cross-entropy, T [K, K] row-stochastic with
    T[i, j] = P(noisy label j | clean label i), logits [B, K]."""
    T = torch.as_tensor(T, dtype=torch.float32, device=logits.device)
    noisy = torch.softmax(logits.float(), dim=-1) @ T
    loss = -torch.log(noisy.gather(-1, target.long().unsqueeze(-1)).squeeze(-1).clamp_min(1e-12))
    return {"mean": loss.mean, "sum": loss.sum, "none": lambda: loss}[reduction]()


def estimate_transition(probs, filter_outlier: bool = True, percentile: float = 97.0) -> torch.Tensor:
    """Patrini's anchor-point estimate of T from the predicted noisy-label probabilities probs [N, K] of a network
    trained on the noisy labels: row i = probs at the anchor of class i (module docstring)."""
    P = torch.as_tensor(probs, dtype=torch.float64).clone()
    K = P.shape[1]
    T = torch.empty(K, K, dtype=torch.float64)
    for i in range(K):
        column = P[:, i]
        if filter_outlier:
            thresh = torch.quantile(column, percentile / 100.0, interpolation="higher")
            column = torch.where(column >= thresh, torch.zeros_like(column), column)
        T[i] = P[int(column.argmax())]
    return T


# ------------------------------------------------------------------------------------------------ Co-teaching
def forget_rate_schedule(n_epoch: int, forget_rate: float, num_gradual: int = 10, exponent: float = 1.0) -> np.ndarray:
    """Co-teaching's drop-rate schedule, indexed by the code's epoch: entries 0..num_gradual-1 rise linearly from 0 to
    forget_rate**exponent, the rest equal forget_rate. The authors' loop trains epochs 1..n_epoch-1 and reads entry
    `epoch`, so the first trained epoch already drops forget_rate**exponent/(num_gradual-1)."""
    schedule = np.full(n_epoch, float(forget_rate))
    k = min(num_gradual, n_epoch)
    schedule[:k] = np.linspace(0.0, forget_rate ** exponent, num_gradual)[:k]
    return schedule


def num_remember(batch_size: int, forget_rate: float) -> int:
    """int((1 - forget_rate) B): how many small-loss samples are kept."""
    return int((1.0 - forget_rate) * batch_size)


def small_loss_indices(per_sample_loss: torch.Tensor, forget_rate: float) -> torch.Tensor:
    """Indices of the int((1 - forget_rate) B) smallest losses, smallest first (stable order for ties)."""
    order = torch.argsort(per_sample_loss.detach(), stable=True)
    return order[:num_remember(len(per_sample_loss), forget_rate)]


@dataclass
class PairStep:
    """One exchange between two networks: the losses to backpropagate into each, and the batch rows each was
    trained on (keep1: rows used to update network 1 = network 2's small-loss samples, and vice versa)."""
    loss1: torch.Tensor
    loss2: torch.Tensor
    keep1: torch.Tensor
    keep2: torch.Tensor


def _cross_entropy(logits, target, double_softmax=False):
    z = torch.softmax(logits.float(), -1) if double_softmax else logits.float()
    return F.cross_entropy(z, target.long(), reduction="none")


def _exchange(rank1, rank2, update1, update2, forget_rate, divide_by_remember=False) -> PairStep:
    """Each network ranks by its own per-sample loss (rank*), and is updated with update*(rows) on its peer's
    small-loss rows."""
    small1, small2 = small_loss_indices(rank1, forget_rate), small_loss_indices(rank2, forget_rate)
    loss1, loss2 = update1(small2).mean(), update2(small1).mean()
    if divide_by_remember:
        loss1, loss2 = loss1 / max(len(small2), 1), loss2 / max(len(small1), 1)
    return PairStep(loss1, loss2, small2, small1)


def coteaching_step(logits1: torch.Tensor, logits2: torch.Tensor, target: torch.Tensor, forget_rate: float,
                    divide_by_remember: bool = False, double_softmax: bool = False) -> PairStep:
    """Co-teaching's cross update on one batch (module docstring)."""
    ce1, ce2 = _cross_entropy(logits1, target, double_softmax), _cross_entropy(logits2, target, double_softmax)
    return _exchange(ce1, ce2, lambda rows: ce1[rows], lambda rows: ce2[rows], forget_rate, divide_by_remember)


def label_precision(keep: torch.Tensor, clean: torch.Tensor) -> float:
    """Share of the kept rows whose label is clean (Co-teaching's "pure ratio"); clean: the batch's clean mask."""
    return float(clean[keep].float().mean()) if len(keep) else float("nan")


def disagreement(logits1: torch.Tensor, logits2: torch.Tensor) -> torch.Tensor:
    """Co-teaching+'s filter: the rows where the two networks' argmax predictions differ (bool [B])."""
    return logits1.argmax(-1) != logits2.argmax(-1)


def coteaching_plus_step(logits1: torch.Tensor, logits2: torch.Tensor, target: torch.Tensor, forget_rate: float,
                         step: int, warmup_steps: int = CTPLUS_WARMUP_STEPS, divide_by_remember: bool = False,
                         double_softmax: bool = False) -> PairStep:
    """Co-teaching+ on one batch: Co-teaching among the disagreeing rows; none disagree -> the batch's mean
    cross-entropy while step < warmup_steps, else a zero loss (kept in the graph). keep* index the whole batch."""
    rows = torch.nonzero(disagreement(logits1, logits2)).squeeze(-1)
    if len(rows) == 0:
        live = float(step < warmup_steps)
        everything = torch.arange(len(target), device=target.device)
        ce1 = _cross_entropy(logits1, target, double_softmax).mean() * live
        ce2 = _cross_entropy(logits2, target, double_softmax).mean() * live
        kept = everything if live else everything[:0]
        return PairStep(ce1, ce2, kept, kept)
    out = coteaching_step(logits1[rows], logits2[rows], target[rows], forget_rate, divide_by_remember, double_softmax)
    return PairStep(out.loss1, out.loss2, rows[out.keep1], rows[out.keep2])


# ------------------------------------------------------------------------------------------------ Co-Gambler
def cogambler_step(logits1: torch.Tensor, logits2: torch.Tensor, target: torch.Tensor, o,
                   forget_rate: float) -> PairStep:
    """Co-Gambler on one batch of (m+1)-output logits: rank by the NLL -ln f_y of each network's (m+1)-way softmax,
    reject the largest forget_rate share, update each network with the gambler's loss (payoff o: a float or a
    per-sample tensor of the batch) on its peer's kept rows."""
    nll1 = -torch.log_softmax(logits1.float(), -1).gather(-1, target.long().unsqueeze(-1)).squeeze(-1)
    nll2 = -torch.log_softmax(logits2.float(), -1).gather(-1, target.long().unsqueeze(-1)).squeeze(-1)

    def update(logits):
        def loss(rows):
            o_rows = o[rows] if isinstance(o, torch.Tensor) and o.dim() else o
            return gambler_loss(logits[rows], target[rows], o_rows, reduction="none")
        return loss

    return _exchange(nll1, nll2, update(logits1), update(logits2), forget_rate)
