"""Compose a figure's Hydra config and resolve it for one scale: conf/<paper>/fig<N>.yaml -> FigureSpec.

Order of precedence (last wins): the figure file, its `scales.<scale>` profile, the user's overrides. Hydra applies
the overrides at compose time (so unknown keys and bad syntax are caught by Hydra), then the scale profile is merged
and the user's overrides of panel keys are applied once more on top, so `panels.X.params.T=5` beats the profile.
"""
from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass

from omegaconf import DictConfig, OmegaConf

from repro.runner.figures import FigureEntry, UserError, conf_dir

SCALES = ("tiny", "full")
PRECISIONS = ("fp32", "bf16", "fp16")
LAUNCHERS = ("local", "slurm", "submitit_local")
RUNTIME_KEYS = ("scale", "panel", "devices", "slots_per_device", "threads", "precision", "launcher", "slurm", "data_dir",
                "runs_dir", "results_dir", "force", "plot", "check")


@dataclass
class FigureSpec:
    paper: str
    fig: str
    title: str
    scale: str
    panels: dict            # alias -> resolved panel dict (scale profile applied)
    runtime: dict           # devices, precision, dirs ...
    spec_hash: str          # hash of the resolved panels: changes when anything semantic changes

    @property
    def name(self) -> str:
        return f"fig{self.fig}"


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


def _type_name(v) -> str:
    return "a list" if isinstance(v, (list, tuple)) else "a mapping" if isinstance(v, dict) else type(v).__name__


def _check_types(base: DictConfig, cfg: DictConfig, keys: list[str]) -> None:
    """A value of the wrong type is a user error (OmegaConf does not type-check untyped YAML)."""
    for key in keys:
        old = OmegaConf.select(base, key, default=None)
        new = OmegaConf.select(cfg, key, default=None)
        if old is None or new is None:
            continue
        old_v = OmegaConf.to_container(old) if isinstance(old, DictConfig) or OmegaConf.is_list(old) else old
        new_v = OmegaConf.to_container(new) if isinstance(new, DictConfig) or OmegaConf.is_list(new) else new
        ok = (isinstance(old_v, bool) == isinstance(new_v, bool)) and (
            (isinstance(old_v, (int, float)) and isinstance(new_v, (int, float)))
            or (isinstance(old_v, str) and isinstance(new_v, str))
            or (isinstance(old_v, (list, tuple)) and isinstance(new_v, (list, tuple)))
            or (isinstance(old_v, dict) and isinstance(new_v, dict)))
        if isinstance(old_v, int) and not isinstance(old_v, bool) and isinstance(new_v, float) and not new_v.is_integer():
            ok = False
        if not ok:
            raise UserError(f"wrong type for {key}: expected {_type_name(old_v)} like {old_v!r}, got {new_v!r}")


def override_keys(overrides: list[str]) -> list[str]:
    from hydra.core.override_parser.overrides_parser import OverridesParser
    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
    except Exception as e:  # hydra's OverrideParseException, with a multi-line message
        raise UserError(f"bad override: {str(e).splitlines()[0]}") from None
    return [o.key_or_group for o in parsed if not o.is_delete()]


def compose_config(entry: FigureEntry, overrides: list[str]) -> DictConfig:
    """Compose conf/config.yaml + the figure file + overrides with Hydra's compose API."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    GlobalHydra.instance().clear()
    select = f"+{entry.paper}={entry.name}"
    base = None
    try:
        with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
            base = compose(config_name="config", overrides=[select])
            cfg = compose(config_name="config", overrides=[select, *overrides]) if overrides else base
    except (HydraException, OmegaConfBaseException) as e:
        msg = str(e).splitlines()[0]
        if base is not None:
            for key in override_keys(overrides):
                parent, _, leaf = key.rpartition(".")
                node = OmegaConf.select(base, parent) if parent else base
                if isinstance(node, DictConfig) and leaf not in node:
                    msg = f"unknown key {key!r}; valid keys{' under ' + parent if parent else ''}: {', '.join(map(str, node))}"
                    break
        raise UserError(f"bad override for paper={entry.paper} fig={entry.fig}: {msg}") from None
    finally:
        GlobalHydra.instance().clear()
    _check_types(base, cfg, override_keys(overrides))
    return cfg


def resolve(cfg: DictConfig, overrides: list[str], panel: str | None = None) -> FigureSpec:
    """Turn a composed config into a FigureSpec for its `scale`, with user overrides beating the profile."""
    container = OmegaConf.to_container(cfg, resolve=True)
    scale = container["scale"]
    if scale not in SCALES:
        raise UserError(f"unknown scale {scale!r}; choose one of: {', '.join(SCALES)}")
    if container["precision"] not in PRECISIONS:
        raise UserError(f"unknown precision {container['precision']!r}; choose one of: {', '.join(PRECISIONS)}")
    if container["launcher"] not in LAUNCHERS:
        raise UserError(f"unknown launcher {container['launcher']!r}; choose one of: {', '.join(LAUNCHERS)}")
    devices = container["devices"]
    if not (devices in ("auto", "cpu") or (isinstance(devices, list) and all(isinstance(d, int) for d in devices))
            or isinstance(devices, int)):
        raise UserError(f"bad devices {devices!r}; use auto, cpu, or a list of CUDA indices like [0,1]")
    panels = resolve_panels(container, scale)
    for key in override_keys(overrides):
        if key.startswith("panels."):
            _, alias, *rest = key.split(".")
            node = panels[alias]
            for part in rest[:-1]:
                node = node.setdefault(part, {})
            value = OmegaConf.select(cfg, key)
            node[rest[-1]] = OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value
    panel = panel or container.get("panel")
    if panel is not None:
        if panel not in panels:
            raise UserError(f"unknown panel {panel!r}; choose one of: {', '.join(panels)}")
        panels = {panel: panels[panel]}
    runtime = {k: container[k] for k in RUNTIME_KEYS if k in container}
    return FigureSpec(paper=str(container["paper"]), fig=str(container["fig"]), title=str(container.get("title", "")),
                      scale=scale, panels=panels, runtime=runtime, spec_hash=spec_hash(panels))


def load_spec(entry: FigureEntry, overrides: list[str] = (), panel: str | None = None) -> FigureSpec:
    overrides = list(overrides)
    return resolve(compose_config(entry, overrides), overrides, panel)
