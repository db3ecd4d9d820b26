"""Learning Not to Learn in the Presence of Noisy Labels (Ziyin et al., arXiv 2002.06541; catalog gambler.md): the one
training experiment behind fig=1-6, 8-10 and T1, T3 (`gambler.noisy_training`). Figures differ only in params.

A run trains its cells (common.expand_cells: NLL, fixed o, the o-heuristics euc/mid/exp, per noise rate, warm-up,
optimizer, lr, validation hold-out) on one data set with the run's seed: cells sharing an optimizer and a validation
hold-out train as ONE stacked model (repro/noisy/grid.py train_grid; same initialisation and batch order for every
cell of the run, the authors' `--seed`), each on its own noisy labels. Rows:

per epoch (step = epoch, columns cell, payoff, o, noise_rate, optimizer, dataset, data):
    train_loss (epoch mean of the mini-batch losses: what the authors' stop compares), train_acc (vs the noisy
    labels), loss_clean / loss_corrupt, acc_clean / acc_corrupt, abst_clean / abst_corrupt, abstention (mean f_{m+1}
    over the training set during the epoch), test_loss, test_acc (every test image scored), val_acc (with a hold-out);
    test_acc also at step 0 (the initial model);
summary per cell (no step):
    AES, the authors' epoch-mean rule (repro/noisy/early_stopping.AnalyticalStop, L*(1 - r, o), epoch >= warm-up;
        fixed-o cells under symmetric noise): l_star, aes_fired, aes_stop_epoch, acc_at_aes, acc_before_aes (the
        stopping epoch's model and the one before it: open question 3), train_acc_at_aes, train_loss_at_aes;
    Algorithm 1's per-batch rule (train_grid's batch_threshold, checked before the update): batch_fired,
        batch_stop_epoch, batch_stop_step, acc_before_batch_stop (the last evaluated model before the firing batch:
        the end of the epoch before);
    VES (cells with val > 0; ValidationStop, patience): ves_fired, ves_stop_epoch, acc_at_ves, acc_before_ves,
        ves_best_epoch, acc_at_ves_best;
    the baselines' ES (TrainAccuracyStop, train acc > 1 - r): tes_fired, tes_stop_epoch, acc_at_tes, acc_before_tes;
    peak_acc, peak_epoch, final_acc, final_train_acc, final_train_loss, final_abstention, plateau_width (epochs with
    test acc >= peak - plateau_tol), at_peak_loss_clean, at_peak_loss_corrupt, plateau_rel_gap (min over the epochs
    of plateau_window of |train_loss - L*|/L*), collapse_epoch (first epoch after warm-up with mean abstention
    >= 0.95: open question 19's total abstention);
    a rule that never fires gives its stop epoch as epochs + 1 (censored) with *_fired = 0, and its accuracies are
    the final model's (training ran to the end);
abstention histograms (params abst_hist_epochs): at the end of those epochs, f_{m+1} of every training point split by
    clean / corrupted label: abst_hist (columns bin, label; density), abst_mean_clean, abst_mean_corrupt, abst_gap
    (corrupt - clean), abst_auc (ROC-AUC of f_{m+1} for detecting a corrupted label);
the o-transition across the fixed-o cells (params transition_epochs, fig=3): per (noise_rate, optimizer) and epoch E,
    the largest jump of test acc between neighbouring o: transition_jump, transition_o_low, transition_o_high,
    transition_min_abst_low (the smallest mean abstention among the cells at or below o_low).

Deviations from the authors' code: every test image is scored (their drop_last divisor bug, up to 0.16 points);
the AES and VES runs are not cut at the stop (the rule is evaluated on the logged epochs, and the model at the stop
and the one before it are both reported); the per-batch rule's model is the one of the previous epoch's end (the
weights just before the firing batch are not evaluated).
"""
from __future__ import annotations

import math

import torch

from repro.experiments.gambler.common import (cell_columns, expand_cells, load_data, make_optimizer, make_stack,
                                              noisy_task, payoff_value)
from repro.experiments.registry import experiment
from repro.noisy.early_stopping import AnalyticalStop, TrainAccuracyStop, ValidationStop
from repro.noisy.grid import GamblerCells, train_grid
from repro.theory.gambler import plateau_loss

COLLAPSE = 0.95


def _groups(cells: list[dict]) -> list[list[int]]:
    """Indices of the cells that train as one stack: same optimizer and validation hold-out, in order."""
    keys: dict[tuple, list[int]] = {}
    for i, c in enumerate(cells):
        keys.setdefault((c.get("optimizer", "adam"), int(c.get("val", 0))), []).append(i)
    return list(keys.values())


def l_star_of(cell: dict) -> float | None:
    """L*(1 - r, o) for a fixed-o cell under symmetric noise (None otherwise: NLL, auto o, pairflip)."""
    o = cell.get("o", "nll")
    if isinstance(o, str) or cell.get("noise_type", "symmetric") != "symmetric":
        return None
    return plateau_loss(1.0 - float(cell.get("noise_rate", 0.0)), float(o))


@torch.no_grad()
def _accuracy(stack, x, y, chunk: int = 2048) -> torch.Tensor:
    """(K,) top-1 accuracy over the first m outputs (abstention ignored)."""
    out = torch.cat([stack(x[i:i + chunk]) for i in range(0, len(x), chunk)], dim=1)
    return (out[..., :-1].argmax(-1) == y).float().mean(1).cpu()


@torch.no_grad()
def _abstention(stack, x, chunk: int = 2048) -> torch.Tensor:
    """(K, N) f_{m+1} of every point."""
    return torch.cat([torch.softmax(stack(x[i:i + chunk]).float(), -1)[..., -1]
                      for i in range(0, len(x), chunk)], dim=1).cpu()


def roc_auc(score: torch.Tensor, positive: torch.Tensor) -> float:
    """ROC-AUC of `score` for the positives (ties count one half): the Mann-Whitney statistic."""
    pos, neg = score[positive].double(), score[~positive].double()
    if not len(pos) or not len(neg):
        return math.nan
    ranks = torch.empty(len(score), dtype=torch.float64)
    order = torch.argsort(score.double(), stable=True)
    s = score.double()[order]
    i = 0
    while i < len(s):        # average ranks over ties
        j = i
        while j + 1 < len(s) and s[j + 1] == s[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    r_pos = ranks[positive].sum()
    return float((r_pos - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def _histogram_rows(epoch, abst, clean, cells, bins, base):
    edges = torch.linspace(0, 1, bins + 1)
    for i, cell in enumerate(cells):
        a, c = abst[i], clean[i].cpu()
        cols = {**base, **cell_columns(cell)}
        for label, mask in (("clean", c), ("corrupt", ~c)):
            if mask.any():
                h = torch.histc(a[mask].float(), bins=bins, min=0, max=1) / mask.sum() * bins
                for b in range(bins):
                    yield {"step": epoch, "metric": "abst_hist", "value": float(h[b]),
                           "bin": float((edges[b] + edges[b + 1]) / 2), "label": label, **cols}
        mean_c = float(a[c].mean()) if c.any() else math.nan
        mean_n = float(a[~c].mean()) if (~c).any() else math.nan
        for metric, v in (("abst_mean_clean", mean_c), ("abst_mean_corrupt", mean_n),
                          ("abst_gap", mean_n - mean_c), ("abst_auc", roc_auc(a, ~c))):
            yield {"step": epoch, "metric": metric, "value": v, **cols}


def _stop_rows(prefix, rule, acc, epochs, extra=None):
    """{prefix}_fired, {prefix}_stop_epoch (censored at epochs + 1), acc_at_{prefix}, acc_before_{prefix}."""
    fired = rule.stopped
    stop = rule.stop_epoch if fired else epochs + 1
    at = acc[stop] if fired else acc[epochs]
    before = acc[stop - 1] if fired else acc[epochs]
    out = {f"{prefix}_fired": float(fired), f"{prefix}_stop_epoch": float(stop), f"acc_at_{prefix}": at,
           f"acc_before_{prefix}": before}
    for name, series in (extra or {}).items():
        out[f"{name}_at_{prefix}"] = series[stop] if fired else series[epochs]
    return out


def _summaries(cell, hist, epochs, first_below, p):
    """The summary metrics of one cell (module doc) from its per-epoch history hist[metric][epoch]."""
    acc = hist["test_acc"]
    r = float(cell.get("noise_rate", 0.0))
    out: dict[str, float] = {}
    lstar = l_star_of(cell)
    if lstar is not None:
        rule = AnalyticalStop(lstar, start_gamblers=int(cell.get("start_gamblers", 0)))
        for e in range(1, epochs + 1):
            rule.update(e, {"train_loss": hist["train_loss"][e]})
        out["l_star"] = lstar
        out.update(_stop_rows("aes", rule, acc, epochs, {"train_acc": hist["train_acc"],
                                                           "train_loss": hist["train_loss"]}))
        if first_below is not None:
            e, step = int(first_below[0]), int(first_below[1])
            out["batch_fired"] = float(e > 0)
            out["batch_stop_epoch"] = float(e if e > 0 else epochs + 1)
            out["batch_stop_step"] = float(step)
            out["acc_before_batch_stop"] = acc[e - 1] if e > 0 else acc[epochs]
        lo, hi = p.get("plateau_window") or [1, epochs]
        gaps = [abs(hist["train_loss"][e] - lstar) / lstar for e in range(int(lo), min(int(hi), epochs) + 1)]
        out["plateau_rel_gap"] = min(gaps) if gaps else math.nan
    if int(cell.get("val", 0)) > 0:
        ves = ValidationStop(patience=int(p.get("patience", 5)))
        for e in range(1, epochs + 1):
            ves.update(e, {"val_acc": hist["val_acc"][e]})
        out.update(_stop_rows("ves", ves, acc, epochs))
        out["ves_best_epoch"] = float(ves.best_epoch)
        out["acc_at_ves_best"] = acc[ves.best_epoch]
    tes = TrainAccuracyStop.for_noise(r)
    for e in range(1, epochs + 1):
        tes.update(e, {"train_acc": hist["train_acc"][e]})
    out.update(_stop_rows("tes", tes, acc, epochs))
    curve = [acc[e] for e in range(1, epochs + 1)]
    peak_i = max(range(epochs), key=lambda i: curve[i])
    peak = curve[peak_i]
    tol = float(p.get("plateau_tol", 0.02))
    out.update(peak_acc=peak, peak_epoch=float(peak_i + 1), final_acc=acc[epochs],
               final_train_acc=hist["train_acc"][epochs], final_train_loss=hist["train_loss"][epochs],
               plateau_width=float(sum(v >= peak - tol for v in curve)),
               at_peak_loss_clean=hist["loss_clean"][peak_i + 1], at_peak_loss_corrupt=hist["loss_corrupt"][peak_i + 1])
    if "abstention" in hist:
        out["final_abstention"] = hist["abstention"][epochs]
        start = int(cell.get("start_gamblers", 0))
        collapsed = [e for e in range(max(1, start), epochs + 1) if hist["abstention"][e] >= COLLAPSE]
        out["collapse_epoch"] = float(collapsed[0] if collapsed else epochs + 1)
    return out


def _transition_rows(cells, hists, p, base):
    """fig=3: the largest jump of test acc between neighbouring fixed o (module doc)."""
    groups: dict[tuple, list[int]] = {}
    for i, c in enumerate(cells):
        if not isinstance(c.get("o", "nll"), str):
            groups.setdefault((float(c.get("noise_rate", 0.0)), c.get("optimizer", "adam")), []).append(i)
    for (r, opt), idx in groups.items():
        idx = sorted(idx, key=lambda i: float(cells[i]["o"]))
        if len(idx) < 2:
            continue
        for e in p.get("transition_epochs") or []:
            e = int(e)
            if e not in hists[idx[0]]["test_acc"]:
                continue
            accs = [hists[i]["test_acc"][e] for i in idx]
            j = max(range(len(idx) - 1), key=lambda j: accs[j + 1] - accs[j])
            o_lo, o_hi = float(cells[idx[j]]["o"]), float(cells[idx[j + 1]]["o"])
            abst_low = min(hists[i]["abstention"][e] for i in idx[:j + 1])
            cols = {**base, "noise_rate": r, "optimizer": opt, "at_epoch": e}
            for metric, v in (("transition_jump", accs[j + 1] - accs[j]), ("transition_o_low", o_lo),
                              ("transition_o_high", o_hi), ("transition_min_abst_low", abst_low)):
                yield {"metric": metric, "value": float(v), **cols}


def gambler_cells(group: list[dict], data) -> GamblerCells:
    """The gambler's loss of every cell of a stack (payoff o or "nll" or an o-heuristic, warm-up)."""
    return GamblerCells([payoff_value(c.get("o", "nll")) for c in group], data.num_classes,
                        [int(c.get("start_gamblers", 0)) for c in group])


def train_cells(p: dict, ctx, data, cells: list[dict], make_loss=gambler_cells):
    """Train every group of cells (model k initialised from the run's "init" stream + its cell's init_offset);
    yields (group cells, per-cell histories, per-cell first_below, hist rows)."""
    device = ctx.device
    epochs = int(p["epochs"])
    init_seed = ctx.seed_for("init") % 2 ** 31
    order_seed = ctx.seed_for("data") % 2 ** 31
    for idx in _groups(cells):
        group = [cells[i] for i in idx]
        noise = [(c.get("noise_type", "symmetric"), float(c.get("noise_rate", 0.0)), int(c.get("noise_seed", 0)))
                 for c in group]
        task = noisy_task(data, noise, int(group[0].get("val", 0)), ctx, device)
        k = len(group)
        stack = make_stack(p.get("model") or _default_model(data), data.num_classes + 1, data.model_kwargs,
                           [init_seed + int(c.get("init_offset", 0)) for c in group], device)
        opt = make_optimizer(group[0].get("optimizer", "adam"), stack.parameters(), group, p)
        loss = make_loss(group, data)
        thr = torch.tensor([l_star_of(c) if l_star_of(c) is not None else -math.inf for c in group])
        hist_epochs = {int(e) for e in p.get("abst_hist_epochs") or []}
        hist_rows: list[dict] = []
        base = {"dataset": data.dataset, "data": data.data}

        def on_end(epoch, st):
            if epoch in hist_epochs:
                hist_rows.extend(_histogram_rows(epoch, _abstention(st, task.x), task.clean, group,
                                                 int(p.get("hist_bins", 20)), base))
            return None

        hists = [{"test_acc": {}} for _ in group]
        acc0 = _accuracy(stack, task.x_test, task.y_test)
        for i in range(k):
            hists[i]["test_acc"][0] = float(acc0[i])
        frac_clean = task.clean.float().mean(1).cpu()
        first = None
        for log in train_grid(stack, opt, loss, task, epochs=epochs, batch_size=int(p.get("batch_size", 128)),
                              order_seeds=[order_seed] * k, drop_last=bool(p.get("drop_last", False)),
                              batch_threshold=thr, on_epoch_end=on_end, ctx=ctx):
            m = dict(log.metrics)
            ab_c, ab_n = torch.nan_to_num(m["abst_clean"]), torch.nan_to_num(m["abst_corrupt"])
            m["abstention"] = frac_clean * ab_c + (1 - frac_clean) * ab_n
            for name, values in m.items():
                for i in range(k):
                    hists[i].setdefault(name, {})[log.epoch] = float(values[i])
            first = log.first_below
        yield group, hists, first, hist_rows


def _default_model(data) -> str:
    from repro.experiments.gambler.common import DEFAULT_MODEL

    return DEFAULT_MODEL[data.dataset]


def run_cells(p, ctx, cells, data, make_loss=gambler_cells):
    """Train the cells and yield every row (module doc)."""
    epochs = int(p["epochs"])
    keep = set(p["log_metrics"]) if p.get("log_metrics") else None
    base = {"dataset": data.dataset, "data": data.data}
    all_cells, all_hists = [], []
    for group, hists, first, hist_rows in train_cells(p, ctx, data, cells, make_loss):
        for i, cell in enumerate(group):
            cols = {**base, **cell_columns(cell)}
            for name, series in hists[i].items():
                if keep is not None and name not in keep:
                    continue
                for e, v in sorted(series.items()):
                    yield {"step": e, "metric": name, "value": v, **cols}
            fb = None if first is None else first[i]
            for metric, v in _summaries(cell, hists[i], epochs, fb, p).items():
                yield {"metric": metric, "value": float(v), **cols}
        yield from hist_rows
        all_cells += group
        all_hists += hists
    yield from _transition_rows(all_cells, all_hists, p, base)


@experiment("gambler.noisy_training", version=1, device="any")
def noisy_training(p, ctx):
    """The module doc. params: dataset, model (default per dataset), epochs, batch_size, lr, optimizer, cells /
    cell_grid (and the cell defaults o, noise_rate, noise_type, noise_seed, start_gamblers, val), patience,
    plateau_window, plateau_tol, abst_hist_epochs, hist_bins, transition_epochs, log_metrics (per-epoch metrics to
    emit; default all), n_train / n_test (scale cuts)."""
    yield from run_cells(p, ctx, expand_cells(p), load_data(p, ctx))
