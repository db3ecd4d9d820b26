"""The authors' released numbers, tidied into CSVs (catalog laprop.md, "Reference curves available to the runner"):
overlaid on the figures as `series=paper`.

Location: `<reference root>/laprop/<name>.csv`, where the reference root is $REPRO_REFERENCE if set, else
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


def reference_root() -> Path:
    env = os.environ.get("REPRO_REFERENCE")
    if env:
        return Path(env).expanduser().resolve()
    repo_root = Path(repro.__file__).resolve().parents[1]   # <root>/repro/__init__.py -> <root>
    return repo_root.parent / "shared" / "reference"


def load_laprop_reference(name: str) -> pd.DataFrame:
    """One of LaProp's reference CSVs by name ("transformer_train_loss", "rainbow_breakout_eval"; ".csv" optional),
    as a DataFrame with the file's columns (booleans as bool)."""
    stem = name[:-4] if name.endswith(".csv") else name
    if stem not in LAPROP_FILES:
        raise ValueError(f"unknown LaProp reference {name!r}; choose one of {', '.join(LAPROP_FILES)}")
    path = reference_root() / "laprop" / f"{stem}.csv"
    if not path.exists():
        raise DataMissing(f"missing reference file: put laprop/{stem}.csv at {path}, or set REPRO_REFERENCE to the "
                          "folder holding laprop/")
    return pd.read_csv(path)
