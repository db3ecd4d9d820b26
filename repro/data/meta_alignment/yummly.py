"""meta_alignment (arXiv 2012.02813) text->image: Yummly-28K recipes (ingredient text + one photo) from data_dir,
in the layout of xmodal's download_recipe.sh / preprocess_recipe.py [code]:

    <data_dir>/yummly28k/metadata/meta<fid>.json   {"ingredientLines": [...], "attributes": {"cuisine": [...],
                                                    "course": [...]}, ...}
    <data_dir>/yummly28k/images/img<fid>.jpg        the recipe's photo
    <data_dir>/yummly28k/text_embs/<fid>.npy        frozen bert-base-uncased last hidden states of the lower-cased
                                                    ingredient lines joined by ", " (float32 [<= 512, 768]); BERT is
                                                    not a torchvision model, so these are precomputed by the user
                                                    (xmodal's preprocess_recipe.py writes exactly these files)

Label = sorted cuisines joined by "_" + "_" + sorted courses joined by "_" [code]. Classes with >= `min_count`
recipes are kept (catalog: 100; this xmodal version used > 10), each capped at mean + std items after a seed-0
shuffle [code per catalog]; class split 0.7 / 0.15 / 0.15 of a seeded class permutation, int() of each
(xmodal split_meta_both: 30 / 6 / 6 of 44, two unused) [code]. A missing folder or file raises DataMissing (one
line); a malformed one DataInvalid.

`load(data_dir, cache_dir=None, **kw) -> CrossModalData` (what meta_alignment.fewshot reads as dataset=yummly):
- source x_s = the recipe's BERT feature sequence, cut to `max_tokens` (default 128; the code keeps <= 512, which
  for ~10k recipes is ~15 GB of float32: ingredient lists rarely exceed 128 word pieces) and zero-padded at the end
  to the longest kept one (the code zero-pads per batch; here once for the whole set) -> [N, T, 768]; source_spec
  `sequence` (dim 768): the code's LSTM(768 -> hidden) -> max-pool over time -> Linear.
- target x_t = the photo through the ImageNet ResNet-18 from the weights file in data_dir (extractors.py:
  resnet18-f37072fd.pth, or `weights_file`/`arch`), frozen, fc removed: 512-d pooled features, computed once
  (on `device`, default cuda when present) -> [N, 512]; target_spec `vector`: an MLP (Linear -> ReLU -> Linear)
  on them. Deviation: the code fine-tunes the whole ResNet-18 with fc -> Linear(512 -> 128) inside every inner
  loop; we train on frozen features (the brief's choice: CroMA's encoders train on feature vectors), which makes a
  full run hours instead of days.
- strong pairs: recipe i's text and photo (pair_t = arange); labels y_s = y_t = the recipe's class; classes per
  split from class_split (`split_seed`): 30 / 6 / 6 of 44 [code]; meta-val is used only by select_on=val.
- cached per process and, with cache_dir (ctx.cache_dir), on disk (feature_cache.py). The rows say data=real,
  dataset=yummly28k.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from repro.data.download import DataInvalid, DataMissing, resolve_data_dir
from repro.data.episodes import CrossModalData

ROOT = "yummly28k"
BERT_DIM = 768


@dataclass
class Recipes:
    fids: list[str]
    texts: list[str]            # ", ".join(ingredientLines), lower-cased
    labels: np.ndarray          # int class index into `classes`
    classes: list[str]
    root: Path

    def image_path(self, i: int) -> Path:
        return self.root / "images" / f"img{self.fids[i]}.jpg"

    def text_feature_path(self, i: int) -> Path:
        return self.root / "text_embs" / f"{self.fids[i]}.npy"


def recipe_label(meta: dict) -> str:
    attrs = meta["attributes"]
    return "_".join(sorted(attrs["cuisine"])) + "_" + "_".join(sorted(attrs["course"]))


def load_recipes(data_dir, min_count: int = 100, cap: bool = True, seed: int = 0) -> Recipes:
    root = resolve_data_dir(data_dir) / ROOT
    meta_dir = root / "metadata"
    if not meta_dir.is_dir():
        raise DataMissing(f"missing Yummly-28K: put the recipes' metadata/meta<fid>.json and images/img<fid>.jpg "
                          f"under {root} (xmodal's download_recipe.sh; stage the .rar offline), or set data_dir=...")
    by_label: dict[str, list[tuple[str, str]]] = {}
    for path in sorted(meta_dir.glob("meta*.json")):
        try:
            meta = json.loads(path.read_text())
            label, text = recipe_label(meta), ", ".join(meta["ingredientLines"]).lower()
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise DataInvalid(f"{path}: not a Yummly-28K recipe ({type(e).__name__}: {e})") from None
        by_label.setdefault(label, []).append((path.stem[4:], text))
    if not by_label:
        raise DataMissing(f"no meta<fid>.json files in {meta_dir}")
    kept = {k: v for k, v in by_label.items() if len(v) >= min_count}
    if not kept:
        raise DataInvalid(f"{meta_dir}: no class has >= {min_count} recipes (largest: "
                          f"{max(len(v) for v in by_label.values())})")
    rng = np.random.default_rng(seed)
    counts = np.array([len(v) for v in kept.values()])
    limit = int(counts.mean() + counts.std()) if cap else None
    classes = sorted(kept)
    fids, texts, labels = [], [], []
    for c, label in enumerate(classes):
        items = [kept[label][i] for i in rng.permutation(len(kept[label]))][:limit]
        for fid, text in items:
            fids.append(fid)
            texts.append(text)
            labels.append(c)
    return Recipes(fids, texts, np.array(labels), classes, root)


def class_split(n_classes: int, seed: int = 0, fractions=(0.7, 0.15, 0.15)) -> dict[str, np.ndarray]:
    """xmodal's split_meta_both over a seeded class permutation: train = first int(0.7 n), test = last
    int(0.15 n), val = the int(0.15 n) before them (the rest unused)."""
    order = np.random.default_rng(seed).permutation(n_classes)
    n_train, n_val, n_test = (int(f * n_classes) for f in fractions)
    return {"train": order[:n_train], "val": order[n_classes - n_val - n_test:n_classes - n_test],
            "test": order[n_classes - n_test:]}


def image_tensor(recipes: Recipes, i: int) -> torch.Tensor:
    """[3, 224, 224] normalised photo of recipe i."""
    from PIL import Image, UnidentifiedImageError

    from repro.data.meta_alignment.extractors import image_transform

    path = recipes.image_path(i)
    if not path.exists():
        raise DataMissing(f"missing Yummly-28K photo {path}")
    try:
        with Image.open(path) as im:
            return image_transform()(im.convert("RGB"))
    except (UnidentifiedImageError, OSError) as e:
        raise DataInvalid(f"{path}: not a readable image ({e})") from None


def text_features(recipes: Recipes, i: int) -> torch.Tensor:
    """[seq, 768] precomputed BERT features of recipe i."""
    path = recipes.text_feature_path(i)
    if not path.exists():
        raise DataMissing(f"missing BERT features {path}: precompute bert-base-uncased last hidden states of each "
                          f"recipe's text (xmodal preprocess_recipe.py) into {path.parent}")
    x = np.load(path)
    if x.ndim != 2 or x.shape[1] != BERT_DIM or not 0 < x.shape[0] <= 512:
        raise DataInvalid(f"{path}: shape {x.shape}, expected [1..512, {BERT_DIM}]")
    return torch.from_numpy(x.astype(np.float32))


def _padded(seqs: list[torch.Tensor], length: int) -> torch.Tensor:
    """[N, length, d]: each [t, d] sequence cut to `length` steps and zero-padded at the end."""
    out = torch.zeros(len(seqs), length, seqs[0].shape[1]) if seqs else torch.zeros(0, length, BERT_DIM)
    for i, s in enumerate(seqs):
        s = s[:length]
        out[i, :len(s)] = s
    return out


def load(data_dir, cache_dir=None, min_count: int = 100, cap: bool = True, seed: int = 0, split_seed: int = 0,
         max_tokens: int = 128, arch: str = "resnet18", weights_file: str | None = None, batch_size: int = 64,
         device: str = "auto") -> CrossModalData:
    """The text->image family as repro.data.episodes.CrossModalData (module doc, "load"). `seed`: the class cap's
    shuffle; `split_seed`: the class permutation of class_split; `device`: where the frozen ResNet runs once."""
    from repro.data.meta_alignment.extractors import WEIGHT_FILES, extract_features, frozen_backbone
    from repro.data.meta_alignment.feature_cache import cached

    kw = dict(min_count=min_count, cap=cap, seed=seed, split_seed=split_seed, max_tokens=max_tokens, arch=arch,
              weights_file=weights_file)
    root = resolve_data_dir(data_dir) / ROOT
    weights = resolve_data_dir(data_dir) / (weights_file or WEIGHT_FILES.get(arch, arch))

    def build() -> CrossModalData:
        recipes = load_recipes(data_dir, min_count=min_count, cap=cap, seed=seed)   # DataMissing first: the data,
        net = frozen_backbone(data_dir, arch, weights_file)                         # then the weights file
        texts = [text_features(recipes, i) for i in range(len(recipes.fids))]
        length = min(int(max_tokens), max(len(t) for t in texts))
        x_s = _padded(texts, length)
        x_t = extract_features(net, len(recipes.fids), lambda i: image_tensor(recipes, i), batch_size, device)
        split = class_split(len(recipes.classes), seed=split_seed)
        y = torch.as_tensor(recipes.labels, dtype=torch.int64)
        return CrossModalData(
            name="yummly", data="real", strength="strong", x_s=x_s, y_s=y, x_t=x_t, y_t=y.clone(),
            classes={"meta_train": sorted(split["train"].tolist()), "meta_val": sorted(split["val"].tolist()),
                     "meta_test": sorted(split["test"].tolist())},
            source_spec={"kind": "sequence", "dim": BERT_DIM}, target_spec={"kind": "vector", "dim": x_t.shape[1]},
            pair_t=torch.arange(len(y)), class_names=dict(enumerate(recipes.classes)), dataset="yummly28k")

    return cached("yummly", data_dir, cache_dir, kw, [root / "metadata", root / "images", root / "text_embs", weights],
                  build)
