"""CroMA and its baselines as meta-training schedules (meta_alignment, arXiv 2012.02813; catalog
meta_alignment.md, "Baselines" and Open question 13). Each method is the list of task steps one meta-iteration
runs on a MetaLearner (method.py); the defining step of each is below. Meta-test is the same for all (method.py:
fine-tune g(A(f_t)) on the k-shot target support set).

    pretrain              no meta-training: meta-test fine-tuning from the initial (for real data: pretrained)
                          encoders [reconstructed]
    unsup_recon           Reptile on unlabelled meta-train target items: reconstruction MSE through f_t and a linear
                          decoder (the code's --ae, a deconv decoder there) [mapping reconstructed]
    unsup_weak            Reptile on target tasks labelled by concept-cluster ids (weak labels; needs clusters)
    align_classify        supervised alignment (direct Adam steps on minibatches of all alignment pairs) and a
                          non-meta source classifier over all meta-train source classes; a fresh N-way head at
                          meta-test [reconstructed]
    align_meta_classify   direct (non-meta) alignment steps, Reptile on source classification (the code's
                          --do-super) [mapping reconstructed]
    croma                 Reptile on alignment tasks and on source classification tasks (Algorithm 1)
    oracle                Reptile on labelled target tasks of the meta-train classes (--reptile1)
    shared                one encoder for both modalities (SharedEncoder: the target's own linear input map),
                          Reptile on source classification only
    shared_align          + Reptile on alignment tasks through the shared encoder
    shared_confusion      + domain confusion (Tzeng et al. 2014): a domain classifier D on the encodings learns
                          source vs target, the encoder learns to make D's output uniform (alternating inner steps)
    shared_target_labels  + Reptile on labelled target tasks (supervised domain adaptation)
Order: impl=paper runs alignment first (Algorithm 1), impl=code source classification first (hp["order"]).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from repro.data.episodes import sample_alignment_batch, sample_task
from repro.experiments.meta_alignment.method import batch_for, chunks


class Method:
    name = "?"
    shared = False          # SharedEncoder instead of separate encoders
    reset_head = False      # a fresh N-way head at meta-test (non-meta classifier)
    uses_target_labels = False
    meta_trains = True
    n_out = None            # classifier outputs during meta-training (None: n_way)

    def setup(self, learner) -> None:
        pass

    def steps(self, learner) -> list:
        return []

    def meta_iteration(self, learner) -> None:
        for step in self.steps(learner):
            step()


def _ordered(learner, align, clf) -> list:
    return [align, clf] if learner.hp["order"] == "align_first" else [clf, align]


class Pretrain(Method):
    name, meta_trains = "pretrain", False


class CroMA(Method):
    name = "croma"

    def steps(self, learner):
        return _ordered(learner, learner.alignment_step, learner.source_classification_step)


class Oracle(Method):
    name, uses_target_labels = "oracle", True

    def steps(self, learner):
        return [learner.target_classification_step]


class UnsupWeakLabels(Method):
    name = "unsup_weak"

    def setup(self, learner):
        if learner.data.cluster_t is None:
            raise ValueError("unsup_weak needs weak concept clusters (a weak-pair data set such as digits_weak)")

    def steps(self, learner):
        d = learner.data
        clusters = torch.unique(d.cluster_t[learner.pools.target_clf])
        clusters = [c for c in clusters.tolist() if c >= 0]
        return [lambda: learner.target_classification_step(labels=d.cluster_t, classes=clusters)]


class UnsupReconstruct(Method):
    """Reptile on target reconstruction: MSE(decoder(f_t(x)), x), N*K unlabelled meta-train target items."""
    name = "unsup_recon"

    def setup(self, learner):
        dim = int(learner.x_t[0].numel())
        learner.extra["decoder"] = [nn.Linear(int(learner.hp["embed_dim"]), dim).to(learner.device)]

    def steps(self, learner):
        return [lambda: reconstruction_step(learner)]


def reconstruction_step(learner) -> None:
    hp = learner.hp
    n = int(hp["n_way"]) * learner.k_train()
    pool = learner.pools.target_clf
    idx = pool[torch.randperm(len(pool), generator=learner.gen)[:n]].to(learner.device)
    x = learner.x_t[idx]
    dec = learner.extra["decoder"][0]
    f_t = learner.model.f_t

    def loss(r):
        r = r.to(learner.device)
        return F.mse_loss(dec(f_t(x[r])), x[r].flatten(1).float())
    learner.reptile("target+decoder", loss, chunks(len(x), batch_for(hp, learner.k_train()), int(hp["inner_steps"])),
                    float(hp["lr_align"]), "recon")


def direct_alignment_step(learner) -> None:
    """Supervised (non-meta) alignment: inner_steps Adam steps (lr_align, persistent) on minibatches of
    super_batch random alignment pairs (weak: n_way clusters x super_batch / n_way items per side)."""
    hp = learner.hp
    sb = int(hp.get("super_batch", 64))
    for _ in range(int(hp["inner_steps"])):
        if learner.data.strength == "strong":
            pick = torch.randperm(len(learner.pools.align_s), generator=learner.gen)[:sb]
            s, t = learner.pools.align_s[pick], learner.pools.align_t[pick]
            ids, idt = learner.pools.align_id_s[pick], learner.pools.align_id_t[pick]
        else:
            s, t, ids, idt = sample_alignment_batch(learner.pools, "weak", int(hp["n_way"]),
                                                    max(1, sb // int(hp["n_way"])), learner.gen)
        dev = learner.device
        xs, xt, ids, idt = learner.x_s[s.to(dev)], learner.x_t[t.to(dev)], ids.to(dev), idt.to(dev)
        learner.direct("encoders", lambda _: learner.align_loss(learner.model.embed_source(xs),
                                                                learner.model.embed_target(xt), ids, idt),
                       [None], float(hp["lr_align"]), "direct_align")


class AlignMetaClassify(Method):
    name = "align_meta_classify"

    def steps(self, learner):
        return _ordered(learner, lambda: direct_alignment_step(learner), learner.source_classification_step)


class AlignClassify(Method):
    """Direct alignment + a non-meta classifier over all meta-train source classes (fresh head at meta-test)."""
    name, reset_head = "align_classify", True

    def setup(self, learner):
        classes = sorted(learner.data.train_source_classes)
        learner.model.g.reset_head(len(classes))
        lut = torch.full((int(learner.data.y_s.max()) + 1,), -1, dtype=torch.int64)
        lut[torch.as_tensor(classes)] = torch.arange(len(classes))
        learner.extra["source_lut"] = lut

    def steps(self, learner):
        return [lambda: direct_alignment_step(learner), lambda: direct_classification_step(learner)]


def direct_classification_step(learner) -> None:
    hp = learner.hp
    sb = int(hp.get("super_batch", 64))
    pool = learner.pools.source_clf
    lut = learner.extra["source_lut"]
    for _ in range(int(hp["inner_steps"])):
        pick = pool[torch.randperm(len(pool), generator=learner.gen)[:sb]]
        x, y = learner.x_s[pick.to(learner.device)], lut[learner.data.y_s[pick]].to(learner.device)
        learner.direct("all", lambda _: F.cross_entropy(learner.model.source_logits(x), y), [None],
                       float(hp["lr_clf"]), "direct_clf")


class Shared(Method):
    name, shared = "shared", True

    def steps(self, learner):
        return [learner.source_classification_step]


class SharedAlign(Shared):
    name = "shared_align"

    def steps(self, learner):
        return _ordered(learner, learner.alignment_step, learner.source_classification_step)


class SharedTargetLabels(Shared):
    name, uses_target_labels = "shared_target_labels", True

    def steps(self, learner):
        return [learner.source_classification_step, learner.target_classification_step]


class SharedConfusion(Shared):
    name = "shared_confusion"

    def setup(self, learner):
        learner.extra["domain"] = [nn.Linear(int(learner.hp["embed_dim"]), 2).to(learner.device)]

    def steps(self, learner):
        return [lambda: confusion_step(learner), learner.source_classification_step]


def confusion_step(learner) -> None:
    """Domain confusion (Tzeng et al. 2014): alternate a domain-classifier step (CE on source = 0 / target = 1,
    encodings detached) and an encoder step on the confusion loss (CE of D's output against the uniform
    distribution); Reptile on the encoder and D."""
    hp, dev = learner.hp, learner.device
    n = int(hp["n_way"]) * learner.k_train()
    ps, pt = learner.pools.source_clf, learner.pools.target_clf
    s = ps[torch.randperm(len(ps), generator=learner.gen)[:n]].to(dev)
    t = pt[torch.randperm(len(pt), generator=learner.gen)[:n]].to(dev)
    D = learner.extra["domain"][0]
    m = learner.model
    domain = torch.cat([torch.zeros(len(s)), torch.ones(len(t))]).long().to(dev)

    def encodings():
        return torch.cat([m.embed_source(learner.x_s[s]), m.embed_target(learner.x_t[t])])

    def loss(step):
        z = encodings()
        if step % 2 == 0:     # the domain classifier learns the domains
            return F.cross_entropy(D(z.detach()), domain)
        logp = F.log_softmax(F.linear(z, D.weight.detach(), D.bias.detach()), dim=1)  # the encoder confuses D
        return -logp.mean()
    learner.reptile("encoders+domain", loss, list(range(int(hp["inner_steps"]))), float(hp["lr_align"]),
                    "confusion")


METHODS = {m.name: m for m in (Pretrain, UnsupReconstruct, UnsupWeakLabels, AlignClassify, AlignMetaClassify, CroMA,
                               Oracle, Shared, SharedAlign, SharedConfusion, SharedTargetLabels)}


def make_method(name: str) -> Method:
    if name not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, not {name!r}")
    return METHODS[name]()
