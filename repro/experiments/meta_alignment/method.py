"""CroMA, cross-modal meta-alignment (Liang, Wu, Ziyin, Morency & Salakhutdinov, "Cross-Modal Generalization:
Learning in Low Resource Modalities via Meta-Alignment", arXiv 2012.02813, workshop version; catalog
meta_alignment.md, "CroMA algorithm as published", "Implementation in the official code", Open questions 2-6, 11).

The meta-learner (`MetaLearner`) holds the networks (repro/nn/croma.py), the data and its pools
(repro/data/episodes.py) and runs one meta-iteration of a method's schedule (baselines.py: METHODS). CroMA's
schedule is Algorithm 1:
  1. alignment task T_a (N classes / clusters x K pairs from the alignment pool): inner Adam steps on the
     alignment loss (align_loss: nce = eq 2 on normalised embeddings, eq2 as printed, infonce, tri, cos), then the
     Reptile step e <- e + eps (e~ - e) on both encoders (and the code's alignment head A);
  2. source classification task T_s (N-way K-shot, source labels): inner Adam steps of cross-entropy through
     g(f_s(x_s)), then the Reptile step on phi (clf_updates=classifier, as written) or on every parameter
     (clf_updates=all, the code).
Meta-test (`evaluate`): from e_t^meta (with A) and phi^meta, fresh Adam on the k-shot support set of a target task
for test_steps steps, accuracy on its queries; the only target labels CroMA ever sees. The evaluation tasks are
fine-tuned as one vmapped batch of copies (repro/train/stacked.py) when the target path has no LSTM, else one by
one: the same steps either way (a speed choice, tested equal).

`impl=paper|code` picks the defaults (`PAPER`, `CODE`: the catalog's hyperparameter table); any key given
explicitly overrides them. `resolve(p)` is the one place they are merged (fig=T3-T5 print it).

Deviations (documented in the catalog's open questions): eq 2 is applied to L2-normalised embeddings by default
(nce); "Iterations 800" is read as 800 meta-iterations with 9 inner and 9 meta-test steps; the paper's embedding
256 is fc_dim; the classifier is trained with cross-entropy (the tables' "MSE, teacher forcing" is a template
leftover). Speed (same numbers): a classifier-only inner loop (clf_updates=classifier) encodes x_s once, since f_s
does not move in it. Model selection (select_on=val|test|last) evaluates every validate_every meta-iterations on fixed tasks
of the meta-val (val) or meta-test (test, as the code does) classes; last keeps the final state.
"""
from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F

from repro.data.episodes import CrossModalData, Pools, Task, make_pools, sample_alignment_batch, sample_task
from repro.nn.alignment_losses import LOSSES, alignment_loss
from repro.nn.croma import CroMANet
from repro.optim.reptile import ReptileMeta
from repro.train import train_step

IMPLS = ("paper", "code")
SELECT_ON = ("val", "test", "last")

# The catalog's "Hyperparameters: paper vs code" table (Tables 3-5 and the xmodal README command).
PAPER = {"n_way": 5, "eval_tasks": 8, "meta_optimizer": "sgd", "meta_lr": 0.1, "inner_optimizer": "adam",
         "inner_betas": [0.9, 0.999], "lr_align": 1e-3, "lr_clf": 1e-3, "meta_iters": 800, "inner_steps": 9,
         "test_steps": 9, "embed_dim": 256, "hidden": 256, "classifier_hidden": 256, "margin": 0.1,
         "align_loss": "nce", "order": "align_first", "clf_updates": "classifier", "align_head": False,
         "inner_state": "fresh", "batch": {1: 4, 5: 8, 10: 16}, "align_batch": None, "n_query": 10,
         "select_on": "val", "validate_every": 100}
CODE = {"n_way": 3, "eval_tasks": 8, "meta_optimizer": "adam", "meta_lr": 1e-4, "inner_optimizer": "adam",
        "inner_betas": [0.0, 0.999], "lr_align": 1e-4, "lr_clf": 1e-4, "meta_iters": 100000, "inner_steps": 9,
        "test_steps": 9, "embed_dim": 128, "hidden": 256, "classifier_hidden": 0, "margin": 0.5,
        "align_loss": "tri", "order": "clf_first", "clf_updates": "all", "align_head": True,
        "inner_state": "persist", "batch": 8, "align_batch": 4, "n_query": 10, "select_on": "test",
        "validate_every": 100}


def resolve(p: dict) -> dict:
    """The run's hyperparameters: the impl's defaults (PAPER or CODE), then every key of p that is not None."""
    impl = p.get("impl", "paper")
    if impl not in IMPLS:
        raise ValueError(f"impl must be one of {', '.join(IMPLS)}, not {impl!r}")
    hp = copy.deepcopy(PAPER if impl == "paper" else CODE)
    hp.update({k: v for k, v in p.items() if v is not None})
    hp["impl"] = impl
    if hp["select_on"] not in SELECT_ON:
        raise ValueError(f"select_on must be one of {', '.join(SELECT_ON)}, not {hp['select_on']!r}")
    if hp["align_loss"] not in LOSSES:
        raise ValueError(f"align_loss must be one of {', '.join(LOSSES)}, not {hp['align_loss']!r}")
    if hp["clf_updates"] not in ("classifier", "all"):
        raise ValueError(f"clf_updates must be classifier or all, not {hp['clf_updates']!r}")
    return hp


def batch_for(hp: dict, k: int) -> int:
    """The minibatch size for k-shot tasks: the paper's 4 / 8 / 16 for 1 / 5 / 10-shot, or one number."""
    b = hp["batch"]
    if isinstance(b, dict):
        b = {int(key): v for key, v in b.items()}
        if k not in b:
            raise ValueError(f"batch: no size for k = {k}; given {sorted(b)}")
        return int(b[k])
    return int(b)


def chunks(n: int, size: int, steps: int):
    """Index ranges of minibatches of `size` over n items, in order, cycling for `steps` steps (the code's
    unshuffled support loaders)."""
    size = max(1, min(size, n))
    starts = list(range(0, n, size))
    return [torch.arange(starts[i % len(starts)], min(starts[i % len(starts)] + size, n)) for i in range(steps)]


class MetaLearner:
    """Networks + data + pools + the optimizers of one run; `meta_iteration()` runs one step of the schedule."""

    def __init__(self, data: CrossModalData, hp: dict, method, device, data_gen: torch.Generator,
                 init_seed: int, n_out: int | None = None):
        self.data, self.hp, self.method, self.device, self.gen = data, hp, method, device, data_gen
        self.pools: Pools = make_pools(data, data_gen)
        torch.manual_seed(init_seed)
        self.model = CroMANet(data.source_spec, data.target_spec, n_out or hp["n_way"], int(hp["embed_dim"]),
                              int(hp["hidden"]), int(hp["classifier_hidden"]), bool(hp["align_head"]),
                              shared=method.shared, target_flat_dim=int(data.x_t[0].numel())).to(device)
        self.x_s, self.x_t = data.x_s.to(device), data.x_t.to(device)
        self.y_t_train = data.y_t.clone()   # the target labels meta-training may see (noisy for fig=7)
        self.extra = {}                     # baseline modules (decoder, domain classifier), see baselines.py
        self._inner = {}                    # persistent inner optimizers (inner_state=persist; direct steps)
        self._meta = {}
        method.setup(self)

    # ---- parameters, optimizers ----
    def scope(self, name: str) -> list[torch.nn.Parameter]:
        """Parameters by name: encoders (f_s, f_t, A), classifier (g), target (f_t, A, g), all; "+key" adds the
        baseline modules in self.extra[key] (e.g. "target+decoder")."""
        base, *more = name.split("+")
        m = self.model
        groups = {"encoders": m.encoder_params, "classifier": lambda: list(m.g.parameters()),
                  "target": m.target_path_params, "all": lambda: list(m.parameters())}
        if base not in groups:
            raise ValueError(f"unknown parameter scope {base!r}")
        extra = [q for key in more for mod in self.extra[key] for q in mod.parameters()]
        return _unique(groups[base]() + extra)

    def inner_optimizer(self, key: str, params, lr: float, persist: bool):
        betas = tuple(float(b) for b in self.hp["inner_betas"])
        if persist and key in self._inner:
            return self._inner[key]
        opt = torch.optim.Adam(params, lr=lr, betas=betas)
        if persist:
            self._inner[key] = opt
        return opt

    def meta_optimizer(self, scope: str) -> ReptileMeta:
        if scope not in self._meta:
            self._meta[scope] = ReptileMeta(self.scope(scope), self.hp["meta_optimizer"], float(self.hp["meta_lr"]))
        return self._meta[scope]

    def reptile(self, scope: str, loss_fn, batches, lr: float, key: str) -> None:
        """Inner loop from theta on `scope` (Adam, fresh or persistent), then the Reptile step towards the adapted
        parameters. impl=code clones every parameter for every task and steps one meta Adam (xmodal main.py)."""
        if self.hp["impl"] == "code":
            scope = "all"
        params = self.scope(scope)
        theta = [q.detach().clone() for q in params]
        opt = self.inner_optimizer(key, params, lr, self.hp["inner_state"] == "persist")
        for batch in batches:
            train_step(opt, loss_fn, batch)
        adapted = [q.detach().clone() for q in params]
        with torch.no_grad():
            for q, t in zip(params, theta):
                q.copy_(t)
        self.meta_optimizer(scope).step(adapted)

    def direct(self, scope: str, loss_fn, batches, lr: float, key: str) -> None:
        """Plain (non-meta) training steps with a persistent Adam: the supervised baselines' updates."""
        opt = self.inner_optimizer(key, self.scope(scope), lr, persist=True)
        for batch in batches:
            train_step(opt, loss_fn, batch)

    # ---- the task steps of Algorithm 1 ----
    def k_train(self) -> int:
        return int(self.hp["train_shots"])

    def alignment_step(self, scope: str = "encoders") -> None:
        hp, k = self.hp, self.k_train()
        s, t, id_s, id_t = sample_alignment_batch(self.pools, self.data.strength, int(hp["n_way"]), k, self.gen)
        bs = int(hp["align_batch"] or batch_for(hp, k))
        batches = chunks(len(s), bs, int(hp["inner_steps"]))
        ds, dt = s.to(self.device), t.to(self.device)
        ids, idt = id_s.to(self.device), id_t.to(self.device)

        def loss(rows):
            r = rows.to(self.device)
            return self.align_loss(self.model.embed_source(self.x_s[ds[r]]), self.model.embed_target(self.x_t[dt[r]]),
                                   ids[r], idt[r])
        self.reptile(scope, loss, batches, float(hp["lr_align"]), "align")

    def align_loss(self, zs, zt, id_s, id_t):
        return alignment_loss(self.hp["align_loss"], zs, zt, id_s, id_t, margin=float(self.hp["margin"]),
                              temperature=float(self.hp.get("temperature", 0.1)))

    def source_classification_step(self) -> None:
        hp, k = self.hp, self.k_train()
        task = sample_task(self.data.y_s, self.pools.source_clf, self.data.train_source_classes, int(hp["n_way"]),
                           k, 0, self.gen)
        x, y = self.x_s[task.support.to(self.device)], task.support_y.to(self.device)
        scope = "classifier" if hp["clf_updates"] == "classifier" and hp["impl"] != "code" else "all"
        batches = chunks(len(y), batch_for(hp, k), int(hp["inner_steps"]))
        if scope == "classifier":
            # only phi moves in this inner loop, so f_s(x_s) is the same at every step: encode once (same numbers,
            # one source-encoder pass instead of inner_steps)
            with torch.no_grad():
                z = self.model.embed_source(x)
            self.reptile(scope, lambda r: F.cross_entropy(self.model.g(z[r]), y[r]), batches, float(hp["lr_clf"]),
                         "clf")
            return
        self.reptile(scope, lambda r: F.cross_entropy(self.model.source_logits(x[r]), y[r]), batches,
                     float(hp["lr_clf"]), "clf")

    def target_classification_step(self, labels: torch.Tensor | None = None, classes=None) -> None:
        """Reptile on labelled target tasks of meta-train classes (the Oracle; with labels = cluster ids, the
        weak-label unsupervised baseline)."""
        hp, k = self.hp, self.k_train()
        labels = self.y_t_train if labels is None else labels
        classes = self.data.classes["meta_train"] if classes is None else classes
        task = sample_task(labels, self.pools.target_clf, classes, int(hp["n_way"]), k, 0, self.gen)
        x, y = self.x_t[task.support.to(self.device)], task.support_y.to(self.device)
        batches = chunks(len(y), batch_for(hp, k), int(hp["inner_steps"]))
        scope = "all" if hp["impl"] == "code" else "target"
        self.reptile(scope, lambda r: F.cross_entropy(self.model.target_logits(x[r]), y[r]), batches,
                     float(hp["lr_clf"]), "target_clf")

    def meta_iteration(self) -> None:
        self.method.meta_iteration(self)


def _unique(params):
    seen, out = set(), []
    for q in params:
        if id(q) not in seen:
            seen.add(id(q))
            out.append(q)
    return out


# ---- meta-test ----
def finetune_and_predict(learner: MetaLearner, task: Task, k: int, support_y: torch.Tensor | None = None):
    """Clone the meta-model, fine-tune g(A(f_t)) on the task's k-shot support set with a fresh Adam (lr_clf) for
    test_steps steps on unshuffled minibatches, and return the query predictions (task labels)."""
    hp, dev = learner.hp, learner.device
    t = task.with_shots(k)
    model = copy.deepcopy(learner.model)
    if learner.method.reset_head:
        model.g.reset_head(len(t.classes))
    x = learner.x_t[t.support.to(dev)]
    y = (t.support_y if support_y is None else support_y).to(dev)
    opt = torch.optim.Adam(model.target_path_params(), lr=float(hp["lr_clf"]),
                           betas=tuple(float(b) for b in hp["inner_betas"]))
    for r in chunks(len(y), batch_for(hp, k), int(hp["test_steps"])):
        train_step(opt, lambda rows: F.cross_entropy(model.target_logits(x[rows.to(dev)]), y[rows.to(dev)]), r)
    with torch.no_grad():
        return model.target_logits(learner.x_t[t.query.to(dev)]).argmax(1).cpu()


def evaluate(learner: MetaLearner, tasks: list[Task], k: int, noisy_support=None) -> float:
    """Mean query accuracy over the tasks (fraction). noisy_support(task_index, labels) may corrupt the support
    labels (fig=7's symmetric noise). The tasks' fine-tunings are independent: `finetune_and_predict_stacked` runs
    them as one vmapped batch where it can (see there), else one after the other."""
    labels = []
    for i, task in enumerate(tasks):
        ys = task.with_shots(k).support_y
        labels.append(noisy_support(i, ys) if noisy_support is not None else ys)
    if can_stack(learner, tasks):
        preds = finetune_and_predict_stacked(learner, tasks, k, labels)
    else:
        preds = [finetune_and_predict(learner, task, k, ys) for task, ys in zip(tasks, labels)]
    accs = [float((pred == task.query_y).double().mean()) for pred, task in zip(preds, tasks)]
    return sum(accs) / len(accs)


class TargetPath(torch.nn.Module):
    """g(A(f_t(x))) as one module (the part of the model that meta-test fine-tunes)."""

    def __init__(self, model: CroMANet):
        super().__init__()
        self.f_t, self.A, self.g = model.f_t, model.A, model.g

    def forward(self, x):
        return self.g(self.A(self.f_t(x)))


def can_stack(learner: MetaLearner, tasks: list[Task]) -> bool:
    """The batched fine-tuning needs: no LSTM on the target path (torch.func.vmap has no batching rule for
    aten::lstm), no fresh random head per task (reset_head), and support / query sets of one size."""
    path = TargetPath(learner.model)
    return (len(tasks) > 1 and not learner.method.reset_head
            and not any(isinstance(m, torch.nn.LSTM) for m in path.modules())
            and len({len(t.support) for t in tasks}) == 1 and len({len(t.query) for t in tasks}) == 1)


def finetune_and_predict_stacked(learner: MetaLearner, tasks: list[Task], k: int, labels: list[torch.Tensor]):
    """What finetune_and_predict does for each task, for all tasks at once: one copy of the target path per task
    stacked along a leading axis (repro/train/stacked.py), the same Adam (StackedAdam = torch's Adam per copy), the
    same unshuffled minibatches; each copy's loss is its own task's mean cross-entropy, so each copy gets its own
    gradient. Equal to the one-by-one loop up to float rounding (tests/experiments/test_meta_alignment.py)."""
    from repro.train.stacked import StackedAdam, StackedModels, stacked_cross_entropy

    hp, dev = learner.hp, learner.device
    shots = [t.with_shots(k) for t in tasks]
    path = TargetPath(learner.model)
    stack = StackedModels([copy.deepcopy(path) for _ in tasks])
    for q in stack.parameters():
        q.requires_grad_(True)
    x = torch.stack([learner.x_t[t.support.to(dev)] for t in shots])
    y = torch.stack([ys.to(dev) for ys in labels])
    opt = StackedAdam(stack.parameters(), lr=float(hp["lr_clf"]), betas=tuple(float(b) for b in hp["inner_betas"]))
    for r in chunks(y.shape[1], batch_for(hp, k), int(hp["test_steps"])):
        train_step(opt, lambda rows: stacked_cross_entropy(stack(x[:, rows.to(dev)], per_model=True),
                                                           y[:, rows.to(dev)]), r)
    with torch.no_grad():
        xq = torch.stack([learner.x_t[t.query.to(dev)] for t in tasks])
        return list(stack(xq, per_model=True).argmax(-1).cpu())


def target_labels_seen(learner: MetaLearner) -> int:
    """#Target labels used in meta-training (fig=T1's column): the Oracle's pool, else 0."""
    return int(len(learner.pools.target_clf)) if learner.method.uses_target_labels else 0


def isfinite_model(model) -> bool:
    return all(math.isfinite(float(q.detach().abs().sum())) for q in model.parameters())
