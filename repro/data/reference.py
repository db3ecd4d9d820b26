"""The authors' released numbers, tidied into CSVs (catalog laprop.md, "Reference curves available to the runner";
label_smoothing.md, "Reference data"): overlaid on the figures as `series=paper`.

Location: `<reference root>/<paper>/<name>.csv`, where the reference root is $REPRO_REFERENCE if set, else
`../shared/reference` next to the repository root (the checkout holding repro/), which is where CI has it.
A missing file raises DataMissing (one line).
"""
from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

import repro
from repro.data.download import DataMissing

LAPROP_FILES = ("transformer_train_loss", "rainbow_breakout_eval")
# label_smoothing: the authors' per-run finals and per-epoch curves (../shared/reference/label_smoothing/README.md)
LABEL_SMOOTHING_FILES = {
    "mnist_grid_final": ("p", "clean_rate", "noise_rate", "test_acc_last", "test_loss_last", "test_acc_best_epoch"),
    "mnist_grid_apr2020_final": ("p", "clean_rate", "noise_rate", "test_acc_last", "test_loss_last"),
    "mnist_grid_curves": ("p", "clean_rate", "epoch", "test_acc", "test_loss", "train_loss"),
    "cifar10_grid_final": ("model", "p", "clean_rate", "test_acc_last", "test_loss_last"),
    "cifar10_grid_curves": ("model", "p", "clean_rate", "epoch", "test_acc", "test_loss", "train_loss"),
    "cifar100_grid_final": ("model", "p", "clean_rate", "test_acc_last", "test_loss_last"),
}


def reference_root() -> Path:
    env = os.environ.get("REPRO_REFERENCE")
    if env:
        return Path(env).expanduser().resolve()
    repo_root = Path(repro.__file__).resolve().parents[1]   # <root>/repro/__init__.py -> <root>
    return repo_root.parent / "shared" / "reference"


def _missing(paper: str, stem: str, path: Path) -> DataMissing:
    return DataMissing(f"missing reference file: put {paper}/{stem}.csv at {path}, or set REPRO_REFERENCE to the "
                       f"folder holding {paper}/")


def _read(paper: str, files: dict, name: str) -> pd.DataFrame:
    """The reference CSV `name` (".csv" optional) of `paper`, one of `files` (stem -> the columns it must have)."""
    stem = name[:-4] if name.endswith(".csv") else name
    if stem not in files:
        raise ValueError(f"unknown {paper} reference {name!r}; choose one of {', '.join(files)}")
    path = reference_root() / paper / f"{stem}.csv"
    if not path.exists():
        raise _missing(paper, stem, path)
    df = pd.read_csv(path)
    lacking = [c for c in files[stem] if c not in df.columns]
    if lacking:
        raise ValueError(f"{path} lacks the columns {lacking}")
    return df


def load_laprop_reference(name: str) -> pd.DataFrame:
    """One of LaProp's reference CSVs by name ("transformer_train_loss", "rainbow_breakout_eval"; ".csv" optional),
    as a DataFrame with the file's columns (booleans as bool)."""
    return _read("laprop", dict.fromkeys(LAPROP_FILES, ()), name)


def load_label_smoothing_reference(name: str, step: float | None = None, p_min: float | None = None) -> pd.DataFrame:
    """One of label_smoothing's reference CSVs by name (LABEL_SMOOTHING_FILES; ".csv" optional). The grid columns
    `p`, `clean_rate` (and `noise_rate`) are rounded to 2 decimals so that they join exactly with configured grids.
    `step=0.05` keeps the sub-grid whose p and clean_rate are multiples of 0.05 (the catalog's "grid-0.05" with
    p_min=0.15: a, p in {0.15, ..., 1.00}); `p_min` drops smaller p and clean rates. A missing file raises DataMissing
    (one line); a file without the expected columns raises ValueError naming them."""
    df = _read("label_smoothing", LABEL_SMOOTHING_FILES, name)
    for col in ("p", "clean_rate", "noise_rate"):
        if col in df.columns:
            df[col] = df[col].astype(float).round(2)
    keep = pd.Series(True, index=df.index)
    if step is not None:
        k = int(round(step * 100))
        for col in ("p", "clean_rate"):
            keep &= (df[col] * 100).round().astype(int) % k == 0
    if p_min is not None:
        keep &= (df["p"] >= p_min - 1e-9) & (df["clean_rate"] >= p_min - 1e-9)
    return df[keep].reset_index(drop=True)


VOLUMIZATION_FILES = {
    "noisy_label_sweeps": ("dataset", "noise_rate", "v", "alpha", "swept", "n_runs", "best_acc", "last10_acc"),
    "grid_heatmaps": ("dataset", "noise_rate", "v", "alpha", "best_acc", "last10_acc"),
    "adversarial_attack": ("attack", "dataset", "method", "v", "alpha", "epsilon", "test_acc"),
    "efficientnet_tiny_imagenet_curves": ("model", "method", "alpha", "epoch", "test_acc1", "test_acc5"),
}


def load_volumization_reference(name: str) -> pd.DataFrame:
    """One of volumization's reference CSVs by name (VOLUMIZATION_FILES; ".csv" optional). A missing file raises
    DataMissing (one line); a file without the expected columns raises ValueError naming them."""
    return _read("volumization", VOLUMIZATION_FILES, name)
