"""Learning Not to Learn in the Presence of Noisy Labels (Ziyin et al., arXiv 2002.06541; ICLR-2020 submission §3,
§4.3, Table 2; catalog gambler.md fig=T2, open question 22): Co-teaching and Co-Gambler, pairs of networks that
exchange their small-loss samples (`gambler.coteaching`).

Each named cell of the run is a pair: network 1 (the reported one, column net = 1) and its peer (net = 2, its own
initialisation: the run's "init" stream + 1), on the same noisy labels and batch order. Every pair of the run is one
stack (repro/noisy/grid.py train_grid), whose cell loss (`PairCells`) applies one pair step per pair and batch with
the steps of repro/noisy/baselines.py:
    method ct         Co-teaching (Han et al. 2018): per-sample cross-entropy on the m class logits, each network
                      updated on its peer's int((1 - f) B) smallest-loss rows, f from the forget-rate schedule
                      (rising linearly to forget_rate over the first 10 epochs; default forget_rate = r)
    method ctplus     Co-teaching+ (Yu et al. 2019): Co-teaching among the rows where the two networks' argmax
                      predictions disagree, after init_epoch epochs of plain Co-teaching (params ctplus_init_epoch:
                      0 for MNIST, 20 for CIFAR-10 in chenblair/coteaching_plus); the 5000-step warm-up of the
                      no-disagreement case counts this pair's training steps
    method cogambler  Co-Gambler [reconstructed]: ranks by the NLL of the (m+1)-way softmax, rejects the largest
                      forget_rate share (constant, no schedule; default r), updates with the gambler's loss (payoff o)
The kept rows' loss enters as a per-sample loss weighted B / kept (zero elsewhere), so its batch mean is the mean over
the kept rows, as in the authors' step. The logged train_loss is that mean (what Co-Gambler's AES compares with L*);
train_acc counts every row of the batch (Co-teaching's training accuracy, for the baselines' ES: train acc > 1 - r).
On the test set (outputs that carry no gradient) the loss is the plain per-sample loss (cross-entropy for ct, the
gambler's loss for cogambler). Rows and summaries: as gambler.noisy_training (its module doc), per network.

Deviations from the authors' code: the same network (m+1 outputs, the abstention unit unused by ct) for every method;
the forget-rate schedule's epoch index is the 1-based epoch (theirs read entry `epoch` of a loop starting at 1: the
same); mean over the kept rows, not mean / kept (baselines.py); Co-teaching+ and F-correction are not run here.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from repro.experiments.gambler.common import expand_cells, load_data
from repro.experiments.gambler.noisy_training import run_cells
from repro.experiments.registry import experiment
from repro.nn.gambler_loss import gambler_loss
from repro.noisy.baselines import cogambler_step, coteaching_plus_step, coteaching_step, forget_rate_schedule
from repro.noisy.grid import CellLoss

METHODS = ("ct", "ctplus", "cogambler")


class PairCells(CellLoss):
    """Per-sample losses of K = 2P models, models (2i, 2i + 1) being pair i with method methods[i]."""
    abstains = True

    def __init__(self, methods: list[str], payoffs: list, forget_rates: list[float], epochs: int,
                 num_gradual: int = 10, ctplus_init_epoch: int = 0):
        for m in methods:
            if m not in METHODS:
                raise ValueError(f"method must be one of {', '.join(METHODS)}, not {m!r}")
        self.methods, self.payoffs = methods, payoffs
        self.schedules = [forget_rate_schedule(epochs + 1, f, num_gradual) for f in forget_rates]
        self.forget_rates = forget_rates
        self.ctplus_init_epoch = int(ctplus_init_epoch)
        self.steps = 0           # training calls (Co-teaching+'s global step)

    @staticmethod
    def _weighted(per: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        w = torch.zeros_like(per)
        if len(keep):
            w[keep] = per.shape[0] / len(keep)
        return per * w

    def __call__(self, logits, labels, epoch):
        out = []
        if logits.requires_grad:
            self.steps += 1
        for i, method in enumerate(self.methods):
            l1, l2, y = logits[2 * i], logits[2 * i + 1], labels[2 * i]
            if method in ("ct", "ctplus"):
                ce1 = F.cross_entropy(l1[..., :-1].float(), y, reduction="none")
                ce2 = F.cross_entropy(l2[..., :-1].float(), y, reduction="none")
                if not l1.requires_grad:     # evaluation: the plain loss
                    out += [ce1, ce2]
                    continue
                rate = float(self.schedules[i][epoch])
                if method == "ctplus" and epoch >= self.ctplus_init_epoch:   # the fork: epoch < init_epoch -> CT
                    step = coteaching_plus_step(l1[..., :-1], l2[..., :-1], y, rate, self.steps)
                else:
                    step = coteaching_step(l1[..., :-1], l2[..., :-1], y, rate)
                out += [self._weighted(ce1, step.keep1), self._weighted(ce2, step.keep2)]
            else:
                o = self.payoffs[i]
                g1, g2 = gambler_loss(l1, y, o, reduction="none"), gambler_loss(l2, y, o, reduction="none")
                if not l1.requires_grad:
                    out += [g1, g2]
                    continue
                step = cogambler_step(l1, l2, y, o, self.forget_rates[i])
                out += [self._weighted(g1, step.keep1), self._weighted(g2, step.keep2)]
        return torch.stack(out)


def pair_cells(cells: list[dict]) -> list[dict]:
    """Each cell twice: network 1 (net 1) and its peer (net 2, init_offset 1, cell name + "_peer")."""
    out = []
    for c in cells:
        if c.get("method") not in METHODS:
            raise ValueError(f"cell {c['cell']!r}: method must be one of {', '.join(METHODS)}")
        out.append({**c, "net": 1})
        out.append({**c, "net": 2, "init_offset": 1, "cell": c["cell"] + "_peer"})
    return out


def forget_rate(cell: dict) -> float:
    """The cell's forget rate: a number, "noise_rate" (r, the default) or "clean_rate" (1 - r: the submission's
    "fewer than or equal to eps" read as rejecting an eps share, catalog open question 22)."""
    f = cell.get("forget_rate", "noise_rate")
    r = float(cell.get("noise_rate", 0.0))
    if f == "noise_rate":
        return r
    if f == "clean_rate":
        return 1.0 - r
    return float(f)


@experiment("gambler.coteaching", version=1, device="any")
def coteaching(p, ctx):
    """The module doc. params: as gambler.noisy_training, each cell with method (ct | ctplus | cogambler), o
    (cogambler) and forget_rate (forget_rate(): a number, noise_rate (default) or clean_rate); num_gradual (10),
    ctplus_init_epoch (0)."""
    data = load_data(p, ctx)
    cells = pair_cells(expand_cells(p))
    if len({(c.get("optimizer", "adam"), int(c.get("val", 0))) for c in cells}) != 1:
        raise ValueError("gambler.coteaching: every pair of a run takes one optimizer and no validation split")

    def make_loss(group, data):
        firsts = group[::2]
        return PairCells([c["method"] for c in firsts],
                         [float(c["o"]) if c["method"] == "cogambler" else None for c in firsts],
                         [forget_rate(c) for c in firsts],
                         int(p["epochs"]), int(p.get("num_gradual", 10)), int(p.get("ctplus_init_epoch", 0)))

    yield from run_cells(p, ctx, cells, data, make_loss)
