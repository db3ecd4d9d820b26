"""meta_alignment (Liang, Wu, Ziyin, Morency, Salakhutdinov; arXiv 2012.02813): the task families as plain data.

One `TaskFamily` per cross-modal problem of the paper (text->image on Yummly-28K, image->audio on CIFAR-10/100 +
ESC-50 with the 17 weak concept clusters of fig 9, text->speech language identification on CMU Wilderness) and per
tiny stand-in (synth_strong, digits_weak, synth_lang; catalog "Offline stand-ins"). Each names its source
(high-resource, labelled in meta-training) and target (low-resource, k labels per class at meta-test) modality, the
task, the pair type (strong: one-to-one pairs; weak: a set of source items paired with a set of target items), the
class counts and splits the catalog gives. The diagrams of figs 1-4, 8 and 9 are drawn from these objects
(repro/experiments/meta_alignment/diagrams.py): the modality-task graph comes from `modality_task_graph`, the cluster
table from `IMAGE_TO_AUDIO.clusters`, the training diagram from `CROMA_UPDATES`.

Provenance: [paper] unless marked. [reconstructed]: the 17-cluster class map (the paper prints only the names; ours
is a WordNet-style reading sized so that its ESC-50 side holds 12 + 8 + 9 = 29 classes, the paper's shared-class
split) and the assignment of those 29 classes to the splits (a seeded permutation, `esc_split`).
[code]: the Yummly class split 30/6/6 of 44 (xmodal split_meta_both: int(0.7 n), int(0.15 n), int(0.15 n) of the
seed-0 permutation; two classes unused).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

PAIR_TYPES = ("strong", "weak")


@dataclass(frozen=True)
class Modality:
    name: str           # the node name in the graphs ("text", "image", ...)
    data: str           # what one input is
    encoder: str        # the encoder the paper (or the stand-in) uses


@dataclass(frozen=True)
class Cluster:
    """A weak pair: a set of source classes paired with a set of target classes (a concept cluster)."""
    name: str
    source_classes: tuple[str, ...]
    target_classes: tuple[str, ...]


@dataclass(frozen=True)
class TaskFamily:
    name: str
    title: str
    source: Modality            # high resource: labelled in meta-training
    target: Modality            # low resource: only the k-shot support labels at meta-test
    task: str                   # what is classified
    pairs: str                  # strong | weak
    n_classes: int              # classes of the target task family
    class_split: tuple[int, int, int]        # meta-train / meta-val / meta-test classes
    n_way: int
    datasets: tuple[str, ...]   # names in repro/data/sources.py (real) or the stand-in's generator
    scale: str                  # full (a real family) | tiny (a stand-in)
    samples: tuple[int, int, int] | None = None   # meta-train / meta-val / meta-test samples, where stated
    meta_train_target: int | None = None          # "#Target" of Table 1: target samples seen in meta-training
    source_tasks: tuple[str, ...] = ()            # example class names of the source (meta-train) tasks
    target_tasks: tuple[str, ...] = ()            # example class names of the target (meta-test) tasks
    clusters: tuple[Cluster, ...] = ()
    standin_for: str | None = None
    provenance: str = "paper"
    notes: str = ""

    def __post_init__(self):
        if self.pairs not in PAIR_TYPES:
            raise ValueError(f"{self.name}: pairs must be one of {PAIR_TYPES}, not {self.pairs!r}")
        if self.pairs == "weak" and not self.clusters:
            raise ValueError(f"{self.name}: weak pairs need clusters")


# --- class names of the real data sets (for the cluster map and the loaders' checks) -------------------------------

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
CIFAR100_CLASSES = (
    "apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee", "beetle", "bicycle", "bottle", "bowl", "boy",
    "bridge", "bus", "butterfly", "camel", "can", "castle", "caterpillar", "cattle", "chair", "chimpanzee", "clock",
    "cloud", "cockroach", "couch", "crab", "crocodile", "cup", "dinosaur", "dolphin", "elephant", "flatfish",
    "forest", "fox", "girl", "hamster", "house", "kangaroo", "keyboard", "lamp", "lawn_mower", "leopard", "lion",
    "lizard", "lobster", "man", "maple_tree", "motorcycle", "mountain", "mouse", "mushroom", "oak_tree", "orange",
    "orchid", "otter", "palm_tree", "pear", "pickup_truck", "pine_tree", "plain", "plate", "poppy", "porcupine",
    "possum", "rabbit", "raccoon", "ray", "road", "rocket", "rose", "sea", "seal", "shark", "shrew", "skunk",
    "skyscraper", "snail", "snake", "spider", "squirrel", "streetcar", "sunflower", "sweet_pepper", "table", "tank",
    "telephone", "television", "tiger", "tractor", "train", "trout", "tulip", "turtle", "wardrobe", "whale",
    "willow_tree", "wolf", "woman", "worm")
# ESC-50 categories in target order (meta/esc50.csv: target 0..49)
ESC50_CLASSES = (
    "dog", "rooster", "pig", "cow", "frog", "cat", "hen", "insects", "sheep", "crow", "rain", "sea_waves",
    "crackling_fire", "crickets", "chirping_birds", "water_drops", "wind", "pouring_water", "toilet_flush",
    "thunderstorm", "crying_baby", "sneezing", "clapping", "breathing", "coughing", "footsteps", "laughing",
    "brushing_teeth", "snoring", "drinking_sipping", "door_wood_knock", "mouse_click", "keyboard_typing",
    "door_wood_creaks", "can_opening", "washing_machine", "vacuum_cleaner", "clock_alarm", "clock_tick",
    "glass_breaking", "helicopter", "chainsaw", "siren", "car_horn", "engine", "train", "church_bells", "airplane",
    "fireworks", "hand_saw")
ESC50_CLIPS_PER_CLASS = 40

# The 17 weak clusters of fig 9 (names [paper]; members [reconstructed], catalog fig=9). CIFAR-10 names are
# prefixed "c10:" and CIFAR-100 names "c100:" (both have e.g. no clash except by meaning, but the prefix keeps the
# source data set explicit); ESC-50 names are bare.
WEAK_CLUSTERS = (
    Cluster("Amphibian", ("c10:frog",), ("frog",)),
    Cluster("Automobile", ("c10:automobile", "c100:pickup_truck"), ("car_horn", "engine")),
    Cluster("Baby", ("c100:baby",), ("crying_baby",)),
    Cluster("Bird", ("c10:bird",), ("chirping_birds", "crow", "rooster", "hen")),
    Cluster("Bottle", ("c100:bottle",), ("pouring_water", "drinking_sipping")),
    Cluster("Can", ("c100:can",), ("can_opening",)),
    Cluster("Cat", ("c10:cat",), ("cat",)),
    Cluster("Clock", ("c100:clock",), ("clock_tick", "clock_alarm")),
    Cluster("Cow", ("c100:cattle",), ("cow",)),
    Cluster("Dog", ("c10:dog",), ("dog",)),
    Cluster("Electronics", ("c100:keyboard", "c100:telephone", "c100:television"), ("keyboard_typing", "mouse_click")),
    Cluster("Furniture", ("c100:bed", "c100:chair", "c100:couch", "c100:table", "c100:wardrobe"),
            ("door_wood_knock", "door_wood_creaks")),
    Cluster("Human", ("c100:man", "c100:woman", "c100:boy", "c100:girl"), ("laughing", "coughing", "sneezing",
                                                                             "breathing")),
    Cluster("Insect", ("c100:bee", "c100:beetle", "c100:butterfly", "c100:caterpillar", "c100:cockroach"),
            ("insects", "crickets")),
    Cluster("Plane", ("c10:airplane",), ("airplane",)),
    Cluster("Sea", ("c100:sea",), ("sea_waves",)),
    Cluster("Train", ("c100:train",), ("train",)),
)
FIG9_CLUSTER_NAMES = ("Amphibian", "Automobile", "Baby", "Bird", "Bottle", "Can", "Cat", "Clock", "Cow", "Dog",
                      "Electronics", "Furniture", "Human", "Insect", "Plane", "Sea", "Train")

# --- the three task families of the paper ---------------------------------------------------------------------

TEXT_TO_IMAGE = TaskFamily(
    name="text_to_image", title="text -> image, Yummly-28K recipes",
    source=Modality("text", "a recipe's ingredient lines", "frozen bert-base-uncased + LSTM(768->256) + Linear"),
    target=Modality("image", "the recipe's photo", "ImageNet ResNet-18, fc -> Linear(512->128)"),
    task="recipe class: cuisine + course (44 classes)", pairs="strong", n_classes=44, class_split=(30, 6, 6),
    n_way=5, datasets=("yummly28k",), scale="full", meta_train_target=5131,
    source_tasks=("Barbecue: main dishes", "Mexican: soups"), target_tasks=("American salads: side dishes",),
    provenance="paper", notes="class split 30/6/6 from xmodal's 0.7/0.15/0.15 of 44 (2 unused) [code]")

IMAGE_TO_AUDIO = TaskFamily(
    name="image_to_audio", title="image -> audio, CIFAR-10/100 -> ESC-50",
    source=Modality("image", "a 32x32 CIFAR image", "ImageNet-pretrained ResNet"),
    target=Modality("audio", "a 5 s ESC-50 clip (spectrogram)", "CNN pretrained on AudioSet"),
    task="sound class (ESC-50 classes shared with a cluster)", pairs="weak", n_classes=29, class_split=(12, 8, 9),
    n_way=5, datasets=("cifar10", "cifar100", "esc50"), scale="full", samples=(920, 580, 580),
    meta_train_target=920, source_tasks=("frog", "automobile", "dog"), target_tasks=("crying_baby", "clock_tick"),
    clusters=WEAK_CLUSTERS, provenance="reconstructed",
    notes="17 clusters named in fig 9; class members reconstructed (WordNet-style)")

TEXT_TO_SPEECH = TaskFamily(
    name="text_to_speech", title="text -> speech, CMU Wilderness (99 languages)",
    source=Modality("text", "a Bible verse's text", "BiLSTM, embedding 256, hidden 256"),
    target=Modality("speech", "the verse's speech, 40-d filterbank frames", "2-layer LSTM, hidden 256"),
    task="language identification (99 languages)", pairs="strong", n_classes=99, class_split=(79, 9, 10),
    n_way=5, datasets=("wilderness",), scale="full", samples=(4395, 549, 549), meta_train_target=4395,
    source_tasks=("Russian", "Avokaya"), target_tasks=("Meax", "Badaic", "Roviana"), provenance="paper")

# --- the tiny stand-ins (catalog "Offline stand-ins", [reconstructed]); generated by standins.py -----------------

SYNTH_STRONG = TaskFamily(
    name="synth_strong", title="synth_strong (stands in for text -> image)",
    source=Modality("sequence", "length-20 sequence tanh(W_B z) sin(w t) + noise", "LSTM"),
    target=Modality("vector", "tanh(W_A z) + noise, 64-d", "MLP"),
    task="prototype class of z (30 classes)", pairs="strong", n_classes=30, class_split=(20, 0, 10), n_way=5,
    datasets=("synth_strong",), scale="tiny", standin_for="text_to_image", provenance="reconstructed")

DIGITS_WEAK = TaskFamily(
    name="digits_weak", title="digits_weak (stands in for image -> audio)",
    source=Modality("signal", "a 40-step mnist1d signal", "LSTM"),
    target=Modality("digit_image", "an 8x8 sklearn digit", "small CNN"),
    task="digit (10 classes)", pairs="weak", n_classes=10, class_split=(6, 0, 4), n_way=3,
    datasets=("digits", "mnist1d"), scale="tiny", standin_for="image_to_audio",
    clusters=tuple(Cluster(f"digit {d}", (f"signal:{d}",), (f"image:{d}",)) for d in range(10)),
    provenance="reconstructed")

SYNTH_LANG = TaskFamily(
    name="synth_lang", title="synth_lang (stands in for text -> speech)",
    source=Modality("tokens", "12 tokens of a language's Markov chain", "BiLSTM, hidden 32"),
    target=Modality("frames", "the same tokens as 40-d frames, 2 per token", "2-layer LSTM, hidden 32"),
    task="language (20 Markov chains)", pairs="strong", n_classes=20, class_split=(14, 0, 6), n_way=5,
    datasets=("synth_lang",), scale="tiny", standin_for="text_to_speech", provenance="reconstructed")

FAMILIES = {f.name: f for f in (TEXT_TO_IMAGE, IMAGE_TO_AUDIO, TEXT_TO_SPEECH, SYNTH_STRONG, DIGITS_WEAK, SYNTH_LANG)}
REAL = ("text_to_image", "image_to_audio", "text_to_speech")
STANDINS = ("synth_strong", "digits_weak", "synth_lang")


def family(name: str) -> TaskFamily:
    try:
        return FAMILIES[name]
    except KeyError:
        raise ValueError(f"unknown task family {name!r}; choose one of {', '.join(FAMILIES)}") from None


def families_at(scale: str) -> tuple[TaskFamily, ...]:
    """The real families at full scale, their stand-ins at tiny scale (the same order: stand-in i for family i)."""
    if scale not in ("tiny", "full"):
        raise ValueError(f"scale must be tiny or full, not {scale!r}")
    return tuple(FAMILIES[n] for n in (REAL if scale == "full" else STANDINS))


def esc_split(clusters=WEAK_CLUSTERS, sizes=(12, 8, 9), seed: int = 0) -> dict[str, tuple[str, ...]]:
    """The ESC-50 classes of the clusters, split into meta-train / meta-val / meta-test classes by a seeded
    permutation [reconstructed: the paper gives only the counts 12 / 8 / 9]."""
    classes = sorted({c for cl in clusters for c in cl.target_classes})
    if len(classes) != sum(sizes):
        raise ValueError(f"{len(classes)} cluster classes cannot be split {sizes}")
    order = np.random.default_rng(seed).permutation(len(classes))
    picked = [classes[i] for i in order]
    a, b = sizes[0], sizes[0] + sizes[1]
    return {"train": tuple(sorted(picked[:a])), "val": tuple(sorted(picked[a:b])), "test": tuple(sorted(picked[b:]))}


# --- the modality-task graph (figs 3 and 8) ------------------------------------------------------------------------

EDGE_KINDS = ("observed", "alignment", "task", "generalization")


@dataclass(frozen=True)
class Edge:
    u: str
    v: str
    kind: str        # observed: abundant labels (solid); alignment: paired modalities (purple); task: source and
    family: str      # target tasks drawn from one task distribution p(n); generalization: the low-resource (dashed)
    pairs: str = ""  # for alignment edges: strong | weak


@dataclass(frozen=True)
class Graph:
    nodes: tuple[tuple[str, str, str], ...]     # (node, side: modality | task, label)
    edges: tuple[Edge, ...] = field(default_factory=tuple)

    def neighbours(self, node: str, kinds=("observed", "alignment", "task")) -> list[str]:
        out = []
        for e in self.edges:
            if e.kind in kinds:
                if e.u == node:
                    out.append(e.v)
                elif e.v == node:
                    out.append(e.u)
        return out

    def simple_paths(self, start: str, goal: str, kinds=("observed", "alignment", "task")) -> list[list[str]]:
        """Every simple path from start to goal over edges of `kinds` (the known ones: the generalization edge is
        what the path replaces)."""
        paths, stack = [], [(start, [start])]
        while stack:
            node, path = stack.pop()
            for nxt in self.neighbours(node, kinds):
                if nxt == goal:
                    paths.append(path + [nxt])
                elif nxt not in path:
                    stack.append((nxt, path + [nxt]))
        return sorted(paths)


def node_names(fam: TaskFamily, shared_modalities: bool) -> dict[str, str]:
    """x_s, x_t, y_s, y_t of a family: the generic names of fig 3, or (fig 8, several families in one graph) the
    modality names shared across families and task nodes per family."""
    if not shared_modalities:
        return {"x_s": "x_s", "x_t": "x_t", "y_s": "y_s", "y_t": "y_t"}
    return {"x_s": fam.source.name, "x_t": fam.target.name, "y_s": f"y_s:{fam.name}", "y_t": f"y_t:{fam.name}"}


def modality_task_graph(fams, shared_modalities: bool = False) -> Graph:
    """The bipartite modality-task graph of the families (figs 3 and 8): per family, the observed edge (x_s, y_s)
    (labelled source data), the alignment edge (x_t, x_s) (paired data, strong or weak), the task edge (y_s, y_t)
    (meta-train and meta-test tasks from one task distribution) and the generalization edge (x_t, y_t), which is in
    the low-resource set: no target labels in meta-training."""
    nodes: dict[str, tuple[str, str, str]] = {}
    edges: list[Edge] = []
    for fam in fams:
        n = node_names(fam, shared_modalities)
        nodes.setdefault(n["x_s"], (n["x_s"], "modality", f"{fam.source.name} ({fam.source.data})"))
        nodes.setdefault(n["x_t"], (n["x_t"], "modality", f"{fam.target.name} ({fam.target.data})"))
        nodes.setdefault(n["y_s"], (n["y_s"], "task", f"source tasks: {fam.task}"))
        nodes.setdefault(n["y_t"], (n["y_t"], "task", f"target tasks: {fam.task}"))
        edges += [Edge(n["x_s"], n["y_s"], "observed", fam.name),
                  Edge(n["x_t"], n["x_s"], "alignment", fam.name, fam.pairs),
                  Edge(n["y_s"], n["y_t"], "task", fam.name),
                  Edge(n["x_t"], n["y_t"], "generalization", fam.name)]
    if shared_modalities:
        edges = list({(e.u, e.v, e.kind): e for e in edges}.values())
    return Graph(tuple(nodes.values()), tuple(edges))


# --- Algorithm 1 (CroMA) as data: which meta-parameters each kind of task updates (fig 4c) -----------------------

META_PARAMETERS = ("e_s", "e_t", "phi")
CROMA_UPDATES = {
    # Algorithm 1 as published: alignment tasks move both encoders, source tasks only the classifier
    "classifier": {"alignment": ("e_s", "e_t"), "source_classification": ("phi",)},
    # the official code: source classification clones and steps every meta-parameter (f_t, A, f_s, g), but its loss
    # CE(g(f_s(x_s))) reaches only f_s and g, so the source encoder moves too
    "all": {"alignment": ("e_s", "e_t"), "source_classification": ("e_s", "phi")},
}
META_TEST_READS = ("e_t", "phi")     # a target task is fine-tuned from e_t^meta and phi^meta; e_s is never used
