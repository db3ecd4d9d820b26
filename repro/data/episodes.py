"""Episodic N-way k-shot tasks and the cross-modal data container of meta_alignment (CroMA, arXiv 2012.02813;
catalog meta_alignment.md, "Implementation in the official code": meta-train tasks, fixed evaluation tasks).

`CrossModalData` is what every meta_alignment data set (the tiny stand-ins in repro/data/meta_alignment/standins.py
and the real loaders beside them) returns: both modalities with their labels, the pairing (strong: pair_t, the
target partner of each source item; weak: cluster ids on both sides), the class splits of the target label space
(meta_train / meta_val / meta_test) and the modality specs of repro/nn/croma.py.

`make_pools(data, generator)`: the meta-training pools, as in the code: within each meta-train class a random half
is the alignment pool (paired items; weak: half of each cluster's items on each side) and the other half the
source-classification pool (source) and the within-modality (Oracle) pool (target), so alignment, source
classification and target classification data never overlap.

`sample_task(labels, pool, classes, n_way, k, n_query, generator)`: one episode: n_way classes drawn from `classes`
(random order = task labels 0..N-1), k support and n_query query items per class without replacement from the pool.
`fixed_eval_tasks(...)`: the evaluation tasks of a split, drawn once from their own seed (`eval_seed`, not the run's
seed), so every method and every run meets the same tasks (the code's mk_eval_datasets.py). Support sets of
different k are nested (the first k of the same draw), so k = 1 and k = 5 see the same queries.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass
class CrossModalData:
    name: str
    data: str                         # "synthetic" | "real": the rows' data column
    strength: str                     # "strong" | "weak"
    x_s: torch.Tensor                 # source modality (high resource, labelled)
    y_s: torch.Tensor                 # source labels (int64)
    x_t: torch.Tensor                 # target modality (low resource)
    y_t: torch.Tensor                 # target labels (int64; only meta-test k-shot labels reach CroMA)
    classes: dict                     # target class ids per split: meta_train, meta_val, meta_test
    source_spec: dict                 # modality specs for repro/nn/croma.build_encoder
    target_spec: dict
    pair_t: torch.Tensor | None = None      # strong: index of the target partner of each source item (-1: none)
    cluster_s: torch.Tensor | None = None   # weak: concept-cluster id of each source item (-1: none)
    cluster_t: torch.Tensor | None = None
    source_classes: list | None = None      # source classes usable in meta-training (default classes["meta_train"])
    class_names: dict = field(default_factory=dict)
    dataset: str = ""                       # the rows' dataset column

    def __post_init__(self):
        if self.strength not in ("strong", "weak"):
            raise ValueError(f"strength must be strong or weak, not {self.strength!r}")
        if self.strength == "strong" and self.pair_t is None:
            raise ValueError("strong pairs need pair_t")
        if self.strength == "weak" and (self.cluster_s is None or self.cluster_t is None):
            raise ValueError("weak pairs need cluster_s and cluster_t")
        for a, b in (("meta_train", "meta_test"), ("meta_train", "meta_val"), ("meta_val", "meta_test")):
            if set(self.classes.get(a, [])) & set(self.classes.get(b, [])):
                raise ValueError(f"classes of {a} and {b} overlap")

    @property
    def train_source_classes(self) -> list:
        return list(self.source_classes if self.source_classes is not None else self.classes["meta_train"])


@dataclass
class Pools:
    align_s: torch.Tensor     # alignment items, source side
    align_t: torch.Tensor     # target side (strong: align_t[i] is the partner of align_s[i])
    align_id_s: torch.Tensor  # pair ids (strong: the pair's own id; weak: the cluster)
    align_id_t: torch.Tensor
    source_clf: torch.Tensor  # source items for source classification
    target_clf: torch.Tensor  # target items of meta-train classes outside the alignment pool (Oracle, unsup.)
    align_class: torch.Tensor  # strong: the class of each alignment pair (alignment tasks are N-way K-shot)


def _halves(idx: torch.Tensor, generator) -> tuple[torch.Tensor, torch.Tensor]:
    perm = idx[torch.randperm(len(idx), generator=generator)]
    h = len(perm) // 2
    return perm[:h], perm[h:]


def make_pools(data: CrossModalData, generator: torch.Generator) -> Pools:
    train = torch.as_tensor(sorted(data.classes["meta_train"]))
    src_train = torch.as_tensor(sorted(data.train_source_classes))
    a_s, a_t, id_s, id_t, clf_s, clf_t = [], [], [], [], [], []
    if data.strength == "strong":
        paired = torch.nonzero((data.pair_t >= 0) & torch.isin(data.y_s, src_train)).flatten()
        for c in torch.unique(data.y_s[paired]).tolist():
            first, second = _halves(paired[data.y_s[paired] == c], generator)
            a_s.append(first)
            a_t.append(data.pair_t[first])
            clf_s.append(second)
            clf_t.append(data.pair_t[second])
        a_s, a_t = torch.cat(a_s), torch.cat(a_t)
        id_s = id_t = torch.arange(len(a_s))
        clf_s, clf_t = torch.cat(clf_s), torch.cat(clf_t)
        clf_t = clf_t[torch.isin(data.y_t[clf_t], train)]
        # target items of meta-train classes without a source partner also belong to the Oracle's pool
        partnered = torch.zeros(len(data.y_t), dtype=torch.bool)
        partnered[data.pair_t[data.pair_t >= 0]] = True
        lone = torch.nonzero(~partnered & torch.isin(data.y_t, train)).flatten()
        clf_t = torch.cat([clf_t, lone])
        clf_s = torch.cat([clf_s, torch.nonzero((data.pair_t < 0) & torch.isin(data.y_s, src_train)).flatten()])
    else:
        tr_clusters = torch.unique(torch.cat([data.cluster_t[torch.isin(data.y_t, train)],
                                              data.cluster_s[torch.isin(data.y_s, src_train)]]))
        tr_clusters = tr_clusters[tr_clusters >= 0]
        for c in tr_clusters.tolist():
            s_first, s_second = _halves(torch.nonzero((data.cluster_s == c) & torch.isin(data.y_s, src_train))
                                        .flatten(), generator)
            t_first, t_second = _halves(torch.nonzero((data.cluster_t == c) & torch.isin(data.y_t, train))
                                        .flatten(), generator)
            a_s.append(s_first)
            a_t.append(t_first)
            clf_s.append(s_second)
            clf_t.append(t_second)
        a_s, a_t = torch.cat(a_s), torch.cat(a_t)
        id_s, id_t = data.cluster_s[a_s], data.cluster_t[a_t]
        # source and target items of meta-train classes outside every cluster: classification pools
        clf_s.append(torch.nonzero((data.cluster_s < 0) & torch.isin(data.y_s, src_train)).flatten())
        clf_t.append(torch.nonzero((data.cluster_t < 0) & torch.isin(data.y_t, train)).flatten())
        clf_s, clf_t = torch.cat(clf_s), torch.cat(clf_t)
    align_class = data.y_s[a_s] if data.strength == "strong" else id_s
    return Pools(a_s, a_t, id_s, id_t, clf_s, clf_t, align_class)


@dataclass
class Task:
    classes: list                # the task's classes (global ids), in label order 0..N-1
    support: torch.Tensor        # item indices [N*k], class-major
    support_y: torch.Tensor      # task labels 0..N-1
    query: torch.Tensor          # [N*n_query]
    query_y: torch.Tensor

    def with_shots(self, k: int) -> "Task":
        """The same task with the first k support items of each class (nested support sets)."""
        n = len(self.classes)
        per = len(self.support) // n
        if k > per:
            raise ValueError(f"task has {per} support items per class, asked for {k}")
        keep = torch.cat([torch.arange(i * per, i * per + k) for i in range(n)])
        return Task(self.classes, self.support[keep], self.support_y[keep], self.query, self.query_y)


def sample_task(labels: torch.Tensor, pool: torch.Tensor | None, classes, n_way: int, k: int, n_query: int,
                generator: torch.Generator) -> Task:
    """An N-way task: n_way classes from `classes`, then k + n_query distinct items per class from `pool` (None: all
    items). Raises ValueError when a class has too few items or there are fewer than n_way classes."""
    classes = list(classes)
    if len(classes) < n_way:
        raise ValueError(f"{n_way}-way tasks need at least {n_way} classes, the split has {len(classes)}")
    pool = torch.arange(len(labels)) if pool is None else pool
    chosen = [classes[i] for i in torch.randperm(len(classes), generator=generator)[:n_way].tolist()]
    sup, qry = [], []
    for c in chosen:
        items = pool[labels[pool] == c]
        if len(items) < k + n_query:
            raise ValueError(f"class {c} has {len(items)} items, a task needs {k} + {n_query}")
        pick = items[torch.randperm(len(items), generator=generator)[:k + n_query]]
        sup.append(pick[:k])
        qry.append(pick[k:])
    ys = torch.arange(n_way)
    return Task(chosen, torch.cat(sup), ys.repeat_interleave(k), torch.cat(qry), ys.repeat_interleave(n_query))


def fixed_eval_tasks(labels: torch.Tensor, classes, n_way: int, k_max: int, n_query: int, n_tasks: int,
                     eval_seed: int = 0) -> list[Task]:
    """n_tasks tasks from `classes` with k_max support items per class (use Task.with_shots(k) for fewer), drawn
    from a generator seeded with eval_seed only: identical for every method, run seed and device."""
    g = torch.Generator().manual_seed(int(eval_seed))
    return [sample_task(labels, None, classes, n_way, k_max, n_query, g) for _ in range(n_tasks)]


def sample_alignment_batch(pools: Pools, strength: str, n_way: int, k: int, generator: torch.Generator):
    """An alignment task: n_way pair groups (strong: classes, `pools.align_class`, k pairs each; weak:
    clusters, k source and k target items each). Returns (source idx, target idx, pair id s, pair id t)."""
    if strength == "strong":
        cls = pools.align_class
        chosen = torch.unique(cls)
        chosen = chosen[torch.randperm(len(chosen), generator=generator)[:n_way]]
        rows = torch.cat([_pick(torch.nonzero(cls == c).flatten(), k, generator) for c in chosen.tolist()])
        return pools.align_s[rows], pools.align_t[rows], pools.align_id_s[rows], pools.align_id_t[rows]
    clusters = torch.unique(pools.align_id_s)
    clusters = clusters[torch.isin(clusters, pools.align_id_t)]
    chosen = clusters[torch.randperm(len(clusters), generator=generator)[:n_way]].tolist()
    rs = torch.cat([_pick(torch.nonzero(pools.align_id_s == c).flatten(), k, generator) for c in chosen])
    rt = torch.cat([_pick(torch.nonzero(pools.align_id_t == c).flatten(), k, generator) for c in chosen])
    return pools.align_s[rs], pools.align_t[rt], pools.align_id_s[rs], pools.align_id_t[rt]


def _pick(items: torch.Tensor, k: int, generator) -> torch.Tensor:
    """k items without replacement (with replacement only when the group has fewer than k)."""
    if len(items) >= k:
        return items[torch.randperm(len(items), generator=generator)[:k]]
    return items[torch.randint(len(items), (k,), generator=generator)]
