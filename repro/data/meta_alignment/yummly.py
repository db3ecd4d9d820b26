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
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from repro.data.download import DataInvalid, DataMissing, resolve_data_dir

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
