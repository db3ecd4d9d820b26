"""Volumization (Liu Ziyin, Zihao Wang, Makoto Yamada, Masahito Ueda; arXiv 2003.11243): what the trained cells
show beyond their accuracy. Catalog ../shared/catalog/volumization.md, fig=15-17.

  weight_histograms  fig=15  per-tensor 256-bin histograms (no-vol beside vol on a shared range) and the fraction
                             of weights within 20 % of the walls +-V, from the stacked runs of another figure (fig=T1
                             at full: its cached stacks, trained here only when absent; repro/nn/weight_stats.py)
  binarization       fig=16  the authors' eval_quantize.py: after every third epoch every parameter is set to
                             sign(w) V (its own Kaiming-V; zeros stay 0), the quantized network scored, training
                             continues from it
  adversarial        fig=17  FGSM / PGD-20 accuracy against the L-infinity radius of the trained cells
                             (repro/nn/attacks.py), counted as the authors do: clean and attacked both correct

Deviations from the authors' code: seeded runs; fig=16 quantizes after 1-based epochs 1, 4, 7, ... (their 0-based
e % 3 == 0) and scores the test set exactly; fig=17 trains with Vadam2 (our step) where the authors used Vadamw,
whose WD term has no effect (the catalog: its "WD" rows are invalid, so none is built); everything else as
sweeps.py (shared protocol, stacked cells).
"""
from __future__ import annotations

import numpy as np
import torch

from repro.experiments.registry import experiment
from repro.experiments.volumization.sweeps import _model_factory, cell_key, load_data, train_cells
from repro.nn.weight_stats import near_wall_fraction, weight_histogram


def _selected(p: dict):
    """wanted(cell): the cell's (alpha, v) is in p["select"] and its noise rate in p["select_noise"] (default all)."""
    pairs = {(float(s["alpha"]), float(s["v"])) for s in p["select"]}
    rates = None if p.get("select_noise") is None else {float(r) for r in p["select_noise"]}
    return lambda c: (c["alpha"], c["v"]) in pairs and c["l2"] == 0 and (rates is None or c["noise_rate"] in rates)


@experiment("volumization.weight_histograms", device="any")
def weight_histograms(p, ctx):
    """fig=15. The stacks holding the selected cells (p["select"] (alpha, v) pairs at select_noise rates) are loaded
    from the cache (cache_cells, saved by the figure that trained them) or trained. Per selected cell and weight
    tensor (`layers`: conv = 4-d weights, linear = 2-d, all): metric near_wall (fraction with ||w| - V| <= rel V,
    V = the tensor's Kaiming-V at the panel's wall_v, from the cell's own initial weights), columns alpha, v,
    noise_rate, layer (parameter name), layer_index; metric hist (counts; column x = bin centre / V) on a range
    shared by the cells of a noise rate (x in units of V when V > 0); per cell metric min_near_wall and
    max_near_wall over its layers."""
    from repro.optim.volumization import kaiming_volume

    data = load_data(p, ctx)
    wanted = _selected(p)
    finals = {}

    def keep(chunk, stack, opt):
        make = _model_factory(p, data)
        for k, c in enumerate(chunk):
            if wanted(c):
                init = init_of(make, ctx, c)
                finals[cell_key(c)] = (c, {n: t[k].detach().cpu() for n, t in stack.params.items()}, init)
        return ()

    for _ in train_cells(p, ctx, data, on_stack_end=keep, wanted=wanted):
        pass
    kind = "real" if data.real else "synthetic"
    bins, rel, wall_v = int(p.get("bins", 256)), float(p.get("rel", 0.2)), float(p["wall_v"])
    layers = p.get("layers", "conv")
    by_rate: dict = {}
    for c, tensors, init in finals.values():
        by_rate.setdefault(c["noise_rate"], []).append((c, tensors, init))
    for rate, group in by_rate.items():
        names = [n for n, t in group[0][1].items()
                 if (layers == "all" or (layers == "conv" and t.dim() == 4) or (layers == "linear" and t.dim() == 2)
                     or (layers == "weights" and t.dim() >= 2))]
        fractions: dict = {}
        for index, name in enumerate(names):
            lim = max(float(t[name].abs().max()) for _, t, _ in group)
            for c, tensors, init in group:
                V = kaiming_volume(init[name], wall_v)
                cols = {"alpha": c["alpha"], "v": c["v"], "l2": c["l2"], "noise_rate": rate, "replica": c["replica"],
                        "layer": name, "layer_index": index, "ndim": tensors[name].dim(), "data": kind}
                if V > 0:
                    f = near_wall_fraction(tensors[name], V, rel)
                    fractions.setdefault(cell_key(c), (c, []))[1].append(f)
                    yield {**cols, "metric": "near_wall", "value": f}
                counts, edges = weight_histogram(tensors[name], bins=bins, lim=lim)
                centres = (edges[:-1] + edges[1:]) / 2
                for x, n in zip(centres, counts):
                    yield {**cols, "metric": "hist", "value": float(n), "x": float(x / V) if V > 0 else float(x)}
        for c, values in fractions.values():
            cols = {k: c[k] for k in ("alpha", "v", "l2", "noise_rate", "replica")}
            yield {**cols, "metric": "min_near_wall", "value": min(values), "data": kind}
            yield {**cols, "metric": "max_near_wall", "value": max(values), "data": kind}


def init_of(make, ctx, c) -> dict:
    """The initial weights of a cell (its replica's init seed, as train_cells draws them)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(ctx.seed_for(f"init{c['replica']}") % 2**31)
        return {n: t.detach().clone() for n, t in make().named_parameters()}


@torch.no_grad()
def quantize_stack_(stack, opt) -> None:
    """The authors' quantization on stacked models: every parameter slice of model k set to sign(w) V_k, its own
    Kaiming-V (the stacked form of repro.optim.volumization.binarize_)."""
    for t in stack.parameters():
        t.copy_(torch.sign(t) * opt.volume(t, opt.param_groups[0]))


@experiment("volumization.binarization", device="any")
def binarization(p, ctx):
    """fig=16. Per cell and epoch: test_acc (%, before quantization), and after the quantization epochs (1-based
    epoch e with (e - 1) % quantize_every == 0) quant_acc (% of the quantized network, from which training goes
    on); at the end gap (test_acc - quant_acc at the last quantization epoch) and final_quant_acc. Columns alpha,
    v, l2, noise_rate, replica."""
    data = load_data(p, ctx)
    kind = "real" if data.real else "synthetic"
    every = int(p.get("quantize_every", 3))
    x_test, y_test = data.x_test, data.y_test

    def quantize(epoch, stack, chunk, opt):
        if (epoch - 1) % every:
            return None
        quantize_stack_(stack, opt)
        with torch.no_grad():
            stack.train(False)
            out = torch.cat([stack(x_test[i:i + 2048]) for i in range(0, len(x_test), 2048)], dim=1)
            stack.train(True)
        return {"quant_acc": (out.argmax(-1) == y_test).float().mean(1).cpu()}

    last: dict = {}
    for chunk, log in train_cells(p, ctx, data, on_epoch_end=quantize):
        for i, c in enumerate(chunk):
            pre = 100 * float(log.metrics["test_acc"][i])
            yield {"step": log.epoch, "metric": "test_acc", "value": pre, "data": kind, **c}
            if "quant_acc" in log.extra:
                post = 100 * float(log.extra["quant_acc"][i])
                yield {"step": log.epoch, "metric": "quant_acc", "value": post, "data": kind, **c}
                last[cell_key(c)] = (c, pre, post, log.epoch)
    for c, pre, post, epoch in last.values():
        yield {"step": int(p["epochs"]), "metric": "gap", "value": pre - post, "data": kind, "quant_epoch": epoch, **c}
        yield {"step": int(p["epochs"]), "metric": "final_quant_acc", "value": post, "data": kind,
               "quant_epoch": epoch, **c}
        yield {"step": int(p["epochs"]), "metric": "final_pre_acc", "value": pre, "data": kind,
               "quant_epoch": epoch, **c}


@experiment("volumization.adversarial", device="any")
def adversarial(p, ctx):
    """fig=17. Each cell trained (or loaded from the cache), then attacked on the first n_attack test points with
    each attack in p["attacks"] (fgsm; pgd20: 20 steps of pgd_step, no random start) at every eps in p["epsilons"]:
    metric robust_acc (fraction correct both clean and attacked, the authors' unit), columns attack, epsilon, alpha,
    v, l2, noise_rate, replica; clamp (e.g. [0, 1] for MNIST pixels) when given; eval mode."""
    from repro.nn.attacks import fgsm, pgd, robust_accuracy

    data = load_data(p, ctx)
    kind = "real" if data.real else "synthetic"
    n = int(p.get("n_attack") or len(data.y_test))
    x, y = data.x_test[:n], data.y_test[:n]
    clamp = tuple(p["clamp"]) if p.get("clamp") else None
    make = _model_factory(p, data)
    chunk_batch = int(p.get("attack_batch", 1000))

    def attack(chunk, stack, opt):
        like = make().to(ctx.device)
        for k, c in enumerate(chunk):
            net = stack.model(k, like).eval()
            for name in p["attacks"]:
                for eps in p["epsilons"]:
                    correct = 0.0
                    for i in range(0, n, chunk_batch):
                        xb, yb = x[i:i + chunk_batch], y[i:i + chunk_batch]
                        if name == "fgsm":
                            adv = fgsm(net, xb, yb, float(eps), clamp=clamp)
                        elif name == "pgd20":
                            adv = pgd(net, xb, yb, float(eps), step=float(p.get("pgd_step", 2 / 255)), steps=20,
                                      clamp=clamp)
                        else:
                            raise ValueError(f"unknown attack {name!r}; choose fgsm or pgd20")
                        correct += robust_accuracy(net, xb, yb, adv) * len(yb)
                    yield {"metric": "robust_acc", "value": correct / n, "attack": name, "epsilon": float(eps),
                           "data": kind, **c}

    for item in train_cells(p, ctx, data, on_stack_end=attack):
        if isinstance(item, dict):   # the hook's rows (the training logs are (cells, EpochLog) pairs)
            yield item


@experiment("volumization.reference_attacks")
def reference_attacks(p, ctx):
    """The authors' attack results (adversarial_attack.csv, their JSON files; fractions) for one data set, attack
    and source folder: metric robust_acc, columns attack, epsilon, method, alpha, v (no-reg: alpha = 1, v blank).
    Their "WD" rows are left out (Vadamw's WD had no effect: the catalog calls them invalid)."""
    from repro.data.reference import load_volumization_reference

    df = load_volumization_reference("adversarial_attack")
    df = df[(df["dataset"] == p["reference_dataset"]) & (df["attack"] == p["reference_attack"])
            & (df["method"] != "wd")]
    if p.get("reference_source"):
        df = df[df["source_dir"] == p["reference_source"]]
    for r in df.itertuples():
        yield {"metric": "robust_acc", "value": float(r.test_acc), "attack": r.attack, "epsilon": float(r.epsilon),
               "method": r.method, "alpha": 1.0 if r.method == "none" else float(r.alpha),
               "v": float("nan") if r.method == "none" else float(r.v)}
