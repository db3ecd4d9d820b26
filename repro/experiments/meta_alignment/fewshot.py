"""meta_alignment (CroMA, arXiv 2012.02813) experiment functions for the few-shot tables and the prediction and
retrieval figures (catalog meta_alignment.md, fig=T1-T7, 5, 6, 7, 10, 11).

`meta_alignment.fewshot` meta-trains one method (baselines.METHODS) on one data set and reports, per k in k_shot,
the mean query accuracy over fixed evaluation tasks from the unseen meta-test classes (episodes.fixed_eval_tasks:
their own seed, the same tasks for every method and run seed). One meta-training serves every k of the run: tasks
are K = train_shots shot during meta-training (the code's --train-shots); a full-scale grid over k_shot with
train_shots = k gives the paper's per-k runs. `outputs` adds:
    predictions  per-query predictions of one evaluation task (fig=5, 10, T2): metric `correct` per query, with
                 query, true_class, pred_class and their names
    retrieval    cross-modal retrieval on meta-test tasks (fig=6, 11): for each task, alignment fine-tuning on the
                 support pairs (test_steps steps, lr_align), then every query source item ranks the query target
                 items by cosine similarity; strong pairs: recall@1/5/10 and median rank of its partner; weak
                 pairs: cluster hit rate of the top-1 item (chance 1/N)
`noise_rate` (fig=7): symmetric label noise on every target label (the Oracle's meta-train labels, the meta-test
support labels), via repro.data.noisy_labels.noisify with a fixed noise seed.

`meta_alignment.hparams` (fig=T3-T5): the resolved hyperparameters of method.resolve against the paper's table.

Data: the stand-ins (repro/data/meta_alignment/standins.py) or a real set through
repro.data.meta_alignment.<yummly|cifar_esc50|wilderness>.load(data_dir, cache_dir=ctx.cache_dir, **data_kw) ->
CrossModalData, which raises DataMissing (one line) when the files are not staged.
"""
from __future__ import annotations

import copy
import importlib

import numpy as np
import torch

from repro.data.download import DataMissing
from repro.data.episodes import CrossModalData, fixed_eval_tasks, sample_task
from repro.data.meta_alignment.standins import STANDINS, load_standin
from repro.data.noisy_labels import noisify
from repro.experiments.meta_alignment.baselines import make_method
from repro.experiments.meta_alignment.method import (MetaLearner, evaluate, finetune_and_predict, resolve,
                                                     target_labels_seen)
from repro.experiments.registry import experiment
from repro.train import train_step

REAL = {"yummly": "yummly", "cifar_esc50": "cifar_esc50", "wilderness": "wilderness"}
OUTPUTS = ("accuracy", "predictions", "retrieval")


def load_data(p: dict, ctx) -> CrossModalData:
    name = p["dataset"]
    kw = dict(p.get("data_kw") or {})
    if name in STANDINS:
        return load_standin(name, **kw)
    if name in REAL:
        try:
            mod = importlib.import_module(f"repro.data.meta_alignment.{REAL[name]}")
        except ImportError:
            raise DataMissing(f"meta_alignment: no loader for {name} (repro/data/meta_alignment/{REAL[name]}.py "
                              f"is not installed), so the {name} data set cannot be read") from None
        return mod.load(ctx.data_dir, cache_dir=ctx.cache_dir, **kw)   # features extracted once per cache_dir
    raise ValueError(f"dataset must be one of {', '.join([*STANDINS, *REAL])}, not {name!r}")


def _shots(p) -> list[int]:
    k = p["k_shot"]
    return [int(v) for v in (k if isinstance(k, (list, tuple)) else [k])]


def _noisy(labels: torch.Tensor, rate: float, n_classes: int, seed: int) -> torch.Tensor:
    """Symmetric noise on labels 0..n_classes-1 (each label moves to a uniform other class with prob. rate)."""
    if rate <= 0:
        return labels.clone()
    return noisify(labels, "symmetric", rate, n_classes, random_state=seed).labels


def _noisy_train_labels(data: CrossModalData, rate: float, seed: int) -> torch.Tensor:
    """The target labels of meta-train classes with symmetric noise within those classes (others untouched)."""
    y = data.y_t.clone()
    train = sorted(data.classes["meta_train"])
    mask = torch.isin(y, torch.as_tensor(train))
    local = torch.searchsorted(torch.as_tensor(train), y[mask])
    noisy = _noisy(local, rate, len(train), seed)
    y[mask] = torch.as_tensor(train)[noisy]
    return y


@experiment("meta_alignment.fewshot", version=2, device="any")
def fewshot(p, ctx):
    hp = resolve(p)
    for key in hp.get("outputs", ["accuracy"]):
        if key not in OUTPUTS:
            raise ValueError(f"outputs must be among {', '.join(OUTPUTS)}, not {key!r}")
    shots = _shots(hp)
    hp["train_shots"] = int(hp.get("train_shots") or max(shots))
    data = load_data(hp, ctx)
    method = make_method(hp["method"])
    learner = MetaLearner(data, hp, method, ctx.device, ctx.cpu_generator("data"), ctx.seed_for("init"),
                          n_out=method.n_out)
    noise = float(hp.get("noise_rate", 0.0))
    noise_seed = int(hp.get("noise_seed", 0))
    if noise > 0:
        learner.y_t_train = _noisy_train_labels(data, noise, noise_seed)
    n_way, n_query, n_tasks = int(hp["n_way"]), int(hp["n_query"]), int(hp["eval_tasks"])
    eval_seed = int(hp.get("eval_seed", 0))
    k_max = max(shots + [int(hp.get("pred_shot") or 0)])
    test_tasks = fixed_eval_tasks(data.y_t, data.classes["meta_test"], n_way, k_max, n_query, n_tasks, eval_seed)

    def noisy_support(i, ys):
        return _noisy(ys, noise, n_way, noise_seed + 1000 + i) if noise > 0 else ys

    # model selection: fixed tasks of the meta-val (val) or meta-test (test, the code) classes at train_shots
    select_on = hp["select_on"]
    sel_tasks = None
    if select_on == "val":
        if len(data.classes.get("meta_val", [])) < n_way:
            raise ValueError(f"select_on=val: {data.name} has {len(data.classes.get('meta_val', []))} meta-val "
                             f"classes, fewer than n_way={n_way}; use select_on=test or last")
        sel_tasks = fixed_eval_tasks(data.y_t, data.classes["meta_val"], n_way, hp["train_shots"], n_query,
                                     n_tasks, eval_seed + 1)
    elif select_on == "test":
        sel_tasks = test_tasks
    cols = {"dataset": data.dataset or data.name, "data": data.data, "method": hp["method"], "n_way": n_way,
            "impl": hp["impl"], "select_on": select_on}
    iters = int(hp["meta_iters"]) if method.meta_trains else 0
    every = int(hp["validate_every"])
    best, best_it, best_state = -1.0, 0, None
    for it in range(1, iters + 1):
        learner.meta_iteration()
        if sel_tasks is not None and (it % every == 0 or it == iters):
            acc = evaluate(learner, sel_tasks, hp["train_shots"], noisy_support if select_on == "test" else None)
            yield {"step": it, "metric": f"{select_on}_acc_curve", "value": 100 * acc, **cols}
            if acc > best:
                best, best_it, best_state = acc, it, copy.deepcopy(learner.model.state_dict())
    if best_state is not None:
        learner.model.load_state_dict(best_state)
    else:
        best_it = iters
    yield {"metric": "selected_iteration", "value": float(best_it), **cols}
    yield {"metric": "target_labels", "value": float(target_labels_seen(learner)), **cols}
    if "accuracy" in hp.get("outputs", ["accuracy"]):
        for k in shots:
            acc = evaluate(learner, test_tasks, k, noisy_support)
            yield {"metric": "test_acc", "value": 100 * acc, "k_shot": k, "noise_rate": noise, **cols}
    if "predictions" in hp.get("outputs", []):
        yield from _predictions(learner, test_tasks[int(hp.get("pred_task", 0))], int(hp.get("pred_shot") or
                                                                                     max(shots)), data, cols)
    if "retrieval" in hp.get("outputs", []):
        yield from _retrieval(learner, hp, data, cols)


def _predictions(learner, task, k, data, cols):
    pred = finetune_and_predict(learner, task, k)
    names = data.class_names
    for i, (q, y, yhat) in enumerate(zip(task.query.tolist(), task.query_y.tolist(), pred.tolist())):
        true_c, pred_c = task.classes[y], task.classes[yhat]
        yield {"metric": "correct", "value": float(y == yhat), "query": i, "item": q, "true_class": true_c,
               "pred_class": pred_c, "true_name": names.get(true_c, str(true_c)),
               "pred_name": names.get(pred_c, str(pred_c)), "k_shot": k, **cols}
    yield {"metric": "task_acc", "value": 100 * float((pred == task.query_y).double().mean()), "k_shot": k, **cols}


def _retrieval(learner, hp, data, cols):
    """Retrieval on tasks from the meta-test classes (the code's --retrieve): see the module doc."""
    n_way, k, q = int(hp["n_way"]), int(hp.get("retrieval_shots", hp["train_shots"])), int(hp["n_query"])
    g = torch.Generator().manual_seed(int(hp.get("eval_seed", 0)) + 7)
    dev = learner.device
    classes = data.classes["meta_test"]
    if data.strength == "strong":
        src_of = torch.full((len(data.y_t),), -1, dtype=torch.int64)
        has = data.pair_t >= 0
        src_of[data.pair_t[has]] = torch.nonzero(has).flatten()
        pool = torch.nonzero(src_of >= 0).flatten()
    else:
        pool = None
    r1, r5, r10, medr, hits = [], [], [], [], []
    for _ in range(int(hp.get("retrieval_tasks", 16))):
        task = sample_task(data.y_t, pool, classes, n_way, k, q, g)
        if data.strength == "strong":
            sup_s, sup_t = src_of[task.support], task.support
            qs, qt = src_of[task.query], task.query
            id_sup = torch.arange(len(sup_t))
            id_sup_s = id_sup
        else:
            clus = [int(data.cluster_t[task.query[task.query_y == c][0]]) for c in range(n_way)]
            pick = []
            for c in clus:
                items = torch.nonzero(data.cluster_s == c).flatten()
                pick.append(items[torch.randperm(len(items), generator=g)[:k + q]])
            sup_s = torch.cat([pp[:k] for pp in pick])
            qs = torch.cat([pp[k:] for pp in pick])
            sup_t, qt = task.support, task.query
            id_sup_s = torch.as_tensor(clus).repeat_interleave(k)
            id_sup = data.cluster_t[sup_t]
        model = copy.deepcopy(learner.model)
        opt = torch.optim.Adam(model.encoder_params(), lr=float(hp["lr_align"]),
                               betas=tuple(float(b) for b in hp["inner_betas"]))
        xs, xt = learner.x_s[sup_s.to(dev)], learner.x_t[sup_t.to(dev)]
        ids, idt = id_sup_s.to(dev), id_sup.to(dev)
        for _step in range(int(hp["test_steps"])):
            train_step(opt, lambda _: learner.align_loss(model.embed_source(xs), model.embed_target(xt), ids, idt))
        with torch.no_grad():
            zs = torch.nn.functional.normalize(model.embed_source(learner.x_s[qs.to(dev)]), dim=-1)
            zt = torch.nn.functional.normalize(model.embed_target(learner.x_t[qt.to(dev)]), dim=-1)
            sim = (zs @ zt.T).cpu()
        if data.strength == "strong":
            order = sim.argsort(dim=1, descending=True)
            rank = (order == torch.arange(len(qs))[:, None]).float().argmax(1) + 1
            r1.append(float((rank <= 1).float().mean()))
            r5.append(float((rank <= 5).float().mean()))
            r10.append(float((rank <= 10).float().mean()))
            medr.append(float(rank.float().median()))
        else:
            top = sim.argmax(1)
            hits.append(float((data.cluster_t[qt[top]] == data.cluster_s[qs]).float().mean()))
    if r1:
        for metric, vals in (("recall_at_1", r1), ("recall_at_5", r5), ("recall_at_10", r10), ("median_rank", medr)):
            yield {"metric": metric, "value": float(np.mean(vals)), "candidates": n_way * q, **cols}
    if hits:
        yield {"metric": "cluster_hit", "value": float(np.mean(hits)), "chance": 1.0 / n_way, **cols}


@experiment("meta_alignment.hparams")
def hparams(p, ctx):
    """fig=T3-T5: for each entry of p["table"] ({block, parameter, paper, [code]}) the value method.resolve gives
    for impl=paper (and impl=code) with the run's overrides, as rows: metric `used` (numbers; text in `text`),
    and `match` = 1 when the resolved impl=paper value equals the paper's."""
    over = dict(p.get("overrides") or {})
    used = {"paper": resolve({**over, "impl": "paper"}), "code": resolve({**over, "impl": "code"})}
    for row in p["table"]:
        key = row.get("key", row["parameter"])
        for impl in ("paper", "code"):
            v = _lookup(used[impl], key)
            num = float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else float("nan")
            yield {"metric": f"used_{impl}", "value": num, "text": str(v), "block": row["block"],
                   "parameter": row["parameter"]}
        want = row["paper"]
        got = _lookup(used["paper"], key)
        same = (abs(float(got) - float(want)) <= 1e-12 * max(1.0, abs(float(want)))
                if isinstance(want, (int, float)) and isinstance(got, (int, float)) else str(got) == str(want))
        yield {"metric": "match", "value": float(same), "text": f"{got} vs {want}", "block": row["block"],
               "parameter": row["parameter"]}


def _lookup(hp: dict, key: str):
    """hp[key]; 'batch[k]' reads the per-k batch; 'inner_betas[0]' an element."""
    if "[" in key:
        name, idx = key[:-1].split("[")
        v = hp[name]
        if isinstance(v, dict):
            return {int(a): b for a, b in v.items()}[int(idx)]
        return v[int(idx)] if isinstance(v, (list, tuple)) else v   # one number for every k (impl=code's batch)
    return hp[key]


@experiment("meta_alignment.reported")
def reported(p, ctx):
    """The paper's table rows from the config (p["rows"]: {method, k_shot or noise_rate, mean, std}), as kind=paper
    rows: metric test_acc (the mean), test_acc_lo / test_acc_hi = mean -/+ max(2 std, p["min_tol"]) (the catalog's
    acceptance band for fig=T1, T6, T7) and test_acc_std. Every key of a row other than mean / std is a column."""
    tol_min = float(p.get("min_tol", 3.0))
    for r in p["rows"]:
        cols = {k: (int(v) if k == "k_shot" else v) for k, v in r.items() if k not in ("mean", "std")}
        tol = max(2 * float(r.get("std", 0.0)), tol_min)
        yield {"metric": "test_acc", "value": float(r["mean"]), **cols}
        yield {"metric": "test_acc_std", "value": float(r.get("std", float("nan"))), **cols}
        yield {"metric": "test_acc_lo", "value": float(r["mean"]) - tol, **cols}
        yield {"metric": "test_acc_hi", "value": float(r["mean"]) + tol, **cols}
