"""meta_alignment (arXiv 2012.02813) figs 1, 2, 3, 4, 8, 9: the paper's diagrams, drawn by code from the task objects
of repro/data/meta_alignment/tasks.py (catalog meta_alignment.md: "no experiment"; the runner emits the diagram).

Every function yields two kinds of rows: the diagram's structure (one row per node, edge, path edge, pair, cluster
member, parameter update, ...: what the claims check) and its layout (metric box / arrow / node with positions:
what repro/plotting/meta_alignment.py draws). Both come from the same objects, so the picture cannot disagree with
the rows. Full scale draws the paper's three task families, tiny scale their stand-ins (the same code).

Deviations: figs 1 and 2 of the paper are illustrations with example classes (horse, zebra, lion -> fish, mammal);
here the examples are the families' own classes. Fig 9 shows the cluster table (names and class members), not the
paper's three example CIFAR images per cluster (those need CIFAR-10/100 in data_dir; not drawn).
"""
from __future__ import annotations

import textwrap

from repro.data.meta_alignment import tasks as T
from repro.experiments.registry import experiment

ROLES = ("x_s", "x_t", "y_s", "y_t")
EDGE_ROLES = {"observed": ("x_s", "y_s"), "alignment": ("x_t", "x_s"), "task": ("y_s", "y_t"),
              "generalization": ("x_t", "y_t")}


def _families(p) -> tuple[T.TaskFamily, ...]:
    names = p["families"]
    return tuple(T.family(n) for n in ([names] if isinstance(names, str) else names))


def box(name, x, y, text, w=0.26, h=0.12, color="white", panel=0, **cols):
    return {"metric": "box", "value": 1.0, "item": name, "x": x, "y": y, "w": w, "h": h, "text": text,
            "color": color, "index": panel, **cols}


def arrow(a, b, x0, y0, x1, y1, style="solid", color="k", text="", panel=0, **cols):
    return {"metric": "arrow", "value": 1.0, "item": f"{a}->{b}", "src": a, "dst": b, "x": x0, "y": y0, "x1": x1,
            "y1": y1, "style": style, "color": color, "text": text, "index": panel, **cols}


# --- figs 3 and 8: the modality-task graph ------------------------------------------------------------------------

EDGE_STYLE = {"observed": ("solid", "k"), "alignment": ("solid", "tab:purple"), "task": ("solid", "tab:gray"),
              "generalization": ("dashed", "tab:red")}


def graph_rows(graph: T.Graph, fams, shared: bool, index: int):
    """Rows of one graph: nodes (with positions), edges, and every known path from each family's x_t to its y_t."""
    mods = [n for n in graph.nodes if n[1] == "modality"]
    tsks = [n for n in graph.nodes if n[1] == "task"]
    pos = {}
    for col, group in ((0.15, mods), (0.85, tsks)):
        for i, (node, side, label) in enumerate(group):
            pos[node] = (col, 0.9 - 0.8 * i / max(1, len(group) - 1))
            yield {"metric": "node", "value": 1.0, "item": node, "node": node, "side": side, "text": label,
                   "x": pos[node][0], "y": pos[node][1], "index": index}
    for e in graph.edges:
        style, color = EDGE_STYLE[e.kind]
        (x0, y0), (x1, y1) = pos[e.u], pos[e.v]
        yield {"metric": "edge", "value": 1.0, "item": f"{e.u}-{e.v}", "u": e.u, "v": e.v, "edge_kind": e.kind,
               "family": e.family, "pairs": e.pairs, "x": x0, "y": y0, "x1": x1, "y1": y1, "style": style,
               "color": color, "index": index}
    for fam in fams:
        names = T.node_names(fam, shared)
        role = {v: k for k, v in names.items()}
        paths = graph.simple_paths(names["x_t"], names["y_t"])
        for pi, path in enumerate(paths):
            route = ">".join(role.get(n, "other") for n in path)
            yield {"metric": "path", "value": float(len(path) - 1), "family": fam.name, "path": pi, "route": route,
                   "index": index}
            for k, (a, b) in enumerate(zip(path, path[1:]), start=1):
                kind = next(e.kind for e in graph.edges if {e.u, e.v} == {a, b} and e.kind != "generalization")
                yield {"metric": "path_edge", "value": float(k), "family": fam.name, "path": pi, "u": a, "v": b,
                       "edge": f"{role.get(a, 'other')}-{role.get(b, 'other')}", "edge_kind": kind,
                       "x": pos[a][0], "y": pos[a][1], "x1": pos[b][0], "y1": pos[b][1], "index": index}


@experiment("meta_alignment.modality_task_graph")
def modality_task_graph(p, ctx):
    """fig 3 (`shared_modalities: false`): one graph per family over {x_s, x_t} x {y_s, y_t}; fig 8 (`true`): the
    families in one graph, modality nodes shared (text, image, ...). Rows: node, edge, path, path_edge."""
    fams = _families(p)
    shared = bool(p.get("shared_modalities", False))
    if shared:
        yield from graph_rows(T.modality_task_graph(fams, shared_modalities=True), fams, True, 0)
        return
    for i, fam in enumerate(fams):
        for row in graph_rows(T.modality_task_graph([fam]), [fam], False, i):
            yield {**row, "family": fam.name}


# --- fig 9: the weak concept clusters -------------------------------------------------------------------------------

def _known(cls: str) -> bool:
    """Whether a cluster member names a class of its data set (c10: CIFAR-10, c100: CIFAR-100, bare: ESC-50;
    the stand-ins' signal:/image: digits 0-9)."""
    prefix, _, name = cls.rpartition(":")
    lists = {"c10": T.CIFAR10_CLASSES, "c100": T.CIFAR100_CLASSES, "": T.ESC50_CLASSES,
             "signal": tuple(map(str, range(10))), "image": tuple(map(str, range(10)))}
    return name in lists.get(prefix, ())


@experiment("meta_alignment.weak_clusters")
def weak_clusters(p, ctx):
    """fig 9: the cluster map of a weak family, one row per (cluster, side, class), one per cluster, and the
    classes (and, for ESC-50, clips) per meta-split of the target side."""
    fam = T.family(p["family"])
    if fam.pairs != "weak":
        raise ValueError(f"fig 9 needs a weak-pair family; {fam.name} has {fam.pairs} pairs")
    for cl in fam.clusters:
        yield {"metric": "cluster", "value": float(len(cl.source_classes) + len(cl.target_classes)),
               "cluster": cl.name, "n_source": len(cl.source_classes), "n_target": len(cl.target_classes)}
        for side, members in (("source", cl.source_classes), ("target", cl.target_classes)):
            for m in members:
                yield {"metric": "member", "value": float(_known(m)), "cluster": cl.name, "side": side,
                       "class_name": m}
    if "esc50" in fam.datasets:
        split = T.esc_split(fam.clusters, fam.class_split, int(p.get("split_seed", 0)))
        for name, classes in split.items():
            yield {"metric": "split_classes", "value": float(len(classes)), "split": name,
                   "classes": " ".join(classes)}
            yield {"metric": "split_samples", "value": float(len(classes) * T.ESC50_CLIPS_PER_CLASS), "split": name}
    else:
        for name, n in zip(("train", "val", "test"), fam.class_split):
            yield {"metric": "split_classes", "value": float(n), "split": name}


# --- fig 1: the paradigm --------------------------------------------------------------------------------------------

@experiment("meta_alignment.paradigm")
def paradigm(p, ctx):
    """fig 1: domain adaptation (top: one modality, one label space, one encoder) against cross-modal
    generalization (bottom: the family's source and target modalities, disjoint source and target tasks, two
    encoders). Rows: box (per setting and side), arrow, and per setting same_modality, label_overlap,
    shared_encoder."""
    fam = T.family(p["family"])
    da_tasks = fam.source_tasks
    settings = {
        "domain_adaptation": ((fam.source, da_tasks, "high resource"), (fam.source, da_tasks, "shifted inputs"), True),
        "cross_modal": ((fam.source, fam.source_tasks, "high resource"),
                        (fam.target, fam.target_tasks, "low resource"), False),
    }
    for i, (setting, (src, tgt, shared)) in enumerate(settings.items()):
        y = 0.75 - 0.45 * i
        for side, (mod, tasks_, res), x in (("source", src, 0.24), ("target", tgt, 0.76)):
            text = f"{side}: {mod.name} ({res})\ntasks: {', '.join(tasks_)}\nencoder: {mod.encoder if not shared else fam.source.encoder}"
            yield box(f"{setting}:{side}", x, y, textwrap.fill(text, 40, replace_whitespace=False), w=0.46, h=0.3, setting=setting, side=side,
                      modality=mod.name, tasks=" | ".join(tasks_), color="#e8f0ff" if side == "source" else "#fff0e0")
        yield arrow(f"{setting}:source", f"{setting}:target", 0.47, y, 0.53, y,
                    text="same encoder" if shared else "different encoders", setting=setting)
        yield {"metric": "same_modality", "value": float(src[0].name == tgt[0].name), "setting": setting}
        yield {"metric": "label_overlap", "value": float(len(set(src[1]) & set(tgt[1]))), "setting": setting,
               "n_source_tasks": len(src[1])}
        yield {"metric": "shared_encoder", "value": float(shared), "setting": setting}


# --- fig 2: the meta-aligned space ----------------------------------------------------------------------------------

@experiment("meta_alignment.meta_aligned_space")
def meta_aligned_space(p, ctx):
    """fig 2: per family, source and target encoders map into one meta-aligned space, linked by the family's
    (strong or weak) pairs; one classifier reads the space. Rows: box, arrow (the links), pairs (per family)."""
    for i, fam in enumerate(_families(p)):
        nodes = {"x_s": (0.25, 0.1, f"x_s: {fam.source.name}"),
                 "x_t": (0.75, 0.1, f"x_t: {fam.target.name}"),
                 "e_s": (0.25, 0.38, "e_s\n" + textwrap.fill(fam.source.encoder, 24)),
                 "e_t": (0.75, 0.38, "e_t\n" + textwrap.fill(fam.target.encoder, 24)),
                 "space": (0.5, 0.65, "meta-aligned space"),
                 "phi": (0.5, 0.9, f"shared classifier phi\n{fam.n_way}-way: {textwrap.fill(fam.task, 30)}")}
        for name, (x, y, text) in nodes.items():
            yield box(f"{fam.name}:{name}", x, y, text, w=0.44 if name in ("x_s", "x_t", "e_s", "e_t") else 0.8,
                      h=0.1 if name.startswith("x") else 0.16, family=fam.name, node=name, panel=i,
                      color={"space": "#e0f5e0", "phi": "#f5e0f5"}.get(name, "white"))
        for a, b in (("x_s", "e_s"), ("x_t", "e_t"), ("e_s", "space"), ("e_t", "space"), ("space", "phi")):
            (xa, ya, _), (xb, yb, _) = nodes[a], nodes[b]
            yield arrow(a, b, xa, ya + 0.06, xb, yb - 0.08, family=fam.name, link="map", panel=i)
        (xa, ya, _), (xb, yb, _) = nodes["x_s"], nodes["x_t"]
        yield arrow("x_s", "x_t", xa + 0.22, ya, xb - 0.22, yb, style="dashed", color="tab:purple",
                    text=f"{fam.pairs} pairs", family=fam.name, link="pairs", pairs=fam.pairs, panel=i)
        yield {"metric": "pairs", "value": float(fam.pairs == "strong"), "family": fam.name, "pairs": fam.pairs,
               "n_clusters": len(fam.clusters)}


# --- fig 4: strong vs weak pairs; Algorithm 1 as a diagram ----------------------------------------------------------

# fig 4 (a): the paper's caption <-> photo examples [paper]
STRONG_EXAMPLES = (("red fish swimming in the water", "photo: red fish"),
                   ("horse galloping in the grass", "photo: galloping horse"),
                   ("zebra standing in a field", "photo: zebra in a field"))


@experiment("meta_alignment.pairs_and_training")
def pairs_and_training(p, ctx):
    """fig 4: (a) strong pairs, one row per pair (the paper's captions at full scale; a strong family's class-paired
    items at tiny); (b) weak pairs, one row per cluster member of the weak family's first `n_clusters` clusters;
    (c) Algorithm 1: one row per (task kind, meta-parameter it updates) for `clf_updates`, and one per parameter a
    target task reads at meta-test."""
    weak = T.family(p["weak_family"])
    strong = T.family(p["strong_family"])
    if strong.pairs != "strong" or weak.pairs != "weak":
        raise ValueError("strong_family must have strong pairs and weak_family weak pairs")
    examples = STRONG_EXAMPLES if p.get("examples", "paper") == "paper" else tuple(
        (f"{strong.source.name} #{i} of class {c}", f"{strong.target.name} #{i} of class {c}")
        for i, c in enumerate(range(3)))
    for i, (a, b) in enumerate(examples):
        y = 0.85 - 0.3 * i
        yield {"metric": "strong_pair", "value": 1.0, "left_item": a, "right_item": b, "family": strong.name}
        yield box(f"a:l{i}", 0.27, y, a, w=0.5, h=0.16, panel=0)
        yield box(f"a:r{i}", 0.8, y, b, w=0.36, h=0.16, panel=0, color="#fff0e0")
        yield arrow(f"a:l{i}", f"a:r{i}", 0.52, y, 0.62, y, color="tab:purple", panel=0)
    for i, cl in enumerate(weak.clusters[: int(p["n_clusters"])]):
        y = 0.85 - 0.3 * i
        for side, members in (("source", cl.source_classes), ("target", cl.target_classes)):
            for m in members:
                yield {"metric": "weak_member", "value": 1.0, "cluster": cl.name, "side": side, "class_name": m,
                       "family": weak.name}
        yield box(f"b:s{i}", 0.27, y, "{" + ", ".join(cl.source_classes) + "}", w=0.5, h=0.16, panel=1)
        yield box(f"b:t{i}", 0.8, y, "{" + ", ".join(cl.target_classes) + "}", w=0.36, h=0.16, panel=1,
                  color="#fff0e0")
        yield arrow(f"b:s{i}", f"b:t{i}", 0.52, y, 0.62, y, color="tab:purple", text=cl.name, panel=1)
    variant = p.get("clf_updates", "classifier")
    if variant not in T.CROMA_UPDATES:
        raise ValueError(f"clf_updates must be one of {tuple(T.CROMA_UPDATES)}, not {variant!r}")
    xs = {"e_s": 0.2, "e_t": 0.5, "phi": 0.8}
    for name, x in xs.items():
        yield box(f"c:{name}", x, 0.55, f"{name}^meta", w=0.2, h=0.1, panel=2, color="#e0f5e0")
    rows = {"alignment": (0.85, ("T_a,1", "T_a,2")), "source_classification": (0.85, ("T_s,1", "T_s,2"))}
    for k, (task, (y, labels)) in enumerate(rows.items()):
        tx = 0.2 + 0.6 * k
        yield box(f"c:{task}", tx, y, f"{' '.join(labels)}\n({task.replace('_', ' ')})", w=0.36, h=0.12, panel=2)
        for param in T.CROMA_UPDATES[variant][task]:
            yield {"metric": "update", "value": 1.0, "task": task, "param": param, "clf_updates": variant}
            yield arrow(f"c:{task}", f"c:{param}", tx, y - 0.06, xs[param], 0.6, panel=2,
                        color="tab:blue" if task == "alignment" else "tab:green")
    yield box("c:T_t", 0.65, 0.15, "meta-test: T_t,1 (k-shot target)", w=0.5, h=0.1, panel=2, color="#fff0e0")
    for param in T.META_TEST_READS:
        yield {"metric": "meta_test_read", "value": 1.0, "param": param}
        yield arrow(f"c:{param}", "c:T_t", xs[param], 0.5, 0.65, 0.2, style="dashed", panel=2)
