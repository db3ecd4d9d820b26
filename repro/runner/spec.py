"""The light parts of a figure spec, for commands that must answer at once (`repro list`, `repro status`): a scale
profile applied to the panels, the hash of what they mean, and where a figure's results go. No OmegaConf, Hydra,
numpy or pandas here.
"""
from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path


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
    return panels


def spec_hash(panels: dict) -> str:
    semantic = {a: {k: v for k, v in p.items() if k not in ("title", "plot", "claims", "cost", "notes")}
                for a, p in panels.items()}
    return hashlib.sha1(json.dumps(semantic, sort_keys=True, default=str).encode()).hexdigest()[:12]


def results_path(results_dir, paper: str, fig: str, scale: str, ext: str = "csv") -> Path:
    suffix = "" if scale == "full" else f"_{scale}"
    return Path(results_dir) / paper / f"fig{fig}{suffix}.{ext}"
