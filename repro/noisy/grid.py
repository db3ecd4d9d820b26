"""Many small classifiers on one noisy-label data set, trained as one stacked model: the grids of the label-noise
papers (gambler: o, warm-up, the o-heuristics; label_smoothing: the (a, p) grid; volumization: alpha, V), where the
cells differ only in hyperparameters, noise rate and seed.

    task = NoisyTask.corrupt(x, y, x_test, y_test, num_classes=10, noise=[("symmetric", 0.5)] * K)
    stack = init_stack(lambda: make_noisy_model("mlp_digits", 11), seeds)
    opt = StackedAdam(stack.parameters(), lr=1e-3)
    for log in train_grid(stack, opt, GamblerCells(o, num_classes=10), task, epochs=40, batch_size=128,
                          order_seeds=seeds):
        ...   # log.metrics: name -> (K,) tensor for epoch log.epoch

Model k is what a run of its own would give (tests/noisy/test_grid.py checks K stacked cells against K separate
torch.optim runs step for step): its own labels (cells may differ in noise rate), its own initialisation (seeded by
its seed) and its own batch order (drawn from a generator seeded by its order seed; cells that share one order seed
share the order, and then the batch is one tensor for all of them, the cheap case). Models with BatchNorm running
statistics cannot be stacked this way (their buffers are updated in place): train those one per stack (K = 1).

What is logged per epoch (the authors' loggers, `noise_or_not` included), each a (K,) tensor:
    train_loss      epoch mean of the mini-batch losses (the quantity the gambler's analytical stop compares)
    train_acc       accuracy against the (noisy) training labels, counted during training as the authors do
    loss_clean, loss_corrupt, acc_clean, acc_corrupt   the same split by whether the label was corrupted
    abst_clean, abst_corrupt   mean abstention f_{m+1} (losses with an abstention output)
    test_loss, test_acc        the cell's loss and the top-1 accuracy on the clean test set (every image scored)
    val_acc                    on the held-out (noisy) validation labels, when the task has them
and, with `batch_threshold`, the first (epoch, step) at which a model's mini-batch loss fell below its threshold
before the update (Algorithm 1's per-batch rule), in log.first_below.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterator, Sequence

import torch
import torch.nn.functional as F

from repro.data.noisy_labels import noisify
from repro.nn.gambler_loss import AUTO_PAYOFFS, LOG_EPS, auto_payoff, nll_payoff
from repro.train.loop import fit
from repro.train.stacked import StackedModels

TEST_CHUNK = 2048


@dataclass
class NoisyTask:
    """A training set whose K label vectors are each corrupted their own way, and a clean test set."""
    x: torch.Tensor                 # (N, ...) training inputs, shared by every model
    labels: torch.Tensor            # (K, N) the label each model trains on
    clean: torch.Tensor             # (K, N) bool: the label is the true one
    x_test: torch.Tensor
    y_test: torch.Tensor            # (N_test,) true labels
    num_classes: int
    x_val: torch.Tensor | None = None
    y_val: torch.Tensor | None = None   # (K, N_val) noisy validation labels (held out of the training set)

    @property
    def k(self) -> int:
        return self.labels.shape[0]

    @classmethod
    def corrupt(cls, x, y, x_test, y_test, num_classes: int, noise: Sequence[tuple], val: int = 0) -> "NoisyTask":
        """One cell per entry of `noise`: (noise_type, rate) or (noise_type, rate, noise_seed) (default seed 0, the
        Co-teaching convention: every training seed sees the same corruption). The last `val` training points are
        held out as a validation set with their noisy labels (the submission's VES)."""
        made: dict[tuple, tuple] = {}
        labels, clean = [], []
        for cell in noise:
            key = (cell[0], float(cell[1]), int(cell[2]) if len(cell) > 2 else 0)
            if key not in made:
                out = noisify(y.cpu(), key[0], key[1], num_classes, random_state=key[2])
                made[key] = (torch.as_tensor(out.labels), torch.as_tensor(out.clean))
            labels.append(made[key][0])
            clean.append(made[key][1])
        labels = torch.stack(labels).to(y.device)
        clean = torch.stack(clean).to(y.device)
        n = len(y) - val
        return cls(x[:n], labels[:, :n], clean[:, :n], x_test, y_test, num_classes,
                   x_val=x[n:] if val else None, y_val=labels[:, n:] if val else None)


def init_stack(make_model: Callable[[], torch.nn.Module], seeds: Sequence[int], device=None) -> StackedModels:
    """K models made by make_model(), model k initialised under torch.manual_seed(seeds[k]) (so two cells with the
    same seed start from the same weights, as two runs with one --seed do)."""
    models = []
    for s in seeds:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(s))
            models.append(make_model().to(device) if device is not None else make_model())
    return StackedModels(models)


# ------------------------------------------------------------------------------------------------ cell losses
class CellLoss:
    """Per-sample losses of K models: __call__(logits (K, B, C), labels (K, B), epoch) -> (K, B). `abstains`: the
    last output is an abstention unit (prediction over the first C - 1 outputs)."""
    abstains = False

    def __call__(self, logits, labels, epoch: int) -> torch.Tensor:   # pragma: no cover - interface
        raise NotImplementedError


class CrossEntropyCells(CellLoss):
    """Plain cross-entropy for every model."""

    def __call__(self, logits, labels, epoch):
        k, b, c = logits.shape
        return F.cross_entropy(logits.reshape(k * b, c).float(), labels.reshape(-1), reduction="none").view(k, b)


class GamblerCells(CellLoss):
    """The gambler's loss (repro/nn/gambler_loss.py) with one payoff per model: a number o, "nll" (o = 1000 + m on
    the (m+1)-way softmax) or an o-heuristic ("euc", "mid", "exp": per-sample o, no gradient through it); NLL during
    each model's warm-up (epochs before start_gamblers, 1-based, the icml_submission.py convention)."""
    abstains = True

    def __init__(self, payoffs: Sequence, num_classes: int, start_gamblers: Sequence[int] | int = 0):
        self.m = num_classes
        self.payoffs = list(payoffs)
        bad = [o for o in self.payoffs if isinstance(o, str) and o != "nll" and o not in AUTO_PAYOFFS]
        if bad:
            raise ValueError(f"payoff must be a number, 'nll' or one of {', '.join(AUTO_PAYOFFS)}; got {bad[0]!r}")
        # "nll" and the heuristics' warm-up value: o = 1000 + m; the heuristics overwrite theirs per sample
        self.fixed = torch.tensor([nll_payoff(num_classes) if isinstance(o, str) else float(o)
                                   for o in self.payoffs])
        self.auto = [(i, o) for i, o in enumerate(self.payoffs) if o in AUTO_PAYOFFS]
        starts = [start_gamblers] * len(self.payoffs) if isinstance(start_gamblers, int) else list(start_gamblers)
        self.start = torch.tensor(starts)

    def payoff(self, logits, epoch: int) -> torch.Tensor:
        """(K, B) payoff of every sample this epoch."""
        k, b, _ = logits.shape
        o = self.fixed.to(logits.device).view(k, 1).expand(k, b).clone()
        for i, kind in self.auto:
            o[i] = auto_payoff(logits[i], kind)
        warm = (epoch < self.start.to(logits.device)).view(k, 1)
        return torch.where(warm, torch.full_like(o, nll_payoff(self.m)), o)

    def __call__(self, logits, labels, epoch):
        f = torch.softmax(logits.float(), dim=-1)
        o = self.payoff(logits, epoch).detach()
        wealth = f.gather(-1, labels.unsqueeze(-1)).squeeze(-1) + f[..., -1] / o
        return -torch.log(wealth + LOG_EPS)


class SmoothingCells(CellLoss):
    """Cross-entropy against smoothed targets with one p per model (label_smoothing's convention: p is the mass
    left on the given label, (1 - p)/(m - 1) on each other class; p = 1 is plain cross-entropy)."""

    def __init__(self, p: Sequence[float]):
        self.p = torch.tensor([float(v) for v in p])

    def __call__(self, logits, labels, epoch):
        k, b, c = logits.shape
        p = self.p.to(logits.device).view(k, 1, 1)
        target = (1 - p) / (c - 1) + (p - (1 - p) / (c - 1)) * F.one_hot(labels, c)
        return -(target * torch.log_softmax(logits.float(), -1)).sum(-1)


# ------------------------------------------------------------------------------------------------ training
@dataclass
class EpochLog:
    epoch: int
    metrics: dict[str, torch.Tensor]                       # name -> (K,) on the CPU
    first_below: torch.Tensor | None = None               # (K, 2) (epoch, step-in-epoch) or -1: the per-batch rule
    extra: dict = field(default_factory=dict)              # what on_epoch_end hooks add


def _orders(order_seeds: Sequence[int], n: int, batch_size: int, device, drop_last: bool):
    """batches(epoch) -> list of index tensors: (B,) when every model shares one order, else (K, B)."""
    seeds = [int(s) for s in order_seeds]
    distinct = sorted(set(seeds))
    gens = {s: torch.Generator().manual_seed(s) for s in distinct}

    def batches(epoch):
        perms = {s: torch.randperm(n, generator=gens[s]) for s in distinct}
        end = n - batch_size + 1 if drop_last else n
        starts = range(0, end, batch_size)
        if len(distinct) == 1:
            return [perms[distinct[0]][i:i + batch_size].to(device) for i in starts]
        order = torch.stack([perms[s] for s in seeds])
        return [order[:, i:i + batch_size].to(device) for i in starts]
    return batches


@torch.no_grad()
def _forward_all(stack: StackedModels, x: torch.Tensor) -> torch.Tensor:
    """(K, N, C) outputs of every model on a fixed set, in chunks."""
    return torch.cat([stack(x[i:i + TEST_CHUNK]) for i in range(0, len(x), TEST_CHUNK)], dim=1)


def _top1(loss: CellLoss, logits: torch.Tensor) -> torch.Tensor:
    return (logits[..., :-1] if loss.abstains else logits).argmax(-1)


def train_grid(stack: StackedModels, optimizer, loss: CellLoss, task: NoisyTask, *, epochs: int, batch_size: int,
               order_seeds: Sequence[int], drop_last: bool = False, eval_every: int = 1,
               batch_threshold: torch.Tensor | None = None, on_epoch_end: Callable | None = None,
               augment: Callable | None = None, ctx=None) -> Iterator[EpochLog]:
    """Train the K stacked models on their own labels for `epochs` epochs through repro.train.fit and yield an
    EpochLog after every `eval_every`-th epoch (and the last). batch_size >= N is full-batch training.
    on_epoch_end(epoch, stack) may return a dict, kept in log.extra (histograms, snapshots). augment(xb) maps a
    training batch (B, ...) or (K, B, ...) to the network's input (random crops, normalisation); the test and
    validation sets are scored as stored, with the stack in eval mode (BatchNorm's running statistics)."""
    k, n, device = task.k, len(task.x), task.labels.device
    batches = _orders(order_seeds, n, min(batch_size, n), device, drop_last)
    names = ("loss", "correct", "count", "loss_clean", "loss_corrupt", "correct_clean", "correct_corrupt",
             "n_clean", "n_corrupt", "abst_clean", "abst_corrupt")
    acc = {}
    first = torch.full((k, 2), -1, dtype=torch.long)
    thr = None if batch_threshold is None else torch.as_tensor(batch_threshold, dtype=torch.float32).to(device)
    state_epoch = [0]
    batch_losses = []

    def loss_fn(idx):
        if idx.dim() == 1:
            xb, yb, cb = task.x[idx], task.labels[:, idx], task.clean[:, idx]
            out = stack(augment(xb) if augment is not None else xb)
        else:
            xb, yb, cb = task.x[idx], task.labels.gather(1, idx), task.clean.gather(1, idx)
            out = stack(augment(xb) if augment is not None else xb, per_model=True)
        per = loss(out, yb, state_epoch[0])                                # (K, B)
        with torch.no_grad():
            hit = (_top1(loss, out) == yb).float()
            cf, nf = cb.float(), (~cb).float()
            sums = {"loss": per.sum(1), "correct": hit.sum(1), "count": torch.full((k,), float(per.shape[1]),
                                                                                  device=per.device),
                    "loss_clean": (per * cf).sum(1), "loss_corrupt": (per * nf).sum(1),
                    "correct_clean": (hit * cf).sum(1), "correct_corrupt": (hit * nf).sum(1),
                    "n_clean": cf.sum(1), "n_corrupt": nf.sum(1)}
            if loss.abstains:
                ab = torch.softmax(out.float(), -1)[..., -1]
                sums["abst_clean"], sums["abst_corrupt"] = (ab * cf).sum(1), (ab * nf).sum(1)
            for key, v in sums.items():
                acc[key] = acc.get(key, 0) + v.detach()
            batch_losses.append(per.detach().mean(1))
        return per.mean(1)

    def epoch_start(state):
        state_epoch[0] = state.epoch
        acc.clear()
        batch_losses.clear()

    def epoch_end(state):
        e = state.epoch
        if thr is not None:
            bl = torch.stack(batch_losses).cpu()                           # (steps, K)
            below = bl < thr.cpu()
            for i in range(k):
                if first[i, 0] < 0 and below[:, i].any():
                    first[i] = torch.tensor([e, int(below[:, i].nonzero()[0, 0]) + 1])
        if e % eval_every and e != epochs:
            return None
        s = {key: v.cpu() for key, v in acc.items()}
        m = {"train_loss": torch.stack(batch_losses).mean(0).cpu(), "train_acc": s["correct"] / s["count"],
             "loss_clean": s["loss_clean"] / s["n_clean"], "loss_corrupt": s["loss_corrupt"] / s["n_corrupt"],
             "acc_clean": s["correct_clean"] / s["n_clean"], "acc_corrupt": s["correct_corrupt"] / s["n_corrupt"]}
        if loss.abstains:
            m["abst_clean"], m["abst_corrupt"] = s["abst_clean"] / s["n_clean"], s["abst_corrupt"] / s["n_corrupt"]
        stack.train(False)
        out = _forward_all(stack, task.x_test)
        yt = task.y_test.expand(k, -1)
        m["test_loss"] = loss(out, yt, e).mean(1).cpu()
        m["test_acc"] = (_top1(loss, out) == yt).float().mean(1).cpu()
        if task.x_val is not None:
            m["val_acc"] = (_top1(loss, _forward_all(stack, task.x_val)) == task.y_val).float().mean(1).cpu()
        stack.train(True)
        extra = on_epoch_end(e, stack) if on_epoch_end is not None else None
        return [EpochLog(e, m, first.clone() if thr is not None else None, extra or {})]

    yield from fit(optimizer, loss_fn, batches, epochs=epochs, ctx=ctx, on_epoch_start=epoch_start,
                   on_epoch_end=epoch_end)


def cell_rows(log: EpochLog, cells: Sequence[dict], metrics: Sequence[str] | None = None) -> Iterator[dict]:
    """Tidy rows of one epoch: one per (cell, metric), step = epoch, with the cell's own columns (its o, p, noise
    rate, seed...)."""
    for name, values in log.metrics.items():
        if metrics is not None and name not in metrics:
            continue
        for i, cell in enumerate(cells):
            yield {"step": log.epoch, "metric": name, "value": float(values[i]), **cell}
