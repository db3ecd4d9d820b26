"""The light parts of a figure spec, for commands that must answer at once (`repro list`, `repro status`): a scale
profile applied to the panels, the hash of what they mean, and where a figure's results go. No OmegaConf, Hydra,
numpy or pandas here.
"""
from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path

from repro.runner.facets import expand_panel

# the runner's columns of every tidy CSV, in order (the experiment's swept and own columns follow)
FIXED = ["paper", "fig", "panel", "series", "kind", "scale", "data", "seed", "run_key", "step", "metric", "value",
         "diverged", "precision"]


def deep_merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def resolve_panels(figure: dict, scale: str) -> dict:
    """Apply the scale profile of every panel. Also used by `repro list` on the raw YAML (no Hydra)."""
    panels = {}
    for alias, panel in figure["panels"].items():
        profiles = panel.get("scales") or {}
        base = {k: v for k, v in panel.items() if k != "scales"}
        panels[alias] = deep_merge(base, profiles.get(scale) or {})
        panels[alias].setdefault("provenance", "reconstructed")
        panels[alias]["cost"] = (profiles.get(scale) or {}).get("cost", panel.get("cost", "?"))
        panels[alias] = expand_panel(alias, panels[alias])   # for_each in plot entries and claims, labels
    return panels


def spec_hash(panels: dict) -> str:
    semantic = {a: {k: v for k, v in p.items() if k not in ("title", "plot", "claims", "cost", "notes", "labels")}
                for a, p in panels.items()}
    return hashlib.sha1(json.dumps(semantic, sort_keys=True, default=str).encode()).hexdigest()[:12]


def results_path(results_dir, paper: str, fig: str, scale: str, ext: str = "csv") -> Path:
    suffix = "" if scale == "full" else f"_{scale}"
    return Path(results_dir) / paper / f"fig{fig}{suffix}.{ext}"


def params_path(csv: Path) -> Path:
    """results/<paper>/fig<N>[_tiny].csv -> results/<paper>/fig<N>[_tiny].params.csv"""
    return csv.with_name(csv.stem + ".params.csv")
